import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDepartmentList, type ListImportRequest } from '../../lists/import-list';
import { rejectionReport } from '../../documents/rejection-report';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';
import { generatePopulation, type PopulationManifest } from '../../simulation/population';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);
const HEADER = ['序号', '姓名', '性别', '身份证号码', '户籍地址', '联系电话', '特殊群体类别'];

function csv(rows: (string | number)[][], header = HEADER): string {
  return [header, ...rows].map((r) => r.join(',')).join('\r\n') + '\r\n';
}

async function xlsx(rows: (string | number)[][], header = HEADER): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('名单');
  sheet.addRow(header);
  for (const r of rows) sheet.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

describe('the registry: department lists in real file formats', () => {
  let db: TestDatabase;
  let manifest: PopulationManifest;
  let exchangeDir: string;
  let people: { id_number: string; name: string }[];
  let deceased: { id_number: string; name: string };

  const request = (over: Partial<ListImportRequest> = {}): ListImportRequest => ({
    jurisdiction: 'kaiping',
    department: 'civil-affairs',
    kind: 'roster',
    period: '2023-08-31',
    effectiveOn: '2023-08-31',
    fileName: 'list.csv',
    receivedBy: 'test-operator',
    ...over,
  });
  const importList = (bytes: Buffer, over: Partial<ListImportRequest> = {}) =>
    importDepartmentList({ pool: db.pool, policy, exchangeDir }, request(over), bytes);
  const verdicts = async (submissionId: number) =>
    (
      await db.pool.query<{
        row_no: number;
        accepted: boolean;
        reason_code: string | null;
        name: string | null;
      }>(
        'SELECT row_no, accepted, reason_code, name FROM submission_rows WHERE submission_id = $1 ORDER BY row_no',
        [submissionId],
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    exchangeDir = mkdtempSync(join(tmpdir(), 'medins-exchange-'));
    manifest = await generatePopulation(db.pool, policy, {
      scale: 0.01,
      seed: 11,
      defectRate: 0.05,
      deltaMonths: 2,
      outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
    });
    people = (
      await db.pool.query<{ id_number: string; name: string }>(
        `SELECT id_number, name FROM residents WHERE NOT employee_insured AND deceased_on IS NULL AND residency = 'hukou'
         AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = residents.id) ORDER BY id LIMIT 20`,
      )
    ).rows;
    deceased = (
      await db.pool.query<{ id_number: string; name: string }>(
        `SELECT id_number, name FROM residents WHERE deceased_on IS NOT NULL LIMIT 1`,
      )
    ).rows[0]!;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('the synthetic population at 1% of Kaiping keeps each town in proportion to 附件3', async () => {
    const r = await db.pool.query<{ name: string; registered: number; employee: number }>(
      `SELECT t.name, count(*) FILTER (WHERE p.residency = 'hukou')::int AS registered,
              count(*) FILTER (WHERE p.employee_insured)::int AS employee
       FROM towns t LEFT JOIN residents p ON p.town_id = t.id GROUP BY t.id, t.name ORDER BY t.id`,
    );
    expect(r.rows[0]).toEqual({ name: '三埠办事处', registered: 1144, employee: 218 });
    expect(r.rows.at(-1)).toEqual({ name: '翠山湖', registered: 0, employee: 0 });
    expect(manifest.towns.map((t) => t.registered)).toEqual(r.rows.map((row) => row.registered));
  });

  it('every row of a roster seeded with defects ends accepted or rejected, the counts add up, and each defect gets its reason', async () => {
    const roster = manifest.files.find((f) => f.department === 'civil-affairs' && f.kind === 'roster')!;
    const result = await importList(readFileSync(roster.path), { fileName: 'civil-affairs-roster.xlsx' });
    const dataRows = roster.rows;
    expect(result.rowsRead).toBe(dataRows);
    expect(result.rowsAccepted + result.rowsRejected).toBe(result.rowsRead);
    const d = roster.defects;
    expect(result.rejectedByReason['invalid-id'] ?? 0).toBe(d['bad-check-digit'] ?? 0);
    expect(result.rejectedByReason['missing-field'] ?? 0).toBe(d['missing-name'] ?? 0);
    expect(result.rejectedByReason['unknown-category'] ?? 0).toBe(d['unknown-category'] ?? 0);
    expect(result.rejectedByReason['category-not-certified-by-department'] ?? 0).toBe(
      d['other-department-category'] ?? 0,
    );
    expect(result.rejectedByReason['id-stored-as-number'] ?? 0).toBe(d['id-as-number'] ?? 0);
    expect(result.rejectedByReason['duplicate-in-file'] ?? 0).toBe(d['duplicate-row'] ?? 0);
    expect(result.rejectedByReason['not-registered-resident'] ?? 0).toBe(d['not-a-resident'] ?? 0);
    expect(result.identitiesOpened).toBe(result.rowsAccepted);
  });

  it('each rejection reason is given to the row at fault: a hand-made list with one defect per row', async () => {
    const [a, b, c, e, f] = people;
    const rows = [
      [1, a!.name, '男', a!.id_number, '开平市', '13800000001', '1'], // accepted
      [2, '', '男', b!.id_number, '开平市', '13800000002', '1'], // missing name
      [3, c!.name, '女', '', '开平市', '13800000003', '1'], // missing ID
      [
        4,
        c!.name,
        '女',
        `${c!.id_number.slice(0, 17)}${c!.id_number[17] === '1' ? '2' : '1'}`,
        '开平市',
        '',
        '1',
      ], // check digit
      [5, e!.name, '女', e!.id_number, '开平市', '', '99'], // unknown category
      [6, e!.name, '女', e!.id_number, '开平市', '', '7'], // certified by the disabled persons' federation
      [7, a!.name, '男', a!.id_number, '开平市', '', '1'], // duplicate of row 1
      [8, '外地人', '男', makeIdNumber('110105', '1980-02-02', 5), '北京', '', '1'], // not a resident
      [9, deceased.name, '男', deceased.id_number, '开平市', '', '2'], // deceased
      [10, f!.name, '女', f!.id_number.toLowerCase(), '开平市', '', '最低生活保障对象'], // a category by its name, lower-case x: accepted
    ];
    const result = await importList(Buffer.from(csv(rows), 'utf8'), {
      period: '2023-08-30',
      effectiveOn: '2023-08-31',
    });
    expect((await verdicts(result.submissionId)).map((v) => [v.row_no, v.reason_code])).toEqual([
      [2, null],
      [3, 'missing-field'],
      [4, 'missing-field'],
      [5, 'invalid-id'],
      [6, 'unknown-category'],
      [7, 'category-not-certified-by-department'],
      [8, 'duplicate-in-file'],
      [9, 'not-registered-resident'],
      [10, 'resident-deceased'],
      [11, null],
    ]);
    expect([result.rowsRead, result.rowsAccepted, result.rowsRejected]).toEqual([10, 2, 8]);
    // the reason goes back to the clerk: the departments by the plan's names, not the system's codes
    const reason = await db.pool.query<{ reason: string }>(
      `SELECT reason FROM submission_rows WHERE submission_id = $1 AND reason_code = 'category-not-certified-by-department'`,
      [result.submissionId],
    );
    expect(reason.rows[0]!.reason).toMatch(/^类别7由残疾人联合会核定，不由民政局报送/);
  });

  it('an 18-digit ID that Excel stored as a number has lost digits and is rejected as such', async () => {
    const p = people[11]!;
    const bytes = await xlsx([[1, p.name, '男', Number(p.id_number.slice(0, 17)), '开平市', '', '1']]);
    const result = await importList(bytes, { period: '2023-08-29', fileName: 'numbers.xlsx' });
    expect((await verdicts(result.submissionId))[0]!.reason_code).toBe('id-stored-as-number');
  });

  it('GBK, UTF-8 with and without BOM, and .xlsx files read the same Chinese names', async () => {
    const p = people[12]!;
    const rows = [[1, p.name, '女', p.id_number, '广东省开平市赤坎镇', '13800000000', '3']];
    const variants: [string, Buffer][] = [
      ['gbk.csv', iconv.encode(csv(rows), 'gbk')],
      ['utf8.csv', Buffer.from(csv(rows), 'utf8')],
      ['bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv(rows), 'utf8')])],
      ['list.xlsx', await xlsx(rows)],
    ];
    const seen: [string, string, string | null][] = [];
    let day = 1;
    for (const [name, bytes] of variants) {
      const result = await importList(bytes, {
        fileName: name,
        period: `2023-07-0${day}`,
        department: 'civil-affairs',
      });
      day += 1;
      seen.push([result.encoding, (await verdicts(result.submissionId))[0]!.name!, null]);
    }
    expect(seen).toEqual([
      ['gb18030', p.name, null],
      ['utf-8', p.name, null],
      ['utf-8-bom', p.name, null],
      ['xlsx', p.name, null],
    ]);
  });

  it('the same file twice changes nothing the second time', async () => {
    const p = people[13]!;
    const bytes = Buffer.from(csv([[1, p.name, '男', p.id_number, '', '', '5']]), 'utf8');
    const counts = async () =>
      (
        await db.pool.query<{ s: number; i: number; e: number }>(
          'SELECT (SELECT count(*) FROM submissions)::int AS s, (SELECT count(*) FROM identities)::int AS i, (SELECT count(*) FROM exchange_log)::int AS e',
        )
      ).rows[0];
    const first = await importList(bytes, { department: 'rural-revitalization', period: '2023-08-31' });
    const before = await counts();
    const second = await importList(bytes, { department: 'rural-revitalization', period: '2023-08-31' });
    expect(second.alreadyImported).toBe(true);
    expect(second.submissionId).toBe(first.submissionId);
    expect(await counts()).toEqual(before);
  });

  it('a corrected resend supersedes the earlier file for the same department and period', async () => {
    const [p1, p2, p3] = [people[14]!, people[15]!, people[16]!];
    const v1 = await importList(
      Buffer.from(
        csv([
          [1, p1.name, '男', p1.id_number, '', '', '10'],
          [2, p2.name, '男', p2.id_number, '', '', '10'],
        ]),
        'utf8',
      ),
      { department: 'veterans-affairs' },
    );
    const v2 = await importList(
      Buffer.from(
        csv([
          [1, p1.name, '男', p1.id_number, '', '', '10'],
          [2, p3.name, '男', p3.id_number, '', '', '10'],
        ]),
        'utf8',
      ),
      { department: 'veterans-affairs' },
    );
    expect(v2.supersededSubmissionId).toBe(v1.submissionId);
    const open = await db.pool.query<{ id_number: string }>(
      `SELECT p.id_number FROM identities i JOIN residents p ON p.id = i.resident_id WHERE i.department = 'veterans-affairs' AND i.valid_to IS NULL ORDER BY 1`,
    );
    expect(
      open.rows
        .map((r) => r.id_number)
        .filter((id) => [p1, p2, p3].some((p) => p.id_number === id))
        .sort(),
    ).toEqual([p1.id_number, p3.id_number].sort());
    const statuses = await db.pool.query<{ id: string; status: string }>(
      `SELECT id, status FROM submissions WHERE id IN ($1, $2) ORDER BY id`,
      [v1.submissionId, v2.submissionId],
    );
    expect(statuses.rows.map((r) => r.status)).toEqual(['superseded', 'current']);
  });

  it('a monthly delta adds from the registration day and its removals end with the delta’s own month: from the next month on (000 五(一))', async () => {
    const [p1, p2] = [people[17]!, people[18]!];
    await importList(Buffer.from(csv([[1, p1.name, '男', p1.id_number, '', '', '7']]), 'utf8'), {
      department: 'disabled-persons-federation',
      period: '2023-08-28',
    });
    const header = [...HEADER, '变动类型'];
    const delta = csv(
      [
        [1, p1.name, '男', p1.id_number, '', '', '7', '减员'],
        [2, p2.name, '女', p2.id_number, '', '', '8', '新增'],
        [3, p2.name, '女', p2.id_number, '', '', '8', '调整'],
        [4, p2.name, '女', p2.id_number, '', '', '7', '减员'],
      ],
      header,
    );
    const result = await importList(Buffer.from(delta, 'utf8'), {
      department: 'disabled-persons-federation',
      kind: 'delta',
      period: '2023-09',
      effectiveOn: '2023-10-09',
    });
    expect(result.rejectedByReason).toEqual({ 'invalid-action': 1, 'remove-without-identity': 1 });
    const rows = await db.pool.query<{ id_number: string; valid_from: string; valid_to: string | null }>(
      `SELECT p.id_number, i.valid_from::text, i.valid_to::text FROM identities i JOIN residents p ON p.id = i.resident_id WHERE p.id_number IN ($1, $2) ORDER BY i.id`,
      [p1.id_number, p2.id_number],
    );
    expect(rows.rows).toEqual([
      // removed in the September delta: subsidised to 09-30, whenever the delta is imported
      { id_number: p1.id_number, valid_from: '2023-08-31', valid_to: '2023-09-30' },
      { id_number: p2.id_number, valid_from: '2023-10-09', valid_to: null },
    ]);
  });

  it('the rejection report is in the format the department sent, GBK stays GBK, with the field and reason', async () => {
    const p = people[19]!;
    const rows = [
      [1, p.name, '男', p.id_number, '', '', '4'],
      [2, '', '男', p.id_number, '', '', '4'],
      [3, '张三', '男', '12345', '', '', '4'],
    ];
    const result = await importList(iconv.encode(csv(rows), 'gbk'), {
      department: 'rural-revitalization',
      period: '2023-08-27',
      fileName: '乡村振兴名单.csv',
    });
    const report = await rejectionReport(db.pool, result.submissionId);
    expect(report.format).toBe('csv');
    expect(report.fileName).toBe('乡村振兴名单-退回.csv');
    const text = iconv.decode(report.bytes, 'gb18030').trim().split('\r\n');
    expect(text[0]).toBe([...HEADER, '错误字段', '错误原因', '原表行号'].join(','));
    expect(text).toHaveLength(3);
    expect(text[1]).toContain('姓名,姓名为空');
    expect(text[1]!.endsWith(',3')).toBe(true);
    expect(text[2]).toContain('身份证号码,身份证号码应为18位');
    expect(text[2]!.endsWith(',4')).toBe(true);
  });

  it('an .xlsx list gets its rejection report as .xlsx: its own columns, the field and reason, IDs kept as text', async () => {
    const p = people[19]!;
    const q = { name: '李四', id_number: p.id_number.slice(0, 17) + (p.id_number.endsWith('0') ? '1' : '0') };
    const result = await importList(
      await xlsx([
        [1, p.name, '男', p.id_number, '', '', '4'],
        [2, q.name, '女', q.id_number, '', '', '4'],
        [3, p.name, '男', p.id_number, '', '', '4'],
      ]),
      { department: 'rural-revitalization', period: '2023-08-23', fileName: '乡村振兴名单.xlsx' },
    );
    expect(result.rowsRejected).toBe(2);
    const report = await rejectionReport(db.pool, result.submissionId);
    expect(report).toMatchObject({ format: 'xlsx', rows: 2, fileName: '乡村振兴名单-退回.xlsx' });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(report.bytes as unknown as ArrayBuffer);
    const sheet = wb.worksheets[0]!;
    const values = (n: number) =>
      (sheet.getRow(n).values as (string | number | null)[]).slice(1).map((v) => String(v ?? ''));
    expect(sheet.actualRowCount).toBe(3);
    expect(values(1)).toEqual([...HEADER, '错误字段', '错误原因', '原表行号']);
    expect(values(2)[3]).toHaveLength(18);
    expect(values(2).slice(-3)[0]).toBe('身份证号码');
    expect(values(3).slice(-3)[0]).toBe('身份证号码');
    expect(values(3).at(-1)).toBe('4');
    expect(values(3)[0]).toBe('3');
    expect(sheet.getRow(2).getCell(4).numFmt).toBe('@');
    // fit to print and file, still the department's own layout: the header frozen and repeated on each A4
    // page, the print area over the table, 制表单位/制表人/审核人/日期 in the page footer, not in the rows
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.pageSetup).toMatchObject({ paperSize: 9, fitToWidth: 1, printTitlesRow: '1:1' });
    expect(sheet.pageSetup.printArea).toMatch(/^\$?A\$?1:\$?J\$?3$/);
    expect(sheet.headerFooter.oddFooter).toMatch(
      /^&L制表单位：开平市医疗保障局 {2}制表人：\S+&C第 &P 页 共 &N 页&R审核人： {2}日期：\d{4}-\d{2}-\d{2}$/,
    );
  });

  it('a file that is no spreadsheet, or lacks the ID column, is refused with a message naming the file', async () => {
    await expect(
      importList(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0, 0, 0, 0]), {
        fileName: 'old.xls',
        period: '2023-08-26',
      }),
    ).rejects.toThrow(/old\.xls: an Excel 97-2003 workbook .*save it as \.xlsx/);
    await expect(
      importList(Buffer.from('姓名,类别\r\n张三,1\r\n', 'utf8'), {
        fileName: 'nocol.csv',
        period: '2023-08-25',
      }),
    ).rejects.toThrow(/nocol\.csv: missing column\(s\): 身份证号码/);
  });
});

