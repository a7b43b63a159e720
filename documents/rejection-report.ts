/**
 * The rejection report a department can fix and resend: its own rows that were rejected, in the format,
 * encoding and delimiter it sent (xlsx, or CSV in UTF-8, GBK or UTF-16), with its own header and three more
 * columns: the field at fault (错误字段), the reason (错误原因) and the row number the clerk sees in Excel
 * (原表行号).
 *
 * A 700,000-row list can be rejected almost whole, so the report streams: the stored file is read row by
 * row, the verdicts are read from the ledger a page at a time in row order, and the two are merged as they
 * go into the output stream. Memory stays the size of a page, whatever the size of the list.
 */
import { LIST_ACTION_NAMES, reasonText, zh } from '../domain/words';
import { createWriteStream, readFileSync } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { columnLetter, footerLines, unitOf, type Filing } from './filing';
import { headerFields } from '../lists/import-list';
import {
  csvFieldIn,
  decodeText,
  detectDelimiter,
  detectFile,
  encodeText,
  openListTable,
} from '../lists/list-files';

const VERDICT_PAGE = 10_000;

export interface RejectionReportInfo {
  format: 'xlsx' | 'csv';
  rows: number;
  fileName: string;
}

/** The report as bytes (for a caller that sends it on); built from the same stream as the file. */
export async function rejectionReport(
  pool: pg.Pool,
  submissionId: number,
): Promise<RejectionReportInfo & { bytes: Buffer }> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const info = await streamRejectionReport(pool, submissionId, sink);
  await finished(sink);
  return { ...info, bytes: Buffer.concat(chunks) };
}

/** The report written to a file, never held in memory whole. */
export async function writeRejectionReport(
  pool: pg.Pool,
  submissionId: number,
  path: string,
): Promise<RejectionReportInfo> {
  const file = createWriteStream(path);
  const closed = once(file, 'close');
  try {
    const info = await streamRejectionReport(pool, submissionId, file);
    await closed;
    return info;
  } catch (error) {
    file.destroy();
    throw error;
  }
}

/**
 * The rejection report an auditor reads: UTF-8 CSV of the rejected rows from `audit.submission_rows` (ID
 * masked 440783********0015, no name, address or phone): 行号, 公民身份号码, 类别, 变动, 错误字段, 错误原因.
 * Returns the rows written; throws if the submission is not visible to the reader.
 */
export async function writeMaskedRejections(
  pool: pg.Pool,
  submissionId: number,
  path: string,
): Promise<number> {
  const s = await pool.query('SELECT 1 FROM submissions WHERE id = $1', [submissionId]);
  if (!s.rowCount) throw new Error(`submission ${submissionId} not found`);
  const file = createWriteStream(path);
  const closed = once(file, 'close');
  let rows = 0;
  try {
    await put(
      file,
      Buffer.from(`${['行号', '公民身份号码', '类别', '变动', '错误字段', '错误原因'].join(',')}\r\n`),
    );
    let after = 0;
    for (;;) {
      const page = await pool.query<{
        row_no: number;
        id_number: string | null;
        category: string | null;
        action: string;
        field: string | null;
        reason: string | null;
      }>(
        `SELECT row_no, id_number, category, action, field, reason FROM audit.submission_rows
         WHERE submission_id = $1 AND NOT accepted AND row_no > $2 ORDER BY row_no LIMIT $3`,
        [submissionId, after, VERDICT_PAGE],
      );
      for (const r of page.rows)
        await put(
          file,
          Buffer.from(
            `${[String(r.row_no), r.id_number ?? '', r.category ?? '', zh(LIST_ACTION_NAMES, r.action), r.field ?? '', reasonText(r.reason)].map((c) => csvFieldIn(neutraliseFormula(c), ',')).join(',')}\r\n`,
          ),
        );
      rows += page.rows.length;
      if (page.rows.length < VERDICT_PAGE) break;
      after = page.rows[page.rows.length - 1]!.row_no;
    }
    file.end();
    await closed;
    return rows;
  } catch (error) {
    file.destroy();
    throw error;
  }
}

/** The columns the report adds after the department's own. */
export const REPORT_COLUMNS = ['错误字段', '错误原因', '原表行号'] as const;

