/**
 * Reading .xlsx workbooks (ECMA-376 SpreadsheetML) as departments' offices write them, over a kept zip
 * reader (yauzl, which reads the central directory, so a part's place in the zip does not matter) and a
 * kept streaming XML parser (saxes).
 *
 * Replaces ExcelJS's streaming reader, which read the wrong sheet (the first `sheetN.xml`, hidden or not,
 * rather than the workbook's first tab), read cells as `{"sharedString":0}` when sharedStrings.xml came after
 * the sheet in the zip (exceljs#683) and had no bound on what a small file inflates to.
 *
 * What it reads: the sheets in the workbook's own tab order with their visibility; shared strings (rich
 * text runs joined, phonetic runs left out); inline strings; numbers (flagged as numbers: an 18-digit ID
 * stored as a number has lost digits); booleans; formula results, an error result flagged as such; rows and
 * cells in any order, with the row numbers Excel shows; merged ranges, whose top-left value is given to every
 * cell they span (mergeCells follows sheetData, so a first streaming pass over the sheet finds them; a row
 * stored before its range's top-left row, which no spreadsheet program writes, is not filled).
 *
 * Bounds (a file past one is refused as a file error, never read into memory whole): the inflated size of
 * each part, the shared strings' size, the length of one text, cells per row, total cells, and the row and
 * column numbers Excel allows.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createInflateRaw } from 'node:zlib';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import yauzl from 'yauzl';
import { maskLongDigits } from '../domain/personal-data';

export interface XlsxLimits {
  /** Inflated bytes of one worksheet part (streamed, so this bounds time, not memory). */
  maxSheetBytes: number;
  /** Inflated bytes of workbook.xml, its relationships and the like (held in memory whole). */
  maxSmallPartBytes: number;
  /**
   * Bytes of the shared strings' text kept for the sheet's cells, counted as two per UTF-16 code unit, the
   * most a JS string holds (their XML is streamed, bounded by
   * maxSheetBytes, and may be far larger than maxSmallPartBytes: Excel writes a 700,000-row list's IDs,
   * names and addresses there, some 80-100 MB of XML).
   */
  maxSharedStringBytes: number;
  /** Entries in the shared strings table (a 1,048,576-row list of a few text columns has some millions). */
  maxSharedStrings: number;
  /** Characters in one cell's text (Excel's own limit is 32,767). */
  maxTextChars: number;
  /** Cells in one row (Excel's own limit is 16,384 columns). */
  maxCellsPerRow: number;
  /** Cells in one sheet. */
  maxCells: number;
}

export const XLSX_LIMITS: XlsxLimits = {
  maxSheetBytes: 1024 * 1024 * 1024,
  maxSmallPartBytes: 64 * 1024 * 1024,
  maxSharedStringBytes: 192 * 1024 * 1024,
  maxSharedStrings: 6_000_000,
  maxTextChars: 32_767,
  maxCellsPerRow: 16_384,
  maxCells: 20_000_000,
};

/** Excel's last row. */
const MAX_ROW = 1_048_576;

/** A workbook problem, with where it is; the caller turns it into the file error the operator sees. */
export class XlsxError extends Error {
  constructor(
    message: string,
    readonly sheet?: string,
    readonly row?: number,
    readonly kind: 'damaged' | 'too-large' | 'invalid' = 'invalid',
  ) {
    super(message);
  }
}

export interface XlsxSheet {
  /** The tab's name as the clerk sees it. */
  name: string;
  /** hidden or veryHidden in workbook.xml: never read as the list. */
  hidden: boolean;
  /** The part's path in the zip (xl/worksheets/sheet2.xml). */
  path: string;
}

export interface XlsxRow {
  /** The row number Excel shows (1-based). */
  rowNo: number;
  cells: string[];
  /** By column: true where the cell was an Excel number (false or absent elsewhere). */
  numeric: boolean[];
  /** By column: true where the cell holds an error value (#N/A, #REF!...), usually a formula's result. */
  errors: boolean[];
}

/**
 * The zip's parts by name, found as the Open Packaging Conventions compare part names: as ASCII strings
 * without regard to case (ECMA-376 Part 2, 9.1.1.1.2). A part is looked up by its exact name first; only
 * when no part has it is the name matched without regard to case, so a workbook whose relationship names
 * `worksheets/Sheet1.xml` for the part `xl/worksheets/sheet1.xml` is read as Excel reads it. Which part is
 * meant cannot be known when a name the reader looks up is held twice with different contents (by a zip
 * that appends a part again) or, with no exact match, by two different parts alike but for case: `get`
 * refuses that as damaged. The same bytes twice (equal CRC-32 and size) leave nothing to choose, and parts
 * the reader never looks up (document properties, images, folder entries) may repeat without harm.
 */
