/**
 * Documents a bureau can file: every .xlsx read back with exceljs as Excel would read it (numbers that add
 * up, 序号, a frozen header, print area and A4 page setup, the 制表单位/制表人/审核人/日期 lines), 附件2 a
 * sheet per village with phones for the operator and masked to the last 4 digits for the auditor (by the database), and the PDFs Chromium
 * prints read back with pdftotext.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEnrollments, snapshotCoverage } from '../../ledger/campaign';
import { writeProgressReport } from '../../documents/progress-report';
import {
  exportLedgers,
  exportLevyData,
  exportMobilisationList,
  exportMobilisationPdf,
  WITHHELD,
} from '../../documents/exports';
import { filingFor } from '../../documents/filing';
import { progressColumns, progressPdf, progressReport, progressXlsx } from '../../documents/progress';
import { seedPolicy, seedTargets } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { pdfPages } from '../support/pdf';

const exec = promisify(execFile);
const policy = seedPolicy('kaiping', 2024);
const TOWN = '赤坎镇';

async function workbook(bytes: Buffer): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  return wb;
}

/** The row whose first cell is `text`, or throws. */
function rowOf(sheet: ExcelJS.Worksheet, text: string): ExcelJS.Row {
  for (let n = 1; n <= sheet.rowCount; n += 1)
    if (sheet.getRow(n).getCell(1).text === text) return sheet.getRow(n);
  throw new Error(`no row "${text}" on ${sheet.name}`);
}

/** The header row: the row starting with 序号. */
const headerOf = (sheet: ExcelJS.Worksheet) => rowOf(sheet, '序号');

/** The column (1-based) of `header` in the header row. */
function columnOf(sheet: ExcelJS.Worksheet, header: string): number {
  const values = (headerOf(sheet).values as unknown[]).slice(1);
  const i = values.indexOf(header);
  if (i < 0) throw new Error(`no column ${header} on ${sheet.name}: ${values.join(',')}`);
  return i + 1;
}

/** The data rows: after the header, up to 合计 or the first empty 序号. */
function dataRows(sheet: ExcelJS.Worksheet): ExcelJS.Row[] {
  const rows: ExcelJS.Row[] = [];
  for (let n = headerOf(sheet).number + 1; n <= sheet.rowCount; n += 1) {
    const row = sheet.getRow(n);
    if (typeof row.getCell(1).value !== 'number') break;
    rows.push(row);
  }
  return rows;
}

/** The texts of the sheet's cells below the table, where the 制表 lines are. */
function footerTexts(sheet: ExcelJS.Worksheet): string[] {
  const texts: string[] = [];
  sheet.eachRow((row) =>
    row.eachCell((cell) => {
      if (/^(制表单位|制表人|审核人|日期)：/.test(cell.text)) texts.push(cell.text);
    }),
  );
  return texts;
}

/** What a filed form must have, whatever it holds. */
function expectFiled(sheet: ExcelJS.Worksheet, login: string) {
  const header = headerOf(sheet);
  const rows = dataRows(sheet);
  expect(rows.map((r) => r.getCell(1).value)).toEqual(rows.map((_, i) => i + 1)); // 序号 1..n
  expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: header.number });
  expect(sheet.pageSetup).toMatchObject({
    paperSize: 9,
    fitToPage: true,
    fitToWidth: 1,
    fitToHeight: 0,
    printTitlesRow: `${header.number}:${header.number}`,
  });
  const footer = footerTexts(sheet);
  expect(footer).toEqual([
    `制表单位：${policy.name}医疗保障局`,
    `制表人：${login}`,
    '审核人：',
    expect.stringMatching(/^日期：\d{4}-\d{2}-\d{2}$/),
  ]);
  // the print area covers the table and the lines under it
  const area = /^\$?A\$?1:\$?([A-Z]+)\$?(\d+)$/.exec(String(sheet.pageSetup.printArea))!;
  expect(area).not.toBeNull();
  let lastRow = 0;
  sheet.eachRow((row) => (lastRow = row.number));
  expect(Number(area[2])).toBe(lastRow);
  expect(area[1]).toBe(sheet.getColumn(header.cellCount).letter);
}

