/**
 * A rehearsal's own database: `rehearsal_<jurisdiction>_<year>_<run tag>`, so that two rehearsals at once
 * never touch each other's ledger. The rehearsal holds a session advisory lock keyed by the database's
 * name on a connection of its own for as long as it runs; a rehearsal database whose lock nobody holds
 * belongs to a run that died without cleaning up (killed, power cut) and is dropped by the next rehearsal.
 * The lock is taken before the database is created, so a starting rehearsal never drops a newer one.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ensureDatabase, type PostgresServer } from '../infra/postgres';

export const REHEARSAL_DATABASE_PREFIX = 'rehearsal_';

export interface RehearsalDatabase {
  name: string;
  url: string;
  /** Running rehearsals found at the start (their databases were left alone). */
  others: string[];
  /** Drops the database (closing any connection left to it) and releases the lock. Idempotent. */
  release(): Promise<void>;
}

const LOCK_KEY = 'hashtextextended($1, 0)';
/**
 * The names this module gives (a 14-character run tag). A database named otherwise, such as the fixed
 * `rehearsal_kaiping_2024` of earlier versions, is never dropped here: its run may hold no lock.
 */
const RUN_DATABASE = /^rehearsal_[a-z0-9_]+_[0-9]{4}_[a-z0-9]{14}$/;

/**
 * Creates this run's database, after dropping the databases of rehearsals that ended without cleaning up.
 * `say` is told of each database dropped and of rehearsals found running.
 *
 * Errors: what PostgreSQL throws (the server unreachable, no right to create databases).
 */
export async function claimRehearsalDatabase(
  server: PostgresServer,
  jurisdiction: string,
  year: number,
  say: (line: string) => void = () => undefined,
): Promise<RehearsalDatabase> {
  const tag = `${Date.now().toString(36).padStart(8, '0')}${randomBytes(3).toString('hex')}`;
  const name = `${REHEARSAL_DATABASE_PREFIX}${jurisdiction}_${year}_${tag}`.replace(/-/g, '_').toLowerCase();
  if (!RUN_DATABASE.test(name)) throw new Error(`not a rehearsal database name: ${name}`);
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    await admin.query(`SELECT pg_advisory_lock(${LOCK_KEY})`, [name]);
    const existing = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname ~ $2 AND datname <> $1 ORDER BY datname`,
      [name, RUN_DATABASE.source],
    );
    const others: string[] = [];
    for (const { datname } of existing.rows) {
      const free = await admin.query<{ got: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS got`, [
        datname,
      ]);
      if (!free.rows[0]!.got) {
        others.push(datname);
        continue;
      }
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
        say(`dropped ${datname}, left by a rehearsal that ended without cleaning up`);
      } finally {
        await admin.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`, [datname]);
      }
    }
    if (others.length)
      say(`another rehearsal is running (database ${others.join(', ')}); this one has a database of its own`);
    const url = await ensureDatabase(server, name);
    let released = false;
    return {
      name,
      url,
      others,
      release: async () => {
        if (released) return;
        released = true;
        try {
          await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await admin.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`, [name]);
        } finally {
          await admin.end();
        }
      },
    };
  } catch (error) {
    await admin.end();
    throw error;
  }
}
