/**
 * `report progress`: the per-town progress an operator prints for a meeting (参保进度), for a date.
 *
 * The figures are the progress snapshot the campaign took last on or before that date (weekly during the
 * centralised period, 000 六(四)), compared with the snapshot a week earlier (week-on-week change), and
 * with the plan's goal line: 95% of the residents to enroll where the goal is a coverage rate (Kaiping
 * 000 一, Heshan 001 一), last year's count where it is "not below last year" (Meishan 003 六(一)).
 * Written as .xlsx with the documents' headers and as one HTML page with a chart; JSON keys in English.
 * Reads coverage snapshots, towns and the masked audit views only: no personal data.
 */
import { snapshotLabel } from '../domain/words';
import ExcelJS from 'exceljs';
import { chinaDateOf, instantOf } from '../domain/dates';
import type { Policy } from '../domain/policy';
import { completionRate } from '../domain/rates';
import type { Queryable } from '../infra/roles';
import { escapeHtml } from './html';
import { footerHtml, htmlToPdf, printPage } from './print';
import { writeForm, type Filing, type FormColumn } from './filing';

export interface TownProgress {
  town: string;
  registered: number;
  toEnroll: number;
  target: number | null;
  enrolled: number;
  subsidised: number;
  failed: number;
  abandoned: number;
  lastYearEnrolled: number;
  /** 参保率: enrolled / to enroll, percent with one decimal. */
  coverageRate: number | null;
  /** 完成率: enrolled / target, percent with one decimal. */
  completionRate: number | null;
  /** How many enrolled the goal line asks for. */
  goalEnrolled: number;
  /** Enrolled as a percent of the goal line's count (100 = on the line). */
  goalRate: number | null;
  /** 距目标差额: people still needed to reach the goal line (0 when reached). */
  shortfall: number;
  previousEnrolled: number | null;
  /** 周增长: enrolled now minus a week earlier. */
  weekOnWeek: number | null;
}

export interface ProgressReport {
  jurisdiction: string;
  name: string;
  year: number;
  date: string;
  snapshot: { key: string; takenAt: string };
  previous: { key: string; takenAt: string } | null;
  goal: {
    kind: 'coverage-rate' | 'not-below-last-year';
    percent: number | null;
    label: string;
    source: string;
  };
  towns: TownProgress[];
  totals: Omit<TownProgress, 'town'>;
}

export class NoProgressSnapshot extends Error {
  override name = 'NoProgressSnapshot';
}

const pct = completionRate;
const DAY = 86_400_000;

interface Snapshot {
  key: string;
  taken_at: Date;
}

async function snapshotsOf(pool: Queryable, policy: Policy): Promise<Snapshot[]> {
  return (
    await pool.query<Snapshot>(
      `SELECT snapshot_key AS key, max(taken_at) AS taken_at FROM coverage_snapshots
       WHERE jurisdiction = $1 AND campaign_year = $2 GROUP BY snapshot_key ORDER BY 2, 1`,
      [policy.jurisdiction, policy.year],
    )
  ).rows;
}

/**
 * The progress report for a China date (YYYY-MM-DD): the last snapshot taken on or before the end of that
 * day, compared with the last one at least a week older. Throws NoProgressSnapshot (naming the first
 * snapshot, if any) when none was taken by then, and an Error for a date not written YYYY-MM-DD.
 */
export async function progressReport(pool: Queryable, policy: Policy, date: string): Promise<ProgressReport> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`--date must be YYYY-MM-DD, not "${date}"`);
  const snaps = await snapshotsOf(pool, policy);
  const end = new Date(instantOf(date, 'end'));
  const upTo = snaps.filter((s) => s.taken_at < end);
  const current = upTo.at(-1);
  if (!current) {
    const first = snaps[0];
    throw new NoProgressSnapshot(
      `no progress snapshot of ${policy.jurisdiction} ${policy.year} on or before ${date}` +
        (first
          ? `: the first was taken ${first.taken_at.toISOString()} (${first.key})`
          : ': the campaign has taken none yet'),
    );
  }
  return reportAt(pool, policy, date, current, upTo);
}

/**
 * The progress report of one snapshot (the campaign's weekly report, 000 六(四), keyed as the workflow
 * took it): dated the China date the snapshot was taken. Throws NoProgressSnapshot for an unknown key.
 */
export async function progressReportOfSnapshot(
  pool: Queryable,
  policy: Policy,
  key: string,
): Promise<ProgressReport> {
  const snaps = await snapshotsOf(pool, policy);
  const at = snaps.findIndex((s) => s.key === key);
  if (at < 0)
    throw new NoProgressSnapshot(`no progress snapshot ${key} of ${policy.jurisdiction} ${policy.year}`);
  const current = snaps[at]!;
  const upTo = snaps.filter((s) => s.taken_at <= current.taken_at && s !== current).concat([current]);
  return reportAt(pool, policy, chinaDateOf(current.taken_at.getTime()), current, upTo);
}

