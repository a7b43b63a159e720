/**
 * Importing a department's list outside a running campaign (`lists import`): the use case behind the command
 * line, on the caller's own ledger connection (under row security, a department imports its own lists only).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type pg from 'pg';
import { importDepartmentList, type ListImportResult } from '../lists/import-list';
import { writeRejectionReport } from '../documents/rejection-report';
import type { Policy } from '../domain/policy';
import { deltaRegistrationDay } from '../domain/reconciliation';

/**
 * Imports the list file at `path` (.xlsx or .csv, UTF-8 or GBK) under `policy`: every row ends accepted,
 * rejected or skipped with a reason (ListImportResult's counts add up). The identities take effect on
 * `effectiveOn`, by default a roster's own as-of date (`period`, YYYY-MM-DD) or a delta's month's
 * registration day (`period` YYYY-MM; the policy's delta rules, never today). With `rejections`, the
 * rejection report is written there in the format received when any row was rejected. Throws for a file
 * that cannot be read, naming the file, sheet, row and field.
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
): Promise<ListImportResult> {
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
    readFileSync(input.path),
  );
  if (input.rejections && result.rowsRejected > 0)
    await writeRejectionReport(deps.pool, result.submissionId, input.rejections);
  return result;
}
