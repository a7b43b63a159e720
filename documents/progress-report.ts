/**
 * The campaign's weekly progress report (参保进度表, 000 六(四), 001 七(七)): the one progress report of
 * documents/progress.ts (the columns `report progress` prints) for the snapshot the workflow just took,
 * written as the filed .xlsx and as JSON, kept in the exchange store by digest and logged as sent to the
 * medical security bureau. 制表人 is the worker's own login.
 */
import type pg from 'pg';
import type { Policy } from '../domain/policy';
import { filingFor } from './filing';
import { progressReportOfSnapshot, progressXlsx } from './progress';
import { logExchange } from '../ledger/exchange-log';
import { sha256Hex, storeExchangeFile } from '../lists/import-list';

export interface ProgressReportFiles {
  xlsx: string;
  json: string;
  towns: number;
  enrolled: number;
  toEnroll: number;
}

/**
 * Writes the report of snapshot `key` (.xlsx and JSON) into `exchangeDir` and logs both as sent; returns
 * where they are stored and the totals. Throws NoProgressSnapshot for a key the campaign has not taken.
 */
export async function writeProgressReport(
  pool: pg.Pool,
  policy: Policy,
  key: string,
  exchangeDir: string,
): Promise<ProgressReportFiles> {
  const report = await progressReportOfSnapshot(pool, policy, key);
  // dated the snapshot's own China day, not the day the activity happens to run
  const filing = await filingFor(pool, policy, { date: report.date });
  const files: string[] = [];
  for (const [name, bytes] of [
    [`progress-${policy.jurisdiction}-${policy.year}-${key}.xlsx`, await progressXlsx(report, filing)],
    [
      `progress-${policy.jurisdiction}-${policy.year}-${key}.json`,
      Buffer.from(JSON.stringify(report, null, 2)),
    ],
  ] as const) {
    const stored = storeExchangeFile(exchangeDir, bytes, sha256Hex(bytes));
    files.push(stored);
    await logExchange(pool, {
      jurisdiction: policy.jurisdiction,
      direction: 'out',
      department: 'medical-security-bureau',
      kind: 'progress-report',
      period: key,
      fileName: name,
      rowCount: report.towns.length,
      bytes,
      storedAt: stored,
    });
  }
  return {
    xlsx: files[0]!,
    json: files[1]!,
    towns: report.towns.length,
    enrolled: report.totals.enrolled,
    toEnroll: report.totals.toEnroll,
  };
}
