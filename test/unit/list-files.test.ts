/**
 * Finding and reading the list in files the test makes itself, in shapes offices and their programs write:
 * workbooks built part by part (hidden tabs, instruction sheets, shared strings after the sheets, rows out of
 * order, merged titles, two-row headers, merged categories, inline and rich text, formula errors) and CSV in
 * every encoding and delimiter Excel saves.
 */
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { headerFields } from '../../lists/import-list';
import {
  detectFile,
  ListFileError,
  openListTable,
  type ListTable,
  type RawRow,
} from '../../lists/list-files';
import { SharedStrings, XLSX_LIMITS } from '../../lists/xlsx-reader';
import { cleanCategory, cleanIdCell, notAPerson } from '../../lists/list-cells';
import { makeIdNumber } from '../../domain/id-number';
import { buildXlsx, workbookParts, zip, type BuildSheet } from '../support/xlsx-build';

const HEADER = ['序号', '姓名', '性别', '身份证号码', '特殊群体类别', '备注'];
const ids = Array.from({ length: 6 }, (_, i) =>
  makeIdNumber('440783', `19${50 + i}-0${1 + i}-1${i}`, 10 + i),
);
const people = ids.map(
  (id, i) => [i + 1, `姓名${i + 1}`, i % 2 ? '女' : '男', id, '1', ''] as (string | number)[],
);
const fields = headerFields('civil-affairs', 'roster');

async function open(bytes: Buffer, file = 'list.xlsx'): Promise<ListTable> {
  return openListTable(bytes, file, detectFile(bytes, file), fields);
}
async function all(table: ListTable): Promise<RawRow[]> {
  const rows: RawRow[] = [];
  for await (const b of table.rows()) rows.push(...b);
  return rows;
}
async function refusal(p: Promise<unknown>): Promise<ListFileError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(ListFileError);
  return e as ListFileError;
}
const list = (name = '名单', extra: Partial<BuildSheet> = {}): BuildSheet => ({
  name,
  rows: [HEADER, ...people],
  ...extra,
});
const instructions: BuildSheet = {
  name: '填表说明',
  rows: [['填表说明'], ['1. 身份证号码请填写18位，例如 440783195001010011'], ['2. 类别填代码']],
};

