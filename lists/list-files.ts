/**
 * Reading the files departments send, as their offices really make them: .xlsx (any sheet order, hidden
 * tabs, instruction sheets, title lines above the header, two-row headers, merged cells) or CSV (UTF-8 with
 * or without BOM, GBK/GB18030, UTF-16 with a BOM as Excel's "Unicode 文本" writes it; comma, semicolon or
 * tab; CRLF, LF or bare CR). The format and encoding are detected from the bytes, never guessed from the
 * name. Rows stream out in batches as arrays of cell text, so a 700,000-row file is never held as objects.
 *
 * A file that cannot be read right is refused with a ListFileError naming the file, the sheet, the row (or
 * the CSV line) and, where there is one, the field; its message never holds a full ID number.
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { maskLongDigits } from '../domain/personal-data';
import { XlsxError, XlsxWorkbook, XLSX_LIMITS, type XlsxLimits } from './xlsx-reader';

export type FileFormat = 'xlsx' | 'csv';

export type ListFileErrorCode =
  | 'not-a-spreadsheet'
  | 'old-xls'
  | 'truncated-xlsx'
  | 'too-large'
  | 'invalid-xlsx'
  | 'empty-file'
  | 'missing-columns'
  | 'no-header'
  | 'two-lists'
  | 'no-visible-sheet'
  | 'unclosed-quote'
  | 'text-after-quote'
  | 'control-character'
  | 'line-too-long'
  | 'no-delimiter';

/** Where in the file a problem is: the sheet (xlsx), the row Excel shows or the CSV line, the field. */
export interface FilePlace {
  sheet?: string;
  row?: number;
  line?: number;
  field?: string;
}

export class ListFileError extends Error {
  override name = 'ListFileError';
  constructor(
    readonly file: string,
    readonly code: ListFileErrorCode,
    message: string,
    readonly place: FilePlace = {},
  ) {
    super(`${file}${placeText(place)}: ${maskLongDigits(message)}`);
  }
}

function placeText(p: FilePlace): string {
  const parts: string[] = [];
  if (p.sheet !== undefined) parts.push(`sheet “${p.sheet}”`);
  if (p.row !== undefined) parts.push(`row ${p.row}`);
  if (p.line !== undefined) parts.push(`line ${p.line}`);
  if (p.field !== undefined) parts.push(`field ${p.field}`);
  return parts.length ? `, ${parts.join(', ')}` : '';
}

export interface DetectedFile {
  format: FileFormat;
  /** utf-8, utf-8-bom, gb18030 (GBK files too), utf-16le or utf-16be (both with their BOM) */
  encoding: string;
}

export interface RawRow {
  /** 1-based row number as the clerk sees it in Excel (for CSV: the record's number, the header's is 1). */
  rowNo: number;
  cells: string[];
  /** By column: true where the cell was an Excel number (not text); false or absent elsewhere; empty for CSV. */
  numeric: boolean[];
  /** By column: true where the cell holds an Excel error value such as a formula's #REF!; absent for CSV. */
  errors?: boolean[];
  /** CSV only: the line the record starts on (differs from rowNo after a quoted line break). */
  line?: number;
}

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const OLE2_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0]);

/**
 * The file's format and encoding from its bytes. Throws ListFileError for an empty file, an Excel 97-2003
 * .xls (to be saved as .xlsx) and binary data that is no spreadsheet.
 */
