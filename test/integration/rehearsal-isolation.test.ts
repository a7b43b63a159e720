/**
 * Two rehearsals of the same jurisdiction at once both finish, each in a database of its own; a
 * rehearsal leaves neither its department files (full ID and bank numbers) nor its database behind,
 * whether it ends normally or by Ctrl-C, unless asked to keep the database of a finished run for the
 * console (the demo), which the next rehearsal drops; and the population step tells the operator how far it is.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { claimRehearsalDatabase } from '../../client/rehearsal-database';
import { buildConsole } from '../../console/server';
import { type PostgresServer } from '../../provision/postgres';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { testConsole } from '../support/console';

// a rehearsal runs under an operator's own login (issue 18): the administrator's URL goes nowhere
let db: TestDatabase;
let operator: Login;
beforeAll(async () => {
  db = await createTestDatabase();
  operator = await db.login('operator');
});
afterAll(async () => {
  await db?.drop();
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `npm run cli -- rehearse …` in a process of its own; `onLine` sees each stdout line as it comes. */
function rehearse(
  args: string[],
  onLine: (line: string, kill: (s: NodeJS.Signals) => void) => void = () => {},
) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'client/cli.ts',
        'rehearse',
        '--jurisdiction',
        'kaiping',
        '--year',
        '2024',
        ...args,
      ],
      {
        cwd: process.cwd(),
        env: {
          ...process.env,
          DATABASE_URL: operator.url,
          MEDINS_ADMIN_DATABASE_URL: 'postgres://medins_admin:x@127.0.0.1:9/nowhere',
        },
      },
    );
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line, (s) => child.kill(s));
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
const server = (): PostgresServer => ({ adminUrl: inject('adminDatabaseUrl'), source: 'local-cluster' });
async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: server().adminUrl });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}
const databaseOf = (run: Run) => /in database (rehearsal_kaiping_2024_[a-z0-9]+)/.exec(run.stdout)?.[1];
const filesOf = (run: Run) => /department files in (\S+)/.exec(run.stdout)?.[1];