class Entries {
  private readonly exact = new Map<string, yauzl.Entry[]>();
  private readonly folded = new Map<string, string[]>();
  private static fold(name: string): string {
    return name.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  }
  add(name: string, entry: yauzl.Entry): void {
    if (name.endsWith('/')) return; // a folder entry, not a part
    const same = this.exact.get(name);
    if (same) {
      same.push(entry);
      return;
    }
    this.exact.set(name, [entry]);
    const key = Entries.fold(name);
    const names = this.folded.get(key);
    if (names) names.push(name);
    else this.folded.set(key, [name]);
  }
  /** The entries a name could mean: its exact name's, else those of every name alike but for case. */
  private candidates(name: string): yauzl.Entry[] {
    const same = this.exact.get(name);
    if (same) return same;
    return (this.folded.get(Entries.fold(name)) ?? []).flatMap((n) => this.exact.get(n) ?? []);
  }
  /**
   * The part named `name`, undefined when there is none. Throws XlsxError ('damaged', naming `sheet` when
   * given) when the name could mean two entries of the zip.
   */
  get(name: string, sheet?: string): yauzl.Entry | undefined {
    const found = this.candidates(name);
    // byte for byte the same part twice (a zip tool that appended it again): there is nothing to choose
    const [first] = found;
    if (found.every((e) => e.crc32 === first!.crc32 && e.uncompressedSize === first!.uncompressedSize))
      return first;
    // a part's name is whatever the writing program chose: any long number (ASCII or full-width digits)
    // masked, then shortened, and a number the cut left partly shown dropped
    const shown = (n: string) => {
      const masked = maskLongDigits(n);
      return masked.length <= 120 ? masked : `${masked.slice(0, 120).replace(/[0-9０-９]+$/, '')}…`;
    };
    const [a, b] = [found[0]!.fileName, found[1]!.fileName];
    throw new XlsxError(
      a === b
        ? `the zip holds two parts named ${shown(a)} (the same name twice, so which one is meant cannot be known)`
        : `the zip holds two parts named ${shown(a)} and ${shown(b)} (part names do not differ by case)`,
      sheet,
      undefined,
      'damaged',
    );
  }
  has(name: string): boolean {
    return this.candidates(name).length > 0;
  }
  /** The largest inflated size a name could mean (0 when none): bounds without choosing between entries. */
  largestSize(name: string): number {
    return Math.max(0, ...this.candidates(name).map((e) => e.uncompressedSize));
  }
}

function local(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

function attr(tag: SaxesTagPlain, name: string): string | undefined {
  const a = tag.attributes;
  if (name in a) return a[name];
  for (const key of Object.keys(a)) if (local(key) === name) return a[key];
  return undefined;
}

/** "AB12" -> column 27 (0-based), row 12; the row is NaN when the reference has none. */
function cellRef(ref: string): { col: number; row: number } {
  let col = 0;
  let i = 0;
  for (; i < ref.length; i += 1) {
    const c = ref.charCodeAt(i);
    if (c >= 65 && c <= 90) col = col * 26 + (c - 64);
    else if (c >= 97 && c <= 122) col = col * 26 + (c - 96);
    else break;
  }
  return { col: col - 1, row: i < ref.length ? Number(ref.slice(i)) : NaN };
}

async function openStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream))),
  );
}

/**
 * A worksheet part inflated in 256 KiB pieces rather than zlib's default 16 KiB: a 700,000-row sheet is some
 * 300 MB of XML, and each piece costs a callback, a decode and a parser write. The inflated size is checked
 * against the zip's directory as yauzl checks it for its own streams (a mismatch is a damaged file).
 */
async function* sheetChunks(zip: yauzl.ZipFile, entry: yauzl.Entry): AsyncGenerator<Buffer> {
  if (entry.compressionMethod !== 8) {
    for await (const chunk of await openStream(zip, entry)) yield chunk as Buffer;
    return;
  }
  const raw = await new Promise<Readable>((resolve, reject) =>
    zip.openReadStream(entry, { decompress: false }, (err, stream) => (err ? reject(err) : resolve(stream))),
  );
  const inflate = createInflateRaw({ chunkSize: 256 * 1024 });
  raw.on('error', (e) => inflate.destroy(e));
  raw.pipe(inflate);
  let size = 0;
  try {
    for await (const chunk of inflate) {
      size += (chunk as Buffer).length;
      if (size > entry.uncompressedSize)
        throw new Error(
          `too many bytes in the stream: expected ${entry.uncompressedSize}, got at least ${size}`,
        );
      yield chunk as Buffer;
    }
  } finally {
    raw.unpipe(inflate);
    raw.destroy();
    inflate.destroy();
  }
  if (size !== entry.uncompressedSize)
    throw new Error(`not enough bytes in the stream: expected ${entry.uncompressedSize}, got only ${size}`);
}

