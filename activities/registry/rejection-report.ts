/**
 * The rejection report a department can fix and resend: its own rows that were rejected, in the format and
 * encoding it sent (xlsx, or CSV in UTF-8 or GBK), with its own header and two more columns: the field at
 * fault and the reason.
 *
 * A 700,000-row list can be rejected almost whole, so the report streams: the stored file is read row by
 * row, the verdicts are read from the ledger a page at a time in row order, and the two are merged as they
 * go into the output stream. Memory stays the size of a page, whatever the size of the list.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { csvField, detectFile, encodeText, readRowBatches } from './list-files';

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
            `${[String(r.row_no), r.id_number ?? '', r.category ?? '', r.action, r.field ?? '', r.reason ?? ''].map(csvField).join(',')}\r\n`,
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

/** Writes the report into `sink` and ends it. */
export async function streamRejectionReport(
  pool: pg.Pool,
  submissionId: number,
  sink: Writable,
): Promise<RejectionReportInfo> {
  const s = await pool.query<{ file_name: string; stored_at: string | null }>(
    `SELECT s.file_name, e.stored_at FROM submissions s
     LEFT JOIN exchange_log e ON e.sha256 = s.sha256 AND e.direction = 'in' AND e.department = s.department
     WHERE s.id = $1 ORDER BY e.seq LIMIT 1`,
    [submissionId],
  );
  const sub = s.rows[0];
  if (!sub?.stored_at) throw new Error(`submission ${submissionId} has no stored file`);
  const bytes = readFileSync(sub.stored_at);
  const detected = detectFile(bytes, sub.file_name);
  const baseName = sub.file_name.replace(/\.(xlsx|csv)$/i, '');
  const verdicts = verdictPages(pool, submissionId);

  let rows = 0;
  const out =
    detected.format === 'xlsx'
      ? xlsxOut(sink)
      : csvOut(
          sink,
          detected.encoding === 'utf-8-bom' ? 'utf-8' : detected.encoding,
          detected.encoding === 'utf-8-bom',
        );
  let header: string[] | undefined;
  let next = await verdicts.next();
  for await (const batch of readRowBatches(bytes, sub.file_name, detected)) {
    const lines: string[][] = [];
    for (const row of batch) {
      if (!header) {
        if (row.cells.every((c) => c.trim() === '')) continue;
        header = [...row.cells, '错误字段', '错误原因'];
        lines.push(header);
        continue;
      }
      while (!next.done && next.value.row_no < row.rowNo) next = await verdicts.next();
      if (!next.done && next.value.row_no === row.rowNo) {
        lines.push([...row.cells, next.value.field, next.value.reason]);
        rows += 1;
      }
    }
    await out.write(lines);
  }
  if (!header) await out.write([['错误字段', '错误原因']]);
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
): AsyncGenerator<{ row_no: number; field: string; reason: string }> {
  let after = 0;
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

function csvOut(sink: Writable, encoding: string, bom: boolean): RowSink {
  let first = bom;
  return {
    async write(rows) {
      if (first) {
        await put(sink, Buffer.from([0xef, 0xbb, 0xbf]));
        first = false;
      }
      if (!rows.length) return;
      await put(sink, encodeText(rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n', encoding));
    },
    async end() {
      if (first) await put(sink, Buffer.from([0xef, 0xbb, 0xbf]));
      const finished = once(sink, 'finish');
      sink.end();
      await finished;
    },
  };
}

function xlsxOut(sink: Writable): RowSink {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: sink,
    useSharedStrings: false,
    useStyles: true,
  });
  const sheet = workbook.addWorksheet('退回名单');
  return {
    write(rows) {
      for (const r of rows) {
        const row = sheet.addRow(r);
        // every cell stays text, so Excel does not turn an 18-digit ID into a rounded number
        row.eachCell((cell) => (cell.numFmt = '@'));
        row.commit();
      }
      return Promise.resolve();
    },
    async end() {
      sheet.commit();
      await workbook.commit();
    },
  };
}