describe('rehearsals on one machine', () => {
  it('two Kaiping rehearsals at once both finish, in two databases, and each removes its files and database', async () => {
    const [a, b] = await Promise.all([
      rehearse(['--scale', '0.01', '--seed', '1']),
      rehearse(['--scale', '0.01', '--seed', '2']),
    ]);
    for (const run of [a, b]) {
      expect(run.stderr).not.toMatch(/terminating connection|administrator command/);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/kaiping 2024 rehearsal \(scale 0\.01, seed \d\)/);
      expect(run.stdout).toMatch(/population: town 1\/16 \S+ loaded, \d+ people so far/);
      expect(run.stdout).toMatch(/population: writing the departments' files/);
    }
    expect(databaseOf(a)).toBeDefined();
    expect(databaseOf(a)).not.toBe(databaseOf(b));
    for (const run of [a, b]) {
      expect(await databaseExists(databaseOf(run)!)).toBe(false);
      expect(existsSync(filesOf(run)!)).toBe(false);
    }
  });

  it('Ctrl-C during the population step removes the department files and the database, and exits 130', async () => {
    let stopped = false;
    const run = await rehearse(['--scale', '0.05'], (line, kill) => {
      if (!stopped && /population: town 2\/16/.test(line)) {
        stopped = true;
        kill('SIGINT');
      }
    });
    expect(stopped).toBe(true);
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/rehearsal interrupted \(SIGINT\): removing its files and its database/);
    expect(await databaseExists(databaseOf(run)!)).toBe(false);
    expect(existsSync(filesOf(run)!)).toBe(false);
  });

  it('SIGTERM during the year stops the time-skipping server and removes the files and the database, exit 143', async () => {
    let stopped = false;
    const run = await rehearse(['--scale', '0.01'], (line, kill) => {
      if (!stopped && / items \d+\/\d+/.test(line)) {
        stopped = true;
        kill('SIGTERM');
      }
    });
    expect(stopped).toBe(true);
    expect(run.code).toBe(143);
    expect(run.stderr).toMatch(/rehearsal interrupted \(SIGTERM\)/);
    const port = Number(/temporal-test-server (\d+)/.exec(run.stderr)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(await portOpen(port)).toBe(false);
    expect(await databaseExists(databaseOf(run)!)).toBe(false);
    expect(existsSync(filesOf(run)!)).toBe(false);
  });

  it('a rehearsal database whose run died is dropped by the next rehearsal; a running one is left alone, whatever database the next one’s login names', async () => {
    const dead = 'rehearsal_kaiping_2024_deadrun1234567';
    const login = { connectionString: operator.url };
    const running = await claimRehearsalDatabase(login, 'kaiping', 2024);
    // a run that died left its database, owned like every rehearsal's by medins_rehearsal
    const admin = new pg.Client({ connectionString: server().adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dead} OWNER medins_rehearsal`).finally(() => admin.end());
    const said: string[] = [];
    // the next one's login names another database (the demo's names the maintenance database, a test's its
    // own ledger): it still sees the running one's lock
    const elsewhere = new URL(operator.url);
    elsewhere.pathname = '/postgres';
    const next = await claimRehearsalDatabase(
      { connectionString: elsewhere.toString() },
      'kaiping',
      2024,
      (line) => said.push(line),
    );
    try {
      expect(await databaseExists(dead)).toBe(false);
      expect(said).toContain(
        `dropped ${dead}, left by an earlier rehearsal (kept for the console, or not cleaned up)`,
      );
      expect(await databaseExists(running.name)).toBe(true);
      expect(next.others).toContain(running.name);
    } finally {
      await next.release();
      await running.release();
    }
    expect(await databaseExists(running.name)).toBe(false);
  });

  it('a kept rehearsal database another login still has open is left, and the next rehearsal goes on; once closed, a later one drops it', async () => {
    const kept = 'rehearsal_kaiping_2024_keptopen123456';
    const admin = new pg.Client({ connectionString: server().adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${kept} OWNER medins_rehearsal`).finally(() => admin.end());
    // another login (here the administrator; in use, a console an auditor opened on a kept rehearsal) is in it
    const url = new URL(server().adminUrl);
    url.pathname = `/${kept}`;
    const reader = new pg.Client({ connectionString: url.toString() });
    await reader.connect();
    const said: string[] = [];
    try {
      const next = await claimRehearsalDatabase({ connectionString: operator.url }, 'kaiping', 2024, (line) =>
        said.push(line),
      );
      await next.release();
      expect(said).toContain(
        `${kept} is still open by another login (a console on a kept rehearsal?): left for a later rehearsal to drop`,
      );
      expect(await databaseExists(kept)).toBe(true);
    } finally {
      await reader.end();
    }
    const later = await claimRehearsalDatabase({ connectionString: operator.url }, 'kaiping', 2024);
    await later.release();
    expect(await databaseExists(kept)).toBe(false);
  });

  it('a rehearsal asked to keep its database (the demo) prints the command that opens the console on it, where an operator logs in and sees the year; the next rehearsal drops it', async () => {
    const run = await rehearse(['--scale', '0.01', '--seed', '3', '--keep']);
    expect(run.code, run.stderr).toBe(0);
    const name = databaseOf(run)!;
    expect(await databaseExists(name)).toBe(true);
    expect(existsSync(filesOf(run)!)).toBe(false);
    const printed = /^ {2}DATABASE_URL=(\S+) npm run console$/m.exec(run.stdout)?.[1];
    const server = new URL(operator.url);
    expect(printed).toBe(`postgres://${server.hostname}:${server.port}/${name}`);

    // the console as that command starts it: the server and database from DATABASE_URL, the person's own login
    const app = await buildConsole({
      ...testConsole(printed!, {
        CONSOLE_SESSION_SECRET: 'a-rehearsal-test-secret-of-thirty-two-characters',
        CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: 10,
      }),
      temporal: () => Promise.reject(new Error('the rehearsal’s Temporal server ended with it')),
      taskQueue: 'unused',
      logStream: { write: () => undefined },
    });
    try {
      const form = await app.inject({ method: 'GET', url: '/login' });
      const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
      const cookieOf = (r: { cookies: { name: string; value: string }[] }) =>
        r.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      const loggedIn = await app.inject({
        method: 'POST',
        url: '/login',
        headers: { cookie: cookieOf(form) },
        payload: { user: operator.user, password: operator.password, _csrf: csrf },
      });
      expect(loggedIn.statusCode, loggedIn.body).toBe(302);
      const session = { cookie: cookieOf(loggedIn) };
      const desk = await app.inject({ method: 'GET', url: '/', headers: session });
      expect(desk.statusCode).toBe(200);
      expect(desk.body).toContain('data-workflow-id="campaign-kaiping-2024"');
      const lists = await app.inject({ method: 'GET', url: '/lists', headers: session });
      expect(lists.statusCode).toBe(200);
      expect(lists.body).toMatch(/<tr data-submission="\d+" data-department="civil-affairs">/);
    } finally {
      await app.close();
    }
    // the ledger the test logs in to (the operator's own database) holds nothing of the rehearsal's year
    const own = new pg.Client({ connectionString: operator.url });
    await own.connect();
    try {
      expect((await own.query('SELECT count(*)::int AS n FROM submissions')).rows[0]).toEqual({ n: 0 });
    } finally {
      await own.end();
    }

    const next = await claimRehearsalDatabase({ connectionString: operator.url }, 'kaiping', 2024);
    await next.release();
    expect(await databaseExists(name)).toBe(false);
  });

  it('a login that is no operator may not make a rehearsal database', async () => {
    const auditor = await db.login('auditor');
    await expect(claimRehearsalDatabase({ connectionString: auditor.url }, 'kaiping', 2024)).rejects.toThrow(
      /permission denied to set role "medins_rehearsal"/,
    );
  });
});