describe('registry invariants held by PostgreSQL itself', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
    await db.pool.query(`INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '赤坎镇')`);
    await db.pool.query(
      `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id) VALUES ('kaiping', $1, '关伟', 'M', '1960-01-01', 1)`,
      [makeIdNumber('440783', '1960-01-01', 1)],
    );
  });
  afterAll(async () => {
    await db?.drop();
  });
  const enroll = () =>
    db.pool.query(
      `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source) VALUES ('kaiping', 2024, 1, 40600, 40600, 0, 'personal') RETURNING id`,
    );

  it('one enrollment per person per year', async () => {
    await enroll();
    await expect(enroll()).rejects.toThrow(/duplicate key/);
  });

  it('the status machine refuses a paid enrollment going back to levied', async () => {
    await db.pool.query(`UPDATE enrollments SET status = 'levied' WHERE resident_id = 1`);
    await db.pool.query(`UPDATE enrollments SET status = 'paid' WHERE resident_id = 1`);
    await expect(
      db.pool.query(`UPDATE enrollments SET status = 'levied' WHERE resident_id = 1`),
    ).rejects.toThrow(/cannot go from paid to levied/);
  });

  it('a change of status is stamped with its time; the allowed moves are listed for auditors', async () => {
    const before = await db.pool.query<{ at: Date }>(
      `UPDATE enrollments SET status_changed_at = '2024-01-01' WHERE resident_id = 1 RETURNING status_changed_at AS at`,
    );
    expect(before.rows[0]!.at.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    // the same status again is no move: the stamp stays
    const same = await db.pool.query<{ at: Date }>(
      `UPDATE enrollments SET status = 'paid' WHERE resident_id = 1 RETURNING status_changed_at AS at`,
    );
    expect(same.rows[0]!.at.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    const refunded = await db.pool.query<{ at: Date; now: Date }>(
      `UPDATE enrollments SET status = 'refunded' WHERE resident_id = 1 RETURNING status_changed_at AS at, now() AS now`,
    );
    expect(refunded.rows[0]!.at.getTime()).toBe(refunded.rows[0]!.now.getTime());
    const moves = await db.pool.query<{ from_status: string; to_status: string }>(
      `SELECT from_status, to_status FROM enrollment_transitions ORDER BY 1, 2`,
    );
    expect(moves.rows.map((m) => `${m.from_status}>${m.to_status}`)).toEqual(
      expect.arrayContaining([
        'registered>levied',
        'levied>paid',
        'failed>abandoned',
        'paid>refunded',
        // round 1's failure since the levy no longer writes levied (migration 0075)
        'registered>failed',
      ]),
    );
    expect(moves.rows).toHaveLength(15);
    expect(moves.rows.some((m) => m.from_status === 'paid' && m.to_status === 'levied')).toBe(false);
  });

  it('one result per levy line, and never two successful deductions of one enrollment', async () => {
    await db.pool.query(
      `INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind) VALUES ('kaiping', 2024, 1, 'first'), ('kaiping', 2024, 2, 're-deduction')`,
    );
    await db.pool.query(`INSERT INTO levy_lines VALUES (1, 1, 40600), (2, 1, 40600)`);
    await db.pool.query(
      `INSERT INTO deduction_results (batch_id, enrollment_id, outcome) VALUES (1, 1, 'success')`,
    );
    await expect(
      db.pool.query(
        `INSERT INTO deduction_results (batch_id, enrollment_id, outcome) VALUES (1, 1, 'success')`,
      ),
    ).rejects.toThrow(/duplicate key/);
    await expect(
      db.pool.query(
        `INSERT INTO deduction_results (batch_id, enrollment_id, outcome) VALUES (2, 1, 'success')`,
      ),
    ).rejects.toThrow(/deduction_results_one_success/);
  });

  it('an identity must name a resident of its own jurisdiction and submissions that exist; neither side can be deleted from under it', async () => {
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('heshan', '鹤山市', '广东省')`);
    const sub = await db.pool.query<{ id: string }>(
      `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by)
       VALUES ('kaiping', 'civil-affairs', 'roster', '2023-08-30', '2023-08-30', 'b.csv', repeat('b', 64), 1, 'csv', 'utf-8', 'op') RETURNING id`,
    );
    const s = Number(sub.rows[0]!.id);
    const identity = (jurisdiction: string, resident: number, opened: number) =>
      db.pool.query(
        `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission)
         VALUES ($1, $2, '1', 'civil-affairs', '2023-08-30', $3)`,
        [jurisdiction, resident, opened],
      );
    await expect(identity('kaiping', 999, s)).rejects.toThrow(/resident 999, who is no resident of kaiping/);
    await expect(identity('heshan', 1, s)).rejects.toThrow(/resident 1, who is no resident of heshan/);
    await expect(identity('kaiping', 1, s + 1000)).rejects.toThrow(/submission \d+, which does not exist/);
    await identity('kaiping', 1, s);
    await expect(
      db.pool.query(
        `UPDATE identities SET valid_to = '2023-09-30', closed_by_submission = $1 WHERE resident_id = 1`,
        [s + 1000],
      ),
    ).rejects.toThrow(/which does not exist/);
    await expect(
      db.pool.query(
        `INSERT INTO submission_rows (submission_id, row_no, action, accepted) VALUES ($1, 2, 'listed', true)`,
        [s + 1000],
      ),
    ).rejects.toThrow(/refer to submission \d+, which does not exist/);
    await db.pool.query(
      `INSERT INTO submission_rows (submission_id, row_no, action, accepted) VALUES ($1, 2, 'listed', true)`,
      [s],
    );
    await expect(
      db.pool.query(`UPDATE submission_rows SET submission_id = $2 WHERE submission_id = $1`, [s, s + 1000]),
    ).rejects.toThrow(/cannot move to another submission/);
    await expect(db.pool.query(`DELETE FROM residents WHERE id = 1`)).rejects.toThrow(
      /still has identities|violates foreign key/,
    );
    await expect(db.pool.query(`DELETE FROM submissions WHERE id = $1`, [s])).rejects.toThrow(
      /superseded, not deleted/,
    );
    // all of it refused: the one identity and the one row stand
    const left = await db.pool.query<{ i: number; r: number }>(
      `SELECT (SELECT count(*)::int FROM identities) AS i, (SELECT count(*)::int FROM submission_rows) AS r`,
    );
    expect(left.rows[0]).toEqual({ i: 1, r: 1 });
  });

  it('levy lines, deduction results and enrollments name rows that exist, and those rows are not deleted from under them', async () => {
    await expect(
      db.pool.query(
        `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source) VALUES ('kaiping', 2025, 999, 40600, 40600, 0, 'personal')`,
      ),
    ).rejects.toThrow(/resident 999, who is no resident of kaiping/);
    await expect(db.pool.query(`INSERT INTO levy_lines VALUES (1, 999, 40600)`)).rejects.toThrow(
      /enrollment 999, which does not exist/,
    );
    await expect(db.pool.query(`INSERT INTO levy_lines VALUES (999, 1, 40600)`)).rejects.toThrow(
      /levy batch 999, which does not exist/,
    );
    // a line names an enrollment of its own batch's jurisdiction and year (migration 0088): the person's 2025
    // enrollment exists, but a line of a 2024 batch cannot levy it, alone or beside a good line of another batch
    const next = await db.pool.query<{ id: string }>(
      `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source) VALUES ('kaiping', 2025, 1, 40600, 40600, 0, 'personal') RETURNING id`,
    );
    const other = next.rows[0]!.id;
    await expect(db.pool.query(`INSERT INTO levy_lines VALUES (1, $1, 40600)`, [other])).rejects.toThrow(
      new RegExp(`levy batch 1 refers to enrollment ${other}, which is not an enrollment of kaiping 2024`),
    );
    await db.pool.query(
      `INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind) VALUES ('kaiping', 2024, 3, 're-deduction')`,
    );
    await expect(
      db.pool.query(`INSERT INTO levy_lines VALUES (3, 1, 40600), (2, $1, 40600)`, [other]),
    ).rejects.toThrow(new RegExp(`levy batch 2 refers to enrollment ${other}`));
    await expect(
      db.pool.query(
        `INSERT INTO deduction_results (batch_id, enrollment_id, outcome) VALUES (2, 999, 'success')`,
      ),
    ).rejects.toThrow(/holds no such levy line/);
    await expect(
      db.pool.query(`UPDATE levy_lines SET enrollment_id = 999 WHERE batch_id = 1`),
    ).rejects.toThrow(/references of a written row do not change/);
    await expect(db.pool.query(`DELETE FROM levy_lines WHERE batch_id = 1`)).rejects.toThrow(
      /levy line 1\/1 is still named/,
    );
    await expect(db.pool.query(`DELETE FROM enrollments WHERE resident_id = 1`)).rejects.toThrow(
      /is still named/,
    );
    await expect(db.pool.query(`DELETE FROM levy_batches WHERE id = 2`)).rejects.toThrow(
      /levy batch 2 is still named/,
    );
  });

  it('a follow-up task names an enrollment, town and village that exist, checked once per statement (0086), and none of them is deleted from under it', async () => {
    const town = (
      await db.pool.query<{ id: number }>(
        `INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '三埠街道') RETURNING id`,
      )
    ).rows[0]!.id;
    const bare = (
      await db.pool.query<{ id: number }>(
        `INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '长沙街道') RETURNING id`,
      )
    ).rows[0]!.id;
    const village = (
      await db.pool.query<{ id: number }>(
        `INSERT INTO villages (town_id, name) VALUES ($1, '迳头村') RETURNING id`,
        [town],
      )
    ).rows[0]!.id;
    const enrollment = (
      await db.pool.query<{ id: string }>(
        `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source) VALUES ('kaiping', 2026, 1, 40600, 40600, 0, 'personal') RETURNING id`,
      )
    ).rows[0]!.id;
    const task = `INSERT INTO follow_up_tasks (enrollment_id, town_id, village_id, reason) VALUES `;
    // one row at fault among good ones refuses the whole statement, naming the missing row
    await expect(
      db.pool.query(`${task} ($1, $2, $3, 'deduction failed: personal reason'), (999, $2, NULL, 'x')`, [
        enrollment,
        town,
        village,
      ]),
    ).rejects.toThrow(/follow-up task refers to enrollment 999, which does not exist/);
    await expect(db.pool.query(`${task} ($1, 999, NULL, 'x')`, [enrollment])).rejects.toThrow(
      /follow-up task refers to town 999, which does not exist/,
    );
    await expect(db.pool.query(`${task} ($1, $2, 999, 'x')`, [enrollment, town])).rejects.toThrow(
      /follow-up task refers to village 999, which does not exist/,
    );
    expect((await db.pool.query(`SELECT 1 FROM follow_up_tasks`)).rowCount).toBe(0);
    await db.pool.query(`${task} ($1, $2, $3, 'deduction failed: personal reason')`, [
      enrollment,
      town,
      village,
    ]);
    const another = (
      await db.pool.query<{ id: string }>(
        `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source) VALUES ('kaiping', 2027, 1, 40600, 40600, 0, 'personal') RETURNING id`,
      )
    ).rows[0]!.id;
    await db.pool.query(`${task} ($1, $2, NULL, 'deduction failed: personal reason')`, [another, bare]);
    await expect(
      db.pool.query(`UPDATE follow_up_tasks SET town_id = $1 WHERE village_id IS NULL`, [town]),
    ).rejects.toThrow(/references of a written row do not change/);
    await expect(db.pool.query(`DELETE FROM enrollments WHERE id = $1`, [enrollment])).rejects.toThrow(
      new RegExp(`enrollment ${enrollment} is still named by a follow-up task`),
    );
    await expect(db.pool.query(`DELETE FROM villages WHERE id = $1`, [village])).rejects.toThrow(
      new RegExp(`village ${village} is still named by a follow-up task`),
    );
    await expect(db.pool.query(`DELETE FROM towns WHERE id = $1`, [bare])).rejects.toThrow(
      new RegExp(`town ${bare} is still named by a follow-up task`),
    );
    // closing a task is no change of its references
    const closed = await db.pool.query(
      `UPDATE follow_up_tasks SET closed_at = now(), outcome = 'stopped' WHERE enrollment_id = $1 AND town_id = $2`,
      [another, bare],
    );
    expect(closed.rowCount).toBe(1);
  });

  it('an opening of the whole register is refused whole when one enrollment names a resident of another jurisdiction or none, as a single form is', async () => {
    await db.pool.query(
      `INSERT INTO jurisdictions VALUES ('heshan', '鹤山市', '广东省') ON CONFLICT DO NOTHING`,
    );
    await db.pool.query(`ANALYZE residents`);
    // every resident enrolled for 2030 in one statement (more rows than a quarter of the register: the check walks
    // the register in key order, migrations 0091 and 0092), the last one under another jurisdiction or a resident no one is
    const opening = (last: string) => `
      INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source)
      SELECT 'kaiping', 2030, id, 40600, 40600, 0, 'personal' FROM residents WHERE id < (SELECT max(id) FROM residents)
      UNION ALL ${last}`;
    const lastResident = `(SELECT max(id) FROM residents)`;
    await expect(
      db.pool.query(opening(`SELECT 'heshan', 2030, ${lastResident}, 40600, 40600, 0, 'personal'`)),
    ).rejects.toThrow(/resident \d+, who is no resident of heshan/);
    await expect(
      db.pool.query(
        opening(`SELECT 'kaiping', 2030, ${lastResident} + 1000000, 40600, 40600, 0, 'personal'`),
      ),
    ).rejects.toThrow(/resident \d+, who is no resident of kaiping/);
    // one enrollment (the probes by key)
    await expect(
      db.pool.query(
        `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source)
         VALUES ('heshan', 2030, 1, 40600, 40600, 0, 'personal')`,
      ),
    ).rejects.toThrow(/resident 1, who is no resident of heshan/);
    expect(
      (await db.pool.query(`SELECT count(*)::int AS n FROM enrollments WHERE campaign_year = 2030`)).rows[0],
    ).toEqual({ n: 0 });
    // the same opening with every resident in their own jurisdiction is written whole (then undone here)
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(opening(`SELECT 'kaiping', 2030, ${lastResident}, 40600, 40600, 0, 'personal'`));
      const n = await client.query<{ enrolled: number; residents: number }>(
        `SELECT (SELECT count(*)::int FROM enrollments WHERE campaign_year = 2030) AS enrolled, (SELECT count(*)::int FROM residents) AS residents`,
      );
      expect(n.rows[0]!.enrolled).toBe(n.rows[0]!.residents);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('a submission whose accepted and rejected rows do not add up to the rows read cannot be stored', async () => {
    await expect(
      db.pool.query(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, rows_read, rows_accepted, rows_rejected, received_by)
         VALUES ('kaiping', 'civil-affairs', 'roster', '2023-08-31', '2023-08-31', 'a.csv', repeat('a', 64), 1, 'csv', 'utf-8', 10, 7, 2, 'op')`,
      ),
    ).rejects.toThrow(/check constraint/);
  });

  it('the exchange log chains each entry to the previous one and refuses to be edited', async () => {
    const add = (name: string) =>
      db.pool.query<{ prev_digest: string; entry_digest: string }>(
        `INSERT INTO exchange_log (jurisdiction, direction, department, kind, period, file_name, row_count, byte_size, sha256)
         VALUES ('kaiping', 'in', 'civil-affairs', 'roster-list', '2023-08-31', $1, 1, 1, repeat('b', 64)) RETURNING prev_digest, entry_digest`,
        [name],
      );
    const first = (await add('a.csv')).rows[0]!;
    const second = (await add('b.csv')).rows[0]!;
    expect(first.prev_digest).toBe('0'.repeat(64));
    expect(second.prev_digest).toBe(first.entry_digest);
    await expect(db.pool.query(`UPDATE exchange_log SET row_count = 2`)).rejects.toThrow(/append-only/);
    await expect(db.pool.query(`DELETE FROM exchange_log`)).rejects.toThrow(/append-only/);
  });
});

