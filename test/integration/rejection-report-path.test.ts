/**
 * `lists import --rejections OUT.xlsx` on a CSV list: the report keeps the department's format (a CSV it can
 * fix and resend), so it is written as OUT.csv and the command says where; CSV bytes under an .xlsx name do
 * not open in Excel (a newcomer's finding with the samples README's own command).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importList, reportPathFor } from '../../application/lists';
import { seedPolicy } from '../../seeds';
import { drillPopulation } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);

describe('the rejection report goes where its format says', () => {
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'medins-report-path-'));
    await drillPopulation(db, policy, { seed: 9 });
  }, 300_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('a path naming the other format gets the report’s own extension; any other path is kept', () => {
    expect(reportPathFor('/tmp/OUT.xlsx', 'csv')).toBe('/tmp/OUT.csv');
    expect(reportPathFor('/tmp/OUT.CSV', 'xlsx')).toBe('/tmp/OUT.xlsx');
    expect(reportPathFor('/tmp/OUT.csv', 'csv')).toBe('/tmp/OUT.csv');
    expect(reportPathFor('/tmp/out.report', 'csv')).toBe('/tmp/out.report');
  });

  it('a CSV roster with a rejected row asked for OUT.xlsx: the report is CSV at OUT.csv, and nothing at OUT.xlsx', async () => {
    const people = (
      await db.pool.query<{ id_number: string; name: string }>(
        `SELECT id_number, name FROM residents WHERE deceased_on IS NULL AND residency = 'hukou'
         AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = residents.id) ORDER BY id LIMIT 3`,
      )
    ).rows;
    expect(people).toHaveLength(3);
    const bad = `${people[2]!.id_number.slice(0, 17)}${people[2]!.id_number.endsWith('1') ? '2' : '1'}`;
    const rows = [
      ['序号', '姓名', '性别', '身份证号码', '户籍地址', '联系电话', '特殊群体类别'],
      ['1', people[0]!.name, '男', people[0]!.id_number, '', '', '7'],
      ['2', people[1]!.name, '男', people[1]!.id_number, '', '', '7'],
      ['3', people[2]!.name, '男', bad, '', '', '7'],
    ];
    const list = join(dir, 'dpf.csv');
    writeFileSync(list, rows.map((r) => r.join(',')).join('\r\n') + '\r\n');
    const asked = join(dir, 'OUT.xlsx');
    const result = await importList(
      { pool: db.pool, exchangeDir: join(dir, 'exchange') },
      {
        policy,
        path: list,
        department: 'disabled-persons-federation',
        kind: 'roster',
        period: '2023-08-31',
        rejections: asked,
        receivedBy: 'clerk-li',
      },
    );
    expect(result).toMatchObject({ rowsAccepted: 2, rowsRejected: 1, rejectionReport: join(dir, 'OUT.csv') });
    expect(existsSync(asked)).toBe(false);
    const report = readFileSync(join(dir, 'OUT.csv'), 'utf8');
    expect(report.split('\r\n')[0]).toContain('错误原因');
    expect(report).toContain(people[2]!.name);
    expect(report).not.toContain(people[0]!.name);
  });
});
