/**
 * A fresh, migrated database per test file, dropped afterwards: tests never see each other's rows. The
 * database is made as the superuser; `login(role)` makes a person's LOGIN role (SCRAM) in a group role, so a
 * test reads and writes as that person, and drops it with the database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../ledger/migrate';
import { dropDatabase, ensureDatabase, type PostgresServer } from '../../provision/postgres';
import { addUser, parseRoleSpec } from '../../infra/roles';

export interface Login {
  user: string;
  password: string;
  /** postgres://user:password@host:port/<the test database> */
  url: string;
  pool: pg.Pool;
}

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  /** A new person with `role` ("operator", "auditor" or "department:<department>"), for this file only. */
  login(role: string): Promise<Login>;
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
  const logins: Login[] = [];
  return {
    url,
    name,
    pool,
    async login(role: string) {
      const user = `t_${randomBytes(5).toString('hex')}`;
      const password = randomBytes(12).toString('hex');
      await addUser(pool, user, password, parseRoleSpec(role));
      const u = new URL(url);
      u.username = user;
      u.password = password;
      const login = {
        user,
        password,
        url: u.toString(),
        pool: new pg.Pool({ connectionString: u.toString(), max: 4 }),
      };
      // as the owner's pool above: the drop can terminate a login's client while its pool is closing
      login.pool.on('error', () => undefined);
      logins.push(login);
      return login;
    },
    async drop() {
      await Promise.all(logins.map((l) => l.pool.end()));
      await pool.end();
      await dropDatabase(server, name);
      const admin = new pg.Client({ connectionString: server.adminUrl });
      await admin.connect();
      try {
        for (const l of logins) await admin.query(`DROP ROLE IF EXISTS "${l.user}"`);
      } finally {
        await admin.end();
      }
    },
  };
}
