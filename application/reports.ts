/**
 * The progress report (参保进度) as one use case for the command line and the console: the figures and the
 * filing it is laid out for, from the reader's own ledger connection.
 */
import type pg from 'pg';
import type { Policy } from '../domain/policy';
import { filingFor, type Filing } from '../documents/filing';
import { progressReport, type ProgressReport } from '../documents/progress';

/**
 * The per-town progress for China date `date` (YYYY-MM-DD) under `policy` (documents/progress.ts
 * progressReport: coverage against target and the 95% goal line, week-on-week), with the filing (unit,
 * 制表人 = the connection's login, dated today in China unless `filing` says otherwise) its .xlsx and PDF
 * carry. Throws NoProgressSnapshot when no snapshot was
 * taken by then.
 */
export async function makeProgressReport(
  deps: { pool: pg.Pool },
  input: { policy: Policy; date: string; filing?: Partial<Filing> },
): Promise<{ report: ProgressReport; filing: Filing }> {
  const report = await progressReport(deps.pool, input.policy, input.date);
  return { report, filing: await filingFor(deps.pool, input.policy, input.filing) };
}