/**
 * Writes the report into `sink` and ends it: the list's header row(s) as the department wrote them, then
 * each rejected row, every row padded to the widest row of the list so that 错误字段 (the field at fault),
 * 错误原因 (the reason) and 原表行号 (the row number the clerk sees in Excel) stand under their own headers.
 * CSV goes back in the sender's encoding and delimiter, its unchanged cells in the sender's bytes (a GBK €
 * stays 0x80); a cell starting with =, +, - or @ is given a leading ' so that it does not open as a formula.
 * Throws when the submission has no stored file.
 */
export async function streamRejectionReport(
  pool: pg.Pool,
  submissionId: number,
  sink: Writable,
): Promise<RejectionReportInfo> {
  const s = await pool.query<{
    file_name: string;
    stored_at: string | null;
    department: string;
    kind: 'roster' | 'delta';
    jurisdiction_name: string;
    made_by: string;
  }>(
    `SELECT s.file_name, e.stored_at, s.department, s.kind, j.name AS jurisdiction_name, session_user AS made_by
     FROM submissions s JOIN jurisdictions j ON j.code = s.jurisdiction
     LEFT JOIN exchange_log e ON e.sha256 = s.sha256 AND e.direction = 'in' AND e.department = s.department
     WHERE s.id = $1 ORDER BY e.seq LIMIT 1`,
    [submissionId],
  );
  const sub = s.rows[0];
  if (!sub?.stored_at) throw new Error(`submission ${submissionId} has no stored file`);
  const bytes = readFileSync(sub.stored_at);
  const detected = detectFile(bytes, sub.file_name);
  const baseName = sub.file_name.replace(/\.(xlsx|csv|txt)$/i, '');
  const fields = headerFields(sub.department, sub.kind);
  const table = await openListTable(bytes, sub.file_name, detected, fields);

  // the widest row of the list (a first pass), so the added columns line up on every row
  const used = (cells: string[]) => {
    let n = cells.length;
    while (n > 0 && (cells[n - 1] ?? '').trim() === '') n -= 1;
    return n;
  };
  let width = Math.max(...table.header.map((h) => used(h.cells)));
  for await (const batch of table.rows()) for (const row of batch) width = Math.max(width, used(row.cells));
  const pad = (cells: string[]) => {
    const out = cells.slice(0, width);
    while (out.length < width) out.push('');
    return out;
  };

  let rows = 0;
  let out: RowSink;
  if (detected.format === 'xlsx')
    out = xlsxOut(sink, {
      columns: width + REPORT_COLUMNS.length,
      headerRows: table.header.length,
      filing: { unit: unitOf({ name: sub.jurisdiction_name }), preparedBy: sub.made_by },
    });
  else {
    const delimiter = detectDelimiter(
      decodeText(bytes.subarray(0, 64 * 1024), detected.encoding),
      sub.file_name,
    );
    out = csvOut(sink, detected.encoding, delimiter);
  }
  const headerLines = table.header.map((h, i) =>
    i === table.header.length - 1 ? [...pad(h.cells), ...REPORT_COLUMNS] : [...pad(h.cells), '', '', ''],
  );
  await out.write(headerLines);
  let verdicts = verdictPages(pool, submissionId, 0);
  let next = await verdicts.next();
  let lastRow = 0;
  for await (const batch of table.rows()) {
    const lines: string[][] = [];
    for (const row of batch) {
      if (row.rowNo < lastRow) {
        // a row stored before the rows above it: read its verdict afresh
        verdicts = verdictPages(pool, submissionId, row.rowNo - 1);
        next = await verdicts.next();
      }
      lastRow = row.rowNo;
      while (!next.done && next.value.row_no < row.rowNo) next = await verdicts.next();
      if (!next.done && next.value.row_no === row.rowNo) {
        lines.push([...pad(row.cells), next.value.field, reasonText(next.value.reason), String(row.rowNo)]);
        rows += 1;
      }
    }
    await out.write(lines);
  }
  await out.end();
  return {
    format: detected.format,
    rows,
    fileName: `${baseName}-退回.${detected.format}`,
  };
}