const DECODE_STEP = 64 * 1024;

/** Shared strings a bomb-like table may hold beyond what its workbook's cells could name (see `strings`). */
const SPARE_SHARED_STRINGS = 10_000;

/**
 * A shared strings part inflating more than this many times its compressed size is bounded by the count of
 * strings its workbook's cells could name (see `strings`); text, even IDs and names repeated in pattern,
 * deflates some 3-10 to 1, a bomb of tiny repeated strings some 350-1,000 to 1.
 */
const BOMB_INFLATION = 100;

/**
 * Decodes an inflated piece and hands it to the parser 64 KiB at a time. A decoded string of 128 KiB or more
 * is a large object to V8: one alive while the parser works on it (as it always is when a young-generation
 * collection comes) is moved to the old generation whole and freed only by a full collection, so a 256 KiB
 * piece at a time left up to some 150 MB of read XML in the heap between full collections.
 */
function writeDecoded(p: SaxesParser, decoder: StringDecoder, buf: Buffer) {
  if (buf.length <= DECODE_STEP) {
    p.write(decoder.write(buf));
    return;
  }
  for (let at = 0; at < buf.length; at += DECODE_STEP)
    p.write(decoder.write(buf.subarray(at, at + DECODE_STEP)));
}

/** Resolves a relationship target against the part that holds it (xl/workbook.xml). */
function resolveTarget(base: string, target: string): string {
  if (target.startsWith('/')) return target.slice(1);
  const parts = base.split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}