export function detectFile(bytes: Buffer, file: string): DetectedFile {
  if (bytes.length === 0) throw new ListFileError(file, 'empty-file', 'the file is empty (0 bytes)');
  if (bytes.subarray(0, 4).equals(ZIP_MAGIC)) return { format: 'xlsx', encoding: 'xlsx' };
  if (bytes.subarray(0, 4).equals(OLE2_MAGIC)) {
    throw new ListFileError(
      file,
      'old-xls',
      'an Excel 97-2003 workbook (.xls, or an .xlsx protected with a password), which is not read: open it in Excel, save it as .xlsx (文件 → 另存为 → Excel 工作簿 *.xlsx) without a password and send that',
    );
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { format: 'csv', encoding: 'utf-16le' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { format: 'csv', encoding: 'utf-16be' };
  const sample = bytes.subarray(0, Math.min(bytes.length, 64 * 1024));
  const magic = sample.subarray(0, 8).toString('latin1');
  let zeros = 0;
  for (let i = sample.indexOf(0); i >= 0; i = sample.indexOf(0, i + 1)) zeros += 1;
  // UTF-16 text without a BOM: a zero byte beside nearly every ASCII character
  if (zeros > sample.length / 4 && sample.length >= 4) {
    let evenZeros = 0;
    for (let i = 0; i < sample.length; i += 2) if (sample[i] === 0) evenZeros += 1;
    return { format: 'csv', encoding: evenZeros > zeros / 2 ? 'utf-16be' : 'utf-16le' };
  }
  if (
    magic.startsWith('%PDF-') ||
    magic.startsWith('\x89PNG') ||
    magic.startsWith('\xff\xd8\xff') ||
    magic.startsWith('GIF8') ||
    magic.startsWith('Rar!') ||
    magic.startsWith('7z') ||
    zeros > sample.length / 100
  ) {
    throw new ListFileError(
      file,
      'not-a-spreadsheet',
      'not a spreadsheet: the file holds binary data (a PDF, an image or an archive?). Send the list as .xlsx or .csv',
    );
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { format: 'csv', encoding: 'utf-8-bom' };
  // validated without decoding (decoding the whole file only to test it took 0.2 s of a 60 MB roster)
  return isUtf8(bytes) ? { format: 'csv', encoding: 'utf-8' } : { format: 'csv', encoding: 'gb18030' };
}

/** A CSV field as RFC 4180 writes it: quoted when it holds the delimiter, a quote or a line break. */
export function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** csvField for a file whose delimiter is `delimiter` (a semicolon or a tab). */
export function csvFieldIn(value: string, delimiter: string): string {
  if (delimiter === ',') return csvField(value);
  return value.includes(delimiter) || /["\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function bomLength(encoding: string): number {
  if (encoding === 'utf-8-bom') return 3;
  if (encoding === 'utf-16le' || encoding === 'utf-16be') return 2;
  return 0;
}

function codec(encoding: string): string {
  if (encoding === 'gb18030') return 'gb18030';
  if (encoding === 'utf-16le' || encoding === 'utf-16be') return encoding;
  return 'utf8';
}

export function decodeText(bytes: Buffer, encoding: string): string {
  const body = bytes.subarray(bomLength(encoding));
  if (encoding === 'utf-8-bom' || encoding === 'utf-8') return body.toString('utf8');
  return iconv.decode(body, codec(encoding));
}

/**
 * Text in the sender's encoding. For a GBK file, each piece goes back as Windows code page 936 writes it
 * (Excel's "CSV" on a Chinese Windows: € is the single byte 0x80), and only what CP936 cannot hold goes as
 * GB18030's four-byte sequences.
 */
export function encodeText(text: string, encoding: string): Buffer {
  if (encoding === 'utf-8-bom')
    return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  if (encoding === 'utf-16le')
    return Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf-16le')]);
  if (encoding === 'utf-16be')
    return Buffer.concat([Buffer.from([0xfe, 0xff]), iconv.encode(text, 'utf-16be')]);
  return encodeGbk(text);
}

/** CP936 where it can hold the text (as Excel writes it), GB18030 for the characters it cannot. */
export function encodeGbk(text: string): Buffer {
  const gbk = iconv.encode(text, 'cp936');
  if (iconv.decode(gbk, 'cp936') === text) return gbk;
  const parts: Buffer[] = [];
  for (const ch of text) {
    const b = iconv.encode(ch, 'cp936');
    parts.push(iconv.decode(b, 'cp936') === ch ? b : iconv.encode(ch, 'gb18030'));
  }
  return Buffer.concat(parts);
}

/** A CSV file that cannot be parsed as written; `line` is the line the problem is on. */
export class CsvSyntaxError extends Error {
  constructor(
    readonly code: 'unclosed-quote' | 'text-after-quote' | 'control-character' | 'line-too-long',
    readonly line: number,
    /** What is wrong, without the line (which `message` starts with). */
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
  }
}

/** The most characters one record may hold (a list's row is a few hundred). */
export const MAX_RECORD_CHARS = 64 * 1024;

// eslint-disable-next-line no-control-regex -- control bytes are what it looks for
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/**
 * A strict RFC 4180 CSV parser that works on decoded text chunk by chunk and returns whole rows: quoted
 * fields may hold the delimiter, doubled quotes and line breaks; CRLF, LF and a bare CR each end a row. It
 * refuses (CsvSyntaxError, naming the line) a quote left open at the end of the file, text after a closing
 * quote, control characters such as NUL outside a tab delimiter, and a record longer than MAX_RECORD_CHARS.
 * Rows come out in batches, so the cost of iterating is paid per chunk rather than per row.
 *
 * Our own parser rather than csv-parse: on the 700,000-row roster csv-parse (strict, streaming) took 10 to
 * 14 s against this parser's 2.2 s on the same loaded machine, which would take the import under its
 * 100,000 rows/s target.
 */
export class CsvRowParser {
  private field = '';
  private row: string[] = [];
  private inQuotes = false;
  private quoteSeen = false;
  private afterQuote = false;
  private pendingCr = false;
  private line = 1;
  private rowStartLine = 1;
  private quoteLine = 1;
  private record = 1;
  private rowChars = 0;
  private readonly delimiter: number;

  constructor(delimiter = ',') {
    this.delimiter = delimiter.charCodeAt(0);
  }

  push(text: string, out: RawRow[]): void {
    const bad = CONTROL.exec(text);
    if (bad) {
      const line = this.line + lineEnds(text, 0, bad.index, this.pendingCr);
      throw new CsvSyntaxError(
        'control-character',
        line,
        `a control character (U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}, e.g. a NUL byte) that no list cell holds: the file is damaged or not text`,
      );
    }
    let i = 0;
    const n = text.length;
    const delim = this.delimiter;
    if (this.pendingCr && n > 0) {
      this.pendingCr = false;
      if (text.charCodeAt(0) === 10) i = 1;
    }
    while (i < n) {
      if (this.inQuotes) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          this.field += text.slice(i);
          this.line += lineEnds(text, i, n, false);
          this.checkLength();
          return;
        }
        this.field += text.slice(i, q);
        this.line += lineEnds(text, i, q, false);
        this.checkLength();
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
          this.afterQuote = true;
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
        this.afterQuote = true;
      }
      const c = text.charCodeAt(i);
      if (this.afterQuote && c !== delim && c !== 10 && c !== 13) {
        throw new CsvSyntaxError(
          'text-after-quote',
          this.line,
          `text follows a closing quote in the same cell (a quote inside a quoted cell is written twice: "")`,
        );
      }
      this.afterQuote = false;
      if (c === delim) {
        this.row.push(this.field);
        this.field = '';
        i += 1;
      } else if (c === 10 /* \n */) {
        this.endRow(out);
        this.line += 1;
        this.rowStartLine = this.line;
        i += 1;
      } else if (c === 13 /* \r */) {
        this.endRow(out);
        this.line += 1;
        this.rowStartLine = this.line;
        if (i + 1 < n) i += text.charCodeAt(i + 1) === 10 ? 2 : 1;
        else {
          this.pendingCr = true;
          i += 1;
        }
      } else if (c === 34 /* " */ && this.field === '') {
        this.inQuotes = true;
        this.quoteLine = this.line;
        i += 1;
      } else {
        let j = i;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === delim || d === 10 || d === 13) break;
          j += 1;
        }
        this.field += text.slice(i, j);
        this.checkLength();
        i = j;
      }
    }
  }

  /** Ends the file: a quote still open is an error naming the line it was opened on. */
  end(out: RawRow[]): void {
    if (this.inQuotes) {
      throw new CsvSyntaxError(
        'unclosed-quote',
        this.quoteLine,
        `a quote (") opens a cell and is never closed, so the rest of the file would be read as one cell; close or remove the quote`,
      );
    }
    if (this.field !== '' || this.row.length > 0 || this.quoteSeen) this.endRow(out);
  }

  private checkLength() {
    if (this.field.length + this.rowChars > MAX_RECORD_CHARS) {
      throw new CsvSyntaxError(
        'line-too-long',
        this.rowStartLine,
        `more than ${MAX_RECORD_CHARS} characters in one row: not a row of a list (a quote left open?)`,
      );
    }
  }

  private endRow(out: RawRow[]) {
    this.row.push(this.field);
    // a CSV cell is always text: no column is numeric
    out.push({ rowNo: this.record, cells: this.row, numeric: NO_NUMERIC, line: this.rowStartLine });
    this.record += 1;
    this.row = [];
    this.field = '';
    this.rowChars = 0;
  }
}

