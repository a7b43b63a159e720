/**
 * A corpus of bad department files. Each gets a clear error naming the file, or is imported with every
 * row accepted or rejected with a reason and a rejection report the department can fix and resend; the
 * process never crashes; for every file imported, accepted + rejected = rows read.
 */
import { createReadStream, mkdtempSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDepartmentList, type ListImportResult } from '../../activities/registry/import-list';
import { ListFileError } from '../../activities/registry/list-files';
import { writeRejectionReport } from '../../activities/registry/rejection-report';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);
const HEADER = ['序号', '姓名', '性别', '身份证号码', '户籍地址', '联系电话', '特殊群体类别'];
const csv = (rows: (string | number)[][], header = HEADER) =>
  [header, ...rows].map((r) => r.join(',')).join('\r\n') + '\r\n';
async function xlsx(fill: (sheet: ExcelJS.Worksheet) => void): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('名单');
  sheet.addRow(HEADER);
  fill(sheet);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

const outcomes: string[] = [];

describe('a corpus of bad department files', () => {
  let db: TestDatabase;
  let exchangeDir: string;
  let people: { id_number: string; name: string }[];
  let period = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    const outDir = mkdtempSync(join(tmpdir(), 'medins-corpus-'));
    exchangeDir = join(outDir, 'exchange');
    await generatePopulation(db.pool, policy, {
      scale: 0.002,
      seed: 8,
      defectRate: 0,
      deltaMonths: 0,
      outDir,
    });
    people = (
      await db.pool.query<{ id_number: string; name: string }>(
        `SELECT id_number, name FROM residents WHERE deceased_on IS NULL ORDER BY id LIMIT 50`,
      )
    ).rows;
  });
  afterAll(async () => {
    await db?.drop();
    process.stderr.write(`\n[faults] bad files\n${outcomes.map((o) => `  ${o}`).join('\n')}\n`);
  });

  /** Imports as civil affairs, each file its own period so none supersedes another. */
  const importFile = (fileName: string, bytes: Buffer) => {
    period += 1;
    return importDepartmentList(
      { pool: db.pool, policy, exchangeDir },
      {
        jurisdiction: 'kaiping',
        department: 'civil-affairs',
        kind: 'roster',
        period: `2023-07-${String(period).padStart(2, '0')}`,
        effectiveOn: '2023-08-31',
        fileName,
        receivedBy: 'fault-suite',
      },
      bytes,
    );
  };
  /** The counts add up in the result and in the stored rows; the rejected get a report with reasons. */
  const accounted = async (fileName: string, r: ListImportResult) => {
    expect(r.rowsAccepted + r.rowsRejected).toBe(r.rowsRead);
    const stored = await db.pool.query<{ accepted: number; rejected: number; n: number }>(
      `SELECT count(*) FILTER (WHERE accepted)::int AS accepted, count(*) FILTER (WHERE NOT accepted)::int AS rejected, count(*)::int AS n
       FROM submission_rows WHERE submission_id = $1`,
      [r.submissionId],
    );
    expect(stored.rows[0]).toEqual({ accepted: r.rowsAccepted, rejected: r.rowsRejected, n: r.rowsRead });
    if (r.rowsRejected > 0) {
      const path = join(exchangeDir, '..', `${r.submissionId}-退回.${r.format}`);
      const report = await writeRejectionReport(db.pool, r.submissionId, path);
      expect(report.rows).toBe(r.rowsRejected);
      if (r.format === 'csv') {
        // the file on disk holds the header and one line per rejected row
        let lines = 0;
        for await (const line of createInterface({ input: createReadStream(path) })) if (line) lines += 1;
        expect(lines).toBe(r.rowsRejected + 1);
      }
    }
    outcomes.push(
      `${fileName}: ${r.rowsRead} rows read = ${r.rowsAccepted} accepted + ${r.rowsRejected} rejected (${Object.entries(
        r.rejectedByReason,
      )
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
    );
    return r;
  };
  const refused = async (fileName: string, bytes: Buffer, code: ListFileError['code']) => {
    const error = await importFile(fileName, bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ListFileError);
    expect((error as ListFileError).code).toBe(code);
    expect((error as Error).message).toContain(fileName);
    outcomes.push(`${fileName}: refused, "${(error as Error).message}"`);
  };

  it('a truncated .xlsx, a file that is no spreadsheet, an empty file and a list without the ID column are refused, naming the file', async () => {
    const whole = await xlsx((s) =>
      s.addRow([1, people[0]!.name, '男', people[0]!.id_number, '开平市', '', '1']),
    );
    await refused('截断.xlsx', whole.subarray(0, Math.floor(whole.length / 2)), 'truncated-xlsx');
    await refused(
      '扫描件.pdf',
      Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n', 'latin1'),
      'not-a-spreadsheet',
    );
    await refused(
      '旧格式.xls',
      Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]),
      'not-a-spreadsheet',
    );
    await refused('空文件.csv', Buffer.alloc(0), 'empty-file');
    await refused(
      '缺身份证列.csv',
      Buffer.from(
        csv(
          [[1, people[1]!.name, '男', '开平市', '', '1']],
          ['序号', '姓名', '性别', '户籍地址', '联系电话', '特殊群体类别'],
        ),
      ),
      'missing-columns',
    );
  });

  it('GBK without a BOM keeps every Chinese name; extra columns are ignored', async () => {
    const rows = people
      .slice(2, 12)
      .map((p, i) => [
        i + 1,
        p.name,
        '男',
        p.id_number,
        '开平市长沙街道',
        '',
        '1',
        '备注：复核',
        '2023-08-01',
      ]);
    const bytes = iconv.encode(csv(rows, [...HEADER, '备注', '认定日期']), 'gbk');
    expect(bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(false);
    const r = await accounted('民政低保名单-GBK.csv', await importFile('民政低保名单-GBK.csv', bytes));
    expect([r.rowsRead, r.rowsAccepted]).toEqual([10, 10]);
    const names = await db.pool.query<{ name: string }>(
      `SELECT name FROM submission_rows WHERE submission_id = $1 ORDER BY row_no`,
      [r.submissionId],
    );
    expect(names.rows.map((n) => n.name)).toEqual(people.slice(2, 12).map((p) => p.name));
  });

  it('every kind of invalid ID is rejected with its reason, and duplicates once each', async () => {
    const p = people[13]!;
    const bad = [
      '44078319580302', // too short
      `${p.id_number}0`, // too long
      `${p.id_number.slice(0, 17)}${p.id_number[17] === '1' ? '2' : '1'}`, // check digit
      makeIdNumber('440783', '1958-03-02', 7).replace(/^440783/, '000000'), // no such region
      '440783195802300011', // 30 February
      '440783209901010011', // born in the future
      '44078319A80302001X', // a letter in the digits
      '４４０７８３１９５８０３０２００１１', // full-width digits that are still wrong
    ];
    const rows = [
      ...bad.map((id, i) => [i + 1, '某某', '男', id, '开平市', '', '1']),
      [20, p.name, '男', p.id_number, '开平市', '', '1'],
      [21, p.name, '男', p.id_number, '开平市', '', '1'], // the same person twice
    ];
    const r = await accounted('身份证错误.csv', await importFile('身份证错误.csv', Buffer.from(csv(rows))));
    expect(r.rowsRead).toBe(10);
    expect(r.rowsAccepted).toBe(1);
    expect(r.rejectedByReason['invalid-id']).toBe(8);
    expect(r.rejectedByReason['duplicate-in-file']).toBe(1);
    const reasons = await db.pool.query<{ field: string; reason: string }>(
      `SELECT field, reason FROM submission_rows WHERE submission_id = $1 AND reason_code = 'invalid-id' ORDER BY row_no`,
      [r.submissionId],
    );
    expect(reasons.rows.every((x) => x.field === '身份证号码' && x.reason.length > 5)).toBe(true);
    expect(new Set(reasons.rows.map((x) => x.reason)).size).toBeGreaterThanOrEqual(6);
  });

  it('formula cells and numbers where text belongs: an ID Excel turned into a number, a date as a serial number', async () => {
    const [a, b, c] = [people[20]!, people[21]!, people[22]!];
    const bytes = await xlsx((s) => {
      s.addRow([1, a.name, '男', a.id_number, '开平市', '', '1']);
      s.addRow([2, b.name, '男', Number(b.id_number.slice(0, 17)), '开平市', '', '1']); // the ID as a number
      s.addRow([
        3,
        c.name,
        '女',
        { formula: `"${c.id_number.slice(0, 9)}"&"${c.id_number.slice(9)}"`, result: c.id_number },
        '开平市',
        45170,
        '1',
      ]);
      s.addRow([
        4,
        { formula: 'UPPER("x")', result: 'X' },
        '女',
        { formula: '1+1', result: 2 },
        '开平市',
        '',
        '1',
      ]);
    });
    const r = await accounted('公式与数字.xlsx', await importFile('公式与数字.xlsx', bytes));
    expect(r.rowsRead).toBe(4);
    const verdicts = await db.pool.query<{ row_no: number; reason_code: string | null }>(
      `SELECT row_no, reason_code FROM submission_rows WHERE submission_id = $1 ORDER BY row_no`,
      [r.submissionId],
    );
    const byRow = Object.fromEntries(verdicts.rows.map((v) => [v.row_no, v.reason_code]));
    expect(byRow[2]).toBeNull(); // a plain row
    expect(byRow[3]).toBe('id-stored-as-number');
    expect(byRow[5]).toBe('invalid-id'); // a formula whose value is no ID
  });

  it('a 700,000-row roster is streamed, and so is its rejection report: every row accounted for, memory bounded', async () => {
    const parts: string[] = [HEADER.join(',')];
    for (let i = 0; i < 700_000; i += 1) {
      const person = i < people.length ? people[i]! : null;
      const id = person
        ? person.id_number
        : makeIdNumber('440783', `19${String(40 + (i % 60))}-0${1 + (i % 9)}-1${i % 9}`, i % 999);
      parts.push(`${i + 1},${person?.name ?? '外来人员'},男,${id},开平市,,1`);
    }
    const bytes = Buffer.from(parts.join('\r\n') + '\r\n');
    parts.length = 0;
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    // the import and the rejection report of its ~700,000 rejected rows, written to a file
    const r = await accounted('七十万行.csv', await importFile('七十万行.csv', bytes)).finally(() =>
      clearInterval(sampler),
    );
    const grew = (Math.max(peak, process.memoryUsage().rss) - before) / 2 ** 20;
    expect(r.rowsRead).toBe(700_000);
    expect(r.rowsAccepted).toBeGreaterThanOrEqual(40);
    expect(
      r.rowsAccepted +
        (r.rejectedByReason['not-registered-resident'] ?? 0) +
        (r.rejectedByReason['duplicate-in-file'] ?? 0),
    ).toBe(700_000);
    outcomes.push(
      `七十万行.csv: ${(bytes.length / 2 ** 20).toFixed(0)} MiB, peak RSS ${grew.toFixed(0)} MiB above the start while importing and writing its rejection report`,
    );
    // the file itself is 38 MiB; a report held in memory row by row took 1.2 GiB here
    expect(grew).toBeLessThan(400);
  }, 600_000);
});
