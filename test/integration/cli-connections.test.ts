/**
 * No command of the command line but `db migrate` and `users …` opens the administrator's connection (issue
 * 18): every command registered with the program, found by walking commander's command tree (a command added
 * later is checked without touching this file), is run as an operator's login while the administrator's URL
 * points at a listener that records each connection made to it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, program } from '../../client/cli';
import { makeIdNumber } from '../../domain/id-number';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';

const dir = mkdtempSync(join(tmpdir(), 'medins-cli-connections-'));
/** A value for each option or argument a command requires, by its name. */
const VALUES: Record<string, string> = {
  jurisdiction: 'kaiping',
  year: '2024',
  department: 'civil-affairs',
  kind: 'roster',
  period: '2023-08-31',
  submission: '1',
  out: join(dir, 'out'),
  input: join(dir, 'missing.json'),
  'workflow-id': 'campaign-kaiping-2024',
  month: '2023-09',
  date: '2024-01-01',
  from: '2024-01-01T00:00:00+08:00',
  to: '2024-01-02T00:00:00+08:00',
  id: makeIdNumber('440783', '1960-01-01', 1),
  role: 'auditor',
  file: join(dir, 'missing.csv'),
  what: 'levy',
  // refund request (issue 20)
  reason: 'death',
  'occurred-on': '2024-03-01',
  key: 'cli-connections-1',
  name: 't_never_made',
  // what sizes the work, where a command has it: the least
  scale: '0.001',
};

/** Every command that runs an action, as its path ("lists import") and the arguments that reach the action. */
function leafCommands(root: Command): { path: string; args: string[] }[] {
  const found: { path: string; args: string[] }[] = [];
  const walk = (command: Command, path: string[]) => {
    if (command.commands.length) {
      for (const sub of command.commands) walk(sub, [...path, sub.name()]);
      return;
    }
    const args = [...path];
    for (const argument of command.registeredArguments) {
      const value = VALUES[argument.name()];
      if (value === undefined)
        throw new Error(`no value for argument <${argument.name()}> of ${path.join(' ')}`);
      if (argument.required) args.push(value);
    }
    for (const option of command.options) {
      const name = option.long!.replace(/^--/, '');
      // optional ones only where they keep the run small and its files in the test's folder
      if (!option.mandatory && name !== 'scale' && name !== 'out') continue;
      const value = VALUES[name];
      if (value === undefined) throw new Error(`no value for option --${name} of ${path.join(' ')}`);
      args.push(option.long!, value);
    }
    found.push({ path: path.join(' '), args });
  };
  walk(root, []);
  return found;
}

/**
 * Runs the command line with `args` as `login`, the administrator's URL pointing at a listener of this run
 * alone; resolves with how it ended and whether anything connected to that listener.
 */
async function runAs(login: Login, args: string[]) {
  let reached = false;
  const trap: Server = createServer((socket) => {
    reached = true;
    socket.destroy();
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  const adminUrl = `postgres://medins_admin:x@127.0.0.1:${(trap.address() as AddressInfo).port}/postgres`;
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
        cwd: process.cwd(),
        env: {
          ...process.env,
          DATABASE_URL: login.url,
          MEDINS_ADMIN_DATABASE_URL: adminUrl,
          // a Temporal server that is not there: commands that need one fail fast
          TEMPORAL_ADDRESS: '127.0.0.1:9',
          MEDINS_EXCHANGE_DIR: join(dir, 'exchange'),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      // a command that would run long (a rehearsal's year) has opened its connections by then
      const timer = setTimeout(() => child.kill('SIGINT'), 60_000);
      child.on('error', reject);
      child.on('exit', (exit) => {
        clearTimeout(timer);
        resolve({ code: exit, stderr: err });
      });
    });
    return { code, stderr, reached };
  } finally {
    await new Promise((resolve) => trap.close(resolve));
  }
}

describe('which commands reach the administrator', () => {
  let db: TestDatabase;
  let operator: Login;

  beforeAll(async () => {
    db = await createTestDatabase();
    operator = await db.login('operator');
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('every command but db migrate and users runs without the administrator’s connection', async () => {
    const commands = leafCommands(program);
    // the walk finds the commands the README documents, and the admin ones among them
    expect(commands.map((c) => c.path)).toEqual(
      expect.arrayContaining(['lists import', 'campaign start', 'rehearse', 'audit verify', ...ADMIN]),
    );
    expect(commands.length).toBeGreaterThan(30);
    const outcomes: Record<string, { reached: boolean; ended: string }> = {};
    // three at a time, each with a listener of its own
    const queue = [...commands];
    await Promise.all(
      [1, 2, 3].map(async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          const r = await runAs(operator, c.args);
          outcomes[c.path] = {
            reached: r.reached,
            ended: `exit ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`,
          };
        }
      }),
    );
    const reached = Object.keys(outcomes).filter((path) => outcomes[path]!.reached);
    expect(reached.sort(), JSON.stringify(outcomes, null, 1)).toEqual([...ADMIN].sort());
    // and none of the others failed for want of a login: each got as far as its own work
    for (const [path, outcome] of Object.entries(outcomes))
      if (!ADMIN.has(path)) expect(outcome.ended, path).not.toMatch(/superuser|cannot log in|ECONNRESET/);
  }, 900_000);
});
