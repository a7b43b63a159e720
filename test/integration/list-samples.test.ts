/**
 * The shared samples of department list files as offices really make them (../shared/cases/lists, its
 * README states the outcome each is owed), imported into databases holding the population they were made
 * from: Kaiping at 1% with seed 3 for civil affairs' files, seed 5 for the disabled persons' federation's.
 * The samples must be there (../shared beside the clone, or MEDINS_SHARED_DIR): a missing folder fails.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDepartmentList } from '../../lists/import-list';
import { ListFileError } from '../../lists/list-files';
import { rejectionReport } from '../../documents/rejection-report';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { SHARED_CASES } from '../support/shared-cases';

const policy = seedPolicy('kaiping', 2024);
const sample = (name: string) => readFileSync(join(SHARED_CASES, name));

async function populated(seed: number): Promise<TestDatabase> {
  const db = await createTestDatabase();
  await generatePopulation(db.pool, policy, {
    scale: 0.01,
    seed,
    defectRate: 0,
    deltaMonths: 0,
    outDir: mkdtempSync(join(tmpdir(), 'medins-samples-')),
  });
  return db;
}

async function refusal(promise: Promise<unknown>): Promise<ListFileError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ListFileError) return error;
    throw error;
  }
  throw new Error('the file was imported; a refusal was expected');
}

describe('the shared samples of list files as offices make them', () => {
  let civil: TestDatabase;
  let dpf: TestDatabase;
  const exchangeDir = mkdtempSync(join(tmpdir(), 'medins-samples-exchange-'));
  let day = 0;

  beforeAll(async () => {
    [civil, dpf] = await Promise.all([populated(3), populated(5)]);
  });
  afterAll(async () => {
    await civil?.drop();
    await dpf?.drop();
  });

  /** Each file as a roster of its own period, so none supersedes another. */
  const importSample = (name: string, department = 'civil-affairs') => {
    day += 1;
    const db = department === 'civil-affairs' ? civil : dpf;
    return importDepartmentList(
      { pool: db.pool, policy, exchangeDir },
      {
        jurisdiction: 'kaiping',
        department,
        kind: 'roster',
        period: `2023-08-${String(day).padStart(2, '0')}`,
        effectiveOn: '2023-08-31',
        fileName: name.split('/').at(-1)!,
        receivedBy: 'samples-test',
      },
      sample(name),
    );
  };
  const rejectedRows = async (db: TestDatabase, submissionId: number) =>
    (
      await db.pool.query<{ row_no: number; reason_code: string; field: string }>(
        `SELECT row_no, reason_code, field FROM submission_rows WHERE submission_id = $1 AND NOT accepted ORDER BY row_no`,
        [submissionId],
      )
    ).rows;

  it('01: a title merged across the columns above the header: the header is found on row 2, 12 accepted', async () => {
    const r = await importSample('01-title-row.xlsx');
    expect(r).toMatchObject({ rowsRead: 12, rowsAccepted: 12, rowsRejected: 0, rowsSkipped: 0 });
  });

  it('03: full-width digits in IDs and a full-width category "１": 12 accepted', async () => {
    const r = await importSample('03-fullwidth-values.xlsx');
    expect(r).toMatchObject({ rowsRead: 12, rowsAccepted: 12, rowsRejected: 0 });
  });

  it('06: blank rows, rows with only a 序号, a 合计 row and a signature row are skipped apart, not rejected people', async () => {
    const r = await importSample('06-blank-totals-footer.xlsx');
    expect(r.rowsAccepted).toBe(12);
    expect(r.rowsRejected).toBe(0);
    expect(r.rowsSkipped).toBeGreaterThanOrEqual(4);
    expect(r.rowsRead).toBe(r.rowsAccepted + r.rowsRejected + r.rowsSkipped);
    expect(Object.keys(r.skippedByReason).sort()).toEqual(
      expect.arrayContaining(['blank-row', 'serial-number-only', 'signature-line', 'totals-row']),
    );
  });

  it('07: sheet 1 is 填报说明, the list is on sheet 2: 12 accepted from the sheet whose header matches', async () => {
    const r = await importSample('07-data-on-second-sheet.xlsx');
    expect(r).toMatchObject({ rowsAccepted: 12, rowsRejected: 0, sheet: '名单' });
  });

  it("08: a hidden first sheet holds last month's list: only the visible sheet's 12 are read", async () => {
    const ids = JSON.parse(sample('08-ids.json').toString('utf8')) as { old: string[]; current: string[] };
    const r = await importSample('08-hidden-first-sheet.xlsx');
    expect(r).toMatchObject({ rowsRead: 12, rowsAccepted: 12 });
    const read = await civil.pool.query<{ id_number: string }>(
      `SELECT id_number FROM submission_rows WHERE submission_id = $1 ORDER BY row_no`,
      [r.submissionId],
    );
    const got = read.rows.map((x) => x.id_number);
    expect(got.sort()).toEqual([...ids.current].sort());
    for (const old of ids.old) expect(got).not.toContain(old);
  });

  it('10: a category merged down six rows at a time gives its value to every row: 12 accepted', async () => {
    const r = await importSample('10-merged-category.xlsx');
    expect(r).toMatchObject({ rowsRead: 12, rowsAccepted: 12, rowsRejected: 0 });
  });

  it('15: an Excel 97-2003 .xls is refused naming the file and saying to save it as .xlsx', async () => {
    const e = await refusal(importSample('15-biff8.xls'));
    expect(e.code).toBe('old-xls');
    expect(e.message).toMatch(/^15-biff8\.xls: an Excel 97-2003 workbook.*save it as \.xlsx/);
  });

  it('16: a GBK CSV saved by Excel with IDs as 4.40783E+17: those rows rejected as "ID stored as a number"', async () => {
    const r = await importSample('16-excel-gbk-crlf.csv');
    expect(r.rowsRead).toBe(12);
    const rejected = await rejectedRows(civil, r.submissionId);
    expect(rejected.map((x) => [x.row_no, x.reason_code])).toEqual([
      [2, 'id-stored-as-number'],
      [3, 'id-stored-as-number'],
      [4, 'id-stored-as-number'],
      [5, 'id-stored-as-number'],
    ]);
  });

  it('19: IDs written ="…", with a leading apostrophe or a tab are accepted with the prefix taken off', async () => {
    const r = await importSample('19-csv-id-prefixes.csv');
    expect(r).toMatchObject({ rowsRead: 12, rowsAccepted: 12, rowsRejected: 0 });
  });

  it('20: Excel\'s "Unicode 文本" (UTF-16LE, tab-separated) is read', async () => {
    const r = await importSample('20-excel-unicode-text.csv');
    expect(r.encoding).toBe('utf-16le');
    expect(r).toMatchObject({ rowsRead: 12, rowsAccepted: 12, rowsRejected: 0 });
  });

  it('24: rows 5 and 10 with a bad check digit have the field under 错误字段 and the reason under 错误原因, an empty 备注 or not', async () => {
    const r = await importSample('24-report-columns-empty-remark.xlsx');
    const rejected = await rejectedRows(civil, r.submissionId);
    expect(rejected.map((x) => x.row_no)).toEqual([5, 10]);
    const report = await rejectionReport(civil.pool, r.submissionId);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(report.bytes as unknown as ArrayBuffer);
    const sheet = wb.worksheets[0]!;
    const values = (n: number) =>
      (sheet.getRow(n).values as (string | number | null)[]).slice(1).map((v) => String(v ?? ''));
    const header = values(1);
    const fieldCol = header.indexOf('错误字段');
    const reasonCol = header.indexOf('错误原因');
    expect(fieldCol).toBeGreaterThan(0);
    expect(reasonCol).toBe(fieldCol + 1);
    for (const n of [2, 3]) {
      expect(values(n)[fieldCol]).toBe('身份证号码');
      expect(values(n)[reasonCol]).toMatch(/校验码/);
    }
    expect([values(2)[reasonCol + 1], values(3)[reasonCol + 1]]).toEqual(['5', '10']);
  });

  it('dpf-clean.csv: the control, 53 read = 53 accepted', async () => {
    const r = await importSample('dpf/dpf-clean.csv', 'disabled-persons-federation');
    expect(r).toMatchObject({ rowsRead: 53, rowsAccepted: 53, rowsRejected: 0, rowsSkipped: 0 });
  });

  it('csv-stray-quote.csv: a quote that never closes refuses the file, naming line 4; nothing is imported', async () => {
    const before = await dpf.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM submissions`);
    const e = await refusal(importSample('dpf/csv-stray-quote.csv', 'disabled-persons-federation'));
    expect(e.code).toBe('unclosed-quote');
    expect(e.place.line).toBe(4);
    expect(e.message).toMatch(/^csv-stray-quote\.csv, line 4: a quote/);
    const after = await dpf.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM submissions`);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('xlsx-sst-after-sheet.xlsx: shared strings stored after the sheet are read like any workbook: 53 accepted', async () => {
    const r = await importSample('dpf/xlsx-sst-after-sheet.xlsx', 'disabled-persons-federation');
    expect(r).toMatchObject({ rowsRead: 53, rowsAccepted: 53 });
  });

  it('xlsx-instructions-first.xlsx: a 填表说明 sheet first; the list is read from the sheet whose header matches', async () => {
    const r = await importSample('dpf/xlsx-instructions-first.xlsx', 'disabled-persons-federation');
    expect(r).toMatchObject({ rowsRead: 53, rowsAccepted: 53, sheet: '名单' });
  });

  it('csv-formula-names.csv: the CSV rejection report neutralises names starting with =, +, - or @', async () => {
    const r = await importSample('dpf/csv-formula-names.csv', 'disabled-persons-federation');
    expect(r.rowsRejected).toBeGreaterThan(0);
    const report = await rejectionReport(dpf.pool, r.submissionId);
    const lines = iconv
      .decode(report.bytes, 'utf8')
      .replace(/^\ufeff/, '')
      .trim()
      .split('\r\n');
    expect(lines).toHaveLength(r.rowsRejected + 1);
    const names = lines.slice(1).map((l) => l.split(',')[1]!);
    for (const name of names) expect(name).not.toMatch(/^"?[=+\-@]/);
    expect(names.some((n) => /^"?'[=+\-@]/.test(n))).toBe(true);
  });

  it('csv-nul-after-64k.csv: a NUL byte after the first 64 KiB is a file error naming its line', async () => {
    const bytes = sample('dpf/csv-nul-after-64k.csv');
    const line = bytes.subarray(0, bytes.indexOf(0)).toString('utf8').split('\n').length;
    const e = await refusal(importSample('dpf/csv-nul-after-64k.csv', 'disabled-persons-federation'));
    expect(e.code).toBe('control-character');
    expect(e.place.line).toBe(line);
    expect(e.message).not.toMatch(/[0-9]{15}/);
  });

  it('not-a-roster.txt: refused at once with a clear file error', async () => {
    const e = await refusal(importSample('dpf/not-a-roster.txt', 'disabled-persons-federation'));
    expect(e.message).toMatch(/^not-a-roster\.txt/);
  });
});
