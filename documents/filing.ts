/**
 * Sheets a bureau can file: every .xlsx this system hands a person is laid out the way Chinese statistical
 * forms are (统计报表): a title, an optional line saying what the figures are as of, a header row that stays
 * in view (frozen) and repeats on every printed page, a 序号 column, numbers stored as numbers with their
 * format (counts `#,##0`, yuan `#,##0.00`, rates `0.0%`), long digit strings (ID numbers, bank accounts,
 * phones) kept as text, a 合计 row where the figures add up, and under the table the lines a filed form
 * carries: 制表单位、制表人、审核人、日期. The print area is the table with those lines; the page is A4,
 * fitted to its width, numbered in the footer (第 N 页 共 M 页).
 */
import type ExcelJS from 'exceljs';
import type { Queryable } from '../infra/roles';
import { chinaDateOf } from '../domain/dates';

/** What a column holds, which decides how its cells are stored and shown. */
export type ColumnKind = 'text' | 'digits' | 'count' | 'yuan' | 'rate';

export interface FormColumn {
  header: string;
  kind: ColumnKind;
  /** Width in characters; a default per kind otherwise. */
  width?: number;
}

/** A cell as given: text, a count, yuan (a number of yuan, 2 decimals), a rate as a fraction (0.949), or empty. */
export type FormCell = string | number | null;

/**
 * Who made the form and when, for the lines under the table. `unit` is the 制表单位 (e.g. 开平市医疗保障局),
 * `preparedBy` the 制表人 (the login that made it, by default), `reviewedBy` the 审核人 (left blank for a
 * signature when not given), `date` the China date of the form (YYYY-MM-DD; today in China by default).
 */
export interface Filing {
  unit: string;
  preparedBy: string;
  reviewedBy?: string;
  date?: string;
}

/** The four lines' labels, in the order the forms print them. */
export const FOOTER_LABELS = ['制表单位', '制表人', '审核人', '日期'] as const;

/** The footer lines' texts for a filing: ['制表单位：开平市医疗保障局', '制表人：op_demo', '审核人：', '日期：2023-11-30']. */
export function footerLines(filing: Filing): string[] {
  const date = filing.date ?? chinaDateOf(Date.now());
  return [
    `制表单位：${filing.unit}`,
    `制表人：${filing.preparedBy}`,
    `审核人：${filing.reviewedBy ?? ''}`,
    `日期：${date}`,
  ];
}

/** The unit that makes the forms of a jurisdiction's campaign: its medical security bureau (000, 001 落款). */
export const unitOf = (policy: { name: string }) => `${policy.name}医疗保障局`;

/**
 * The filing of a form made by this connection's login: the unit, the login's own name as 制表人 unless
 * given, today in China unless given.
 */
export async function filingFor(
  db: Queryable,
  policy: { name: string },
  given: Partial<Filing> = {},
): Promise<Filing> {
  const preparedBy =
    given.preparedBy ?? (await db.query<{ u: string }>('SELECT session_user AS u')).rows[0]!.u;
  return {
    unit: given.unit ?? unitOf(policy),
    preparedBy,
    ...(given.reviewedBy !== undefined ? { reviewedBy: given.reviewedBy } : {}),
    ...(given.date !== undefined ? { date: given.date } : {}),
  };
}

const NUMBER_FORMATS: Record<ColumnKind, string | undefined> = {
  text: undefined,
  digits: '@',
  count: '#,##0',
  yuan: '#,##0.00',
  rate: '0.0%',
};
const WIDTHS: Record<ColumnKind, number> = { text: 14, digits: 22, count: 12, yuan: 14, rate: 10 };

/** Excel's column letters: 1 → A, 27 → AA. */
export function columnLetter(n: number): string {
  let s = '';
  for (let i = n; i > 0; i = Math.floor((i - 1) / 26)) s = String.fromCharCode(65 + ((i - 1) % 26)) + s;
  return s;
}

/** In a 合计 row: the SUM of the column's rows. */
export const SUM = Symbol('sum');

export interface FormSheet {
  /** Title above the table (merged across it). */
  title: string;
  /** Lines under the title, e.g. 数据时点 and the goal line of a progress table. */
  notes?: string[];
  /** The columns after 序号, which is added first. */
  columns: FormColumn[];
  rows: Iterable<FormCell[]>;
  /**
   * The 合计 row: a cell per column (null leaves it empty). Count and yuan columns given {@link SUM} get a
   * SUM formula over the rows (with its value cached, so readers that do not calculate see it too).
   */
  total?: (FormCell | typeof SUM)[];
  filing: Filing;
  orientation?: 'portrait' | 'landscape';
}

/** Where things landed on the sheet, for a caller or a test. */
export interface FormLayout {
  headerRow: number;
  firstDataRow: number;
  lastDataRow: number;
  totalRow: number | null;
  footerRow: number;
  lastColumn: string;
}

/**
 * Writes one form onto `sheet` (which must be empty) and returns where its parts are. Throws on a row whose
 * cell count differs from the columns (a programming error, never a person's input).
 */
