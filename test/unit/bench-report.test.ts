import { describe, expect, it } from 'vitest';
import { benchHtml } from '../../bench/report';
import type { BenchReport, RepeatFigures } from '../../bench/run';

const repeat = (year: number, sql: number, workerRss: number, events: number): RepeatFigures => ({
  yearSeconds: year,
  baselineSeconds: sql,
  floor: {
    seconds: year / 4.2,
    namedSeconds: year / 6,
    sameEnd: true,
    items: [{ item: 'COPY enrollments', step: 'open enrollments', rows: 428041, seconds: 1.9, named: true }],
    history: { rows: 1_831_632, seconds: year / 20 },
  },
  floorRatio: 4.2,
  floorWithHistoryRatio: year / (year / 4.2 + year / 20),
  bookkeepingSeconds: 0.1,
  orchestrationSeconds: 2.5,
  phases: [
    { phase: 'roster-submission', seconds: 3.5 },
    { phase: 'deduction', seconds: 39 },
  ],
  steps: [
    {
      step: 'open enrollments',
      rows: 428041,
      seconds: 6.3,
      baselineSeconds: 5.8,
      ratio: 6.3 / 5.8,
      floorSeconds: 1.9,
      floorRatio: 6.3 / 1.9,
      rowsPerSecond: 428041 / 6.3,
    },
    {
      step: 'apply deduction results, round 1',
      rows: 411514,
      seconds: 18,
      baselineSeconds: 5,
      ratio: 3.6,
      floorSeconds: 2.5,
      floorRatio: 18 / 2.5,
      rowsPerSecond: 411514 / 18,
    },
  ],
  activities: [{ activity: 'createLevyBatch, round 1', seconds: 9.1, count: 1 }],
  workerPeakRssMiB: workerRss,
  clientPeakRssMiB: 180,
  databaseMiB: 727,
  runs: [
    {
      workflowId: 'campaign-kaiping-2024',
      runId: 'r1',
      workflowType: 'AnnualCampaignWorkflow',
      events,
      bytes: 125_000,
    },
  ],
  sameResult: { ok: true, app: {}, baseline: {} },
});

describe('the benchmark report', () => {
  const one = repeat(83.2, 83.1, 414, 675);
  const three = repeat(260, 255, 430, 675);
  const report: BenchReport = {
    machine: { cpus: 2, node: 'v20', when: '2026-11-23T00:00:00Z' },
    scales: [
      {
        scale: 1,
        population: { seconds: 31, residents: 715982, households: 238610, toEnroll: 484711, peakRssMiB: 320 },
        repeats: [one],
        median: one,
      },
      {
        scale: 3,
        population: {
          seconds: 95,
          residents: 2147946,
          households: 715830,
          toEnroll: 1454133,
          peakRssMiB: 340,
        },
        repeats: [three],
        median: three,
      },
    ],
    growth: [{ figure: 'whole year, s', from: 83.2, to: 260, factor: 260 / 83.2 }],
    targets: [
      {
        target: 'whole Kaiping year <= 60 s',
        value: '83.2 s',
        met: false,
        heldBackBy: 'over 60 s: apply deduction results, round 1 (+13.0 s)',
      },
      { target: 'worker peak RSS <= 1 GiB at 1x', value: '414 MiB', met: true },
    ],
    imports: [
      { step: 'bare COPY of the UTF-8 CSV (the floor)', rows: 700000, seconds: 2, rowsPerSecond: 350000 },
      { step: 'roster import, UTF-8 CSV', rows: 700000, seconds: 9.4, rowsPerSecond: 74407, maxRssMiB: 240 },
      {
        step: 'roster import, .xlsx (same rows)',
        rows: 700000,
        seconds: 28,
        rowsPerSecond: 25000,
        maxRssMiB: 180,
      },
    ],
  };
  const html = benchHtml(report);
  const bars = [...html.matchAll(/<rect class="bar" data-series="([^"]*)" data-value="([^"]*)"/g)].map(
    (m) => ({
      series: m[1],
      value: Number(m[2]),
    }),
  );

  it('draws one chart per figure, each bar carrying the number it stands for', () => {
    expect(html.match(/<svg /g)?.length).toBe(html.match(/<h2>/g)!.length - 1); // every section but the targets
    for (const v of [
      83.2,
      83.1,
      260,
      255,
      39,
      6.3,
      5.8,
      18,
      5,
      3.6,
      414,
      430,
      727,
      675,
      31,
      95,
      74407,
      260 / 83.2,
      83.2 / 4.2,
      4.2,
      1.9,
      83.2 / 83.1,
      25000 / 74407,
      74407 / 350000,
      240,
    ])
      expect(bars.some((b) => Math.abs(b.value - v) < 1e-9)).toBe(true);
  });

  it('marks each target line: the floor, the baseline, a step ratio of 1.2, 1 GiB, 10,000 events, the imports', () => {
    for (const label of [
      '60 s at 1x',
      '3.0 x floor',
      '1.0 x baseline',
      '>1.2<',
      '1 GiB',
      '10,000 events',
      '100,000 rows/s',
      '0.5 (at least)',
      '512 MiB',
    ])
      expect(html).toContain(label.startsWith('>') ? label : `>${label}<`);
  });

  it('says which target was missed and what holds it back, and carries its own figures as JSON', () => {
    expect(html).toMatch(
      /<tr class="missed"><td>missed<\/td><td>whole Kaiping year &lt;= 60 s<\/td><td>83.2 s<\/td><td>over 60 s: apply deduction results, round 1/,
    );
    expect(html).toMatch(/<tr class="met"><td>met<\/td><td>worker peak RSS/);
    const json = /<script type="application\/json" id="figures">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(json)).toEqual(report);
  });
});