async function reportAt(
  pool: Queryable,
  policy: Policy,
  date: string,
  current: Snapshot,
  upTo: Snapshot[],
): Promise<ProgressReport> {
  const weekBefore = new Date(current.taken_at.getTime() - 7 * DAY + 60_000);
  const previous = upTo.filter((s) => s !== current && s.taken_at <= weekBefore).at(-1) ?? null;

  // last year's payers per town from the per-town tallies (migration 0040), not a join of last year's
  // enrollments to the residents for every report (issue #23: 18 reports a year, about 3 s each at Kaiping)
  const rows = await pool.query<{
    town_id: number;
    town: string;
    registered: number;
    to_enroll: number;
    target: number | null;
    enrolled: number;
    subsidised: number;
    failed: number;
    abandoned: number;
    previous_enrolled: number | null;
    last_year: number;
  }>(
    `SELECT t.id AS town_id, t.name AS town, s.registered, s.to_enroll, s.target, s.enrolled, s.subsidised,
            s.failed, s.abandoned, p.enrolled AS previous_enrolled, coalesce(ly.n, 0)::int AS last_year
     FROM coverage_snapshots s
     JOIN towns t ON t.id = s.town_id
     LEFT JOIN coverage_snapshots p ON p.jurisdiction = s.jurisdiction AND p.campaign_year = s.campaign_year
          AND p.snapshot_key = $4 AND p.town_id = s.town_id
     LEFT JOIN (SELECT town_id, sum(enrollments) AS n FROM town_enrollment_tallies
                WHERE jurisdiction = $1 AND campaign_year = $2 - 1 AND status = 'paid' GROUP BY town_id) ly
          ON ly.town_id = s.town_id
     WHERE s.jurisdiction = $1 AND s.campaign_year = $2 AND s.snapshot_key = $3
     ORDER BY t.id`,
    [policy.jurisdiction, policy.year, current.key, previous?.key ?? null],
  );

  const goal = policy.coverageGoal;
  const goalEnrolled = (toEnroll: number, lastYear: number) =>
    goal.kind === 'coverage-rate' ? Math.ceil((toEnroll * goal.percent) / 100) : lastYear;
  const towns: TownProgress[] = rows.rows.map((r) => {
    const line = goalEnrolled(r.to_enroll, r.last_year);
    return {
      town: r.town,
      registered: r.registered,
      toEnroll: r.to_enroll,
      target: r.target,
      enrolled: r.enrolled,
      subsidised: r.subsidised,
      failed: r.failed,
      abandoned: r.abandoned,
      lastYearEnrolled: r.last_year,
      coverageRate: pct(r.enrolled, r.to_enroll),
      completionRate: pct(r.enrolled, r.target),
      goalEnrolled: line,
      goalRate: pct(r.enrolled, line),
      shortfall: Math.max(0, line - r.enrolled),
      previousEnrolled: previous ? r.previous_enrolled : null,
      weekOnWeek: previous && r.previous_enrolled !== null ? r.enrolled - r.previous_enrolled : null,
    };
  });
  const sum = (k: keyof TownProgress) => towns.reduce((s, t) => s + ((t[k] as number | null) ?? 0), 0);
  const targets = towns.filter((t) => t.target !== null);
  const totalGoal =
    goal.kind === 'coverage-rate' ? goalEnrolled(sum('toEnroll'), 0) : sum('lastYearEnrolled');
  const enrolled = sum('enrolled');
  const totalTarget = targets.length ? sum('target') : null;
  return {
    jurisdiction: policy.jurisdiction,
    name: policy.name,
    year: policy.year,
    date,
    snapshot: { key: current.key, takenAt: current.taken_at.toISOString() },
    previous: previous ? { key: previous.key, takenAt: previous.taken_at.toISOString() } : null,
    goal: {
      kind: goal.kind,
      percent: goal.kind === 'coverage-rate' ? goal.percent : null,
      label: goal.kind === 'coverage-rate' ? `${goal.percent}%参保率` : '不低于上年度参保人数',
      source: goal.source,
    },
    towns,
    totals: {
      registered: sum('registered'),
      toEnroll: sum('toEnroll'),
      target: totalTarget,
      enrolled,
      subsidised: sum('subsidised'),
      failed: sum('failed'),
      abandoned: sum('abandoned'),
      lastYearEnrolled: sum('lastYearEnrolled'),
      coverageRate: pct(enrolled, sum('toEnroll')),
      completionRate: pct(enrolled, totalTarget),
      goalEnrolled: totalGoal,
      goalRate: pct(enrolled, totalGoal),
      shortfall: Math.max(0, totalGoal - enrolled),
      previousEnrolled: previous ? sum('previousEnrolled') : null,
      weekOnWeek: previous ? enrolled - sum('previousEnrolled') : null,
    },
  };
}