/** The rejected rows' verdicts in row order, a page at a time (keyset on row_no). */
async function* verdictPages(
  pool: pg.Pool,
  submissionId: number,
  from: number,
): AsyncGenerator<{ row_no: number; field: string; reason: string }> {
  let after = from;
  for (;;) {
    const page = await pool.query<{ row_no: number; field: string; reason: string }>(
      `SELECT row_no, field, reason FROM submission_rows
       WHERE submission_id = $1 AND NOT accepted AND row_no > $2 ORDER BY row_no LIMIT $3`,
      [submissionId, after, VERDICT_PAGE],
    );
    yield* page.rows;
    if (page.rows.length < VERDICT_PAGE) return;
    after = page.rows[page.rows.length - 1]!.row_no;
  }
}

interface RowSink {
  write(rows: string[][]): Promise<void>;
  end(): Promise<void>;
}

/** Writes with backpressure: waits for 'drain' when the sink's buffer is full. */
async function put(sink: Writable, chunk: Buffer): Promise<void> {
  if (!sink.write(chunk)) await once(sink, 'drain');
}

/** A cell that a spreadsheet would open as a formula (=, +, -, @ first), unless it is a plain number. */
export function neutraliseFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) && !/^[+-]?[0-9]+(\.[0-9]+)?$/.test(cell) ? `'${cell}` : cell;
}

function csvOut(sink: Writable, encoding: string, delimiter: string): RowSink {
  let first = true;
  return {
    async write(rows) {
      const text = rows.length
        ? rows
            .map((r) => r.map((c) => csvFieldIn(neutraliseFormula(c), delimiter)).join(delimiter))
            .join('\r\n') + '\r\n'
        : '';
      // the BOM (UTF-8 with BOM, UTF-16) once, at the start
      const bytes = encodeText(text, encoding);
      const bom = bomOf(encoding);
      await put(sink, first || !bom ? bytes : bytes.subarray(bom));
      first = false;
    },
    async end() {
      if (first) await put(sink, encodeText('', encoding));
      const finished = once(sink, 'finish');
      sink.end();
      await finished;
    },
  };
}

function bomOf(encoding: string): number {
  if (encoding === 'utf-8-bom') return 3;
  if (encoding === 'utf-16le' || encoding === 'utf-16be') return 2;
  return 0;
}

/**
 * The .xlsx report, fit to print and file while staying the department's own layout (so that the fixed rows
 * can be sent back as they are): no 序号 column or lines are added to the table, which the import would
 * read as rows; 原表行号 numbers the rows instead. The header rows are frozen and repeat on each printed
 * page; A4 landscape fitted to the width, print area over the table; the page footer carries 制表单位, 制表人
 * and 日期 (审核人 is left for a signature) and the page number.
 */
function xlsxOut(sink: Writable, layout: { columns: number; headerRows: number; filing: Filing }): RowSink {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: sink,
    useSharedStrings: false,
    useStyles: true,
  });
  const [unit, preparedBy, reviewedBy, date] = footerLines(layout.filing).map((l) => l.replace(/&/g, '&&'));
  const headerRows = Math.max(1, layout.headerRows);
  const sheet = workbook.addWorksheet('退回名单', {
    views: [{ state: 'frozen', xSplit: 0, ySplit: headerRows }],
    pageSetup: {
      paperSize: 9,
      orientation: 'landscape',
      fitToPage: true,
      fitToWidth: 1,
      fitToHeight: 0,
      printTitlesRow: `1:${headerRows}`,
    },
    headerFooter: {
      oddFooter: `&L${unit}  ${preparedBy}&C第 &P 页 共 &N 页&R${reviewedBy}  ${date}`,
      evenFooter: `&L${unit}  ${preparedBy}&C第 &P 页 共 &N 页&R${reviewedBy}  ${date}`,
    },
  });
  let rows = 0;
  return {
    write(rows_) {
      for (const r of rows_) {
        const row = sheet.addRow(r);
        // every cell stays text, so Excel does not turn an 18-digit ID into a rounded number
        row.eachCell((cell) => (cell.numFmt = '@'));
        row.commit();
        rows += 1;
      }
      return Promise.resolve();
    },
    async end() {
      sheet.pageSetup.printArea = `A1:${columnLetter(layout.columns)}${Math.max(1, rows)}`;
      sheet.commit();
      await workbook.commit();
    },
  };
}
