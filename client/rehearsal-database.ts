/**
 * A rehearsal's own database: `rehearsal_<jurisdiction>_<year>_<run tag>`, so that two rehearsals at once
 * never touch each other's ledger. The rehearsal holds a session advisory lock keyed by the database's
 * name on a connection of its own for as long as it runs; a rehearsal database whose lock nobody holds
 * belongs to a run that died without cleaning up (killed, power cut) and is dropped by the next rehearsal.
 * The lock is taken before the database is created, so a starting rehearsal never drops a newer one. A run
 * asked to keep its database (`rehearse --keep`, the demo) releases the lock without dropping it, so the
 * console can be opened on what it did; the next rehearsal drops it like any other left without a lock.
 *
 * All of it runs under the operator's own login, never the administrator's: the login sets the role
 * medins_rehearsal (which may create databases and nothing else; operators are its members, migration 0021)
 * to create the database, which medins_rehearsal then owns; the rehearsal works in it as that role, and drops
 * it as its owner.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { REHEARSAL_ROLE } from '../infra/roles';

export const REHEARSAL_DATABASE_PREFIX = 'rehearsal_';

export interface RehearsalDatabase {
  name: string;
  /** The operator's login to this database, working as medins_rehearsal (its owner). */
  connection: pg.ClientConfig;
  /** Running rehearsals found at the start (their databases were left alone). */
  others: string[];
  /** The server as the login reached it: a host name or address, or a Unix socket's folder; its port. */
  server: { host: string; port: number };
  /** Drops the database (closing any connection left to it) and releases the lock. Idempotent. */
  release(): Promise<void>;
  /**
   * Leaves the database of a finished run for the console to show: releases the lock and closes the session
   * without dropping it; the next rehearsal drops it, as every rehearsal database nobody holds. Idempotent,
   * and release() after it does nothing.
   */
  keep(): Promise<void>;
}

/** `login` pointed at database `name`, working as `role` from the start of each session. */
export function loginTo(login: pg.ClientConfig, name: string, role?: string): pg.ClientConfig {
  const options = role ? { options: `-c role=${role}` } : {};
  if (!login.connectionString) return { ...login, database: name, ...options };
  const url = new URL(login.connectionString);
  url.pathname = `/${name}`;
  return { ...login, connectionString: url.toString(), ...options };
}

const LOCK_KEY = 'hashtextextended($1, 0)';
/**
 * The names this module gives (a 14-character run tag). A database named otherwise, such as the fixed
 * `rehearsal_kaiping_2024` of earlier versions, is never dropped here: its run may hold no lock.
 */
const RUN_DATABASE = /^rehearsal_[a-z0-9_]+_[0-9]{4}_[a-z0-9]{14}$/;

/**
 * The session that holds the run's lock. Advisory locks belong to one database, so every rehearsal on a
 * server must take them in the same one, whichever database its login names (the demo's login names the
 * maintenance database, a test's its own ledger): the maintenance database `postgres`, which every login may
 * reach by default. Where it cannot (absent, or CONNECT revoked), the login's own database.
 */
async function lockSession(login: pg.ClientConfig): Promise<pg.Client> {
  const maintenance = new pg.Client(loginTo(login, 'postgres'));
  try {
    await maintenance.connect();
    return maintenance;
  } catch (error) {
    await maintenance.end().catch(() => undefined);
    const code = (error as { code?: string }).code;
    if (code !== '3D000' && code !== '42501') throw error;
  }
  const own = new pg.Client(login);
  await own.connect();
  return own;
}

/**
 * Creates this run's database under `login` (an operator's own connection, see userConnection), after
 * dropping the databases of rehearsals that ended without cleaning up. `say` is told of each database dropped
 * and of rehearsals found running.
 *
 * Errors: what PostgreSQL throws (the server unreachable; a login that is no operator may not set the role
 * medins_rehearsal: "permission denied to set role").
 */
export async function claimRehearsalDatabase(
  login: pg.ClientConfig,
  jurisdiction: string,
  year: number,
  say: (line: string) => void = () => undefined,
): Promise<RehearsalDatabase> {
  const tag = `${Date.now().toString(36).padStart(8, '0')}${randomBytes(3).toString('hex')}`;
  const name = `${REHEARSAL_DATABASE_PREFIX}${jurisdiction}_${year}_${tag}`.replace(/-/g, '_').toLowerCase();
  if (!RUN_DATABASE.test(name)) throw new Error(`not a rehearsal database name: ${name}`);
  const session = await lockSession(login);
  // dropping is the owner's (the login has medins_rehearsal's privileges by membership); FORCE then ends the
  // login's own leftover connections, which it may as itself but not as medins_rehearsal
  const drop = (datname: string) =>
    session.query(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
  try {
    await session.query(`SELECT pg_advisory_lock(${LOCK_KEY})`, [name]);
    const existing = await session.query<{ datname: string; mine: boolean }>(
      `SELECT datname, pg_has_role(datdba, 'USAGE') AS mine FROM pg_database
       WHERE datname ~ $2 AND datname <> $1 ORDER BY datname`,
      [name, RUN_DATABASE.source],
    );
    const others: string[] = [];
    for (const { datname, mine } of existing.rows) {
      const free = await session.query<{ got: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS got`, [
        datname,
      ]);
      if (!free.rows[0]!.got) {
        others.push(datname);
        continue;
      }
      try {
        if (!mine) {
          say(`${datname} was left by a rehearsal run as the administrator: an administrator drops it`);
          continue;
        }
        try {
          await drop(datname);
        } catch (error) {
          // another login is connected to it (a console opened on a kept rehearsal): FORCE may end only this
          // login's own connections, so the database stays until they close, and this rehearsal goes on
          const code = (error as { code?: string }).code;
          if (code !== '42501' && code !== '55006') throw error;
          say(
            `${datname} is still open by another login (a console on a kept rehearsal?): left for a later rehearsal to drop`,
          );
          continue;
        }
        say(`dropped ${datname}, left by an earlier rehearsal (kept for the console, or not cleaned up)`);
      } finally {
        await session.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`, [datname]);
      }
    }
    if (others.length)
      say(`another rehearsal is running (database ${others.join(', ')}); this one has a database of its own`);
    // CREATEDB is medins_rehearsal's attribute, not inherited: the login sets the role to create it
    await session.query(`SET ROLE ${REHEARSAL_ROLE}`).catch((error: Error & { code?: string }) => {
      if (error.code === '42501' || error.code === '22023' || error.code === '42704')
        error.message += `: a rehearsal needs an operator's login and the role ${REHEARSAL_ROLE}, which \`db migrate\` makes`;
      throw error;
    });
    await session.query(`CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`);
    await session.query('RESET ROLE');
    let released = false;
    const end = async (dropIt: boolean) => {
      if (released) return;
      released = true;
      try {
        if (dropIt) {
          // no new connection first: a worker still shutting down (Ctrl-C, SIGTERM) could otherwise connect
          // again between FORCE ending its connections and the drop, which then fails as still in use
          await session.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
          await drop(name);
        }
        await session.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`, [name]);
      } finally {
        await session.end();
      }
    };
    return {
      name,
      connection: loginTo(login, name, REHEARSAL_ROLE),
      others,
      server: { host: session.host, port: session.port },
      release: () => end(true),
      keep: () => end(false),
    };
  } catch (error) {
    await session.end();
    throw error;
  }
}