/** Line ends in text[from, to): LF, CRLF and a bare CR each count once. */
function lineEnds(text: string, from: number, to: number, pendingCr: boolean): number {
  let k = 0;
  for (let i = from; i < to; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      if (!(i === from && pendingCr) && !(i > from && text.charCodeAt(i - 1) === 13)) k += 1;
    } else if (c === 13) k += 1;
  }
  return k;
}

const NO_NUMERIC: boolean[] = [];

/**
 * The delimiter of a CSV from its first lines: comma, semicolon or tab, whichever splits the most of them
 * (then: the most often). Throws ListFileError when none does (a list has at least ID, name, category).
 */
export function detectDelimiter(text: string, file: string): ',' | ';' | '\t' {
  const lines = text
    .replace(/"(?:[^"]|"")*"/g, '')
    .split(/\r\n|\n|\r/)
    .filter((l) => l.trim() !== '')
    .slice(0, 30);
  let best: { d: ',' | ';' | '\t'; score: number; total: number } | undefined;
  for (const d of [',', '\t', ';'] as const) {
    let score = 0;
    let total = 0;
    for (const l of lines) {
      const k = l.split(d).length - 1;
      total += k;
      if (k >= 1) score += 1;
    }
    if (score > 0 && (!best || score > best.score || (score === best.score && total > best.total)))
      best = { d, score, total };
  }
  if (!best) {
    throw new ListFileError(
      file,
      'no-delimiter',
      'no delimiter found: no line of the file is split into cells by a comma (,), a semicolon (;) or a tab; save the list from Excel as CSV (逗号分隔) or .xlsx',
      { line: 1 },
    );
  }
  return best.d;
}

