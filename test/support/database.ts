/**
 * A fresh, migrated database per test file, dropped afterwards: tests never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../activities/db/migrate';
import { dropDatabase, ensureDatabase, type PostgresServer } from '../../infra/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const server: PostgresServer = { adminUrl: inject('adminDatabaseUrl'), source: 'local-cluster' };
  const name = `test_${randomBytes(6).toString('hex')}`;
  const url = await ensureDatabase(server, name);
  if (options.migrate ?? true) await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  // dropping the database (WITH FORCE) can terminate a client the pool is still closing; an idle client's
  // error is the pool's, and unheard it would end the test process
  pool.on('error', () => undefined);
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end();
      await dropDatabase(server, name);
    },
  };
}
