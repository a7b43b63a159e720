/**
 * The rejection report a department can fix and resend: its own rows that were rejected, in the format and
 * encoding it sent (xlsx, or CSV in UTF-8 or GBK), with its own header and two more columns: the field at
 * fault and the reason.
 */
import { readFileSync } from 'node:fs';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { detectFile, encodeText, readRows } from './list-files';

export async function rejectionReport(
  pool: pg.Pool,
  submissionId: number,
): Promise<{ bytes: Buffer; format: 'xlsx' | 'csv'; rows: number; fileName: string }> {
  const s = await pool.query<{ file_name: string; stored_at: string | null; encoding: string }>(
    `SELECT s.file_name, s.encoding, e.stored_at FROM submissions s
     LEFT JOIN exchange_log e ON e.sha256 = s.sha256 AND e.direction = 'in' AND e.department = s.department
     WHERE s.id = $1 ORDER BY e.seq LIMIT 1`,
    [submissionId],
  );
  const sub = s.rows[0];
  if (!sub?.stored_at) throw new Error(`submission ${submissionId} has no stored file`);
  const rejected = new Map<number, { field: string; reason: string }>();
  const r = await pool.query<{ row_no: number; field: string; reason: string }>(
    `SELECT row_no, field, reason FROM submission_rows WHERE submission_id = $1 AND NOT accepted ORDER BY row_no`,
    [submissionId],
  );
  for (const row of r.rows) rejected.set(row.row_no, { field: row.field, reason: row.reason });

  const bytes = readFileSync(sub.stored_at);
  const detected = detectFile(bytes, sub.file_name);
  const out: string[][] = [];
  let header: string[] | undefined;
  for await (const row of readRows(bytes, sub.file_name, detected)) {
    if (!header) {
      if (row.cells.every((c) => c.trim() === '')) continue;
      header = [...row.cells, '错误字段', '错误原因'];
      continue;
    }
    const verdict = rejected.get(row.rowNo);
    if (verdict) out.push([...row.cells, verdict.field, verdict.reason]);
  }
  const baseName = sub.file_name.replace(/\.(xlsx|csv)$/i, '');
  if (detected.format === 'xlsx') {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('退回名单');
    sheet.addRow(header ?? ['错误字段', '错误原因']);
    for (const row of out) sheet.addRow(row);
    sheet.getColumn(4).numFmt = '@';
    return {
      bytes: Buffer.from(await workbook.xlsx.writeBuffer()),
      format: 'xlsx',
      rows: out.length,
      fileName: `${baseName}-退回.xlsx`,
    };
  }
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const text = [header ?? [], ...out].map((row) => row.map(quote).join(',')).join('\r\n') + '\r\n';
  return {
    bytes: encodeText(text, detected.encoding),
    format: 'csv',
    rows: out.length,
    fileName: `${baseName}-退回.csv`,
  };
}