export class XlsxWorkbook {
  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly entries: Entries,
    readonly sheets: XlsxSheet[],
    private readonly sharedStringsPath: string | undefined,
    private readonly limits: XlsxLimits,
  ) {}

  private sharedStrings: SharedStrings | undefined;
  /** Each sheet's merged ranges, found once: the header search and the list's read share them. */
  private readonly mergesFound = new Map<string, Merge[]>();

  /**
   * Opens a workbook from its bytes: the zip's directory, workbook.xml (tab order, names, visibility) and
   * its relationships. Throws XlsxError (kind 'damaged') when the zip or the workbook part is unreadable.
   */
  static async open(bytes: Buffer, limits: XlsxLimits = XLSX_LIMITS): Promise<XlsxWorkbook> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.fromBufferPromise(bytes, { lazyEntries: true, validateEntrySizes: true });
    } catch (error) {
      throw new XlsxError(
        `not a readable zip (${(error as Error).message})`,
        undefined,
        undefined,
        'damaged',
      );
    }
    const entries = new Entries();
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          entries.add(entry.fileName.replace(/\\/g, '/').replace(/^\//, ''), entry);
        } catch (error) {
          zip.close();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        zip.readEntry();
      });
      zip.on('end', () => resolve());
      zip.on('error', (e: Error) =>
        reject(new XlsxError(`the zip is damaged (${e.message})`, undefined, undefined, 'damaged')),
      );
      zip.readEntry();
    });
    const book = new XlsxWorkbook(zip, entries, [], undefined, limits);
    const workbookPath = await book.officeDocumentPath();
    const workbookXml = await book.smallPart(workbookPath);
    if (workbookXml === undefined)
      throw new XlsxError(`the workbook part ${workbookPath} is missing`, undefined, undefined, 'damaged');
    const relsPath = workbookPath.replace(/[^/]*$/, (n) => `_rels/${n}.rels`);
    const rels = new Map<string, { target: string; type: string }>();
    const relsXml = (await book.smallPart(relsPath)) ?? '';
    parseXml(relsXml, (tag) => {
      if (local(tag.name) === 'Relationship') {
        const id = attr(tag, 'Id');
        const target = attr(tag, 'Target');
        if (id && target)
          rels.set(id, { target: resolveTarget(workbookPath, target), type: attr(tag, 'Type') ?? '' });
      }
    });
    const sheets: XlsxSheet[] = [];
    parseXml(workbookXml, (tag) => {
      if (local(tag.name) !== 'sheet') return;
      const rid = attr(tag, 'id');
      const state = attr(tag, 'state');
      const path = rid ? rels.get(rid)?.target : undefined;
      sheets.push({
        name: attr(tag, 'name') ?? `sheet ${sheets.length + 1}`,
        hidden: state === 'hidden' || state === 'veryHidden',
        path: path ?? '',
      });
    });
    const sst = [...rels.values()].find((r) => r.type.endsWith('/sharedStrings'))?.target;
    return new XlsxWorkbook(
      zip,
      entries,
      sheets,
      sst ?? (entries.has('xl/sharedStrings.xml') ? 'xl/sharedStrings.xml' : undefined),
      limits,
    );
  }

  close(): void {
    this.zip.close();
  }

  /** The workbook part named by the package's root relationships (xl/workbook.xml as Excel writes it). */
  private async officeDocumentPath(): Promise<string> {
    let path = 'xl/workbook.xml';
    parseXml((await this.smallPart('_rels/.rels')) ?? '', (tag) => {
      const type = attr(tag, 'Type') ?? '';
      const target = attr(tag, 'Target');
      if (local(tag.name) === 'Relationship' && type.endsWith('/officeDocument') && target)
        path = resolveTarget('', target);
    });
    return path;
  }

  /** A small part's text, refused past maxSmallPartBytes (checked on the directory's size and while read). */
  private async smallPart(path: string): Promise<string | undefined> {
    const entry = this.entries.get(path);
    if (!entry) return undefined;
    if (entry.uncompressedSize > this.limits.maxSmallPartBytes)
      throw new XlsxError(
        `${path} inflates to ${entry.uncompressedSize} bytes, more than ${this.limits.maxSmallPartBytes}`,
        undefined,
        undefined,
        'too-large',
      );
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of await openStream(this.zip, entry)) {
        size += (chunk as Buffer).length;
        if (size > this.limits.maxSmallPartBytes)
          throw new XlsxError(`${path} inflates past its bound`, undefined, undefined, 'too-large');
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      if (error instanceof XlsxError) throw error;
      throw new XlsxError(
        `${path} is damaged (${(error as Error).message})`,
        undefined,
        undefined,
        'damaged',
      );
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Inflated bytes of the workbook's worksheets, as the zip's directory gives them (checked while read). */
  private sheetBytes(): number {
    let bytes = 0;
    for (const sheet of this.sheets) bytes += this.entries.largestSize(sheet.path);
    return bytes;
  }

  /**
   * The shared strings table, streamed: its XML is inflated in pieces and parsed as it comes (never held
   * whole), and the strings' texts kept joined in pieces of 4,096 with where each ends (SharedStrings), so
   * the table of a 700,000-row list costs its text's bytes, not a JS string per entry. Throws XlsxError past
   * maxSheetBytes of XML, maxSharedStringBytes of text or maxTextChars in one string.
   */
  private async strings(): Promise<SharedStrings> {
    if (this.sharedStrings) return this.sharedStrings;
    const limits = this.limits;
    const path = this.sharedStringsPath;
    const entry = path ? this.entries.get(path) : undefined;
    // How many strings the workbook's cells could name: a cell naming one is at least `<c t="s"><v>0</v></c>`,
    // 21 bytes of its sheet, so the worksheets' bytes / 21, plus SPARE_SHARED_STRINGS. It bounds only a table
    // that inflates like a bomb (BOMB_INFLATION): a few hundred KB inflating to millions of tiny strings is
    // refused in milliseconds, not after its millions are read. Programs that write with Apache POI never
    // remove a string from the table (a county list split per town, a template cleared and refilled), so a
    // real table may hold many strings no cell names, but its text compresses as text does (some 3-10 to 1).
    // A real 700,000-row list's sheet, some 300 MB, would allow 14 million, past maxSharedStrings.
    const bombLike =
      entry !== undefined && entry.uncompressedSize > BOMB_INFLATION * Math.max(entry.compressedSize, 1);
    const sheetBytes = bombLike ? this.sheetBytes() : 0;
    const referable = bombLike
      ? Math.floor(sheetBytes / 21) + SPARE_SHARED_STRINGS
      : Number.POSITIVE_INFINITY;
    const table = new SharedStrings(
      limits.maxSharedStringBytes,
      Math.min(limits.maxSharedStrings, referable),
      referable < limits.maxSharedStrings
        ? `, more than the cells of the workbook's sheets (${sheetBytes} bytes of XML) could refer to, in a table that inflates more than ${BOMB_INFLATION} times (a zip bomb, not a list)`
        : '',
    );
    if (path && entry) {
      if (entry.uncompressedSize > limits.maxSheetBytes)
        throw new XlsxError(
          `${path} inflates to ${entry.uncompressedSize} bytes, more than ${limits.maxSheetBytes}`,
          undefined,
          undefined,
          'too-large',
        );
      const p = new SaxesParser({ xmlns: false, position: false });
      let text = '';
      let inT = false;
      let phonetic = 0;
      let fed = 0;
      let lastTagAt = 0;
      p.on('opentag', (tag) => {
        lastTagAt = fed;
        const n = local(tag.name);
        if (n === 'si') text = '';
        else if (n === 't') inT = phonetic === 0;
        else if (n === 'rPh') phonetic += 1;
      });
      p.on('text', (t) => {
        if (!inT) return;
        text += t;
        if (text.length > limits.maxTextChars)
          throw new XlsxError(
            `shared string ${table.length} holds more than ${limits.maxTextChars} characters, more than a cell may hold`,
          );
      });
      p.on('closetag', (tag) => {
        lastTagAt = fed;
        const n = local(tag.name);
        if (n === 't') inT = false;
        else if (n === 'rPh') phonetic -= 1;
        else if (n === 'si') table.push(text);
      });
      const decoder = new StringDecoder('utf8');
      const chunks = sheetChunks(this.zip, entry);
      try {
        for await (const buf of chunks) {
          fed += buf.length;
          writeDecoded(p, decoder, buf);
          if (fed - lastTagAt > limits.maxTextChars * 4 + 65536)
            throw new XlsxError(
              `${path}: more than ${limits.maxTextChars} characters without a tag: not a table of cell texts`,
              undefined,
              undefined,
              'too-large',
            );
        }
        const rest = decoder.end();
        if (rest) p.write(rest);
        p.close();
        table.finish();
      } catch (error) {
        if (error instanceof XlsxError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        throw /inflat|zip|size|bytes in the stream/i.test(message)
          ? new XlsxError(`${path} is damaged (${message.slice(0, 160)})`, undefined, undefined, 'damaged')
          : new XlsxError(`the shared strings are not well-formed XML (${message.slice(0, 160)})`);
      } finally {
        await chunks.return(undefined);
      }
    }
    this.sharedStrings = table;
    return table;
  }

  /**
   * The merged ranges of a sheet (mergeCells follows sheetData, so a first pass finds them). The pass looks
   * for the bytes `mergeCell` in the inflated part and decodes text only around them: most lists have no
   * merged cell, and decoding and matching every chunk of a 700,000-row sheet cost more than inflating it.
   */
  private async merges(sheet: XlsxSheet, entry: yauzl.Entry): Promise<Merge[]> {
    const known = this.mergesFound.get(sheet.path);
    // each read fills the ranges' values afresh
    if (known) return known.map((m) => ({ ...m, value: undefined }));
    const merges: Merge[] = [];
    const pattern = /<(?:\w+:)?mergeCell\s[^>]*?ref\s*=\s*["']([A-Za-z]+\d+):([A-Za-z]+\d+)["']/g;
    const needle = Buffer.from('mergeCell', 'latin1');
    let tail = '';
    let tailBytes: Buffer = Buffer.alloc(0);
    for await (const buf of sheetChunks(this.zip, entry)) {
      if (!tail) {
        // nothing pending: skip the chunk unless it (with the previous chunk's last bytes) names a merge
        const edge = tailBytes.length ? Buffer.concat([tailBytes, buf.subarray(0, 16)]) : undefined;
        if (buf.indexOf(needle) < 0 && !(edge && edge.indexOf(needle) >= 0)) {
          tailBytes = buf.subarray(Math.max(0, buf.length - 200));
          continue;
        }
        tail = tailBytes.toString('latin1');
      }
      const text = tail + buf.toString('latin1');
      let last = 0;
      for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
        const a = cellRef(m[1]!);
        const b = cellRef(m[2]!);
        merges.push({
          r1: Math.min(a.row, b.row),
          r2: Math.max(a.row, b.row),
          c1: Math.min(a.col, b.col),
          c2: Math.max(a.col, b.col),
          value: undefined,
        });
        last = pattern.lastIndex;
        if (merges.length > 100_000)
          throw new XlsxError('more than 100,000 merged ranges', sheet.name, undefined, 'too-large');
      }
      // a tag cut by the chunk's end is found with the next chunk
      const keepFrom = Math.max(last, text.length - 200);
      tail = text.slice(keepFrom);
      tailBytes = Buffer.alloc(0);
    }
    this.mergesFound.set(
      sheet.path,
      merges.map((m) => ({ ...m })),
    );
    return merges;
  }

  /**
   * The rows of a sheet in batches (one batch per inflated chunk), as they are stored; row numbers are
   * Excel's. `maxRow` stops reading once a row past it is met (the header search reads the first rows only).
   * Throws XlsxError naming the sheet and row for a file that breaks a bound or Excel's own limits.
   */
  async *rows(sheet: XlsxSheet, options: { maxRow?: number } = {}): AsyncGenerator<XlsxRow[]> {
    const entry = this.entries.get(sheet.path, sheet.name);
    if (!entry)
      throw new XlsxError(`the sheet's part ${sheet.path} is missing`, sheet.name, undefined, 'damaged');
    const limits = this.limits;
    if (entry.uncompressedSize > limits.maxSheetBytes)
      throw new XlsxError(
        `the sheet inflates to ${entry.uncompressedSize} bytes, more than ${limits.maxSheetBytes}`,
        sheet.name,
        undefined,
        'too-large',
      );
    // the merge pass inflates the sheet (zlib works on libuv's threads) while the shared strings are parsed
    const [sst, merges] = await Promise.all([this.strings(), this.merges(sheet, entry)]);
    const mergesByRow = new Map<number, Merge[]>();
    let covered = 0;
    for (const m of merges) {
      covered += m.r2 - m.r1 + 1;
      if (covered > 2_000_000)
        throw new XlsxError('merged ranges span too many rows', sheet.name, undefined, 'too-large');
      for (let r = m.r1; r <= m.r2; r += 1) {
        const list = mergesByRow.get(r);
        if (list) list.push(m);
        else mergesByRow.set(r, [m]);
      }
    }

    const seen = new Uint8Array((MAX_ROW >> 3) + 1);
    let out: XlsxRow[] = [];
    let row: XlsxRow | undefined;
    let lastRowNo = 0;
    let col = -1;
    let cellType = 'n';
    let cellsInSheet = 0;
    let inValue = false;
    let inInline = false;
    let phonetic = 0;
    let inSheetData = false;
    let valueText = '';
    let hasValue = false;
    let stop = false;
    let lastTagAt = 0;
    let fed = 0;
    const fail = (message: string, at?: number, kind: XlsxError['kind'] = 'invalid'): never => {
      throw new XlsxError(message, sheet.name, at, kind);
    };
    const endRow = () => {
      if (!row) return;
      const list = mergesByRow.get(row.rowNo);
      if (list) fillMerged(row, list);
      out.push(row);
      row = undefined;
    };
    const openRow = (tag: SaxesTagPlain) => {
      const r = tag.attributes.r ?? attr(tag, 'r');
      const rowNo = r === undefined ? lastRowNo + 1 : Number(r);
      if (!Number.isInteger(rowNo) || rowNo < 1 || rowNo > MAX_ROW)
        fail(`row number "${String(r).slice(0, 12)}" is outside 1..${MAX_ROW}`, undefined);
      if (seen[rowNo >> 3]! & (1 << (rowNo & 7))) fail(`row ${rowNo} appears twice in the sheet`, rowNo);
      seen[rowNo >> 3]! |= 1 << (rowNo & 7);
      if (options.maxRow !== undefined && rowNo > options.maxRow) {
        stop = true;
        return;
      }
      lastRowNo = rowNo;
      row = { rowNo, cells: [], numeric: [], errors: [] };
      col = -1;
    };
    const openCell = (tag: SaxesTagPlain) => {
      if (!row) return;
      const r = tag.attributes.r ?? attr(tag, 'r');
      if (r !== undefined) {
        // the reference read in place: its letters are the column, what follows them the row
        let c = 0;
        let i = 0;
        const length = r.length;
        for (; i < length; i += 1) {
          const ch = r.charCodeAt(i);
          if (ch >= 65 && ch <= 90) c = c * 26 + (ch - 64);
          else if (ch >= 97 && ch <= 122) c = c * 26 + (ch - 96);
          else break;
        }
        if (i < length) {
          let refRow = 0;
          let j = i;
          for (; j < length; j += 1) {
            const d = r.charCodeAt(j) - 48;
            if (d < 0 || d > 9) break;
            refRow = refRow * 10 + d;
          }
          // anything but plain digits is read as a number would be (a row that is no number is not checked)
          if (j < length) refRow = Number(r.slice(i));
          if (!Number.isNaN(refRow) && refRow !== row.rowNo)
            fail(`cell ${r.slice(0, 12)} is stored in row ${row.rowNo}`, row.rowNo);
        }
        col = c - 1;
      } else col += 1;
      if (col < 0 || col >= limits.maxCellsPerRow)
        fail(
          `a cell lies past column ${limits.maxCellsPerRow}${r === undefined ? '' : ` (${r.slice(0, 12)})`}`,
          row.rowNo,
          'too-large',
        );
      cellsInSheet += 1;
      if (cellsInSheet > limits.maxCells)
        fail(`the sheet holds more than ${limits.maxCells} cells`, row.rowNo, 'too-large');
      cellType = tag.attributes.t ?? attr(tag, 't') ?? 'n';
      valueText = '';
      hasValue = false;
    };
    const closeCell = () => {
      if (!row || !hasValue) return;
      let text = valueText;
      let numeric = false;
      let error = false;
      if (cellType === 's') {
        const s = sst.get(Number(valueText));
        if (s === undefined)
          fail(`a cell refers to shared string ${valueText.slice(0, 12)}, which does not exist`, row.rowNo);
        text = s ?? '';
      } else if (cellType === 'n') {
        const v = Number(valueText);
        if (valueText.trim() !== '' && Number.isFinite(v)) {
          text = Number.isInteger(v) ? v.toFixed(0) : String(v);
          numeric = true;
        }
      } else if (cellType === 'b') text = valueText === '1' ? 'TRUE' : 'FALSE';
      else if (cellType === 'e') error = true;
      else if (cellType === 'd') text = valueText.slice(0, 10);
      // 'str' (a formula's text result) and 'inlineStr' are the text itself
      const cells = row.cells;
      if (col < cells.length) cells[col] = text;
      else {
        while (cells.length < col) cells.push('');
        cells.push(text);
      }
      // the flags are set where true (a cell stored twice in one place takes the last one's; an index past
      // an array's end is never read, which costs V8 a slow lookup)
      if (numeric) row.numeric[col] = true;
      else if (col < row.numeric.length && row.numeric[col]) row.numeric[col] = false;
      if (error) row.errors[col] = true;
      else if (col < row.errors.length && row.errors[col]) row.errors[col] = false;
    };
    // the names of the elements as SpreadsheetML writes them; a prefixed name (x:c) is read by its local part
    const nameOf = (name: string) => (name.length > 1 && name.includes(':') ? local(name) : name);
    // no line and column tracking: errors name the sheet and row, and tracking cost a tenth of the parse
    const p = new SaxesParser({ xmlns: false, position: false });
    p.on('opentag', (tag) => {
      lastTagAt = fed;
      const n = nameOf(tag.name);
      if (!inSheetData) {
        if (n === 'sheetData') inSheetData = true;
        return;
      }
      if (n === 'v') {
        inValue = true;
        valueText = '';
      } else if (n === 'c') openCell(tag);
      else if (n === 'row') openRow(tag);
      else if (n === 'is') {
        inInline = true;
        valueText = '';
      } else if (n === 't') {
        if (inInline) inValue = phonetic === 0;
      } else if (n === 'rPh') phonetic += 1;
    });
    p.on('text', (t) => {
      if (inValue) {
        valueText += t;
        if (valueText.length > limits.maxTextChars)
          fail(`a cell holds more than ${limits.maxTextChars} characters`, row?.rowNo, 'too-large');
      }
    });
    p.on('closetag', (tag) => {
      lastTagAt = fed;
      if (!inSheetData) return;
      const n = nameOf(tag.name);
      if (n === 'v') {
        inValue = false;
        hasValue = true;
      } else if (n === 'c') closeCell();
      else if (n === 'row') endRow();
      else if (n === 't') {
        if (inInline) inValue = false;
      } else if (n === 'rPh') phonetic -= 1;
      else if (n === 'is') {
        inInline = false;
        hasValue = true;
      } else if (n === 'sheetData') {
        endRow();
        inSheetData = false;
      }
    });

    // a character cut by a piece's end is decoded with the next piece (Node's StringDecoder carries it
    // over; it took half the CPU of TextDecoder's streaming decode)
    const decoder = new StringDecoder('utf8');
    const chunks = sheetChunks(this.zip, entry);
    try {
      for await (const inflated of chunks) {
        // parsed and handed on 64 KiB at a time (see writeDecoded): the rows of one step, a few hundred,
        // are all that is alive of them when V8 collects its young generation, and what is alive then is
        // moved to the old generation, to be freed only by a full collection
        for (let at = 0; at < inflated.length && !stop; at += DECODE_STEP) {
          const buf = inflated.length <= DECODE_STEP ? inflated : inflated.subarray(at, at + DECODE_STEP);
          fed += buf.length;
          p.write(decoder.write(buf));
          if (fed - lastTagAt > limits.maxTextChars * 4 + 65536)
            fail(
              `more than ${limits.maxTextChars} characters without a tag: not a worksheet a cell can hold`,
              row?.rowNo,
              'too-large',
            );
          if (out.length) {
            // rows stored out of order are given in the order stored; the caller keeps each row's number
            const batch = out;
            out = [];
            yield batch;
          }
        }
        if (stop) break;
      }
      if (!stop) {
        const rest = decoder.end();
        if (rest) p.write(rest);
        p.close();
      }
      endRow();
      if (out.length) yield out;
    } catch (error) {
      if (error instanceof XlsxError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new XlsxError(
        /invalid|unexpected|expected|disallowed|unclosed|xml/i.test(message) &&
          !/inflat|zip|size/i.test(message)
          ? `the sheet is not well-formed XML (${message.slice(0, 160)})`
          : `the sheet cannot be read (${message.slice(0, 160)})`,
        sheet.name,
        row?.rowNo,
        'damaged',
      );
    } finally {
      await chunks.return(undefined);
    }
  }
}

/**
 * A shared strings table kept compact and cheap to read: the texts of each run of 4,096 consecutive strings
 * joined into one flat JS string (a piece), and where each string ends in its piece (4 bytes a string, in
 * one array per piece, so the table never copies a growing array). `get` slices its piece:
 * no decoding per cell (a 700,000-row list has millions of text cells, and decoding each from UTF-8 cost
 * more CPU than any other step of the cell's handling), and no JS string per entry (some 40-60 bytes of heap
 * beside its text, for millions of IDs, names and addresses). A piece holds its text as V8 does, one byte per
 * character when it is all Latin-1 and two otherwise; the bound counts two bytes per character.
 */
export class SharedStrings {
  private static readonly PIECE_SHIFT = 12;
  private static readonly PIECE_SIZE = 1 << SharedStrings.PIECE_SHIFT;
  private readonly pieces: string[] = [];
  /** Where each string of a piece ends in it, one array per piece (the last one being built). */
  private readonly ends: Uint32Array[] = [];
  /** The texts of the piece being built, joined into one string once it has 4,096 of them (or at `seal`). */
  private open: string[] = [];
  private openChars = 0;
  private count = 0;
  private bytes = 0;
  private finished = false;

  /**
   * The most bytes of text held (two per UTF-16 code unit) and strings: XlsxError 'too-large' past either,
   * the count's message ending with `countReason` (why the bound is what it is, when it is not the limit).
   */
  constructor(
    private readonly maxBytes: number,
    private readonly maxCount: number,
    private readonly countReason = '',
  ) {}

  get length(): number {
    return this.count;
  }

  /** Adds the next string of the table. Throws XlsxError past a bound, and Error once the table is finished. */
  push(text: string): void {
    if (this.finished) throw new Error('the shared strings table was finished: no string can follow');
    if (this.count >= this.maxCount)
      throw new XlsxError(
        `the shared strings hold more than ${this.maxCount} strings${this.countReason}`,
        undefined,
        undefined,
        'too-large',
      );
    this.bytes += text.length * 2;
    if (this.bytes > this.maxBytes)
      throw new XlsxError(
        `the shared strings hold more than ${this.maxBytes} bytes of text`,
        undefined,
        undefined,
        'too-large',
      );
    const at = this.count & (SharedStrings.PIECE_SIZE - 1);
    if (at === 0) this.ends.push(new Uint32Array(SharedStrings.PIECE_SIZE));
    this.open.push(text);
    this.openChars += text.length;
    this.ends[this.ends.length - 1]![at] = this.openChars;
    this.count += 1;
    if (at === SharedStrings.PIECE_SIZE - 1) this.seal();
  }

  /**
   * The table is read: the last piece is joined, and no string may follow (every piece but the last holds
   * 4,096 strings, which is how `get` finds a string's piece).
   */
  finish(): void {
    this.seal();
    this.finished = true;
  }

  /**
   * Joins the piece being built (the texts it holds may be slices of the XML's decoded chunks: joined, they
   * hold only their own characters and let the chunks go): when it is full, and at `finish`.
   */
  private seal(): void {
    if (!this.open.length) return;
    this.pieces.push(this.open.join(''));
    this.open = [];
    this.openChars = 0;
  }

  /** The string at `index` (0-based, as a cell's `<v>` names it), undefined when there is none. */
  get(index: number): string | undefined {
    if (!(index >= 0 && index < this.count) || !Number.isInteger(index)) return undefined;
    const pieceNo = index >>> SharedStrings.PIECE_SHIFT;
    const piece = this.pieces[pieceNo];
    if (piece === undefined) return undefined; // not sealed yet: only while the table is still being read
    const ends = this.ends[pieceNo]!;
    const at = index & (SharedStrings.PIECE_SIZE - 1);
    return piece.slice(at === 0 ? 0 : ends[at - 1], ends[at]);
  }
}

interface Merge {
  r1: number;
  r2: number;
  c1: number;
  c2: number;
  value: { text: string; numeric: boolean; error: boolean } | undefined;
}

/** Gives a merged range's top-left value to every cell of the range in this row. */
function fillMerged(row: XlsxRow, merges: Merge[]) {
  for (const m of merges) {
    if (row.rowNo === m.r1) {
      m.value = {
        text: row.cells[m.c1] ?? '',
        numeric: row.numeric[m.c1] ?? false,
        error: row.errors[m.c1] ?? false,
      };
    }
    const v = m.value;
    if (!v || v.text === '') continue;
    for (let c = m.c1; c <= m.c2; c += 1) {
      while (row.cells.length <= c) row.cells.push('');
      if (row.cells[c] === '') {
        row.cells[c] = v.text;
        if (v.numeric || (c < row.numeric.length && row.numeric[c])) row.numeric[c] = v.numeric;
        if (v.error || (c < row.errors.length && row.errors[c])) row.errors[c] = v.error;
      }
    }
  }
}

/** Parses a small XML part whole, calling `onTag` for each element opened. */
function parseXml(xml: string, onTag: (tag: SaxesTagPlain) => void) {
  const p = new SaxesParser();
  p.on('opentag', onTag);
  try {
    p.write(xml).close();
  } catch (error) {
    throw new XlsxError(
      `a workbook part is not well-formed XML (${(error as Error).message})`,
      undefined,
      undefined,
      'damaged',
    );
  }
}