export function writeForm(sheet: ExcelJS.Worksheet, form: FormSheet): FormLayout {
  const columns: FormColumn[] = [{ header: '序号', kind: 'count', width: 6 }, ...form.columns];
  const last = columnLetter(columns.length);
  const title = sheet.addRow([form.title]);
  title.font = { bold: true, size: 14 };
  title.alignment = { horizontal: 'center' };
  sheet.mergeCells(`A1:${last}1`);
  for (const note of form.notes ?? []) {
    const r = sheet.addRow([note]);
    sheet.mergeCells(`A${r.number}:${last}${r.number}`);
  }
  const header = sheet.addRow(columns.map((c) => c.header));
  header.font = { bold: true };
  header.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
  const border: Partial<ExcelJS.Borders> = {
    top: { style: 'thin' },
    left: { style: 'thin' },
    bottom: { style: 'thin' },
    right: { style: 'thin' },
  };
  const headerRow = header.number;
  // number formats as column styles, which the rows added below inherit: a style object per cell made a
  // 100,000-row 附件2 twice as slow; the printed grid is Excel's own gridlines (showGridLines)
  columns.forEach((c, i) => {
    const col = sheet.getColumn(i + 1);
    col.width = c.width ?? WIDTHS[c.kind];
    const fmt = NUMBER_FORMATS[c.kind];
    if (fmt) col.numFmt = fmt;
  });
  const framed = (row: ExcelJS.Row) => {
    columns.forEach((_, i) => (row.getCell(i + 1).border = border));
  };
  framed(header);
  let n = 0;
  for (const cells of form.rows) {
    if (cells.length !== form.columns.length)
      throw new Error(
        `form "${form.title}": a row of ${cells.length} cells for ${form.columns.length} columns`,
      );
    n += 1;
    sheet.addRow([n, ...cells.map((v, i) => cellValue(v, form.columns[i]!.kind))]);
  }
  const firstDataRow = headerRow + 1;
  const lastDataRow = headerRow + n;
  let totalRow: number | null = null;
  if (form.total) {
    const row = sheet.addRow([
      '合计',
      ...form.total.map((v, i) => {
        const kind = form.columns[i]!.kind;
        if (v !== SUM) return cellValue(v, kind);
        const letter = columnLetter(i + 2);
        let sum = 0;
        for (let r = firstDataRow; r <= lastDataRow; r += 1) {
          const x = sheet.getCell(`${letter}${r}`).value;
          if (typeof x === 'number') sum += x;
        }
        // yuan to the fen: a sum of many 2-decimal numbers carries binary noise otherwise
        const result = kind === 'yuan' ? Math.round(sum * 100) / 100 : sum;
        return n ? { formula: `SUM(${letter}${firstDataRow}:${letter}${lastDataRow})`, result } : 0;
      }),
    ]);
    row.font = { bold: true };
    framed(row);
    totalRow = row.number;
  }
  sheet.addRow([]);
  // the four lines spread across the width, as a filed form prints them
  const lines = footerLines(form.filing);
  const footer = sheet.addRow([]);
  const step = Math.max(1, Math.floor(columns.length / lines.length));
  lines.forEach((text, i) => {
    footer.getCell(Math.min(columns.length, 1 + i * step)).value = text;
  });
  // when the table is narrower than four columns, the lines share cells in order
  if (columns.length < lines.length) {
    const cells = new Map<number, string[]>();
    lines.forEach((text, i) => {
      const c = Math.min(columns.length, 1 + i * step);
      cells.set(c, [...(cells.get(c) ?? []), text]);
    });
    for (const [c, texts] of cells) footer.getCell(c).value = texts.join('  ');
  }
  const footerRow = footer.number;

  sheet.views = [{ state: 'frozen', xSplit: 0, ySplit: headerRow, topLeftCell: `A${headerRow + 1}` }];
  sheet.pageSetup = {
    ...sheet.pageSetup,
    paperSize: 9, // A4
    orientation: form.orientation ?? 'landscape',
    fitToPage: true,
    fitToWidth: 1,
    fitToHeight: 0,
    horizontalCentered: true,
    showGridLines: true,
    printArea: `A1:${last}${footerRow}`,
    printTitlesRow: `${headerRow}:${headerRow}`,
    margins: { left: 0.5, right: 0.5, top: 0.6, bottom: 0.7, header: 0.3, footer: 0.3 },
  };
  sheet.headerFooter = { oddFooter: '&C第 &P 页 共 &N 页', evenFooter: '&C第 &P 页 共 &N 页' };
  return { headerRow, firstDataRow, lastDataRow, totalRow, footerRow, lastColumn: last };
}

function cellValue(v: FormCell, kind: ColumnKind): ExcelJS.CellValue {
  if (v === null) return null;
  if (kind === 'count' || kind === 'yuan' || kind === 'rate') {
    if (typeof v !== 'number') throw new Error(`a ${kind} cell must be a number, not "${v}"`);
    return v;
  }
  return String(v);
}

/**
 * A valid, unique sheet name (≤ 31 characters, none of []:*?/\) for `wanted`, given the names taken.
 */
export function sheetName(wanted: string, taken: Set<string>): string {
  const clean = wanted.replace(/[[\]:*?/\\]/g, '_').slice(0, 31) || 'Sheet';
  let name = clean;
  for (let i = 2; taken.has(name); i += 1) name = `${clean.slice(0, 31 - String(i).length - 1)}~${i}`;
  taken.add(name);
  return name;
}
