/**
 * A progress report (参保进度表): the per-town figures frozen at a report date, written as .xlsx with the
 * documents' headers and as JSON, kept in the exchange store by digest and logged as sent to the medical
 * security bureau (000 六(四), 001 七(七)).
 */
import ExcelJS from 'exceljs';
import type pg from 'pg';
import type { Policy } from '../../domain/policy';
import { logExchange } from '../exchange-log';
import { sha256Hex, storeExchangeFile } from '../registry/import-list';

export interface ProgressReportFiles {
  xlsx: string;
  json: string;
  towns: number;
  enrolled: number;
  toEnroll: number;
}

export async function writeProgressReport(
  pool: pg.Pool,
  policy: Policy,
  key: string,
  exchangeDir: string,
): Promise<ProgressReportFiles> {
  const r = await pool.query<{
    town: string;
    registered: number;
    to_enroll: number;
    target: number | null;
    enrolled: number;
    subsidised: number;
    failed: number;
    abandoned: number;
    taken_at: Date;
  }>(
    `SELECT t.name AS town, s.registered, s.to_enroll, s.target, s.enrolled, s.subsidised, s.failed, s.abandoned, s.taken_at
     FROM coverage_snapshots s JOIN towns t ON t.id = s.town_id
     WHERE s.jurisdiction = $1 AND s.campaign_year = $2 AND s.snapshot_key = $3 ORDER BY t.id`,
    [policy.jurisdiction, policy.year, key],
  );
  const rate = (a: number, b: number | null) => (b ? Math.round((a / b) * 1000) / 10 : null);
  const towns = r.rows.map((x) => ({
    town: x.town,
    registered: x.registered,
    toEnroll: x.to_enroll,
    target: x.target,
    enrolled: x.enrolled,
    subsidised: x.subsidised,
    failed: x.failed,
    abandoned: x.abandoned,
    coverageRate: rate(x.enrolled, x.to_enroll),
    completionRate: rate(x.enrolled, x.target),
  }));
  const total = (k: 'registered' | 'toEnroll' | 'enrolled' | 'subsidised' | 'failed' | 'abandoned') =>
    towns.reduce((s, t) => s + t[k], 0);
  const report = {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    key,
    takenAt: r.rows[0]?.taken_at.toISOString() ?? null,
    coverageGoal: policy.coverageGoal,
    towns,
    totals: {
      registered: total('registered'),
      toEnroll: total('toEnroll'),
      enrolled: total('enrolled'),
      subsidised: total('subsidised'),
      failed: total('failed'),
      abandoned: total('abandoned'),
    },
  };
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('参保进度表');
  sheet.addRow([`${policy.name}${policy.year}年度城乡居民医保参保进度表（${key}）`]);
  sheet.addRow([
    '镇(街)',
    '户籍人口',
    '应参保人数',
    '目标任务',
    '参保人数',
    '其中资助参保',
    '扣费失败待跟进',
    '弃保',
    '参保率',
    '完成率',
  ]);
  for (const t of towns) {
    sheet.addRow([
      t.town,
      t.registered,
      t.toEnroll,
      t.target ?? '',
      t.enrolled,
      t.subsidised,
      t.failed,
      t.abandoned,
      t.coverageRate === null ? '' : `${t.coverageRate}%`,
      t.completionRate === null ? '' : `${t.completionRate}%`,
    ]);
  }
  const tt = report.totals;
  sheet.addRow([
    '合计',
    tt.registered,
    tt.toEnroll,
    '',
    tt.enrolled,
    tt.subsidised,
    tt.failed,
    tt.abandoned,
    `${rate(tt.enrolled, tt.toEnroll) ?? ''}%`,
    '',
  ]);
  const files: string[] = [];
  for (const [name, bytes] of [
    [`progress-${policy.jurisdiction}-${policy.year}-${key}.xlsx`, Buffer.from(await wb.xlsx.writeBuffer())],
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
      rowCount: towns.length,
      bytes,
      storedAt: stored,
    });
  }
  return {
    xlsx: files[0]!,
    json: files[1]!,
    towns: towns.length,
    enrolled: tt.enrolled,
    toEnroll: tt.toEnroll,
  };
}
