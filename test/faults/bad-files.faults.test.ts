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
import { importDepartmentList, type ListImportResult } from '../../lists/import-list';
import { csvField, ListFileError } from '../../lists/list-files';
import { rejectionReport, writeRejectionReport } from '../../documents/rejection-report';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { buildXlsx, workbookParts, zip, type ZipPart } from '../support/xlsx-build';

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
    expect(r.rowsAccepted + r.rowsRejected + r.rowsSkipped).toBe(r.rowsRead);
    const stored = await db.pool.query<{ accepted: number; rejected: number; n: number }>(
      `SELECT count(*) FILTER (WHERE accepted)::int AS accepted, count(*) FILTER (WHERE NOT accepted)::int AS rejected, count(*)::int AS n
       FROM submission_rows WHERE submission_id = $1`,
      [r.submissionId],
    );
    expect(stored.rows[0]).toEqual({
      accepted: r.rowsAccepted,
      rejected: r.rowsRejected,
      n: r.rowsRead - r.rowsSkipped,
    });
    const skipped = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM submission_skipped_rows WHERE submission_id = $1`,
      [r.submissionId],
    );
    expect(skipped.rows[0]!.n).toBe(r.rowsSkipped);
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
        .join(', ')}) + ${r.rowsSkipped} skipped (${Object.entries(r.skippedByReason)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
    );
    return r;
  };
  const refused = async (
    fileName: string,
    bytes: Buffer,
    code: ListFileError['code'],
    place: ListFileError['place'] = {},
  ) => {
    const error = await importFile(fileName, bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ListFileError);
    expect((error as ListFileError).code).toBe(code);
    expect((error as Error).message.startsWith(fileName)).toBe(true);
    // where it is: the sheet, the row or line, as far as the test knows them
    expect((error as ListFileError).place).toMatchObject(place);
    // never a full ID number in what the operator reads
    expect((error as Error).message).not.toMatch(/[0-9]{15}/);
    outcomes.push(`${fileName}: refused, "${(error as Error).message}"`);
    return error as ListFileError;
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
      'old-xls',
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

  it('files as offices really make them (issue 16): each refused naming file, sheet, row or line, or imported with accepted + rejected + skipped = rows read', async () => {
    const p = (i: number) => people[30 + i]!;
    const row = (i: number, over: Partial<Record<'id' | 'name' | 'category', string>> = {}) => [
      i + 1,
      over.name ?? p(i).name,
      '男',
      over.id ?? p(i).id_number,
      '开平市',
      '',
      over.category ?? '1',
    ];
    const good = Array.from({ length: 6 }, (_, i) => row(i));
    const lines = (rows: (string | number)[][], d = ',', header = HEADER) =>
      [header, ...rows].map((r) => r.join(d));

    // a hidden first sheet (last month), the list on a visible later tab
    const hidden = await buildXlsx([
      { name: '7月', hidden: true, rows: [HEADER, row(5), row(4)] },
      { name: '8月', rows: [HEADER, ...good.slice(0, 3)] },
    ]);
    const h = await accounted('隐藏首页.xlsx', await importFile('隐藏首页.xlsx', hidden));
    expect([h.rowsRead, h.rowsAccepted, h.sheet]).toEqual([3, 3, '8月']);

    // shared strings after the sheet, rows out of order, an error formula, a title line and a footer
    const messy = await buildXlsx(
      [
        {
          name: '名单',
          rows: [
            [1, ['开平市2023年低保名单']],
            [2, HEADER],
            [5, row(2)],
            [3, row(0)],
            [4, row(1, { id: `${p(1).id_number.slice(0, 17)}${p(1).id_number[17] === '1' ? '2' : '1'}` })],
            [
              6,
              [4, p(3).name, '男', { formula: 'VLOOKUP(B6,档案!A:B,2,0)', error: '#N/A' }, '开平市', '', '1'],
            ],
            [7, ['合计：4人']],
            [8, ['制表人：张三', null, '审核人：李四']],
          ],
          merges: ['A1:G1', 'A7:G7'],
        },
      ],
      { sharedStrings: 'last' },
    );
    const m = await accounted('乱序与公式.xlsx', await importFile('乱序与公式.xlsx', messy));
    expect(m).toMatchObject({ rowsRead: 6, rowsAccepted: 2, rowsRejected: 2, rowsSkipped: 2 });
    expect(m.rejectedByReason).toEqual({ 'invalid-id': 1, 'formula-error': 1 });

    // CSV: prefixes, a zero-width space, scientific notation, a full-width category, a lone 序号 and a blank line
    const clerks = lines([
      row(0, { id: `="${p(0).id_number}"` }),
      row(1, { id: `'${p(1).id_number}` }),
      row(2, { id: `\u200b${p(2).id_number}` }),
      row(3, { id: '4.40783E+17' }),
      row(4, { category: '１' }),
      [6],
      [],
      ['制表日期：2023年8月31日'],
    ]).join('\r\n');
    const c = await accounted(
      '办事员写法.csv',
      await importFile('办事员写法.csv', Buffer.from(`\ufeff${clerks}`)),
    );
    expect(c).toMatchObject({ rowsRead: 8, rowsAccepted: 4, rowsRejected: 1, rowsSkipped: 3 });
    expect(c.rejectedByReason).toEqual({ 'id-stored-as-number': 1 });

    // semicolons with bare CR; Excel's "Unicode 文本"
    const semi = await accounted(
      '分号.csv',
      await importFile('分号.csv', Buffer.from(lines(good.slice(0, 3), ';').join('\r'))),
    );
    expect([semi.rowsRead, semi.rowsAccepted]).toEqual([3, 3]);
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      iconv.encode(lines(good.slice(3, 6), '\t').join('\r\n') + '\r\n', 'utf-16le'),
    ]);
    const u = await accounted('Unicode文本.txt', await importFile('Unicode文本.txt', utf16));
    expect([u.rowsRead, u.rowsAccepted, u.encoding]).toEqual([3, 3, 'utf-16le']);

    // Taiwan residents' residence permit and a foreigner's permanent residence ID: valid numbers, not on the registry
    const permits = await accounted(
      '居住证.csv',
      await importFile(
        '居住证.csv',
        Buffer.from(
          lines([
            row(0, { id: makeIdNumber('830000', '1990-01-01', 8) }),
            row(1, { id: makeIdNumber('944840', '1990-01-01', 1) }),
          ]).join('\n'),
        ),
      ),
    );
    expect(permits.rejectedByReason).toEqual({ 'not-registered-resident': 2 });

    // refused: each names the file and where
    const quoted = lines(good);
    quoted[4] = quoted[4]!.replace(p(3).name, `"${p(3).name}`);
    await refused('未闭合引号.csv', Buffer.from(quoted.join('\r\n')), 'unclosed-quote', { line: 5 });
    const filler = Array.from({ length: 2000 }, (_, i) => row(i % 6).join(','));
    const nul = [HEADER.join(','), ...filler, `7,名\u0000字,男,${p(0).id_number},开平市,,1`].join('\n');
    await refused('空字节.csv', Buffer.from(nul), 'control-character', { line: 2002 });
    await refused(
      '超长行.csv',
      Buffer.from(
        [HEADER.join(','), `1,${'长'.repeat(1024 * 1024)},男,${p(0).id_number},开平市,,1`].join('\n'),
      ),
      'line-too-long',
      { line: 2 },
    );
    await refused('无分隔符.csv', Buffer.from('这不是名单\n只是一段说明文字\n'), 'no-delimiter');
    await refused(
      '两张名单.xlsx',
      await buildXlsx([
        { name: '低保', rows: [HEADER, good[0]!] },
        { name: '特困', rows: [HEADER, good[1]!] },
      ]),
      'two-lists',
    );
    await refused(
      '重复行号.xlsx',
      await buildXlsx([
        {
          name: '名单',
          rows: [
            [1, HEADER],
            [2, good[0]!],
            [2, good[1]!],
          ],
        },
      ]),
      'invalid-xlsx',
      { sheet: '名单', row: 2 },
    );
    await refused(
      '只有说明.xlsx',
      await buildXlsx([
        { name: '填表说明', rows: [['身份证号码填18位，如 ' + p(0).id_number], ['类别填代码']] },
      ]),
      'missing-columns',
    );
  });

  it('a workbook that inflates from a few hundred KB to 300 MB is refused as a file error, the process staying under 256 MiB above its start', async () => {
    const before = process.memoryUsage().rss;
    const sheet = (rows: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${rows}`;
    const parts = workbookParts([{ name: '名单', rows: [HEADER] }]);
    const sharedStringsBomb: ZipPart = {
      name: 'xl/sharedStrings.xml',
      data: {
        before: Buffer.from('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'),
        repeat: Buffer.from('<si><t>开平</t></si>'.repeat(32 * 1024)),
        times: 500,
        after: Buffer.from('</sst>'),
      },
    };
    const paddedSheet: ZipPart = {
      name: 'xl/worksheets/sheet1.xml',
      data: {
        before: Buffer.from(sheet('').replace('<sheetData>', '<!--')),
        repeat: Buffer.alloc(1024 * 1024, ' '),
        times: 130,
        after: Buffer.from(
          '--><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>',
        ),
      },
    };
    // each bomb: its name, the parts it puts in place of the workbook's, and what the refusal must say
    const bombs: [string, ZipPart[], RegExp?][] = [
      // one cell's text of 300 MB
      [
        '炸弹-长文本.xlsx',
        [
          {
            name: 'xl/worksheets/sheet1.xml',
            data: {
              before: Buffer.from(sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>`)),
              repeat: Buffer.alloc(1024 * 1024, 'A'),
              times: 300,
              after: Buffer.from('</t></is></c></row></sheetData></worksheet>'),
            },
          },
        ],
      ],
      // 300 MB of empty cells in one row
      [
        '炸弹-宽行.xlsx',
        [
          {
            name: 'xl/worksheets/sheet1.xml',
            data: {
              before: Buffer.from(sheet('<row r="1">')),
              repeat: Buffer.from('<c/>'.repeat(256 * 1024)),
              times: 300,
              after: Buffer.from('</row></sheetData></worksheet>'),
            },
          },
        ],
      ],
      // shared strings of 300 MB (16 million strings) beside a sheet whose cells could name 21 (10,021 with
      // the spare): refused at that count, in milliseconds
      [
        '炸弹-共享字符串.xlsx',
        [sharedStringsBomb],
        /shared strings hold more than \d+ strings, more than the cells of the workbook's sheets \(\d+ bytes of XML\) could refer to/,
      ],
      // the same, beside a sheet padded to 130 MB so that its cells could name 6.5 million: read up to the
      // table's own bound of 6 million strings, the memory bounded as the table is
      [
        '炸弹-共享字符串-大表.xlsx',
        [sharedStringsBomb, paddedSheet],
        /shared strings hold more than 6000000 strings: /,
      ],
    ];
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      for (const [name, replaced, says] of bombs) {
        const bytes = await zip(
          parts.map((part) => replaced.find((bomb) => bomb.name === part.name) ?? part),
        );
        expect(bytes.length).toBeLessThan(2 * 1024 * 1024);
        const started = Date.now();
        const e = await refused(name, bytes, 'too-large');
        if (says) expect(e.message).toMatch(says);
        outcomes.push(
          `${name}: ${(bytes.length / 1024).toFixed(0)} KiB, refused in ${((Date.now() - started) / 1000).toFixed(1)} s: ${e.message.slice(0, 120)}`,
        );
      }
    } finally {
      clearInterval(sampler);
    }
    const grew = (Math.max(peak, process.memoryUsage().rss) - before) / 2 ** 20;
    outcomes.push(`zip bombs: peak RSS ${grew.toFixed(0)} MiB above the start`);
    expect(grew).toBeLessThan(256);
  }, 120_000);

  it('rejection reports: 错误字段/错误原因 under their own headers on short rows, the Excel row number, formulas neutralised, a GBK € given back as 0x80', async () => {
    const p = (i: number) => people[40 + i]!;
    const header = [...HEADER, '备注'];
    const bad = (i: number) => `${p(i).id_number.slice(0, 17)}${p(i).id_number[17] === '1' ? '2' : '1'}`;
    const rows = [
      [1, p(0).name, '男', p(0).id_number, '开平市', '', '1', '价格€5'],
      [2, '=HYPERLINK("x")', '男', bad(1), '开平市', '', '1', '€备注'], // rejected, a formula-looking name
      [3, p(2).name, '女', bad(2), '开平市'], // rejected, a short row
      [4, '-2+3', '女', bad(3), '开平市', '', '1', ''], // rejected, empty 备注
    ];
    const text = [header, ...rows].map((r) => r.map((c) => csvField(c)).join(',')).join('\r\n') + '\r\n';
    const bytes = iconv.encode(text, 'cp936');
    expect(bytes.includes(0x80)).toBe(true);
    const r = await accounted('退回格式.csv', await importFile('退回格式.csv', bytes));
    expect(r.rowsRejected).toBe(3);
    const report = await rejectionReport(db.pool, r.submissionId);
    // the € of the sender's bytes comes back as the same single byte 0x80
    expect(report.bytes.includes(Buffer.from([0x80]))).toBe(true);
    expect(report.bytes.includes(iconv.encode('€备注', 'cp936'))).toBe(true);
    const out = iconv
      .decode(report.bytes, 'cp936')
      .trim()
      .split('\r\n')
      .map((l) => l.split(','));
    const fieldAt = out[0]!.indexOf('错误字段');
    expect(out[0]!.slice(fieldAt)).toEqual(['错误字段', '错误原因', '原表行号']);
    expect(fieldAt).toBe(header.length);
    for (const line of out.slice(1)) {
      expect(line).toHaveLength(header.length + 3);
      expect(line[fieldAt]).toBe('身份证号码');
    }
    expect(out.slice(1).map((l) => l.at(-1))).toEqual(['3', '4', '5']);
    expect(out[1]![1]).toBe(`"'=HYPERLINK(""x"")"`);
    expect(out[3]![1]).toBe(`'-2+3`);

    // an .xlsx with rows stored out of order: every rejected row is in its report
    const book = await buildXlsx([
      {
        name: '名单',
        rows: [
          [1, header],
          [4, [3, p(2).name, '女', bad(2), '开平市', '', '1', '']],
          [2, [1, p(0).name, '男', p(0).id_number, '开平市', '', '1', '']],
          [3, [2, p(1).name, '男', bad(1), '开平市', '', '1', '']],
        ],
      },
    ]);
    const x = await accounted('乱序退回.xlsx', await importFile('乱序退回.xlsx', book));
    expect(x.rowsRejected).toBe(2);
    const xr = await rejectionReport(db.pool, x.submissionId);
    expect(xr.rows).toBe(2);
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
