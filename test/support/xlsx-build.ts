/**
 * Workbooks built part by part, as other programs write them (WPS, government systems' exports, openpyxl):
 * the test chooses the sheets' order and visibility, where sharedStrings.xml goes in the zip, inline or
 * shared strings, merged ranges, row numbers as stored. A small zip writer (deflate from node:zlib) puts the
 * parts in exactly the order given.
 */
import { constants, crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';

export interface ZipPart {
  name: string;
  /** The part's bytes, or chunks streamed through deflate (for parts far larger than memory should hold). */
  data: Buffer | { repeat: Buffer; times: number; before?: Buffer; after?: Buffer };
}

async function deflatePart(part: ZipPart): Promise<{ compressed: Buffer; crc: number; size: number }> {
  if (Buffer.isBuffer(part.data)) {
    return { compressed: deflateRawSync(part.data), crc: crc32(part.data), size: part.data.length };
  }
  const { repeat, times, before = Buffer.alloc(0), after = Buffer.alloc(0) } = part.data;
  const z = createDeflateRaw({ level: constants.Z_BEST_COMPRESSION });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => z.on('end', resolve));
  let crc = crc32(before);
  z.write(before);
  for (let i = 0; i < times; i += 1) {
    crc = crc32(repeat, crc);
    if (!z.write(repeat)) await new Promise((r) => z.once('drain', r));
  }
  crc = crc32(after, crc);
  z.end(after);
  await done;
  return { compressed: Buffer.concat(out), crc, size: before.length + repeat.length * times + after.length };
}

/** A zip of the parts, in the order given. */
export async function zip(parts: ZipPart[]): Promise<Buffer> {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const { compressed, crc, size } = await deflatePart(part);
    const name = Buffer.from(part.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x0800, 8);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt16LE(0, 12);
    dir.writeUInt16LE(0x21, 14);
    dir.writeUInt32LE(crc >>> 0, 16);
    dir.writeUInt32LE(compressed.length, 20);
    dir.writeUInt32LE(size, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    central.push(dir, name);
    offset += local.length + name.length + compressed.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralBytes, end]);
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A cell: text, a number, or one of the other kinds a sheet stores. */
export type BuildCell =
  | string
  | number
  | null
  | { inline: string }
  | { rich: string[] }
  | { formula: string; error: string }
  | { formula: string; text: string };

export interface BuildSheet {
  name: string;
  hidden?: boolean;
  /** Rows from row 1, or with their own numbers ([rowNo, cells]); stored in the order given. */
  rows: (BuildCell[] | [number, BuildCell[]])[];
  merges?: string[];
}

export interface BuildOptions {
  /** Where sharedStrings.xml goes: before the sheets (as Excel writes it) or after them (exceljs#683). */
  sharedStrings?: 'first' | 'last';
}

const column = (i: number): string => {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
};

/** The sheet's XML, its strings added to the shared table `sst`. */
export function sheetXml(sheet: BuildSheet, sst: string[]): string {
  const rows = sheet.rows.map((r, i) =>
    typeof r[0] === 'number' && Array.isArray(r[1])
      ? (r as [number, BuildCell[]])
      : ([i + 1, r as BuildCell[]] as const),
  );
  const body = rows
    .map(([rowNo, cells]) => {
      const cs = cells
        .map((c, j) => {
          const ref = `${column(j)}${rowNo}`;
          if (c === null || c === '') return '';
          if (typeof c === 'number') return `<c r="${ref}"><v>${c}</v></c>`;
          if (typeof c === 'string') {
            sst.push(c);
            return `<c r="${ref}" t="s"><v>${sst.length - 1}</v></c>`;
          }
          if ('inline' in c) return `<c r="${ref}" t="inlineStr"><is><t>${esc(c.inline)}</t></is></c>`;
          if ('rich' in c)
            return `<c r="${ref}" t="inlineStr"><is>${c.rich.map((t) => `<r><rPr><b/></rPr><t xml:space="preserve">${esc(t)}</t></r>`).join('')}</is></c>`;
          if ('error' in c) return `<c r="${ref}" t="e"><f>${esc(c.formula)}</f><v>${esc(c.error)}</v></c>`;
          return `<c r="${ref}" t="str"><f>${esc(c.formula)}</f><v>${esc(c.text)}</v></c>`;
        })
        .join('');
      return `<row r="${rowNo}">${cs}</row>`;
    })
    .join('');
  const merges = sheet.merges?.length
    ? `<mergeCells count="${sheet.merges.length}">${sheet.merges.map((m) => `<mergeCell ref="${m}"/>`).join('')}</mergeCells>`
    : '';
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>${body}</sheetData>${merges}</worksheet>`;
}

const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

/** The package parts of a workbook with these sheets (the sheet parts numbered in reverse, as some tools do). */
export function workbookParts(sheets: BuildSheet[], options: BuildOptions = {}): ZipPart[] {
  const sst: string[] = [];
  const n = sheets.length;
  const sheetParts = sheets.map((s, i) => ({
    name: `xl/worksheets/sheet${n - i}.xml`,
    data: Buffer.from(sheetXml(s, sst)),
  }));
  const sstXml = `<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${sst.length}" uniqueCount="${sst.length}">${sst.map((s) => `<si><t xml:space="preserve">${esc(s)}</t></si>`).join('')}</sst>`;
  const workbook = `<?xml version="1.0" encoding="UTF-8"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="${REL}"><sheets>${sheets
    .map(
      (s, i) =>
        `<sheet name="${esc(s.name)}" sheetId="${i + 1}" r:id="rId${i + 1}"${s.hidden ? ' state="hidden"' : ''}/>`,
    )
    .join('')}</sheets></workbook>`;
  const rels = `<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${sheets
    .map(
      (_, i) =>
        `<Relationship Id="rId${i + 1}" Type="${REL}/worksheet" Target="worksheets/sheet${n - i}.xml"/>`,
    )
    .join(
      '',
    )}<Relationship Id="rId${n + 1}" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`;
  const contentTypes = `<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>${sheetParts
    .map(
      (p) =>
        `<Override PartName="/${p.name}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`,
    )
    .join(
      '',
    )}<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`;
  const rootRels = `<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`;
  const head: ZipPart[] = [
    { name: '[Content_Types].xml', data: Buffer.from(contentTypes) },
    { name: '_rels/.rels', data: Buffer.from(rootRels) },
    { name: 'xl/workbook.xml', data: Buffer.from(workbook) },
    { name: 'xl/_rels/workbook.xml.rels', data: Buffer.from(rels) },
  ];
  const sstPart = { name: 'xl/sharedStrings.xml', data: Buffer.from(sstXml) };
  return options.sharedStrings === 'last'
    ? [...head, ...sheetParts, sstPart]
    : [...head, sstPart, ...sheetParts];
}

/** An .xlsx with these sheets, its parts in the order the options say. */
export async function buildXlsx(sheets: BuildSheet[], options: BuildOptions = {}): Promise<Buffer> {
  return zip(workbookParts(sheets, options));
}
