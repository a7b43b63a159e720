/**
 * Reading the files departments send: .xlsx or .csv, CSV in UTF-8 (with or without BOM) or GBK/GB18030,
 * detected from the bytes, never guessed from the name. Rows stream out one at a time as arrays of cell
 * text, so a 700,000-row file is never held as objects.
 */
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
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
  /** Per column: the cell was an Excel number (not text); empty for CSV. */
  numeric: boolean[];
}

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

export function detectFile(bytes: Buffer, file: string): DetectedFile {
  if (bytes.length === 0) throw new ListFileError(file, 'empty-file', 'the file is empty (0 bytes)');
  if (bytes.subarray(0, 4).equals(ZIP_MAGIC)) return { format: 'xlsx', encoding: 'xlsx' };
  const sample = bytes.subarray(0, Math.min(bytes.length, 64 * 1024));
  if (sample.includes(0) || sample.subarray(0, 5).toString('latin1') === '%PDF-') {
    throw new ListFileError(
      file,
      'not-a-spreadsheet',
      'not a spreadsheet: the file holds binary data (an .xls from old Excel, a PDF or an image?). Save it as .xlsx or .csv',
    );
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { format: 'csv', encoding: 'utf-8-bom' };
  // validated without decoding (decoding the whole file only to test it took 0.2 s of a 60 MB roster)
  return isUtf8(bytes) ? { format: 'csv', encoding: 'utf-8' } : { format: 'csv', encoding: 'gb18030' };
}

/** A CSV field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break. */
export function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
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

/** The file's bytes in 256 KiB slices: each slice is parsed before the next is read. */
function* slices(bytes: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/**
 * An RFC 4180 CSV parser that works on decoded text chunk by chunk and returns whole rows: quoted fields
 * may hold commas, doubled quotes and line breaks; CRLF and LF both end a row. Rows come out in batches,
 * so the cost of iterating is paid per chunk rather than per row.
 */
export class CsvRowParser {
  private field = '';
  private row: string[] = [];
  private inQuotes = false;
  private quoteSeen = false;
  private line = 1;
  private rowStartLine = 1;

  push(text: string, out: RawRow[]): void {
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (this.inQuotes) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          this.field += text.slice(i);
          this.line += countNewlines(text, i, n);
          return;
        }
        this.field += text.slice(i, q);
        this.line += countNewlines(text, i, q);
        if (q + 1 < n && text[q + 1] === '"') {
          this.field += '"';
          i = q + 2;
        } else if (q + 1 >= n) {
          // a quote at the chunk's end: decide with the next chunk
          this.inQuotes = false;
          this.quoteSeen = true;
          i = q + 1;
        } else {
          this.inQuotes = false;
          i = q + 1;
        }
        continue;
      }
      if (this.quoteSeen) {
        this.quoteSeen = false;
        if (text[i] === '"') {
          this.field += '"';
          this.inQuotes = true;
          i += 1;
          continue;
        }
      }
      const c = text.charCodeAt(i);
      if (c === 44 /* , */) {
        this.row.push(this.field);
        this.field = '';
        i += 1;
      } else if (c === 10 /* \n */) {
        this.endRow(out);
        this.line += 1;
        this.rowStartLine = this.line;
        i += 1;
      } else if (c === 13 /* \r */) {
        i += 1;
      } else if (c === 34 /* " */ && this.field === '') {
        this.inQuotes = true;
        i += 1;
      } else {
        let j = i;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === 44 || d === 10 || d === 13) break;
          j += 1;
        }
        this.field += text.slice(i, j);
        i = j;
      }
    }
  }

  end(out: RawRow[]): void {
    if (this.field !== '' || this.row.length > 0) this.endRow(out);
  }

  private endRow(out: RawRow[]) {
    this.row.push(this.field);
    // a CSV cell is always text: no column is numeric
    out.push({ rowNo: this.rowStartLine, cells: this.row, numeric: NO_NUMERIC });
    this.row = [];
    this.field = '';
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let k = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) k += 1;
  return k;
}

const NO_NUMERIC: boolean[] = [];

async function* csvRows(bytes: Buffer, encoding: string): AsyncGenerator<RawRow[]> {
  const body = encoding === 'utf-8-bom' ? bytes.subarray(3) : bytes;
  const decoder = iconv.getDecoder(encoding === 'gb18030' ? 'gb18030' : 'utf8');
  const parser = new CsvRowParser();
  for (const slice of slices(body)) {
    const out: RawRow[] = [];
    parser.push(decoder.write(slice), out);
    if (out.length) yield out;
    await Promise.resolve();
  }
  const out: RawRow[] = [];
  const rest = decoder.end();
  if (rest) parser.push(rest, out);
  parser.end(out);
  if (out.length) yield out;
}

/** Every row of the file, the header included, in order, in batches. */
export function readRowBatches(
  bytes: Buffer,
  file: string,
  detected: DetectedFile,
): AsyncGenerator<RawRow[]> {
  if (detected.format === 'xlsx') return batched(xlsxRows(bytes, file), 1000);
  return csvRows(bytes, detected.encoding);
}

/** Every row of the file, one at a time (for small files and reports). */
export async function* readRows(bytes: Buffer, file: string, detected: DetectedFile): AsyncGenerator<RawRow> {
  for await (const batch of readRowBatches(bytes, file, detected)) yield* batch;
}

async function* batched<T>(source: AsyncGenerator<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of source) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Header text as people type it: spaces, line breaks and full-width brackets vary. */
export function normaliseHeader(text: string): string {
  return text
    .replace(/[\s\u3000]/g, '')
    .replace(/（/g, '(')
    .replace(/）/g, ')')
    .replace(/\*/g, '');
}