/**
 * The one set of columns of the progress table (参保进度表), in the documents' words, and the field each
 * shows: the 附件3 columns (户籍人口 (1), 应参保人数 (4), 目标任务 (5)), the figures of the snapshot, the
 * rates (完成率 against the target, 参保率 against the residents to enroll), the plan's goal line and what
 * is still short of it, the week-on-week change, and the follow-up figures. Used by the campaign's weekly
 * report, `report progress` (.xlsx, HTML, PDF, terminal) and the console alike.
 */
export function progressColumns(
  report: ProgressReport,
): { header: string; key: keyof TownProgress; rate?: true }[] {
  return [
    { header: '镇(街)', key: 'town' },
    { header: '户籍人口', key: 'registered' },
    { header: '应参保人数', key: 'toEnroll' },
    { header: '目标任务', key: 'target' },
    { header: '参保人数', key: 'enrolled' },
    { header: '其中资助参保', key: 'subsidised' },
    { header: '完成率', key: 'completionRate', rate: true },
    { header: '参保率', key: 'coverageRate', rate: true },
    { header: '上年度参保人数', key: 'lastYearEnrolled' },
    {
      header: report.goal.kind === 'coverage-rate' ? `${report.goal.percent}%线人数` : '目标线人数(上年度)',
      key: 'goalEnrolled',
    },
    { header: '距目标差额', key: 'shortfall' },
    { header: '上周参保人数', key: 'previousEnrolled' },
    { header: '周增长', key: 'weekOnWeek' },
    { header: '扣费失败待跟进', key: 'failed' },
    { header: '弃保', key: 'abandoned' },
  ];
}

const title = (r: ProgressReport) => `${r.name}${r.year}年度城乡居民医保参保进度表（截至${r.date}）`;
const basis = (r: ProgressReport) =>
  `数据时点：${r.snapshot.takenAt.slice(0, 10)}（${snapshotLabel(r.snapshot.key)}）` +
  (r.previous
    ? `；周增长对比：${r.previous.takenAt.slice(0, 10)}（${snapshotLabel(r.previous.key)}）`
    : '；无上周数据') +
  `；目标线：${r.goal.label}（${r.goal.source}）`;

/** A cell as a page or a terminal shows it: rates with one decimal and a percent sign, nothing for null. */
const showCell = (v: string | number | null, rate?: true) =>
  v === null ? '' : rate ? `${(v as number).toFixed(1)}%` : String(v);

/** A cell as the printed table shows it: counts with thousands separators (12,345). */
const printCell = (v: string | number | null, rate?: true) =>
  typeof v === 'number' && !rate ? v.toLocaleString('en-US') : showCell(v, rate);

/**
 * The table as a filed .xlsx (see documents/filing.ts): title, 数据时点 line, frozen header, 序号, counts as
 * numbers (#,##0), rates as fractions shown 0.0%, a 合计 row, the 制表单位/制表人/审核人/日期 lines, A4
 * landscape fitted to the width. `filing` says who made it (制表人 is required: the login, by default).
 */
