/**
 * A certifying department imports its own lists under its own login (issue 18): its rows are matched against
 * the household register inside the database (list_match_rows, as the schema's owner), while the login itself
 * never reads residents; what it hands in, and what it opens or closes, is its own department's only. An
 * operator's login imports without bypassing row-level security.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDepartmentList, type ListImportRequest } from '../../lists/import-list';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);
const HEADER = '序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别';
const people = [1, 2, 3, 4].map((n) => ({
  id: makeIdNumber('440783', `195${n}-02-0${n}`, n),
  name: ['关伟', '司徒敏', '谢芳', '周全'][n - 1]!,
}));
const unregistered = makeIdNumber('440783', '1966-06-06', 9);
const csv = (rows: string[][]) =>
  Buffer.from([HEADER, ...rows.map((r) => r.join(','))].join('\r\n') + '\r\n', 'utf8');

describe('a department imports its own list under its own login', () => {
  let db: TestDatabase;
  let civil: Login;
  let veterans: Login;
  let operator: Login;
  const exchangeDir = mkdtempSync(join(tmpdir(), 'medins-dept-exchange-'));
  const request = (over: Partial<ListImportRequest>): ListImportRequest => ({
    jurisdiction: 'kaiping',
    department: 'civil-affairs',
    kind: 'roster',
    period: '2023-08-31',
    effectiveOn: '2023-08-31',
    fileName: 'civil-affairs-roster.csv',
    receivedBy: 'nobody',
    ...over,
  });
  const importAs = (login: Login, bytes: Buffer, over: Partial<ListImportRequest>) =>
    importDepartmentList(
      { pool: login.pool, policy, exchangeDir },
      request({ receivedBy: login.user, ...over }),
      bytes,
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    [civil, veterans, operator] = await Promise.all([
      db.login('department:civil-affairs'),
      db.login('department:veterans-affairs'),
      db.login('operator'),
    ]);
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
    await db.pool.query(`INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '赤坎镇')`);
    for (const [i, p] of people.entries())
      await db.pool.query(
        `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id, deceased_on)
         VALUES ('kaiping', $1, $2, 'M', '1950-01-01', 1, $3)`,
        [p.id, p.name, i === 3 ? '2023-05-01' : null],
      );
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('no login bypasses row-level security, not even an operator’s', async () => {
    const r = await db.pool.query<{ rolname: string; rolbypassrls: boolean }>(
      `SELECT rolname, rolbypassrls FROM pg_roles WHERE rolname = ANY ($1) ORDER BY rolname`,
      [[civil.user, veterans.user, operator.user]],
    );
    expect(r.rows.map((x) => x.rolbypassrls)).toEqual([false, false, false]);
  });

  it('civil affairs’ roster is judged against the register it cannot read, and opens its identities', async () => {
    await expect(civil.pool.query('SELECT count(*) FROM residents')).rejects.toThrow(/permission denied/);
    const result = await importAs(
      civil,
      csv([
        ['1', people[0]!.name, '男', people[0]!.id, '', '', '1'],
        ['2', people[1]!.name, '女', people[1]!.id, '', '', '2'],
        ['3', '无此人', '男', unregistered, '', '', '1'],
        ['4', people[3]!.name, '男', people[3]!.id, '', '', '1'],
        ['5', people[0]!.name, '男', people[0]!.id, '', '', '1'],
        ['合计：5人', '', '', '', '', '', ''],
      ]),
      {},
    );
    expect(result).toMatchObject({
      alreadyImported: false,
      held: false,
      rowsRead: 6,
      rowsAccepted: 2,
      rowsRejected: 3,
      rowsSkipped: 1,
      rejectedByReason: { 'duplicate-in-file': 1, 'not-registered-resident': 1, 'resident-deceased': 1 },
      identitiesOpened: 2,
      identitiesClosed: 0,
    });
    // recorded in its own name, as its own
    const log = await civil.pool.query(`SELECT department, kind, row_count FROM exchange_log`);
    expect(log.rows).toEqual([{ department: 'civil-affairs', kind: 'roster-list', row_count: 6 }]);
    const s = await civil.pool.query(`SELECT department, status, received_by FROM submissions`);
    expect(s.rows).toEqual([{ department: 'civil-affairs', status: 'current', received_by: civil.user }]);
    const opened = await db.pool.query<{ id_number: string }>(
      `SELECT p.id_number FROM identities i JOIN residents p ON p.id = i.resident_id
       WHERE i.department = 'civil-affairs' AND i.valid_to IS NULL ORDER BY p.id`,
    );
    expect(opened.rows.map((r) => r.id_number)).toEqual([people[0]!.id, people[1]!.id]);
  });

  it('the same file again changes nothing, and a corrected roster supersedes it and closes who it no longer lists', async () => {
    const again = await importAs(
      civil,
      csv([
        ['1', people[0]!.name, '男', people[0]!.id, '', '', '1'],
        ['2', people[1]!.name, '女', people[1]!.id, '', '', '2'],
        ['3', '无此人', '男', unregistered, '', '', '1'],
        ['4', people[3]!.name, '男', people[3]!.id, '', '', '1'],
        ['5', people[0]!.name, '男', people[0]!.id, '', '', '1'],
        ['合计：5人', '', '', '', '', '', ''],
      ]),
      {},
    );
    expect(again.alreadyImported).toBe(true);
    // it keeps one person, drops one and adds one: one closing is below the roster safety rule's floor (5)
    const corrected = await importAs(
      civil,
      csv([
        ['1', people[0]!.name, '男', people[0]!.id, '', '', '1'],
        ['2', people[2]!.name, '女', people[2]!.id, '', '', '3'],
      ]),
      { fileName: 'civil-affairs-roster-v2.csv' },
    );
    expect(corrected).toMatchObject({
      held: false,
      rowsAccepted: 2,
      supersededSubmissionId: again.submissionId,
    });
    // the superseded file's identities are undone, the corrected one's opened: 谢芳 in, 司徒敏 out
    const open = await civil.pool.query<{ category: string }>(
      `SELECT category FROM identities WHERE valid_to IS NULL ORDER BY category`,
    );
    expect(open.rows.map((r) => r.category)).toEqual(['1', '3']);
    const statuses = await civil.pool.query(`SELECT status FROM submissions ORDER BY id`);
    expect(statuses.rows).toEqual([{ status: 'superseded' }, { status: 'current' }]);
  });

  it('a list handed in in another department’s name is refused by PostgreSQL, and nothing of it stays', async () => {
    await expect(
      importAs(civil, csv([['1', people[0]!.name, '男', people[0]!.id, '', '', '10']]), {
        department: 'veterans-affairs',
        fileName: 'veterans.csv',
      }),
    ).rejects.toThrow(/row-level security/);
    const n = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM submissions WHERE department = 'veterans-affairs'`,
    );
    expect(n.rows[0]!.n).toBe(0);
  });

  it('another department sees none of it, and imports its own beside it', async () => {
    for (const sql of [
      'SELECT * FROM submissions',
      'SELECT * FROM submission_rows',
      'SELECT * FROM submission_skipped_rows',
      'SELECT * FROM identities',
      'SELECT * FROM exchange_log',
    ])
      expect((await veterans.pool.query(sql)).rows, sql).toEqual([]);
    const own = await importAs(veterans, csv([['1', people[1]!.name, '女', people[1]!.id, '', '', '10']]), {
      department: 'veterans-affairs',
      fileName: 'veterans.csv',
    });
    expect(own).toMatchObject({ rowsAccepted: 1, identitiesOpened: 1 });
    expect((await veterans.pool.query(`SELECT department FROM identities`)).rows).toEqual([
      { department: 'veterans-affairs' },
    ]);
    // and civil affairs does not see the veterans' list
    expect(
      (
        await civil.pool.query(
          `SELECT count(*)::int AS n FROM submissions WHERE department = 'veterans-affairs'`,
        )
      ).rows[0],
    ).toEqual({ n: 0 });
  });

  it('a file the department sent that is no list is refused, and the refusal is kept in its name', async () => {
    await expect(
      importAs(civil, Buffer.from('姓名,类别\r\n张三,1\r\n', 'utf8'), {
        fileName: 'nocol.csv',
        period: '2023-09-30',
      }),
    ).rejects.toThrow(/nocol\.csv: missing column\(s\): 身份证号码/);
    expect((await civil.pool.query(`SELECT department, file_name FROM refused_files`)).rows).toEqual([
      { department: 'civil-affairs', file_name: 'nocol.csv' },
    ]);
    expect((await veterans.pool.query(`SELECT * FROM refused_files`)).rows).toEqual([]);
  });

  it('an operator imports any department’s list without bypassing row-level security', async () => {
    const ok = await importAs(
      operator,
      Buffer.from(`${HEADER},变动类型\r\n1,${people[2]!.name},女,${people[2]!.id},,,10,新增\r\n`, 'utf8'),
      {
        department: 'veterans-affairs',
        kind: 'delta',
        period: '2023-09',
        effectiveOn: '2023-10-10',
        fileName: 'veterans-2023-09.csv',
      },
    );
    expect(ok).toMatchObject({ rowsAccepted: 1, identitiesOpened: 1 });
    const log = await operator.pool.query(`SELECT department, kind FROM exchange_log ORDER BY seq`);
    expect(log.rows.at(-1)).toEqual({ department: 'veterans-affairs', kind: 'delta-list' });
    expect((await veterans.pool.query(`SELECT count(*)::int AS n FROM identities`)).rows[0]).toEqual({
      n: 2,
    });
  });
});
