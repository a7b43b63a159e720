import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'medins-cli-'));
const cli = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], { cwd: process.cwd() });
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

describe('the policy commands of the command line', () => {
  it('policy explain --json answers a Meishan low-income pensioner: 95 yuan personal, 285 from special fiscal funds', async () => {
    const input = file('pensioner.json', {
      jurisdiction: 'meishan',
      year: 2024,
      person: { idNumber: makeIdNumber('511421', '1955-07-01', 17), categories: ['2305'] },
      event: { kind: 'centralised-payment', date: '2023-11-02' },
    });
    const { stdout } = await cli('policy', 'explain', '--input', input, '--json');
    const answer = JSON.parse(stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({
      effectiveCategory: '2305',
      contribution: {
        totalFen: 38000,
        personalFen: 9500,
        subsidyFen: 28500,
        fundingSource: 'special-fiscal-funds',
      },
      benefitStart: '2024-01-01',
      contributionYears: [2024],
    });
    expect(answer.rules).toContainEqual(
      expect.objectContaining({
        id: 'category.2305',
        source: expect.stringMatching(/^003 .*三\(三\)2\(3\)/),
      }),
    );
    expect(stdout).not.toContain(makeIdNumber('511421', '1955-07-01', 17));
  });

  it('policy explain in text names the rules with their sources', async () => {
    const input = file('newborn.json', {
      jurisdiction: 'kaiping',
      year: 2024,
      person: { idNumber: makeIdNumber('440783', '2023-11-20', 52), categories: [] },
      event: { kind: 'newborn-enrollment', date: '2023-12-10' },
    });
    const { stdout } = await cli('policy', 'explain', '--input', input);
    expect(stdout).toContain('Benefits from: 2023-11-20');
    expect(stdout).toContain('Contribution years: 2023, 2024');
    expect(stdout).toContain('[000 五(六)1-2');
  });

  it('a bad input file gets an error naming the file and the field', async () => {
    const input = file('bad.json', {
      jurisdiction: 'heshan',
      year: 2024,
      person: { idNumber: '440784197005060212', categories: [] },
      event: { kind: 'centralised-payment', date: '2023-13-01' },
    });
    const failure = await cli('policy', 'explain', '--input', input).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain(
      `${input}: event.date: a calendar date YYYY-MM-DD`,
    );
  });

  it('targets --json reproduces 附件3 with the 合计 finding', async () => {
    const { stdout } = await cli('targets', '--jurisdiction', 'kaiping', '--year', '2024', '--json');
    const table = JSON.parse(stdout) as { towns: unknown[]; findings: { kind: string; message: string }[] };
    expect(table.towns).toHaveLength(16);
    expect(table.findings.find((f) => f.kind === 'total-mismatch')!.message).toBe(
      '合计 target: printed 465874, but the towns add up to 465877 (difference -3)',
    );
  });

  describe('who runs what: the role comes from the PostgreSQL login', () => {
    let db: TestDatabase;
    let auditor: Login;
    let operator: Login;
    let health: Login;
    // nothing but db migrate and users may reach the administrator: an admin URL that goes nowhere proves it
    const submissions: Record<string, string> = {};
    const rejectedId = makeIdNumber('440783', '1960-01-01', 1);
    const unreachableAdmin = 'postgres://medins_admin:x@127.0.0.1:9/nowhere';
    const cliAs = (login: Login | { url: string }, extra: Record<string, string>, ...args: string[]) =>
      exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
        cwd: process.cwd(),
        env: {
          ...process.env,
          DATABASE_URL: login.url,
          MEDINS_ADMIN_DATABASE_URL: unreachableAdmin,
          MEDINS_EXCHANGE_DIR: join(dir, 'exchange'),
          ...extra,
        },
      }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    beforeAll(async () => {
      db = await createTestDatabase();
      [auditor, operator, health] = await Promise.all([
        db.login('auditor'),
        db.login('operator'),
        db.login('department:health'),
      ]);
      await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
      for (const [department, c] of [
        ['civil-affairs', 'a'],
        ['health', 'b'],
      ] as const) {
        const s = await db.pool.query<{ id: string }>(
          `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by)
           VALUES ('kaiping', $1, 'roster', '2023-08-31', '2023-08-31', $2, $3, 1, 'csv', 'utf-8', 'op') RETURNING id`,
          [department, `${department}-roster.csv`, c.repeat(64)],
        );
        submissions[department] = s.rows[0]!.id;
        await db.pool.query(
          `INSERT INTO submission_rows (submission_id, row_no, id_number, name, category, action, accepted, reason_code, field, reason)
           VALUES ($1, 2, $2, '关伟', '2301', 'listed', false, 'not-registered-resident', '公民身份号码', 'not in the household register')`,
          [s.rows[0]!.id, rejectedId],
        );
      }
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('an auditor’s login with MEDINS_ROLE=operator is refused starting or steering a campaign, before anything is contacted', async () => {
      const start = await cliAs(
        auditor,
        { MEDINS_ROLE: 'operator' },
        'campaign',
        'start',
        '--jurisdiction',
        'kaiping',
        '--year',
        '2024',
      );
      expect(start).toMatchObject({ code: 1 });
      expect(start.stderr).toContain(
        `${auditor.user} is an auditor: role auditor may read history, reports and the exchange log; it cannot run "campaign start"`,
      );
      expect(start.stderr).toContain('MEDINS_ROLE=operator is not read');
      const signal = await cliAs(
        auditor,
        {},
        'campaign',
        'submit-list',
        'x.csv',
        '--jurisdiction',
        'kaiping',
        '--year',
        '2024',
        '--department',
        'health',
      );
      expect(signal.stderr).toContain('cannot run "campaign submit-list"');
      const { stdout } = await cliAs(auditor, {}, 'lists', 'status');
      expect(stdout).toContain('civil-affairs-roster.csv');
      expect(stdout).toContain('health-roster.csv');
    });

    it('an operator’s login runs the ledger commands, and none of them reaches the administrator', async () => {
      const status = await cliAs(operator, {}, 'lists', 'status', '--jurisdiction', 'kaiping');
      expect(status.stderr).toBe('');
      expect(status.stdout.split('\n').filter(Boolean)).toHaveLength(2);
      for (const args of [
        ['lists', 'held'],
        ['audit', 'verify'],
      ]) {
        const r = await cliAs(operator, {}, ...args);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
      // the two admin commands do use it: here they cannot reach it
      for (const args of [
        ['users', 'list'],
        ['db', 'migrate'],
      ]) {
        const r = await cliAs(operator, {}, ...args);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr).toMatch(/ECONNREFUSED|connect/);
      }
    });

    it('lists confirm applies a held roster only on the figures the operator read from lists held', async () => {
      // held as of 09-30: would close 5 of 6 open identities; the ledger has none of them open any more
      const held = await db.pool.query<{ id: string }>(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by, status, would_close, open_before, would_open)
         VALUES ('kaiping', 'veterans-affairs', 'roster', '2023-09-30', '2023-09-30', 'veterans-roster.csv', $1, 1, 'csv', 'utf-8', 'op', 'held', 5, 6, 0) RETURNING id`,
        ['c'.repeat(64)],
      );
      const id = held.rows[0]!.id;
      const listed = await cliAs(operator, {}, 'lists', 'held');
      expect(listed.stdout).toContain(
        `${id}\tkaiping\tveterans-affairs\troster 2023-09-30\twould close 5 of 6 open identities, open 0`,
      );
      const half = await cliAs(operator, {}, 'lists', 'confirm', '--submission', id, '--closes', '5');
      expect(half.code).toBe(1);
      expect(half.stderr).toContain('--closes and --of go together');
      // the figures typed are the ones compared (the operator read 4 of 6 on an older screen, not the stored 5
      // of 6); the ledger now says 0 of 0, so nothing is applied
      const r = await cliAs(
        operator,
        {},
        'lists',
        'confirm',
        '--submission',
        id,
        '--closes',
        '4',
        '--of',
        '6',
        '--opens',
        '0',
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        'was not applied: the ledger changed since it was shown (shown: would close 4 of 6 open identities, open 0; now: would close 0 of 0, open 0)',
      );
      const after = await db.pool.query<{ status: string; would_close: number; open_before: number }>(
        `SELECT status, would_close, open_before FROM submissions WHERE id = $1`,
        [id],
      );
      // still held, with the figures it would have now for the operator to read again
      expect(after.rows[0]).toEqual({ status: 'held', would_close: 0, open_before: 0 });
      const again = await cliAs(operator, {}, 'lists', 'held');
      expect(again.stdout).toContain(
        `${id}\tkaiping\tveterans-affairs\troster 2023-09-30\twould close 0 of 0 open identities, open 0`,
      );
    });

    it('an auditor’s rejection report holds the rejected rows with the ID masked, and no name', async () => {
      const out = join(dir, 'rejections-auditor.csv');
      const r = await cliAs(
        auditor,
        {},
        'lists',
        'rejections',
        '--submission',
        submissions['health']!,
        '--out',
        out,
      );
      expect(r.stdout).toContain('1 rejected rows written');
      const text = readFileSync(out, 'utf8');
      expect(text).toContain(`2,${rejectedId.slice(0, 6)}********${rejectedId.slice(14)},2301,在册`);
      expect(text).toContain('not in the household register');
      expect(text).not.toContain(rejectedId);
      expect(text).not.toContain('关伟');
    });

    it('an administrator adds a person with users add; the person logs in and is an auditor', async () => {
      const name = `t_audit_${process.pid}`;
      try {
        const added = await cliAs(
          operator,
          { MEDINS_ADMIN_DATABASE_URL: db.url },
          'users',
          'add',
          name,
          '--role',
          'auditor',
        );
        expect(added.stderr).toBe('');
        const password = /password \(shown once\): (\S+)/.exec(added.stdout)![1]!;
        const listed = await cliAs(operator, { MEDINS_ADMIN_DATABASE_URL: db.url }, 'users', 'list');
        expect(listed.stdout).toContain(`${name}\tmedins_auditor`);
        const url = new URL(db.url);
        url.username = name;
        url.password = password;
        const start = await cliAs(
          { url: url.toString() },
          {},
          'lists',
          'confirm',
          '--submission',
          submissions['health']!,
        );
        expect(start.stderr).toContain(`${name} is an auditor`);
        const status = await cliAs({ url: url.toString() }, {}, 'lists', 'status');
        expect(status.stdout).toContain('health-roster.csv');
      } finally {
        await db.pool.query(`DROP ROLE IF EXISTS ${name}`);
      }
    });

    it('a superuser’s URL is refused for the everyday commands', async () => {
      const r = await cliAs({ url: db.url }, {}, 'lists', 'status');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("a superuser: the command line runs under a person's own login");
    });

    it('a department lists only its own submissions, and may submit only its own lists', async () => {
      const { stdout } = await cliAs(health, {}, 'lists', 'status');
      expect(stdout).toContain('health-roster.csv');
      expect(stdout).not.toContain('civil-affairs');
      const failure = await cliAs(
        health,
        { MEDINS_ROLE: 'department' },
        'lists',
        'import',
        'x.csv',
        '--jurisdiction',
        'kaiping',
        '--department',
        'civil-affairs',
        '--kind',
        'roster',
        '--period',
        '2023-08-31',
      );
      expect(failure.code).toBe(1);
      expect(failure.stderr).toContain(
        `${health.user} is the department health: role department may submit its own lists only; it cannot run "lists import" for civil-affairs`,
      );
      const history = await cliAs(health, {}, 'audit', 'history', '--workflow-id', 'campaign-kaiping-2024');
      expect(history.code).toBe(1);
      expect(history.stderr).toContain('cannot run "audit history"');
    });

    it('a department imports its own list under its own login: matched against the register it cannot read', async () => {
      const civil = await db.login('department:civil-affairs');
      const list = file(
        'civil-affairs-2023-09-30.csv',
        `序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别\r\n1,司徒敏,女,${makeIdNumber('440783', '1958-03-03', 4)},,,1\r\n`,
      );
      const own = await cliAs(
        civil,
        {},
        'lists',
        'import',
        list,
        '--jurisdiction',
        'kaiping',
        '--department',
        'civil-affairs',
        '--kind',
        'roster',
        '--period',
        '2023-09-30',
        '--json',
      );
      expect(own.stderr).toBe('');
      expect(JSON.parse(own.stdout)).toMatchObject({
        rowsRead: 1,
        rowsAccepted: 0,
        rowsRejected: 1,
        rejectedByReason: { 'not-registered-resident': 1 },
      });
      const log = await db.pool.query(
        `SELECT department, kind FROM exchange_log WHERE file_name = 'civil-affairs-2023-09-30.csv'`,
      );
      expect(log.rows).toEqual([{ department: 'civil-affairs', kind: 'roster-list' }]);
      const received = await db.pool.query(
        `SELECT received_by FROM submissions WHERE file_name = 'civil-affairs-2023-09-30.csv'`,
      );
      expect(received.rows).toEqual([{ received_by: civil.user }]);
      // its status shows its own lists, the new one among them, and none of health's
      const status = await cliAs(civil, {}, 'lists', 'status');
      expect(status.stdout).toContain('civil-affairs-2023-09-30.csv');
      expect(status.stdout).not.toContain('health-roster.csv');
    });
  });
});