describe('documents a bureau can file', () => {
  let db: TestDatabase;
  let operator: Login;
  let auditor: Login;

  beforeAll(async () => {
    db = await createTestDatabase();
    await generatePopulation(db.pool, policy, {
      scale: 0.002,
      seed: 7,
      defectRate: 0,
      deltaMonths: 0,
      outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
    });
    await openEnrollments(db.pool, policy, '2023-08-31');
    [operator, auditor] = [await db.login('operator'), await db.login('auditor')];
  }, 180_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('应征数据: 应缴金额 are numbers in yuan whose SUM is the batch total, ID and account numbers stay text', async () => {
    const lines = await db.pool.query<{ id: string; personal_fen: number }>(
      `SELECT id, personal_fen FROM enrollments WHERE campaign_year = 2024 AND personal_fen > 0 ORDER BY id LIMIT 25`,
    );
    const batch = await db.pool.query<{ id: number }>(
      `INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind) VALUES ('kaiping', 2024, 1, 'first') RETURNING id`,
    );
    const batchId = batch.rows[0]!.id;
    for (const l of lines.rows)
      await db.pool.query(`INSERT INTO levy_lines VALUES ($1, $2, $3)`, [batchId, l.id, l.personal_fen]);
    const expectedFen = lines.rows.reduce((s, l) => s + l.personal_fen, 0);

    const levy = await exportLevyData(operator.pool, { batchId });
    expect(levy).toMatchObject({ rows: lines.rows.length, totalFen: expectedFen });
    const sheet = (await workbook(levy.bytes)).getWorksheet('应征数据')!;
    expectFiled(sheet, operator.user);
    const amount = columnOf(sheet, '应缴金额（元）');
    const cells = dataRows(sheet).map((r) => r.getCell(amount));
    expect(cells.every((c) => typeof c.value === 'number' && c.numFmt === '#,##0.00')).toBe(true);
    const sum = cells.reduce((s, c) => s + (c.value as number), 0);
    expect(Math.round(sum * 100)).toBe(expectedFen);
    const total = rowOf(sheet, '合计').getCell(amount).value as ExcelJS.CellFormulaValue;
    expect(total.formula).toMatch(/^SUM\([A-Z]+\d+:[A-Z]+\d+\)$/);
    expect(total.result).toBe(expectedFen / 100);
    // the tax bureau's copy: the full 18-character ID as text, never a rounded number
    const id = dataRows(sheet)[0]!.getCell(columnOf(sheet, '身份证号码'));
    expect(id.value).toMatch(/^\d{17}[\dX]$/);
    expect(id.numFmt).toBe('@');

    // the same batch read by an auditor's login: the database masks the numbers whatever the reader asked
    const audited = (await workbook((await exportLevyData(auditor.pool, { batchId, reader: 'tax' })).bytes))
      .worksheets[0]!;
    expectFiled(audited, auditor.user);
    const auditedIds = dataRows(audited).map((r) => r.getCell(columnOf(audited, '身份证号码')).text);
    expect(auditedIds.every((v) => /^\d{6}\*{8}[\dX]{4}$/.test(v))).toBe(true);
  });

  it('附件2 has a sheet per village, each numbered from 1; the operator sees phones, the auditor’s login gets them masked to the last 4 digits', async () => {
    const expected = await db.pool.query<{ village: string; n: number; phones: string[] }>(
      `SELECT coalesce(v.name, '（未分村）') AS village, count(*)::int AS n, array_agg(p.phone ORDER BY h.id, p.id) AS phones
       FROM residents p JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id
       LEFT JOIN households h ON h.id = p.household_id
       WHERE t.name = $1 AND p.residency = 'hukou' AND NOT p.employee_insured AND p.deceased_on IS NULL
         AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = 2024 AND e.status IN ('paid', 'stopped', 'refunded'))
       GROUP BY 1 ORDER BY 1`,
      [TOWN],
    );
    expect(expected.rows.length).toBeGreaterThan(1);
    const { bytes, rows, villages } = await exportMobilisationList(operator.pool, policy, { townName: TOWN });
    expect(villages).toBe(expected.rows.length);
    expect(rows).toBe(expected.rows.reduce((s, v) => s + v.n, 0));
    const wb = await workbook(bytes);
    expect(wb.worksheets.map((w) => w.name).sort()).toEqual(
      expected.rows.map((v) => `${TOWN}-${v.village}`.slice(0, 31)).sort(),
    );
    for (const sheet of wb.worksheets) {
      expectFiled(sheet, operator.user);
      const village = expected.rows.find((v) => sheet.name === `${TOWN}-${v.village}`.slice(0, 31))!;
      const people = dataRows(sheet);
      expect(people).toHaveLength(village.n);
      expect(people.every((r) => r.getCell(columnOf(sheet, '村委会')).text === village.village)).toBe(true);
      // the town calls people: phones in full, as the register has them
      expect(people.map((r) => r.getCell(columnOf(sheet, '联系电话')).text)).toEqual(
        village.phones.map((p) => p ?? ''),
      );
      expect(people.every((r) => /^(\*+\d{4})?$/.test(r.getCell(columnOf(sheet, '银行账号')).text))).toBe(
        true,
      );
    }
    expect(expected.rows.some((v) => v.phones.some((p) => p && /^\d{11}$/.test(p)))).toBe(true);

    const audited = await workbook(
      (await exportMobilisationList(auditor.pool, policy, { townName: TOWN })).bytes,
    );
    expect(audited.worksheets).toHaveLength(expected.rows.length);
    for (const sheet of audited.worksheets) {
      expectFiled(sheet, auditor.user);
      const people = dataRows(sheet);
      // the database masks the phone to its last 4 digits (audit.residents, migration 0035)
      const village = expected.rows.find((v) => sheet.name === `${TOWN}-${v.village}`.slice(0, 31))!;
      expect(people.map((r) => r.getCell(columnOf(sheet, '联系电话')).text)).toEqual(
        village.phones.map((p) => (p ? `${'*'.repeat(p.length - 4)}${p.slice(-4)}` : '')),
      );
      expect(people.every((r) => r.getCell(columnOf(sheet, '户籍地址')).text === WITHHELD)).toBe(true);
      expect(people.every((r) => /^(\*+\d{4})?$/.test(r.getCell(columnOf(sheet, '银行账号')).text))).toBe(
        true,
      );
      // no phone number anywhere on the auditor's sheets
      sheet.eachRow((row) => row.eachCell((cell) => expect(cell.text).not.toMatch(/1\d{10}/)));
    }

    const department = await db.login('department:civil-affairs');
    await expect(exportMobilisationList(department.pool, policy, { townName: TOWN })).rejects.toThrow(
      /is the department civil-affairs: departments read no residents/,
    );
  });

  it('附件2 for a town the jurisdiction does not have (赤坎 for 赤坎镇) is refused, naming its towns, not filed empty', async () => {
    await expect(exportMobilisationList(operator.pool, policy, { townName: '赤坎' })).rejects.toThrow(
      /kaiping has no town named 赤坎 \(its towns: .*赤坎镇.*\); nothing was written/,
    );
    await expect(exportMobilisationPdf(operator.pool, policy, { townName: '赤坎' })).rejects.toThrow(
      /no town named 赤坎/,
    );
  });

  it('the four ledgers are filed forms, phones masked for the auditor’s login', async () => {
    const wb = await workbook((await exportLedgers(auditor.pool, policy)).bytes);
    expect(wb.worksheets).toHaveLength(4);
    for (const sheet of wb.worksheets) {
      expectFiled(sheet, auditor.user);
      const rows = dataRows(sheet);
      expect(rows.every((r) => /^(\*+\d{4})?$/.test(r.getCell(columnOf(sheet, '联系电话')).text))).toBe(true);
      expect(
        rows.every((r) => /^\d{6}\*{8}[\dX]{4}$/.test(r.getCell(columnOf(sheet, '身份证号码')).text)),
      ).toBe(true);
    }
  });

  it('附件2 as a PDF: a page per village, each with its village, 序号 and the 制表 lines', async () => {
    const { bytes, villages } = await exportMobilisationPdf(operator.pool, policy, { townName: TOWN });
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    // KEEP_PDF=<dir> keeps the printed PDFs to look at
    if (process.env.KEEP_PDF) writeFileSync(`${process.env.KEEP_PDF}/mobilisation.pdf`, bytes);
    const pages = await pdfPages(bytes);
    // each village starts a page of its own (a long one runs on, its header repeated); its 制表 lines close it
    const firsts = pages.filter((p) => /村\(居\)委会：\S+/.test(p));
    expect(firsts).toHaveLength(villages);
    const named = firsts.map((p) => /村\(居\)委会：(\S+)/.exec(p)![1]);
    expect(new Set(named).size).toBe(villages);
    expect(pages.every((p) => p.includes('序号') && p.includes('联系电话'))).toBe(true);
    const closing = pages.filter((p) =>
      /制表单位：开平市医疗保障局\s+制表人：\S+\s+审核人：\s+日期：\d{4}-\d{2}-\d{2}/.test(p),
    );
    expect(closing).toHaveLength(villages);
    // a village's last page closes it: the next page, if any, opens the next village
    pages.forEach((p, i) => {
      if (closing.includes(p) && i + 1 < pages.length) expect(firsts).toContain(pages[i + 1]);
    });
  });

  it('one progress report: the campaign’s weekly .xlsx and `report progress` have the same columns; counts add up, rates are numbers', async () => {
    const targets = new Map(seedTargets('kaiping', 2024).towns.map((t) => [t.town, t.target]));
    await snapshotCoverage(db.pool, policy, 'progress-2023-11-23', new Date('2023-11-23T02:00:00Z'), targets);
    await db.pool.query(
      `UPDATE enrollments SET status = 'levied' WHERE id IN (SELECT id FROM enrollments WHERE campaign_year = 2024 AND status = 'registered' ORDER BY id LIMIT 40)`,
    );
    await db.pool.query(
      `UPDATE enrollments SET status = 'paid' WHERE campaign_year = 2024 AND status = 'levied'`,
    );
    await snapshotCoverage(db.pool, policy, 'progress-2023-11-30', new Date('2023-11-30T02:00:00Z'), targets);

    const report = await progressReport(operator.pool, policy, '2023-11-30');
    expect(report.previous!.key).toBe('progress-2023-11-23');
    const filing = await filingFor(operator.pool, policy);
    const sheet = (await workbook(await progressXlsx(report, filing))).getWorksheet('参保进度')!;
    expectFiled(sheet, operator.user);
    const headers = (headerOf(sheet).values as unknown[]).slice(1);
    expect(headers).toEqual(['序号', ...progressColumns(report).map((c) => c.header)]);
    expect(headers).toEqual(
      expect.arrayContaining(['目标任务', '完成率', '参保率', '95%线人数', '距目标差额', '周增长']),
    );
    const rows = dataRows(sheet);
    expect(rows).toHaveLength(report.towns.length);
    const enrolled = columnOf(sheet, '参保人数');
    const total = rowOf(sheet, '合计');
    expect(total.getCell(enrolled).value).toBe(
      rows.reduce((s, r) => s + (r.getCell(enrolled).value as number), 0),
    );
    expect(total.getCell(enrolled).value).toBe(report.totals.enrolled);
    const rate = rows[0]!.getCell(columnOf(sheet, '参保率'));
    expect(rate.numFmt).toBe('0.0%');
    expect(rate.value).toBeCloseTo(report.towns[0]!.coverageRate! / 100, 6);
    expect(rows[0]!.getCell(enrolled).numFmt).toBe('#,##0');

    // the campaign's weekly report of the same snapshot is that same table
    const files = await writeProgressReport(
      db.pool,
      policy,
      'progress-2023-11-30',
      mkdtempSync(join(tmpdir(), 'medins-ex-')),
    );
    const weekly = (await workbook(readFileSync(files.xlsx))).getWorksheet('参保进度')!;
    expect((headerOf(weekly).values as unknown[]).slice(1)).toEqual(headers);
    expect(rowOf(weekly, '合计').getCell(enrolled).value).toBe(report.totals.enrolled);
    expect(footerTexts(weekly).at(-1)).toBe('日期：2023-11-30');

    // and printed: one A4 page, 序号, thousands separators, 合计 and the 制表 lines
    const pdf = await progressPdf(report, filing);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    if (process.env.KEEP_PDF) writeFileSync(`${process.env.KEEP_PDF}/progress.pdf`, pdf);
    const pages = await pdfPages(pdf);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toContain('开平市2024年度城乡居民医保参保进度表（截至2023-11-30）');
    expect(pages[0]).toContain('序号');
    expect(pages[0]).toContain('合计');
    const registered = report.totals.registered.toLocaleString('en-US');
    expect(registered).toContain(',');
    expect(pages[0]).toContain(registered);
    expect(pages[0]).toMatch(/制表人：\S+\s+审核人：/);
    for (const t of report.towns) expect(pages[0]).toContain(t.town);
  });

  it('the command line writes them under the person’s login: an auditor runs report progress --pdf and export mobilisation --pdf', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medins-cli-'));
    const cli = (...args: string[]) =>
      exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
        cwd: process.cwd(),
        env: { ...process.env, DATABASE_URL: auditor.url },
      });
    const progress = await cli(
      'report',
      'progress',
      '--jurisdiction',
      'kaiping',
      '--date',
      '2023-11-30',
      '--xlsx',
      join(dir, '进度.xlsx'),
      '--pdf',
      join(dir, '进度.pdf'),
    );
    expect(progress.stdout).toContain('参保进度表（截至2023-11-30）');
    expect((await pdfPages(readFileSync(join(dir, '进度.pdf')))).join('')).toContain(
      `制表人：${auditor.user}`,
    );
    expect(footerTexts((await workbook(readFileSync(join(dir, '进度.xlsx')))).worksheets[0]!)).toContain(
      `制表人：${auditor.user}`,
    );
    const listed = await cli(
      'export',
      'mobilisation',
      '--jurisdiction',
      'kaiping',
      '--town',
      TOWN,
      '--out',
      join(dir, '附件2.xlsx'),
      '--pdf',
      join(dir, '附件2.pdf'),
    );
    expect(listed.stdout).toMatch(/^\d+ rows written to /);
    const wb = await workbook(readFileSync(join(dir, '附件2.xlsx')));
    for (const sheet of wb.worksheets)
      expect(
        dataRows(sheet).every((r) => /^(\*+\d{4})?$/.test(r.getCell(columnOf(sheet, '联系电话')).text)),
      ).toBe(true);
    const pages = await pdfPages(readFileSync(join(dir, '附件2.pdf')));
    expect(pages.filter((p) => /村\(居\)委会：\S+/.test(p))).toHaveLength(wb.worksheets.length);
    expect(pages.join('')).not.toMatch(/1\d{10}/);
  }, 120_000);
});
