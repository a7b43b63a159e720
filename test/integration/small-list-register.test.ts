/**
 * A department's small list is judged against the household register by key (migration 0084, issue #23): a
 * roster of a few hundred rows probes the register once per row instead of reading all of it, so a monthly
 * list costs the same in a city of 700,000 residents as in one of 7 million; a list of more than a quarter
 * of the register still reads it once. Either way every row gets the same verdict, and the identities'
 * reference check reads the register the same way.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';
import { importDepartmentList, type ListImportRequest } from '../../lists/import-list';
import { seedPolicy } from '../../seeds';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);
const HEADER = '序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别';
const REGISTER = 400;
/** The register: 400 residents, the fourth of them deceased before the lists' date. */
const residents = Array.from({ length: REGISTER }, (_, i) => ({
  id: makeIdNumber('440783', `19${50 + (i % 40)}-0${1 + (i % 9)}-1${i % 10}`, Math.floor(i / 40) + 1),
  name: `居民${i + 1}`,
  deceasedOn: i === 3 ? '2023-05-01' : null,
}));
const unregistered = makeIdNumber('440783', '1966-06-06', 9);
/** The verdicts of the four rows every roster below ends with, one rejection each. */
const TRICKY_ROWS = {
  'duplicate-in-file': 1,
  'not-registered-resident': 1,
  'resident-deceased': 1,
  'invalid-id': 1,
};

/** A roster's CSV: `rows` people (accepted if nothing else is wrong), then the same tricky rows in each. */
function roster(people: number): Buffer {
  const rows: string[][] = [];
  for (let i = 0; i < people; i++) {
    const p = residents[10 + i]!;
    rows.push([String(rows.length + 1), p.name, '男', p.id, '', '', '1']);
  }
  rows.push([String(rows.length + 1), residents[10]!.name, '男', residents[10]!.id, '', '', '1']); // duplicate
  rows.push([String(rows.length + 1), '无此人', '男', unregistered, '', '', '1']); // not in the register
  rows.push([String(rows.length + 1), residents[3]!.name, '男', residents[3]!.id, '', '', '1']); // deceased
  const wrongCheck = residents[4]!.id.endsWith('1') ? '2' : '1';
  rows.push([
    String(rows.length + 1),
    residents[4]!.name,
    '男',
    `${residents[4]!.id.slice(0, 17)}${wrongCheck}`,
    '',
    '',
    '1',
  ]);
  return Buffer.from([HEADER, ...rows.map((r) => r.join(','))].join('\r\n') + '\r\n', 'utf8');
}

describe('a small list is judged against the register by key', () => {
  let db: TestDatabase;
  let importer: pg.Pool;
  const exchangeDir = mkdtempSync(join(tmpdir(), 'medins-small-list-'));
  const request = (over: Partial<ListImportRequest>): ListImportRequest => ({
    jurisdiction: 'kaiping',
    department: 'civil-affairs',
    kind: 'roster',
    period: '2023-08-31',
    effectiveOn: '2023-08-31',
    fileName: 'civil-affairs-roster.csv',
    receivedBy: 'test',
    ...over,
  });

  /** How often PostgreSQL read the register whole, and by its keys, as the importing session reported it. */
  async function registerReads(): Promise<{ whole: number; byKey: number }> {
    // a session's table statistics reach the shared counters when it goes idle; ask for it now
    await importer.query('SELECT pg_stat_force_next_flush()');
    await importer.query('SELECT 1');
    const r = await importer.query<{ whole: string; by_key: string }>(
      `SELECT seq_scan AS whole, coalesce(idx_scan, 0) AS by_key FROM pg_stat_user_tables WHERE relname = 'residents'`,
    );
    return { whole: Number(r.rows[0]!.whole), byKey: Number(r.rows[0]!.by_key) };
  }

  async function verdicts(submissionId: number) {
    const r = await db.pool.query<{ id_number: string; accepted: boolean; reason_code: string | null }>(
      `SELECT id_number, accepted, reason_code FROM submission_rows WHERE submission_id = $1 ORDER BY row_no`,
      [submissionId],
    );
    return r.rows;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    // one connection: the import and the statistics it reports are the same session's
    importer = new pg.Pool({ connectionString: db.url, max: 1 });
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
    await db.pool.query(`INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '赤坎镇')`);
    await db.pool.query(
      `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id, deceased_on)
       SELECT 'kaiping', id, name, 'M', '1950-01-01', 1, deceased FROM unnest($1::text[], $2::text[], $3::date[]) AS x(id, name, deceased)`,
      [residents.map((p) => p.id), residents.map((p) => p.name), residents.map((p) => p.deceasedOn)],
    );
    await db.pool.query('ANALYZE residents');
  });
  afterAll(async () => {
    await importer?.end();
    await db?.drop();
  });

  it('a roster of 14 rows probes the register by key and never reads it whole, and judges every row', async () => {
    const before = await registerReads();
    const result = await importDepartmentList(
      { pool: importer, policy, exchangeDir },
      request({}),
      roster(10),
    );
    const after = await registerReads();
    expect(result).toMatchObject({
      rowsRead: 14,
      rowsAccepted: 10,
      rowsRejected: Object.keys(TRICKY_ROWS).length,
      rejectedByReason: TRICKY_ROWS,
      identitiesOpened: 10,
    });
    expect(after.whole - before.whole).toBe(0);
    expect(after.byKey - before.byKey).toBeGreaterThanOrEqual(11);
  });

  it('a roster of more than a quarter of the register reads it once, with the same verdicts for the same rows', async () => {
    const small = await db.pool.query<{ id: string }>(`SELECT id FROM submissions ORDER BY id`);
    const before = await registerReads();
    const result = await importDepartmentList(
      { pool: importer, policy, exchangeDir },
      request({ period: '2023-09-30', effectiveOn: '2023-09-30', fileName: 'civil-affairs-roster-0930.csv' }),
      roster(150),
    );
    const after = await registerReads();
    expect(result).toMatchObject({
      rowsRead: 154,
      rowsAccepted: 150,
      rowsRejected: Object.keys(TRICKY_ROWS).length,
      rejectedByReason: TRICKY_ROWS,
    });
    expect(after.whole - before.whole).toBeGreaterThanOrEqual(1);
    // the tricky rows' verdicts, read as each list wrote them, are the same
    const tail = (rows: Awaited<ReturnType<typeof verdicts>>) => rows.slice(-4);
    expect(tail(await verdicts(result.submissionId))).toEqual(
      tail(await verdicts(Number(small.rows[0]!.id))),
    );
  });
});
