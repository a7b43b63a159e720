/**
 * Reading the files departments send: .xlsx or .csv, CSV in UTF-8 (with or without BOM) or GBK/GB18030,
 * detected from the bytes, never guessed from the name. Rows stream out one at a time as arrays of cell
 * text, so a 700,000-row file is never held as objects.
 */
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';

export type FileFormat = 'xlsx' | 'csv';

export class ListFileError extends Error {
  override name = 'ListFileError';
  constructor(
    readonly file: string,
    readonly code: 'not-a-spreadsheet' | 'truncated-xlsx' | 'empty-file' | 'missing-columns' | 'no-header',
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

export interface DetectedFile {
  format: FileFormat;
  encoding: string;
}

/** A cell whose text could not be trusted (an 18-digit ID stored as a number has lost digits). */
export interface CellFlag {
  numericId?: boolean;
}

export interface RawRow {
  /** 1-based row number in the file as a person sees it (the header is row 1 in both formats). */
  rowNo: number;
  cells: string[];
  /** Per column: the cell was an Excel number (not text). */
  numeric: boolean[];
}

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

export function detectFile(bytes: Buffer, file: string): DetectedFile {
  if (bytes.length === 0) throw new ListFileError(file, 'empty-file', 'the file is empty (0 bytes)');
  if (bytes.subarray(0, 4).equals(ZIP_MAGIC)) return { format: 'xlsx', encoding: 'xlsx' };
  const sample = bytes.subarray(0, Math.min(bytes.length, 64 * 1024));
  if (sample.includes(0)) {
    throw new ListFileError(
      file,
      'not-a-spreadsheet',
      'not a spreadsheet: the file holds binary data (an .xls from old Excel, a PDF or an image?). Save it as .xlsx or .csv',
    );
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { format: 'csv', encoding: 'utf-8-bom' };
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return { format: 'csv', encoding: 'utf-8' };
  } catch {
    return { format: 'csv', encoding: 'gb18030' };
  }
}

export function decodeText(bytes: Buffer, encoding: string): string {
  if (encoding === 'utf-8-bom') return bytes.subarray(3).toString('utf8');
  if (encoding === 'utf-8') return bytes.toString('utf8');
  return iconv.decode(bytes, 'gb18030');
}

export function encodeText(text: string, encoding: string): Buffer {
  if (encoding === 'utf-8-bom')
    return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  return iconv.encode(text, 'gb18030');
}

function cellText(value: ExcelJS.CellValue): { text: string; numeric: boolean } {
  if (value === null || value === undefined) return { text: '', numeric: false };
  if (typeof value === 'string') return { text: value, numeric: false };
  if (typeof value === 'number')
    return { text: Number.isInteger(value) ? value.toFixed(0) : String(value), numeric: true };
  if (typeof value === 'boolean') return { text: value ? 'TRUE' : 'FALSE', numeric: false };
  if (value instanceof Date) return { text: value.toISOString().slice(0, 10), numeric: false };
  if (typeof value === 'object') {
    if ('richText' in value) return { text: value.richText.map((r) => r.text).join(''), numeric: false };
    if ('formula' in value || 'sharedFormula' in value) {
      const result = (value as { result?: ExcelJS.CellValue }).result;
      return cellText(result ?? null);
    }
    if ('text' in value) return { text: String((value as { text: unknown }).text), numeric: false };
    if ('error' in value) return { text: String((value as { error: unknown }).error), numeric: false };
  }
  return { text: JSON.stringify(value), numeric: false };
}

async function* xlsxRows(bytes: Buffer, file: string): AsyncGenerator<RawRow> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from([bytes]), {
    worksheets: 'emit',
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'ignore',
    entries: 'ignore',
  });
  try {
    for await (const worksheet of reader) {
      for await (const row of worksheet as AsyncIterable<ExcelJS.Row>) {
        const values = row.values as ExcelJS.CellValue[];
        const cells: string[] = [];
        const numeric: boolean[] = [];
        for (let i = 1; i < values.length; i += 1) {
          const { text, numeric: n } = cellText(values[i]);
          cells.push(text);
          numeric.push(n);
        }
        yield { rowNo: row.number, cells, numeric };
      }
      return; // the first worksheet is the list
    }
  } catch (error) {
    if (error instanceof ListFileError) throw error;
    throw new ListFileError(
      file,
      'truncated-xlsx',
      `the .xlsx file cannot be read (${error instanceof Error ? error.message : String(error)}): it may be truncated or damaged; save it again and resend`,
    );
  }
}

async function* csvRows(text: string): AsyncGenerator<RawRow> {
  const parser = Readable.from([text]).pipe(
    parse({ relax_column_count: true, skip_empty_lines: false, bom: true, trim: false, info: true }),
  );
  for await (const record of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    yield { rowNo: record.info.lines, cells: record.record, numeric: record.record.map(() => false) };
  }
}

/** Every row of the file, the header included, in order. */
export function readRows(bytes: Buffer, file: string, detected: DetectedFile): AsyncGenerator<RawRow> {
  if (detected.format === 'xlsx') return xlsxRows(bytes, file);
  return csvRows(decodeText(bytes, detected.encoding));
}

/** Header text as people type it: spaces, line breaks and full-width brackets vary. */
export function normaliseHeader(text: string): string {
  return text
    .replace(/[\s\u3000]/g, '')
    .replace(/（/g, '(')
    .replace(/）/g, ')')
    .replace(/\*/g, '');
}