describe('which sheet of a workbook is the list', () => {
  it("the first visible sheet in the workbook's tab order, never a hidden one, whatever its part is called", async () => {
    const lastMonth: BuildSheet = {
      name: '7月',
      hidden: true,
      rows: [HEADER, [1, '旧人', '男', ids[5]!, '1', '']],
    };
    // the parts are numbered in reverse, so sheet1.xml is the last tab
    const bytes = await buildXlsx([lastMonth, instructions, list('8月')]);
    const table = await open(bytes);
    expect(table.sheet).toBe('8月');
    const rows = await all(table);
    expect(rows.map((r) => r.cells[3])).toEqual(ids);
    expect(rows.map((r) => r.rowNo)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('a workbook whose only list is on a hidden sheet is refused, saying hidden sheets are not read', async () => {
    const bytes = await buildXlsx([instructions, list('名单', { hidden: true })]);
    const e = await refusal(open(bytes, '隐藏.xlsx'));
    expect(e.code).toBe('missing-columns');
    expect(e.message).toMatch(/^隐藏\.xlsx: no visible sheet has a header row/);
    expect(e.message).toContain('Hidden sheets are not read (“名单”)');
  });

  it('two visible sheets that both hold a list are refused, naming both', async () => {
    const bytes = await buildXlsx([list('低保'), list('特困')]);
    const e = await refusal(open(bytes, '两张表.xlsx'));
    expect(e.code).toBe('two-lists');
    expect(e.message).toMatch(/“低保” \(header row 1\) and “特困” \(header row 1\)/);
  });

  it('a refusal for a missing header names the sheets and rows searched and masks every long number it shows', async () => {
    const bytes = await buildXlsx([
      instructions,
      {
        name: '数据',
        rows: [
          ['名字', '号码'],
          ['张三', ids[0]!],
        ],
      },
    ]);
    const e = await refusal(open(bytes, '无表头.xlsx'));
    expect(e.code).toBe('missing-columns');
    expect(e.message).toContain('Searched rows 1-20 of “填表说明”');
    expect(e.message).toContain('“数据”');
    expect(e.message).toMatch(/身份证号码 \(looked for/);
    expect(e.message).not.toMatch(/[0-9]{15}/);
    expect(e.message.length).toBeLessThan(3000);
  });
});

describe('reading every valid workbook', () => {
  it('shared strings stored after the sheets read the same as before them (exceljs#683)', async () => {
    const first = await all(await open(await buildXlsx([list()], { sharedStrings: 'first' })));
    const last = await all(await open(await buildXlsx([list()], { sharedStrings: 'last' })));
    expect(last.map((r) => r.cells)).toEqual(first.map((r) => r.cells));
    expect(last[0]!.cells[1]).toBe('姓名1');
  });

  it('part names are matched without regard to case, as the packaging standard says, the exact name first', async () => {
    // a government system's export names its parts in capitals where its relationships name them in lower case
    const capitals: Record<string, string> = {
      'xl/workbook.xml': 'XL/Workbook.xml',
      'xl/_rels/workbook.xml.rels': 'XL/_rels/Workbook.xml.rels',
      'xl/sharedStrings.xml': 'XL/SharedStrings.XML',
      'xl/worksheets/sheet1.xml': 'XL/Worksheets/Sheet1.xml',
    };
    const parts = workbookParts([list()]).map((p) => ({ ...p, name: capitals[p.name] ?? p.name }));
    expect(parts.filter((p) => Object.values(capitals).includes(p.name))).toHaveLength(4);
    const read = await all(await open(await zip(parts)));
    expect(read.map((r) => r.cells[3])).toEqual(ids);

    // a part alike but for case beside the one the relationship names exactly: the exact one is the list
    const base = workbookParts([list()]);
    const other = workbookParts([list('名单', { rows: [HEADER] })]).find(
      (p) => p.name === 'xl/worksheets/sheet1.xml',
    )!;
    const exactFirst = await all(
      await open(await zip([...base, { ...other, name: 'xl/worksheets/Sheet1.xml' }])),
    );
    expect(exactFirst.map((r) => r.cells[3])).toEqual(ids);
  });

  it('a part the reader needs that the zip holds twice, or twice alike but for case with neither exact, is refused as damaged', async () => {
    const base = workbookParts([list()]);
    const sheet = base.find((p) => p.name === 'xl/worksheets/sheet1.xml')!;
    const rest = base.filter((p) => p !== sheet);
    // the same sheet's part with other rows: which of the two is the list cannot be known
    const other = workbookParts([list('名单', { rows: [HEADER, ...people.slice(0, 2)] })]).find(
      (p) => p.name === 'xl/worksheets/sheet1.xml',
    )!;

    const twice = await refusal(open(await zip([...base, other])));
    expect(twice.code).toBe('truncated-xlsx');
    expect(twice.message).toMatch(
      /^list\.xlsx, sheet “[^”]+”: the zip holds two parts named xl\/worksheets\/sheet1\.xml \(the same name twice/,
    );

    const alike = await refusal(
      open(
        await zip([
          ...rest,
          { ...sheet, name: 'xl/worksheets/Sheet1.xml' },
          { ...other, name: 'xl/worksheets/SHEET1.xml' },
        ]),
      ),
    );
    expect(alike.code).toBe('truncated-xlsx');
    expect(alike.message).toMatch(
      /the zip holds two parts named xl\/worksheets\/Sheet1\.xml and xl\/worksheets\/SHEET1\.xml \(part names do not differ by case\)/,
    );

    // a part named by an ID number is masked in the refusal, even where the name is shortened: the workbook's
    // relationship names the sheet part `name`, which the zip holds twice with different rows
    const rels = base.find((p) => p.name === 'xl/_rels/workbook.xml.rels')!;
    const twiceNamed = async (name: string) => {
      const target = (rels.data as Buffer).toString('utf8').replace('worksheets/sheet1.xml', name.slice(3));
      const parts = [...rest.filter((p) => p !== rels), { ...rels, data: Buffer.from(target) }];
      return refusal(open(await zip([...parts, { ...sheet, name }, { ...other, name }])));
    };
    const id = makeIdNumber('440783', '1966-02-10', 2);
    const masked = await twiceNamed(`xl/${'a'.repeat(100)}/${id}.xml`);
    expect(masked.message).toContain('the same name twice');
    // masked as a whole number is masked (its first six and last four), not cut short first and then masked
    for (const run of masked.message.match(/[0-9]+/g) ?? [])
      expect([id.slice(0, 6), id.slice(-4)]).toContain(run);
    // and so is an ID typed in full-width digits (a Chinese input method's), wherever the cut falls
    const wide = [...id].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('');
    for (const pad of [97, 100, 103]) {
      const e = await twiceNamed(`xl/${'a'.repeat(pad)}/${wide}.xml`);
      expect(e.message, String(pad)).toContain('the same name twice');
      for (const run of e.message.match(/[0-9０-９]+/g) ?? [])
        expect([wide.slice(0, 6), wide.slice(-4)], String(pad)).toContain(run);
    }
  });

  it('the same bytes of a part twice leave nothing to choose: read', async () => {
    const base = workbookParts([list()]);
    const sheet = base.find((p) => p.name === 'xl/worksheets/sheet1.xml')!;
    const strings = base.find((p) => p.name === 'xl/sharedStrings.xml');
    const read = await all(await open(await zip([...base, sheet, ...(strings ? [strings] : [])])));
    expect(read.map((r) => r.cells[3])).toEqual(ids);
  });

  it('parts the reader never needs may repeat: document properties appended twice, folder entries', async () => {
    const base = workbookParts([list()]);
    const core = {
      name: 'docProps/core.xml',
      data: Buffer.from('<?xml version="1.0"?><cp:coreProperties xmlns:cp="x"/>'),
    };
    const folder = { name: 'xl/', data: Buffer.alloc(0) };
    const read = await all(await open(await zip([folder, ...base, core, folder, core])));
    expect(read.map((r) => r.cells[3])).toEqual(ids);
  });

  it('a shared strings table larger than the bound for parts held in memory is read (as Excel writes a 700,000-row list), within its own bounds', async () => {
    // Excel keeps every text cell in sharedStrings.xml: a 700,000-row roster's table is some 80-100 MB of
    // XML, above the 64 MiB the reader holds of a part whole. Here the bound is lowered to 64 KiB and the
    // table is several times that: every cell must still read as written, and the table's own bounds
    // (its text's bytes, its number of strings) refuse past them
    const address = '广东省开平市赤坎镇中股村委会';
    const rows = Array.from({ length: 5_000 }, (_, i) => [
      i + 1,
      `姓名${i + 1}`,
      i % 2 ? '女' : '男',
      makeIdNumber('440783', `19${50 + (i % 40)}-0${1 + (i % 9)}-1${i % 10}`, 100 + (i % 800)),
      '1',
      `${address}${i}号`,
    ]);
    const bytes = await buildXlsx([{ name: '名单', rows: [HEADER, ...rows] }]);
    const limits = { ...XLSX_LIMITS, maxSmallPartBytes: 64 * 1024 };
    const table = await openListTable(bytes, 'big.xlsx', detectFile(bytes, 'big.xlsx'), fields, limits);
    const read = await all(table);
    expect(read).toHaveLength(5_000);
    expect(read.every((r, i) => r.cells.join('|') === rows[i]!.join('|'))).toBe(true);

    const tooMuchText = { ...limits, maxSharedStringBytes: 100 * 1024 };
    const e = await refusal(
      openListTable(bytes, 'big.xlsx', detectFile(bytes, 'big.xlsx'), fields, tooMuchText).then(all),
    );
    expect(e.code).toBe('too-large');
    expect(e.message).toMatch(/big\.xlsx.*shared strings hold more than 102400 bytes/);
    const tooMany = { ...limits, maxSharedStrings: 1_000 };
    expect(
      (
        await refusal(
          openListTable(bytes, 'big.xlsx', detectFile(bytes, 'big.xlsx'), fields, tooMany).then(all),
        )
      ).message,
    ).toMatch(/more than 1000 strings/);
  });

  it('a shared string is found by its index across the table’s pieces of 4,096, and none can follow once the table is finished', () => {
    const table = new SharedStrings(1 << 20, 10_000);
    const texts = Array.from({ length: 4_096 * 2 + 5 }, (_, i) => `镇${i}`);
    for (const t of texts) table.push(t);
    table.finish();
    for (const i of [0, 1, 4_095, 4_096, 4_097, 8_191, 8_192, 8_196]) expect(table.get(i)).toBe(texts[i]);
    expect(table.get(8_197)).toBeUndefined();
    // a string after the end would sit in a short last piece and every later index would name the wrong one
    expect(() => table.push('late')).toThrow(/finished/);
  });

  it('strings a program left unused in the shared strings are read past; a table that inflates like a bomb with far more strings than the cells could name is refused', async () => {
    // a cell naming a shared string takes at least 21 bytes of its sheet (<c t="s"><v>0</v></c>), so a
    // small sheet names few. Apache POI never removes a string from the table (a county list split per
    // town): such a table's text compresses as text does and is read whatever it holds. One of tiny
    // repeated strings inflating hundreds of times is refused past the count its cells could name
    const withUnused = async (unused: string) => {
      const parts = workbookParts([list()]);
      const sst = parts.find((p) => p.name === 'xl/sharedStrings.xml')!;
      sst.data = Buffer.from((sst.data as Buffer).toString('utf8').replace('</sst>', `${unused}</sst>`));
      return zip(parts);
    };
    const leftOver = Array.from(
      { length: 60_000 },
      (_, i) => `<si><t>${makeIdNumber('440783', '1960-01-01', i % 1000)}${i}镇</t></si>`,
    ).join('');
    const read = await all(await open(await withUnused(leftOver)));
    expect(read.map((r) => r.cells[1])).toEqual(people.map((p) => p[1]));

    const e = await refusal(open(await withUnused('<si><t>开平</t></si>'.repeat(60_000))).then(all));
    expect(e.code).toBe('too-large');
    expect(e.message).toMatch(
      /^list\.xlsx: the shared strings hold more than \d+ strings, more than the cells of the workbook's sheets \(\d+ bytes of XML\) could refer to, in a table that inflates more than 100 times/,
    );
  });

  it('Chinese text in a sheet of many inflated pieces reads whole: no character is cut where a piece ends', async () => {
    // some 20,000 rows of inline Chinese text: the sheet inflates to several MB, read piece by piece, and
    // a three-byte character falls across the end of a piece somewhere (the reader once decoded each piece
    // apart and turned such characters into U+FFFD)
    const address = '广东省开平市长沙街道办事处幕沙村委会东头村十二号之一';
    const rows = Array.from({ length: 20_000 }, (_, i) => [
      i + 1,
      { inline: `姓名${i + 1}` },
      '男',
      ids[i % ids.length]!,
      '1',
      { inline: `${address}${i}` },
    ]);
    const read = await all(await open(await buildXlsx([{ name: '名单', rows: [HEADER, ...rows] }])));
    expect(read).toHaveLength(20_000);
    expect(read.filter((r) => r.cells.join('').includes('\uFFFD'))).toEqual([]);
    expect(read.every((r, i) => r.cells[1] === `姓名${i + 1}` && r.cells[5] === `${address}${i}`)).toBe(true);
  });

  it('rows stored out of order come as stored, each with the row number Excel shows', async () => {
    const bytes = await buildXlsx([
      {
        name: '名单',
        rows: [
          [1, HEADER],
          [4, people[2]!],
          [2, people[0]!],
          [3, people[1]!],
        ],
      },
    ]);
    const rows = await all(await open(bytes));
    expect(rows.map((r) => [r.rowNo, r.cells[1]])).toEqual([
      [4, '姓名3'],
      [2, '姓名1'],
      [3, '姓名2'],
    ]);
  });

  it('a row number stored twice, or past Excel’s last row, refuses the file naming the sheet and row', async () => {
    const twice = await buildXlsx([
      {
        name: '名单',
        rows: [
          [1, HEADER],
          [2, people[0]!],
          [2, people[1]!],
        ],
      },
    ]);
    const e = await refusal(open(twice, '重复行.xlsx').then(all));
    expect(e.message).toMatch(/^重复行\.xlsx, sheet “名单”, row 2: row 2 appears twice/);
    const huge = await buildXlsx([
      {
        name: '名单',
        rows: [
          [1, HEADER],
          [2, people[0]!],
          [2_000_000, people[1]!],
        ],
      },
    ]);
    const h = await refusal(open(huge, '大行号.xlsx').then(all));
    expect(h.message).toMatch(/^大行号\.xlsx, sheet “名单”: row number "2000000" is outside 1\.\.1048576/);
  });

  it('inline strings, rich text runs and formula text results are text; a formula error is flagged as one', async () => {
    const bytes = await buildXlsx([
      {
        name: '名单',
        rows: [
          HEADER,
          [1, { inline: '关伟' }, '男', { inline: ids[0]! }, '1', ''],
          [2, { rich: ['司徒', '小明'] }, '男', { formula: 'TEXT(A1)', text: ids[1]! }, '1', ''],
          [3, '谢芳', '女', { formula: 'VLOOKUP(B4,档案!A:B,2,0)', error: '#N/A' }, '1', ''],
        ],
      },
    ]);
    const rows = await all(await open(bytes));
    expect(rows.map((r) => [r.cells[1], r.cells[3]])).toEqual([
      ['关伟', ids[0]],
      ['司徒小明', ids[1]],
      ['谢芳', '#N/A'],
    ]);
    expect(rows[2]!.errors?.[3]).toBe(true);
    // flags are set where true only (false or absent elsewhere)
    expect(rows[0]!.errors?.[3]).toBeFalsy();
    expect(rows[1]!.errors?.[3]).toBeFalsy();
  });

  it('a number cell is flagged as a number (an ID Excel stored as one has lost digits)', async () => {
    const bytes = await buildXlsx([
      { name: '名单', rows: [HEADER, [1, '关伟', '男', 440783195001010000, 1, '']] },
    ]);
    const [row] = await all(await open(bytes));
    expect(row!.numeric[3]).toBe(true);
    expect(row!.cells[3]).toMatch(/^44078319500\d{7}$/);
  });
});

describe('where the header is, and merged cells', () => {
  it('a merged title, a unit line and a date line above the header are passed over', async () => {
    const bytes = await buildXlsx([
      {
        name: 'Sheet1',
        rows: [
          ['开平市2023年特困供养人员名单'],
          ['填报单位：开平市民政局', null, null, '日期：2023年8月31日'],
          HEADER,
          ...people,
        ],
        merges: ['A1:F1'],
      },
    ]);
    const table = await open(bytes);
    expect(table.header.map((h) => h.rowNo)).toEqual([3]);
    expect((await all(table)).map((r) => r.rowNo)).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('a two-row header (救助信息 over 类别 and 金额) is read as one, merged or not', async () => {
    const data = people.map((p) => [p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, 300]);
    // not merged: 姓名 only in the upper row, 类别 only in the lower
    const plain = await open(
      await buildXlsx([
        {
          name: '名单',
          rows: [
            ['序号', '姓名', '性别', '身份证号码', '救助信息', null],
            [null, null, null, null, '类别', '金额'],
            ...data,
          ],
        },
      ]),
    );
    expect(plain.header.map((h) => h.rowNo)).toEqual([1, 2]);
    expect(plain.columns).toEqual({ idNumber: 3, name: 1, category: 4 });
    expect((await all(plain))[0]!.rowNo).toBe(3);
    // merged: the upper cells fill down, so the lower row names every column
    const merged = await open(
      await buildXlsx([
        {
          name: '名单',
          rows: [
            ['序号', '姓名', '性别', '身份证号码', '救助信息', null],
            [null, null, null, null, '类别', '金额'],
            ...data,
          ],
          merges: ['A1:A2', 'B1:B2', 'C1:C2', 'D1:D2', 'E1:F1'],
        },
      ]),
    );
    expect(merged.columns).toEqual({ idNumber: 3, name: 1, category: 4 });
    expect((await all(merged)).map((r) => r.cells[3])).toEqual(ids);
  });

  it('a category merged down several rows gives its value to every row it spans', async () => {
    const rows = people.map((p, i) => [
      p[0]!,
      p[1]!,
      p[2]!,
      p[3]!,
      i % 3 === 0 ? String(1 + i / 3) : null,
      '',
    ]);
    const bytes = await buildXlsx([{ name: '名单', rows: [HEADER, ...rows], merges: ['E2:E4', 'E5:E7'] }]);
    const got = await all(await open(bytes));
    expect(got.map((r) => r.cells[4])).toEqual(['1', '1', '1', '2', '2', '2']);
  });
});

describe('CSV in every shape Excel saves', () => {
  const text = [HEADER, ...people].map((r) => r.join('\t')).join('\r\n') + '\r\n';

  it('"Unicode 文本": UTF-16LE with a BOM, tab-separated; and UTF-16BE', async () => {
    for (const [encoding, bom] of [
      ['utf-16le', [0xff, 0xfe]],
      ['utf-16be', [0xfe, 0xff]],
    ] as const) {
      const bytes = Buffer.concat([Buffer.from(bom), iconv.encode(text, encoding)]);
      expect(detectFile(bytes, 'u.txt')).toEqual({ format: 'csv', encoding });
      const rows = await all(await open(bytes, 'u.txt'));
      expect(rows.map((r) => r.cells[3])).toEqual(ids);
    }
  });

  it('semicolons (a European Excel), GBK, bare CR line ends, a title line above the header', async () => {
    const body = ['开平市2023年低保名单', HEADER.join(';'), ...people.map((r) => r.join(';'))].join('\r');
    const bytes = iconv.encode(body, 'gbk');
    const table = await open(bytes, 'semi.csv');
    expect(table.header[0]!.rowNo).toBe(2);
    const rows = await all(table);
    expect(rows.map((r) => r.cells[1])).toEqual(people.map((p) => p[1]));
    expect(rows[0]!.rowNo).toBe(3);
  });

  it('a CSV of many chunks gives every row below its header each time its rows are read (the report reads twice)', async () => {
    const many = Array.from({ length: 12_000 }, (_, i) => [
      i + 1,
      `姓名${i}`,
      '男',
      ids[i % 6]!,
      '1',
      '备注'.repeat(10),
    ]);
    const bytes = Buffer.from(['开平市名单', HEADER.join(','), ...many.map((r) => r.join(','))].join('\r\n'));
    expect(bytes.length).toBeGreaterThan(3 * 256 * 1024);
    const table = await open(bytes, 'many.csv');
    for (let pass = 0; pass < 2; pass += 1) {
      const rows = await all(table);
      expect(rows).toHaveLength(12_000);
      expect(rows[0]!.rowNo).toBe(3);
      expect(rows.at(-1)!.rowNo).toBe(12_002);
    }
  });

  it('an unclosed quote refuses the file naming the line; nothing past it is read as one cell', async () => {
    const lines = [HEADER.join(','), ...people.map((r) => r.join(','))];
    lines[3] = lines[3]!.replace('姓名3', '"姓名3');
    const e = await refusal(open(Buffer.from(lines.join('\n')), 'q.csv').then(all));
    expect(e.message).toMatch(/^q\.csv, line 4: a quote/);
  });
});

describe('cells as clerks write them', () => {
  it('="…", a leading apostrophe, tabs and invisible characters come off an ID', () => {
    for (const raw of [
      `="${ids[0]}"`,
      `'${ids[0]}`,
      `\t${ids[0]}`,
      `\u200b${ids[0]}\u200b`,
      ` ${ids[0]}\u00a0`,
      `=${ids[0]}`,
    ]) {
      expect(cleanIdCell(raw), raw).toEqual({ kind: 'text', text: ids[0] });
    }
  });

  it('an ID in scientific notation is an ID stored as a number', () => {
    for (const raw of ['4.40783E+17', '4.40783195001E17', '4E+17'])
      expect(cleanIdCell(raw).kind, raw).toBe('stored-as-number');
  });

  it('a full-width category is the plan’s code', () => {
    expect(cleanCategory('１')).toBe('1');
    expect(cleanCategory(' ２\u200b')).toBe('2');
  });

  it('totals, signature and date lines, notes, a lone 序号 and blank rows are no person; a person with a missing field is', () => {
    expect(notAPerson(['', '', '', ''], '', '', '')).toBe('blank-row');
    expect(notAPerson(['合计：15人', '', '', ''], '', '', '')).toBe('totals-row');
    expect(notAPerson(['总 计', '', '', '12'], '', '', '')).toBe('totals-row');
    expect(notAPerson(['制表人：张三', '', '审核人：李四'], '', '', '')).toBe('signature-line');
    expect(notAPerson(['', '填表日期：2023年8月31日'], '', '', '')).toBe('signature-line');
    expect(notAPerson(['注：本表一式两份'], '', '', '')).toBe('note-line');
    expect(notAPerson(['13', '', '', ''], '', '', '')).toBe('serial-number-only');
    expect(notAPerson(['13', '张三', '', ''], '', '张三', '')).toBeUndefined();
    expect(notAPerson(['14', '', ids[0]!, ''], ids[0]!, '', '')).toBeUndefined();
    expect(notAPerson(['15', '', '', '1'], '', '', '1')).toBeUndefined();
  });
});

describe('the CLI tells the operator the skipped lines apart', () => {
  it('rows read = accepted + rejected + skipped, each with its reasons, and the sheet read', async () => {
    const { formatImport } = await import('../../client/registry-commands');
    const text = formatImport({
      submissionId: 7,
      alreadyImported: false,
      held: false,
      supersededSubmissionId: null,
      format: 'xlsx',
      encoding: 'xlsx',
      sha256: 'a'.repeat(64),
      rowsRead: 17,
      rowsAccepted: 12,
      rowsRejected: 0,
      rowsSkipped: 5,
      rejectedByReason: {},
      skippedByReason: { 'blank-row': 1, 'serial-number-only': 2, 'totals-row': 1, 'signature-line': 1 },
      sheet: '名单',
      identitiesOpened: 12,
      identitiesClosed: 0,
    });
    expect(text).toContain('sheet “名单”');
    expect(text).toContain(
      'rows read 17 = accepted 12 + rejected 0 + skipped 5 (blank-row 1, serial-number-only 2, totals-row 1, signature-line 1)',
    );
  });
});