/** The file's bytes in 256 KiB slices: each slice is parsed before the next is read. */
function* slices(bytes: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function* csvRows(bytes: Buffer, encoding: string, file: string): AsyncGenerator<RawRow[]> {
  const body = bytes.subarray(bomLength(encoding));
  const head = iconv.decode(body.subarray(0, 64 * 1024), codec(encoding));
  const parser = new CsvRowParser(detectDelimiter(head, file));
  const decoder = iconv.getDecoder(codec(encoding));
  try {
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
  } catch (error) {
    if (error instanceof CsvSyntaxError)
      throw new ListFileError(file, error.code, error.detail, { line: error.line });
    throw error;
  }
}

/** An XlsxError as the file error the operator sees. */
function xlsxFileError(file: string, error: unknown): ListFileError {
  if (error instanceof ListFileError) return error;
  if (error instanceof XlsxError) {
    const code =
      error.kind === 'too-large' ? 'too-large' : error.kind === 'damaged' ? 'truncated-xlsx' : 'invalid-xlsx';
    const advice =
      error.kind === 'too-large'
        ? ': refused, not read (a list is far smaller; split it or remove what is not the list)'
        : error.kind === 'damaged'
          ? ': the .xlsx may be truncated or damaged; save it again and resend'
          : ': open it in Excel, save it again and resend';
    return new ListFileError(file, code, `${error.message}${advice}`, { sheet: error.sheet, row: error.row });
  }
  return new ListFileError(
    file,
    'truncated-xlsx',
    `the .xlsx file cannot be read (${error instanceof Error ? error.message.slice(0, 200) : String(error)}): it may be truncated or damaged; save it again and resend`,
  );
}

/** Header text as people type it: spaces, line breaks, full-width brackets and required-field stars vary. */
export function normaliseHeader(text: string): string {
  return text
    .replace(/[\s\u3000\u200b-\u200d\u2060\ufeff]/g, '')
    .replace(/（/g, '(')
    .replace(/）/g, ')')
    .replace(/[*＊]/g, '');
}

/** A column the list must have, with the header texts that name it. */
export interface HeaderField {
  key: string;
  /** The field's name in reports (身份证号码). */
  label: string;
  aliases: string[];
}

/** The rows searched for the header at the top of a sheet. */
export const HEADER_SEARCH_ROWS = 20;

export interface ListTable {
  /** The sheet read (xlsx), by its tab name. */
  sheet?: string;
  /** The header row(s) as read: one row, or two combined. */
  header: RawRow[];
  /** Column index per field key. */
  columns: Record<string, number>;
  /** The rows below the header, in batches, as stored. */
  rows(): AsyncGenerator<RawRow[]>;
}

interface HeaderFound {
  index: number;
  span: 1 | 2;
  columns: Record<string, number>;
}

/**
 * The header among `rows`: the first row (or pair of rows, a two-row header whose upper cells are merged
 * over the lower) in which every field's alias is found. Title, unit and date lines above it match no alias.
 */
export function findHeader(rows: RawRow[], fields: HeaderField[]): HeaderFound | undefined {
  const aliases = fields.map((f) => new Set(f.aliases.map(normaliseHeader)));
  const match = (options: (c: number) => string[], width: number): Record<string, number> | undefined => {
    const columns: Record<string, number> = {};
    for (let f = 0; f < fields.length; f += 1) {
      let found = -1;
      for (let c = 0; c < width && found < 0; c += 1)
        if (options(c).some((t) => aliases[f]!.has(t))) found = c;
      if (found < 0) return undefined;
      columns[fields[f]!.key] = found;
    }
    return columns;
  };
  for (let i = 0; i < rows.length; i += 1) {
    const top = rows[i]!.cells.map(normaliseHeader);
    const single = match((c) => [top[c] ?? ''], top.length);
    if (single) return { index: i, span: 1, columns: single };
    const next = rows[i + 1];
    if (!next || next.rowNo !== rows[i]!.rowNo + 1) continue;
    const bottom = next.cells.map(normaliseHeader);
    // a title line above a whole header is not half of a two-row header
    if (match((c) => [bottom[c] ?? ''], bottom.length)) continue;
    const width = Math.max(top.length, bottom.length);
    // the lower row's own text first (救助信息 / 类别 reads as 类别), then the two joined
    const pair = match((c) => [bottom[c] ?? '', top[c] ?? '', (top[c] ?? '') + (bottom[c] ?? '')], width);
    if (pair && top.some((t) => t !== '')) return { index: i, span: 2, columns: pair };
  }
  return undefined;
}

/** The first rows of a sheet, shown in a refusal: a few cells each, cut short, long digit runs masked. */
function excerpt(rows: RawRow[]): string {
  return rows
    .filter((r) => r.cells.some((c) => c.trim() !== ''))
    .slice(0, 4)
    .map(
      (r) =>
        `row ${r.rowNo}: ` +
        r.cells
          .slice(0, 8)
          .map((c) => {
            const t = c.replace(/\s+/g, ' ').trim();
            return t.length > 16 ? `${t.slice(0, 15)}…` : t;
          })
          .join(' | '),
    )
    .join('; ')
    .slice(0, 600);
}

function missingText(rows: RawRow[], fields: HeaderField[]): string {
  // the row that came closest, for the message
  let best: { row: RawRow; missing: HeaderField[] } | undefined;
  for (const row of rows) {
    const cells = new Set(row.cells.map(normaliseHeader));
    const missing = fields.filter((f) => !f.aliases.some((a) => cells.has(normaliseHeader(a))));
    if (missing.length < fields.length && (!best || missing.length < best.missing.length))
      best = { row, missing };
  }
  const wanted = (fs: HeaderField[]) =>
    fs.map((f) => `${f.label} (looked for ${[...new Set(f.aliases)].join('、')})`).join('; ');
  return best
    ? `missing column(s): ${wanted(best.missing)}; row ${best.row.rowNo} comes closest`
    : `missing column(s): ${wanted(fields)}`;
}

/** The rows numbered 1..limit of a sheet, in row order (the reader stops at the first row past them). */
async function firstRows(source: AsyncGenerator<RawRow[]>, limit: number): Promise<{ rows: RawRow[] }> {
  const rows: RawRow[] = [];
  for await (const batch of source) for (const r of batch) if (r.rowNo <= limit) rows.push(r);
  rows.sort((a, b) => a.rowNo - b.rowNo);
  return { rows };
}

/**
 * Opens the list in a file: for .xlsx, the one visible sheet (in the workbook's tab order) whose first
 * HEADER_SEARCH_ROWS rows hold a header naming every field; hidden sheets are never read, sheets without
 * such a header (instructions, 填表说明) are passed over. For CSV, the header within the first rows.
 *
 * Throws ListFileError: 'missing-columns' naming the sheets and rows searched with a short masked excerpt;
 * 'two-lists' naming both sheets when two visible sheets hold a list; and the reading errors of the format
 * (damaged, too large, unclosed quote... naming sheet, row or line).
 */
export async function openListTable(
  bytes: Buffer,
  file: string,
  detected: DetectedFile,
  fields: HeaderField[],
  limits: XlsxLimits = XLSX_LIMITS,
): Promise<ListTable> {
  if (detected.format === 'csv') {
    const source = csvRows(bytes, detected.encoding, file);
    const { rows: buffered } = await firstRowsOfStream(source, HEADER_SEARCH_ROWS);
    const head = buffered.slice(0, HEADER_SEARCH_ROWS);
    if (!head.length || head.every((r) => r.cells.every((c) => c.trim() === '')))
      throw new ListFileError(file, 'no-header', 'no header row: the file holds no rows at all');
    const found = findHeader(head, fields);
    if (!found) {
      throw new ListFileError(
        file,
        'missing-columns',
        `${missingText(head, fields)}. Searched rows 1-${head.at(-1)!.rowNo} for the header; they begin: ${excerpt(head)}`,
      );
    }
    await source.return(undefined);
    const lastHeaderRow = head[found.index + found.span - 1]!.rowNo;
    return {
      header: head.slice(found.index, found.index + found.span),
      columns: found.columns,
      // each call reads the file afresh (the rejection report reads it twice)
      async *rows() {
        for await (const batch of csvRows(bytes, detected.encoding, file)) {
          if (batch[0]!.rowNo > lastHeaderRow) yield batch;
          else {
            const data = batch.filter((r) => r.rowNo > lastHeaderRow);
            if (data.length) yield data;
          }
        }
      },
    };
  }

  let book: XlsxWorkbook;
  try {
    book = await XlsxWorkbook.open(bytes, limits);
  } catch (error) {
    throw xlsxFileError(file, error);
  }
  try {
    const visible = book.sheets.filter((s) => !s.hidden);
    const hidden = book.sheets.filter((s) => s.hidden);
    if (!visible.length)
      throw new ListFileError(
        file,
        'no-visible-sheet',
        'the workbook has no visible sheet; unhide the list and resend',
      );
    const matches: { sheet: (typeof visible)[number]; found: HeaderFound; head: RawRow[] }[] = [];
    const searched: { name: string; head: RawRow[] }[] = [];
    for (const sheet of visible) {
      let head: RawRow[];
      try {
        ({ rows: head } = await firstRows(
          book.rows(sheet, { maxRow: HEADER_SEARCH_ROWS }),
          HEADER_SEARCH_ROWS,
        ));
      } catch (error) {
        throw xlsxFileError(file, error);
      }
      searched.push({ name: sheet.name, head });
      const found = findHeader(head, fields);
      if (found) matches.push({ sheet, found, head });
    }
    if (matches.length > 1) {
      throw new ListFileError(
        file,
        'two-lists',
        `two visible sheets each hold a list: “${matches[0]!.sheet.name}” (header row ${matches[0]!.head[matches[0]!.found.index]!.rowNo}) and “${matches[1]!.sheet.name}” (header row ${matches[1]!.head[matches[1]!.found.index]!.rowNo}); send one list per file, or delete or hide the other sheet`,
      );
    }
    const chosen = matches[0];
    if (!chosen) {
      const hiddenNote = hidden.length
        ? ` Hidden sheets are not read (${hidden.map((s) => `“${s.name}”`).join(', ')}).`
        : '';
      throw new ListFileError(
        file,
        'missing-columns',
        `no visible sheet has a header row naming the list's columns: ${missingText(
          searched.flatMap((s) => s.head),
          fields,
        )}. Searched rows 1-${HEADER_SEARCH_ROWS} of ${searched
          .map((s) => `“${s.name}” (${excerpt(s.head) || 'empty'})`)
          .join(', ')}.${hiddenNote}`,
      );
    }
    const headerRows = chosen.head.slice(chosen.found.index, chosen.found.index + chosen.found.span);
    const lastHeaderRow = headerRows.at(-1)!.rowNo;
    const sheet = chosen.sheet;
    return {
      sheet: sheet.name,
      header: headerRows,
      columns: chosen.found.columns,
      async *rows() {
        try {
          for await (const batch of book.rows(sheet)) {
            // the title lines above the header and the header itself are not rows of the list
            const data = batch.filter((r) => r.rowNo > lastHeaderRow);
            if (data.length) yield data;
          }
        } catch (error) {
          throw xlsxFileError(file, error);
        }
      },
    };
  } catch (error) {
    book.close();
    throw error;
  }
}

/** The first rows of a CSV stream, leaving the stream to go on from where they end. */
async function firstRowsOfStream(
  source: AsyncGenerator<RawRow[]>,
  limit: number,
): Promise<{ rows: RawRow[] }> {
  const rows: RawRow[] = [];
  while (rows.length < limit) {
    const next = await source.next();
    if (next.done) break;
    rows.push(...next.value);
  }
  return { rows };
}

/**
 * Every row of the file in order, in batches: for CSV all of it; for .xlsx the first visible sheet in the
 * workbook's tab order (the benchmark's baseline reads a roster this way).
 */
export async function* readRowBatches(
  bytes: Buffer,
  file: string,
  detected: DetectedFile,
): AsyncGenerator<RawRow[]> {
  if (detected.format === 'csv') {
    yield* csvRows(bytes, detected.encoding, file);
    return;
  }
  let book: XlsxWorkbook;
  try {
    book = await XlsxWorkbook.open(bytes);
  } catch (error) {
    throw xlsxFileError(file, error);
  }
  try {
    const sheet = book.sheets.find((s) => !s.hidden);
    if (!sheet) throw new ListFileError(file, 'no-visible-sheet', 'the workbook has no visible sheet');
    yield* book.rows(sheet);
  } catch (error) {
    throw xlsxFileError(file, error);
  } finally {
    book.close();
  }
}

/** Every row of the file, one at a time (for small files). */
export async function* readRows(bytes: Buffer, file: string, detected: DetectedFile): AsyncGenerator<RawRow> {
  for await (const batch of readRowBatches(bytes, file, detected)) yield* batch;
}
