/**
 * Importing a department's list outside a running campaign (`lists import`): the use case behind the command
 * line, on the caller's own ledger connection (under row security, a department imports its own lists only).
 */
import { basename } from 'node:path';
import type pg from 'pg';
import { importDepartmentList, type ListImportResult } from '../lists/import-list';
import { writeRejectionReport } from '../documents/rejection-report';
import type { Policy } from '../domain/policy';
import { deltaRegistrationDay } from '../domain/reconciliation';
import { readListFile } from './uploads';

/** An import's result, and where its rejection report was written when one was asked for and written. */
export type ImportedList = ListImportResult & { rejectionReport?: string };

/**
 * Imports the list file at `path` (.xlsx or .csv, UTF-8 or GBK) under `policy`: every row ends accepted,
 * rejected or skipped with a reason (ListImportResult's counts add up). The identities take effect on
 * `effectiveOn`, by default a roster's own as-of date (`period`, YYYY-MM-DD) or a delta's month's
 * registration day (`period` YYYY-MM; the policy's delta rules, never today). With `rejections`, the
 * rejection report is written there in the format received when any row was rejected. Throws UploadRefused
 * for a path that is no readable list file (missing, a folder, too large), and for a file that cannot be
 * read, an error naming the file, sheet, row and field.
 */
export async function importList(
  deps: { pool: pg.Pool; exchangeDir: string },
  input: {
    policy: Policy;
    path: string;
    department: string;
    kind: 'roster' | 'delta';
    period: string;
    effectiveOn?: string;
    rejections?: string;
    receivedBy: string;
  },
): Promise<ImportedList> {
  const { policy } = input;
  const result = await importDepartmentList(
    { pool: deps.pool, policy, exchangeDir: deps.exchangeDir },
    {
      jurisdiction: policy.jurisdiction,
      department: input.department,
      kind: input.kind,
      period: input.period,
      effectiveOn:
        input.effectiveOn ??
        (input.kind === 'roster' ? input.period : deltaRegistrationDay(policy, input.period)),
      fileName: basename(input.path),
      receivedBy: input.receivedBy,
    },
    readListFile(input.path),
  );
  if (input.rejections && result.rowsRejected > 0) {
    const path = reportPathFor(input.rejections, result.format);
    await writeRejectionReport(deps.pool, result.submissionId, path);
    return { ...result, rejectionReport: path };
  }
  return result;
}

/**
 * Where a rejection report in `format` goes when `--rejections` asked for `path`: the report keeps the
 * department's own format (a CSV list gets a CSV report it can fix and resend), so a path whose extension
 * names the other format gets the report's (OUT.xlsx for a CSV list: OUT.csv), where CSV bytes under an .xlsx
 * name would not open in Excel. A path without a known extension is kept as given.
 */
export function reportPathFor(path: string, format: 'xlsx' | 'csv'): string {
  const m = /\.(xlsx|xls|csv|txt)$/i.exec(path);
  if (!m || m[1]!.toLowerCase() === format) return path;
  return `${path.slice(0, m.index)}.${format}`;
}

/** A list received (table `submissions`), with its row counts: read = accepted + rejected + skipped. */
export interface SubmissionRow {
  id: number;
  jurisdiction: string;
  department: string;
  kind: string;
  period: string;
  fileName: string;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  rowsSkipped: number;
  status: string;
  receivedBy: string;
  receivedAt: Date;
}

/**
 * The lists received, on the caller's own connection (a department's login sees its own only: row-level
 * security). `jurisdiction` keeps one jurisdiction's; `newestFirst` orders by submission id descending
 * (else ascending); `limit` caps the rows (none: every one). Called by `lists status` (all, oldest first)
 * and the console's 名单 page (newest 200 first).
 */
export async function listSubmissions(
  pool: pg.Pool,
  options: { jurisdiction?: string; newestFirst?: boolean; limit?: number } = {},
): Promise<SubmissionRow[]> {
  const r = await pool.query<{
    id: string;
    jurisdiction: string;
    department: string;
    kind: string;
    period: string;
    file_name: string;
    rows_read: number;
    rows_accepted: number;
    rows_rejected: number;
    rows_skipped: number;
    status: string;
    received_by: string;
    received_at: Date;
  }>(
    `SELECT id, jurisdiction, department, kind, period, file_name, rows_read, rows_accepted, rows_rejected,
            rows_skipped, status, received_by, received_at
     FROM submissions WHERE $1::text IS NULL OR jurisdiction = $1
     ORDER BY id ${options.newestFirst ? 'DESC' : 'ASC'} LIMIT $2`,
    [options.jurisdiction ?? null, options.limit ?? null],
  );
  return r.rows.map((s) => ({
    id: Number(s.id),
    jurisdiction: s.jurisdiction,
    department: s.department,
    kind: s.kind,
    period: s.period,
    fileName: s.file_name,
    rowsRead: s.rows_read,
    rowsAccepted: s.rows_accepted,
    rowsRejected: s.rows_rejected,
    rowsSkipped: s.rows_skipped,
    status: s.status,
    receivedBy: s.received_by,
    receivedAt: s.received_at,
  }));
}
