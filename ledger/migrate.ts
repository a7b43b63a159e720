/**
 * Versioned SQL migrations (ledger/migrations/NNNN_name.sql, each with `-- Up Migration` and
 * `-- Down Migration` parts), applied with node-pg-migrate. Every entry point (worker, CLI, demo, tests)
 * calls `migrate()` at start-up: applied migrations are recorded in `pgmigrations`, so a second call does
 * nothing, and node-pg-migrate's advisory lock makes concurrent start-ups wait for each other.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { ClientConfig } from 'pg';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

export interface MigrationResult {
  applied: string[];
}

/** `databaseUrl`: a connection string, or a node-postgres client configuration (a rehearsal's login). */
export async function migrate(
  databaseUrl: string | ClientConfig,
  log: (message: string) => void = () => undefined,
): Promise<MigrationResult> {
  const ran = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log: () => undefined,
    logger: { debug: () => undefined, info: () => undefined, warn: log, error: log },
  });
  for (const m of ran) log(`applied migration ${m.name}`);
  return { applied: ran.map((m) => m.name) };
}