describe('exports in the documents’ own layouts, masked for readers who do not need the numbers', () => {
  let db: TestDatabase;
  const read = async (bytes: Buffer) => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
    const rows: string[][] = [];
    wb.worksheets[0]!.eachRow((row) =>
      rows.push(
        (row.values as unknown[])
          .slice(1)
          .map((v) => (v === null || v === undefined ? '' : String(v as string))),
      ),
    );
    return rows;
  };
  beforeAll(async () => {
    db = await createTestDatabase();
    await generatePopulation(db.pool, policy, {
      scale: 0.002,
      seed: 5,
      defectRate: 0,
      deltaMonths: 0,
      outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
    });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('附件2 lists, per town and village, the residents to enroll who have not paid, with the bank account masked for the town', async () => {
    const { exportMobilisationList } = await import('../../documents/exports');
    const { bytes, rows, villages } = await exportMobilisationList(db.pool, policy, { townName: '赤坎镇' });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
    expect(wb.worksheets).toHaveLength(villages);
    const sheet = await read(bytes);
    expect(sheet[2]).toEqual([
      '序号',
      '镇名称',
      '村委会',
      '家庭户主',
      '姓名',
      '户籍地址',
      '联系电话',
      '特殊群体标记',
      '银行账号',
      '是否宣传到位（已通知的打√）',
    ]);
    const expected = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM residents p JOIN towns t ON t.id = p.town_id WHERE t.name = '赤坎镇' AND p.residency = 'hukou' AND NOT p.employee_insured AND p.deceased_on IS NULL`,
    );
    expect(rows).toBe(expected.rows[0]!.n);
    const people = sheet.slice(3).filter((r) => /^\d+$/.test(r[0]!));
    expect(people.length).toBeGreaterThan(0);
    expect(people.every((r) => r[1] === '赤坎镇' && /^\*+\d{4}$/.test(r[8]!))).toBe(true);
  });

  it('附件1 for a household lists its members with masked ID numbers and the amount due at 406 yuan each', async () => {
    const { exportHouseholdForm } = await import('../../documents/exports');
    const h = await db.pool.query<{ id: string; n: number; insured: number }>(
      `SELECT household_id AS id, count(*)::int AS n, count(*) FILTER (WHERE NOT employee_insured)::int AS insured FROM residents WHERE deceased_on IS NULL GROUP BY household_id HAVING count(*) >= 3 ORDER BY household_id LIMIT 1`,
    );
    const { bytes, members } = await exportHouseholdForm(db.pool, policy, {
      householdId: Number(h.rows[0]!.id),
    });
    const sheet = await read(bytes);
    expect(members).toBe(h.rows[0]!.n);
    const memberRows = sheet.slice(6, 6 + members);
    expect(memberRows.map((r) => r[0])).toEqual(memberRows.map((_, i) => String(i + 1)));
    expect(memberRows.every((r) => /^\d{6}\*{8}[\dX]{4}$/.test(r[3]!))).toBe(true);
    expect(sheet[6 + members]![0]).toBe(
      `合计 本家庭户共 ${h.rows[0]!.insured} 人参保，合计应缴 ${(h.rows[0]!.insured * 406).toFixed(2)} 元。`,
    );
  });

  it('levy data carries full ID and account numbers for the tax bureau only', async () => {
    const { exportLevyData } = await import('../../documents/exports');
    const person = (
      await db.pool.query<{ id: string; id_number: string }>(
        `SELECT id, id_number FROM residents WHERE NOT employee_insured ORDER BY id LIMIT 1`,
      )
    ).rows[0]!;
    const e = await db.pool.query<{ id: string }>(
      `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, total_fen, personal_fen, subsidy_fen, funding_source) VALUES ('kaiping', 2024, $1, 40600, 40600, 0, 'personal') RETURNING id`,
      [person.id],
    );
    await db.pool.query(
      `INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind) VALUES ('kaiping', 2024, 1, 'first')`,
    );
    await db.pool.query(`INSERT INTO levy_lines VALUES (1, $1, 40600)`, [e.rows[0]!.id]);
    const tax = await read((await exportLevyData(db.pool, { batchId: 1, reader: 'tax' })).bytes);
    expect(tax[1]).toEqual([
      '序号',
      '姓名',
      '身份证号码',
      '缴费年度',
      '应缴金额（元）',
      '银行账号',
      '开户银行',
      '镇(街)',
      '村(居)委会',
    ]);
    expect(tax[2]![2]).toBe(person.id_number);
    expect(tax[2]![4]).toBe('406'); // a number of yuan (406), shown 406.00 by its format
    const auditor = await read((await exportLevyData(db.pool, { batchId: 1, reader: 'auditor' })).bytes);
    expect(auditor[2]![2]).not.toContain(person.id_number.slice(6, 14));
    expect(auditor[2]![5]).toMatch(/^\*+\d{4}$/);
  });
});
