/**
 * The benchmark's HTML report: the targets, then one chart per figure (horizontal bars drawn as inline
 * SVG, a dashed line where a figure has a target), each followed by its numbers. No script, no network.
 */
import { escapeHtml } from '../documents/html';
import type { BenchReport } from './run';
import { WRITE_FLOOR_STEP } from './import-bench';

interface Bars {
  title: string;
  unit: string;
  series: string[];
  rows: { label: string; values: (number | null)[] }[];
  /** A target line, and whether it is a ceiling (the bars should stay below it) or a floor. */
  limit?: { value: number; label: string };
}

const COLOURS = ['#2f6db5', '#d08a2c', '#4a9a5b'];

function chart(b: Bars): string {
  const labelWidth = 300;
  const width = 900;
  const barHeight = 16;
  const rowHeight = barHeight * b.series.length + 10;
  const values = b.rows.flatMap((r) => r.values.filter((v): v is number => v !== null));
  const max = Math.max(...values, b.limit?.value ?? 0, 1e-9) * 1.1;
  const x = (v: number) => labelWidth + ((width - labelWidth - 90) * v) / max;
  const height = b.rows.length * rowHeight + 40;
  const parts: string[] = [];
  b.rows.forEach((r, i) => {
    const y0 = 10 + i * rowHeight;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y0 + (barHeight * b.series.length) / 2 + 4}" text-anchor="end">${escapeHtml(r.label)}</text>`,
    );
    r.values.forEach((v, j) => {
      if (v === null) return;
      const y = y0 + j * barHeight;
      parts.push(
        `<rect class="bar" data-series="${escapeHtml(b.series[j]!)}" data-value="${v}" x="${labelWidth}" y="${y}" width="${Math.max(1, x(v) - labelWidth).toFixed(1)}" height="${barHeight - 2}" fill="${COLOURS[j % COLOURS.length]}"/>`,
        `<text x="${(x(v) + 4).toFixed(1)}" y="${y + barHeight - 5}" class="value">${formatNumber(v)}</text>`,
      );
    });
  });
  if (b.limit) {
    const lx = x(b.limit.value).toFixed(1);
    parts.push(
      `<line class="limit" x1="${lx}" x2="${lx}" y1="0" y2="${height - 25}" stroke="#c0392b" stroke-dasharray="5,4"/>`,
      `<text x="${lx}" y="${height - 10}" text-anchor="middle" fill="#c0392b">${escapeHtml(b.limit.label)}</text>`,
    );
  }
  const legend = b.series
    .map(
      (s, j) => `<span class="key" style="background:${COLOURS[j % COLOURS.length]}"></span>${escapeHtml(s)}`,
    )
    .join(' ');
  const table = `<table><tr><th></th>${b.series.map((s) => `<th>${escapeHtml(s)} (${escapeHtml(b.unit)})</th>`).join('')}</tr>${b.rows
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.label)}</td>${r.values.map((v) => `<td class="n">${v === null ? '-' : formatNumber(v)}</td>`).join('')}</tr>`,
    )
    .join('')}</table>`;
  return `<section><h2>${escapeHtml(b.title)}</h2><p class="legend">${legend}</p>