export async function progressXlsx(report: ProgressReport, filing: Filing): Promise<Buffer> {
  const columns = progressColumns(report).filter((c) => c.key !== 'town');
  const formColumns: FormColumn[] = [
    { header: '镇(街)', kind: 'text', width: 14 },
    ...columns.map((c): FormColumn => ({ header: c.header, kind: c.rate ? 'rate' : 'count' })),
  ];
  const cell = (v: string | number | null, rate?: true) =>
    v === null ? null : rate ? Math.round((v as number) * 10) / 1000 : (v as number);
  const totalsRow: TownProgress = { ...report.totals, town: '合计' };
  const wb = new ExcelJS.Workbook();
  writeForm(wb.addWorksheet('参保进度'), {
    title: title(report),
    notes: [basis(report)],
    columns: formColumns,
    rows: report.towns.map((t) => [t.town, ...columns.map((c) => cell(t[c.key], c.rate))]),
    total: [null, ...columns.map((c) => cell(totalsRow[c.key], c.rate))],
    filing,
  });
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/**
 * The table as a page made for printing on A4 landscape (the PDF is Chromium's print of it): title, 数据时点,
 * 序号, thousands separators, 合计, and the 制表单位/制表人/审核人/日期 lines; the header repeats on every page.
 */
export function progressPrintHtml(report: ProgressReport, filing: Filing): string {
  const columns = progressColumns(report);
  const row = (no: string, t: Omit<TownProgress, 'town'> & { town: string }, cls = 'town') =>
    `<tr class="${cls}"><td class="num">${no}</td>${columns
      .map(
        (c) => `<td${c.key === 'town' ? '' : ' class="num"'}>${escapeHtml(printCell(t[c.key], c.rate))}</td>`,
      )
      .join('')}</tr>`;
  return printPage({
    title: title(report),
    landscape: true,
    body: `<p class="basis">${escapeHtml(basis(report))}</p>
<table><thead><tr><th>序号</th>${columns.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr></thead>
<tbody>
${report.towns.map((t, i) => row(String(i + 1), t)).join('\n')}
${row('', { ...report.totals, town: '合计' }, 'total')}
</tbody></table>
${footerHtml(filing)}`,
  });
}

/** The printed table as a PDF (headless Chromium's print of {@link progressPrintHtml}). */
export function progressPdf(report: ProgressReport, filing: Filing): Promise<Buffer> {
  return htmlToPdf(progressPrintHtml(report, filing));
}

/**
 * One self-contained page: the table, and a bar chart the page draws from its own JSON (enrolled as a
 * percent of the goal line per town, the line itself at 100%, towns under it in red).
 */
export function progressHtml(report: ProgressReport): string {
  const columns = progressColumns(report);
  const row = (t: Omit<TownProgress, 'town'> & { town: string }, cls: string) =>
    `<tr class="${cls}" data-town="${escapeHtml(t.town)}">${columns
      .map(
        (c) =>
          `<td data-key="${c.key}"${c.key === 'town' ? '' : ' class="num"'}>${escapeHtml(showCell(t[c.key], c.rate))}</td>`,
      )
      .join('')}</tr>`;
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${escapeHtml(title(report))}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px;margin-top:1em}td,th{border:1px solid #bbb;padding:3px 8px}
th{background:#eef}.num{text-align:right}tr.total td{font-weight:bold;background:#f6f6f6}
.below{fill:#c0392b}.reached{fill:#27ae60}#goal-line{stroke:#333;stroke-dasharray:6 4;stroke-width:2}
svg text{font-size:12px}
</style></head><body>
<h1>${escapeHtml(title(report))}</h1>
<p id="basis">${escapeHtml(basis(report))}</p>
<svg id="chart" width="900" role="img" aria-label="各镇(街)参保人数占目标线的百分比"></svg>
<table id="progress-table"><thead><tr>${columns.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr></thead>
<tbody>
${report.towns.map((t) => row(t, 'town')).join('\n')}
${row({ ...report.totals, town: '合计' }, 'total')}
</tbody></table>
<script type="application/json" id="report-data">${JSON.stringify(report).replace(/</g, '\\u003c')}</script>
<script>
(function () {
  var report = JSON.parse(document.getElementById('report-data').textContent);
  var svg = document.getElementById('chart');
  var NS = 'http://www.w3.org/2000/svg';
  var left = 130, width = 640, barH = 18, gap = 6, top = 24;
  var max = Math.max(110, Math.max.apply(null, report.towns.map(function (t) { return t.goalRate || 0; })) + 5);
  var x = function (p) { return left + (p / max) * width; };
  svg.setAttribute('height', String(top + report.towns.length * (barH + gap) + 30));
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  }
  el('text', { x: left, y: 14 }, '参保人数 ÷ 目标线（' + report.goal.label + '）');
  report.towns.forEach(function (t, i) {
    var y = top + i * (barH + gap);
    var rate = t.goalRate || 0;
    el('text', { x: left - 6, y: y + barH - 4, 'text-anchor': 'end' }, t.town);
    el('rect', { 'class': 'bar ' + (rate >= 100 ? 'reached' : 'below'), 'data-town': t.town, 'data-rate': rate,
      x: left, y: y, width: Math.max(0, x(rate) - left), height: barH });
    el('text', { 'class': 'bar-label', 'data-town': t.town, x: x(rate) + 4, y: y + barH - 4 }, rate.toFixed(1) + '%');
  });
  var bottom = top + report.towns.length * (barH + gap);
  el('line', { id: 'goal-line', x1: x(100), x2: x(100), y1: top - 6, y2: bottom });
  el('text', { x: x(100) + 4, y: bottom + 16 }, '目标线 100%');
})();
</script>
</body></html>
`;
}

/** The table as text, for a terminal. */
export function formatProgress(report: ProgressReport): string {
  const columns = progressColumns(report);
  const lines = [
    title(report),
    basis(report),
    columns.map((c) => c.header).join('\t'),
    ...report.towns.map((t) => columns.map((c) => showCell(t[c.key], c.rate)).join('\t')),
    columns.map((c) => (c.key === 'town' ? '合计' : showCell(report.totals[c.key], c.rate))).join('\t'),
  ];
  return `${lines.join('\n')}\n`;
}