<svg width="${width}" height="${height}" role="img" aria-label="${escapeHtml(b.title)}">${parts.join('')}</svg>${table}</section>`;
}

function formatNumber(v: number): string {
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function benchHtml(report: BenchReport): string {
  const first = report.scales[0]!;
  const last = report.scales.at(-1)!;
  const charts: Bars[] = [
    {
      title: 'Whole year against the SQL baseline and the write floor',
      unit: 's',
      series: [
        'campaign (Temporal + Node + PostgreSQL)',
        'SQL baseline (psql)',
        'write floor (COPY of the rows, one UPDATE per status change)',
      ],
      rows: report.scales.map((s) => ({
        label: `Kaiping x${s.scale}`,
        values: [s.median.yearSeconds, s.median.baselineSeconds, s.median.floor.seconds],
      })),
      limit: { value: 60, label: '60 s at 1x' },
    },
    {
      title: 'Whole year over the write floor',
      unit: 'x',
      series: ['year / floor', 'year / floor with the status history (reported)'],
      rows: report.scales.map((s) => ({
        label: `Kaiping x${s.scale}`,
        values: [s.median.floorRatio, s.median.floorWithHistoryRatio],
      })),
      limit: { value: 3, label: '3.0 x floor' },
    },
    {
      title: 'Whole year over the SQL baseline',
      unit: 'x',
      series: ['year / baseline'],
      rows: report.scales.map((s) => ({
        label: `Kaiping x${s.scale}`,
        values: [s.median.yearSeconds / s.median.baselineSeconds],
      })),
      limit: { value: 1, label: '1.0 x baseline' },
    },
    {
      title: `Phases of the year (x${first.scale})`,
      unit: 's',
      series: ['wall time'],
      rows: first.median.phases.map((p) => ({ label: p.phase, values: [p.seconds] })),
    },
    ...report.scales.map((s): Bars => ({
      title: `Steps against the SQL baseline (x${s.scale})`,
      unit: 's',
      series: ['campaign', 'SQL baseline', 'write floor'],
      rows: [
        ...s.median.steps.map((x) => ({
          label: x.step,
          values: [x.seconds, x.baselineSeconds, x.floorSeconds],
        })),
        { label: 'activities without a SQL counterpart', values: [s.median.bookkeepingSeconds, null, null] },
        { label: 'between activities (Temporal)', values: [s.median.orchestrationSeconds, null, null] },
      ],
    })),
    {
      title: `Ratio of each step to the SQL baseline (x${first.scale})`,
      unit: 'x',
      series: ['ratio'],
      rows: first.median.steps
        .filter((x) => x.ratio !== null)
        .map((x) => ({ label: x.step, values: [x.ratio] })),
      limit: { value: 1.2, label: '1.2' },
    },
    {
      title: `Rows per second of each batch step (x${first.scale})`,
      unit: 'rows/s',
      series: ['campaign'],
      rows: first.median.steps
        .filter((x) => x.rowsPerSecond !== null)
        .map((x) => ({
          label: `${x.step} (${x.rows.toLocaleString('en-US')} rows)`,
          values: [x.rowsPerSecond],
        })),
    },
    {
      title: 'Peak RSS',
      unit: 'MiB',
      series: ['worker', 'client', 'population generator'],
      rows: report.scales.map((s) => ({
        label: `Kaiping x${s.scale}`,
        values: [s.median.workerPeakRssMiB, s.median.clientPeakRssMiB, s.population.peakRssMiB],
      })),
      limit: { value: 1024, label: '1 GiB' },
    },
    {
      title: 'PostgreSQL database size after the year',
      unit: 'MiB',
      series: ['database'],
      rows: report.scales.map((s) => ({ label: `Kaiping x${s.scale}`, values: [s.median.databaseMiB] })),
    },
    ...report.scales
      .filter((s) => s.median.checkpoints)
      .map((s): Bars => ({
        title: `WAL written in each measured phase, and checkpoints during it (x${s.scale})`,
        unit: 'MiB',
        series: ['WAL'],
        rows: (['year', 'floor', 'baseline'] as const).map((k) => {
          const c = s.median.checkpoints![k];
          return {
            label: `${k}: ${c.requested} checkpoint(s) by WAL, ${c.timed} timed`,
            values: [c.walMiB],
          };
        }),
      })),
    {
      title: `History of each workflow run (x${last.scale})`,
      unit: 'events',
      series: ['events'],
      rows: last.median.runs.map((r, i) => ({
        label: `${r.workflowType} run ${i + 1} (${(r.bytes / 1024).toFixed(0)} KiB)`,
        values: [r.events],
      })),
      limit: { value: 10_000, label: '10,000 events' },
    },
    {
      title: 'Population generation',
      unit: 's',
      series: ['wall time'],
      rows: report.scales.map((s) => ({
        label: `Kaiping x${s.scale} (${s.population.residents.toLocaleString('en-US')} residents)`,
        values: [s.population.seconds],
      })),
    },
  ];
  if (report.growth)
    charts.push({
      title: `Growth from x${first.scale} to x${last.scale}`,
      unit: 'factor',
      series: ['factor'],
      rows: report.growth.map((g) => ({ label: g.figure, values: [g.factor] })),
      limit: {
        value: (last.scale / first.scale) * 1.1,
        label: `${((last.scale / first.scale) * 1.1).toFixed(1)}x`,
      },
    });
  if (report.imports.length) {
    charts.push({
      title: 'Registry import rate (a 700,000-row roster as CSV and as .xlsx; the bare COPY of the CSV)',
      unit: 'rows/s',
      series: ['rows/s'],
      rows: report.imports.map((f) => ({ label: f.step, values: [f.rowsPerSecond] })),
      limit: { value: 100_000, label: '100,000 rows/s' },
    });
    const rate = (p: (step: string) => boolean) => report.imports.find((f) => p(f.step))?.rowsPerSecond;
    const csv = rate((s) => s === 'roster import, UTF-8 CSV');
    const xlsx = rate((s) => s.startsWith('roster import, .xlsx'));
    const bare = rate((s) => s.startsWith('bare COPY'));
    const floor = rate((s) => s === WRITE_FLOOR_STEP);
    const ratios = [
      ...(csv && xlsx ? [{ label: '.xlsx / UTF-8 CSV', values: [xlsx / csv] }] : []),
      ...(csv && bare ? [{ label: 'UTF-8 CSV / bare COPY', values: [csv / bare] }] : []),
      ...(csv && floor ? [{ label: "UTF-8 CSV / its own rows' write floor", values: [csv / floor] }] : []),
    ];
    if (ratios.length)
      charts.push({
        title: 'Import rates against each other (same rows, same run)',
        unit: 'x',
        series: ['ratio of rates'],
        rows: ratios,
        limit: { value: 0.5, label: '0.5 (at least)' },
      });
    charts.push({
      title: 'Importing process peak RSS',
      unit: 'MiB',
      series: ['peak RSS'],
      rows: report.imports
        .filter((f) => f.maxRssMiB !== undefined)
        .map((f) => ({ label: f.step, values: [f.maxRssMiB!] })),
      limit: { value: 512, label: '512 MiB' },
    });
  }
  const targets = report.targets
    .map(
      (t) =>
        `<tr class="${t.met ? 'met' : 'missed'}"><td>${t.met ? 'met' : 'missed'}</td><td>${escapeHtml(t.target)}</td><td>${escapeHtml(t.value)}</td><td>${escapeHtml(t.heldBackBy ?? '')}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Benchmark: a Kaiping year</title>
<style>
body { font-family: "Noto Sans CJK SC", sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; } td.n { text-align: right; }
tr.missed td:first-child { color: #c0392b; font-weight: bold; } tr.met td:first-child { color: #2e7d32; }
svg text { font-size: 12px; } .key { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }
</style></head><body>
<h1>Benchmark: a Kaiping year on this machine</h1>
<p>${report.machine.cpus} cores, Node ${escapeHtml(report.machine.node)}, ${escapeHtml(report.machine.when)}. Medians of the repeats.</p>
<h2>Targets</h2>
<table><tr><th></th><th>target</th><th>measured</th><th>held back by</th></tr>${targets}</table>
${charts.map(chart).join('\n')}
<script type="application/json" id="figures">${JSON.stringify(report).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
