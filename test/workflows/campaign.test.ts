import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { campaignTimeline, collectRuns, formatTimeline, timelineHtml } from '../../audit/history';
import { renderedDom, screenshot } from '../../provision/chromium';
import { progressHtml, progressReport, progressXlsx } from '../../documents/progress';
import { seedPolicy } from '../../seeds';
import { householdFormUpdate, type CampaignProgress } from '../../workflows/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { rehearse } from '../support/campaign';
import { timeSkippingEnvironment } from '../support/temporal';

describe('the annual campaign on the time-skipping server: Kaiping 2024 at small scale', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let progress: CampaignProgress;
  const policy = seedPolicy('kaiping', 2024);
  const q = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await db.pool.query<T & pg.QueryResultRow>(sql, params)).rows;

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    ({ progress } = await rehearse(env, db, policy, 0.003, { maxHistoryEvents: 300 }));
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('every certifying department’s roster as of 08-31 is imported and its rows add up (000 五(一))', () => {
    expect(Object.keys(progress.rosters).sort()).toEqual([
      'civil-affairs',
      'disabled-persons-federation',
      'rural-revitalization',
      'veterans-affairs',
    ]);
    for (const r of Object.values(progress.rosters)) {
      expect(r.status).toBe('imported');
      expect(r.rowsAccepted! + r.rowsRejected!).toBe(r.rowsRead);
    }
  });

  it('last year’s enrollees are renewed at 406 yuan and fully subsidised residents are enrolled without a levy (000 五(一), 五(七))', async () => {
    const levied = await q<{ amount_fen: number; n: number }>(
      `SELECT l.amount_fen, count(*)::int AS n FROM levy_lines l JOIN levy_batches b ON b.id = l.batch_id WHERE b.round = 1 GROUP BY 1`,
    );
    expect(levied).toEqual([{ amount_fen: 40600, n: expect.any(Number) }]);
    const subsidised = await q<{ n: number; levied: number }>(
      `SELECT count(*)::int AS n, count(l.enrollment_id)::int AS levied FROM enrollments e LEFT JOIN levy_lines l ON l.enrollment_id = e.id
       WHERE e.campaign_year = 2024 AND e.subsidy_fen = 40600`,
    );
    expect(subsidised[0]!.n).toBe(progress.enrollments!.fullySubsidised);
    expect(subsidised[0]!.levied).toBe(0);
  });

  it('the first deduction ran on 10-09 and re-deductions weekly to the cut-off, each round only for those still failed', () => {
    expect(progress.rounds[0]!.round).toBe(1);
    expect(progress.rounds).toHaveLength(12);
    for (let i = 1; i < progress.rounds.length; i += 1) {
      const previous = progress.rounds[i - 1]!;
      expect(progress.rounds[i]!.lines).toBe(previous.personal + previous.systemic);
    }
    expect(progress.rounds[0]!.systemic).toBeGreaterThan(0);
    expect(progress.rounds[1]!.systemic).toBe(0);
  });

  it('nobody is deducted twice, and every levied person ends paid or abandoned at the cut-off (视为自动弃保)', async () => {
    const twice = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT enrollment_id FROM deduction_results WHERE outcome = 'success' GROUP BY 1 HAVING count(*) > 1) x`,
    );
    expect(twice[0]!.n).toBe(0);
    const states = await q<{ status: string; n: number }>(
      `SELECT status::text, count(*)::int AS n FROM enrollments WHERE campaign_year = 2024 GROUP BY 1 ORDER BY 1`,
    );
    expect(states.map((s) => s.status)).toEqual(expect.arrayContaining(['paid']));
    expect(states.some((s) => ['registered', 'levied', 'failed'].includes(s.status))).toBe(false);
    const abandoned = states.find((s) => s.status === 'abandoned')?.n ?? 0;
    expect(progress.cutoff!.abandoned).toBe(abandoned);
    const lastRound = progress.rounds.at(-1)!;
    expect(abandoned).toBe(lastRound.personal);
  });

  it('those paid in the centralised period are covered from 2024-01-01 (附件1 备注1)', async () => {
    const starts = await q<{ benefit_start: string }>(
      `SELECT DISTINCT benefit_start::text FROM enrollments WHERE campaign_year = 2024 AND status = 'paid' AND personal_fen > 0`,
    );
    expect(starts).toEqual([{ benefit_start: '2024-01-01' }]);
  });

  it('the subsidy claim to finance by 06-30 totals 406 yuan per subsidised person, by department', () => {
    const claimed = progress.claims.reduce((s, c) => s + c.persons, 0);
    expect(claimed).toBe(progress.enrollments!.fullySubsidised);
    for (const c of progress.claims) {
      expect(c.fundingSource).toBe('fiscal-subsidy-for-personal-contribution');
      expect(c.totalFen).toBe(c.persons * 40600);
    }
    expect(progress.claimReceipts).toHaveLength(1);
  });

  it('each report is stored as .xlsx and JSON and logged as sent to the bureau, its towns adding up', async () => {
    const sent = await q<{ file_name: string; row_count: number }>(
      `SELECT file_name, row_count FROM exchange_log WHERE kind = 'progress-report' AND period = 'progress-2023-12-28' ORDER BY file_name`,
    );
    expect(sent).toEqual([
      { file_name: 'progress-kaiping-2024-progress-2023-12-28.json', row_count: 16 },
      { file_name: 'progress-kaiping-2024-progress-2023-12-28.xlsx', row_count: 16 },
    ]);
    const stored = await q<{ stored_at: string }>(
      `SELECT stored_at FROM exchange_log WHERE file_name = 'progress-kaiping-2024-progress-2023-12-28.json'`,
    );
    const report = JSON.parse(readFileSync(stored[0]!.stored_at, 'utf8')) as {
      towns: { enrolled: number }[];
      totals: { enrolled: number };
    };
    expect(report.towns.reduce((s, t) => s + t.enrolled, 0)).toBe(report.totals.enrolled);
    expect(report.totals.enrolled).toBe(progress.lastReport!.enrolled);
  });

  it('report progress for 2023-11-30 shows each town against its target and the 95% line, with the change since 11-23', async () => {
    const report = await progressReport(db.pool, policy, '2023-11-30');
    expect(report.snapshot.key).toBe('progress-2023-11-30');
    expect(report.previous!.key).toBe('progress-2023-11-23');
    const snap = async (key: string) =>
      new Map(
        (
          await q<{ town: string; enrolled: number; to_enroll: number }>(
            `SELECT t.name AS town, s.enrolled, s.to_enroll FROM coverage_snapshots s JOIN towns t ON t.id = s.town_id WHERE s.snapshot_key = $1`,
            [key],
          )
        ).map((r) => [r.town, r]),
      );
    const [now, before] = [await snap('progress-2023-11-30'), await snap('progress-2023-11-23')];
    expect(report.towns).toHaveLength(16);
    for (const t of report.towns) {
      expect(t.enrolled).toBe(now.get(t.town)!.enrolled);
      expect(t.weekOnWeek).toBe(now.get(t.town)!.enrolled - before.get(t.town)!.enrolled);
      expect(t.goalEnrolled).toBe(Math.ceil(t.toEnroll * 0.95)); // 000 一 参保覆盖率巩固在95%以上
      expect(t.shortfall).toBe(Math.max(0, t.goalEnrolled - t.enrolled));
    }
    // each town's target is the one in the policy snapshot the campaign ran under (附件3 column (4))
    const targets = await q<{ town: string; target: number | null }>(
      `SELECT DISTINCT t.name AS town, s.target FROM coverage_snapshots s JOIN towns t ON t.id = s.town_id`,
    );
    expect(targets).toHaveLength(16);
    const inPolicy = new Map(policy.targets!.towns.map((t) => [t.town, t.target]));
    for (const t of targets) expect(t.target).toBe(inPolicy.get(t.town));
    expect(targets.filter((t) => t.target !== null).length).toBeGreaterThan(0);
    expect(report.totals.enrolled).toBe(report.towns.reduce((n, t) => n + t.enrolled, 0));
    expect(report.totals.weekOnWeek).toBe(report.towns.reduce((n, t) => n + t.weekOnWeek!, 0));
    expect(report.totals.weekOnWeek).toBeGreaterThanOrEqual(0);
    await expect(progressReport(db.pool, policy, '2023-08-01')).rejects.toThrow(
      /no progress snapshot of kaiping 2024 on or before 2023-08-01: the first was taken/,
    );

    // the .xlsx an operator prints: the documents' headers, one row per town and 合计
    const wb = new ExcelJS.Workbook();
    const filing = { unit: '开平市医疗保障局', preparedBy: 'test-operator', date: '2023-11-30' };
    await wb.xlsx.load((await progressXlsx(report, filing)) as unknown as ArrayBuffer);
    const sheet = wb.getWorksheet('参保进度')!;
    const headers = (sheet.getRow(3).values as unknown[]).slice(1);
    expect(headers.slice(0, 9)).toEqual([
      '序号',
      '镇(街)',
      '户籍人口',
      '应参保人数',
      '目标任务',
      '参保人数',
      '其中资助参保',
      '完成率',
      '参保率',
    ]);
    expect(headers).toContain('95%线人数');
    expect(headers).toContain('周增长');
    const total = sheet.getRow(4 + report.towns.length);
    expect(total.getCell(1).value).toBe('合计');
    expect(total.getCell(headers.indexOf('参保人数') + 1).value).toBe(report.totals.enrolled);
    expect(total.getCell(headers.indexOf('周增长') + 1).value).toBe(report.totals.weekOnWeek);

    // the HTML page in headless Chromium: it renders, draws a bar per town and the goal line, and shows the JSON's numbers
    const dir = mkdtempSync(join(tmpdir(), 'medins-report-'));
    const html = join(dir, 'progress.html');
    writeFileSync(html, progressHtml(report));
    const chromium = inject('chromium');
    const dom = await renderedDom(chromium, html);
    const bars = [
      ...dom.matchAll(/<rect class="bar (reached|below)" data-town="([^"]+)" data-rate="([\d.]+)"/g),
    ];
    expect(bars.map((b) => b[2])).toEqual(report.towns.map((t) => t.town));
    expect(bars.map((b) => Number(b[3]))).toEqual(report.towns.map((t) => t.goalRate ?? 0));
    expect(bars.map((b) => b[1])).toEqual(
      report.towns.map((t) => ((t.goalRate ?? 0) >= 100 ? 'reached' : 'below')),
    );
    expect(dom).toMatch(/<line id="goal-line" x1="[\d.]+"/);
    for (const t of report.towns) {
      const row = new RegExp(
        `<tr class="town" data-town="${t.town}">.*?<td data-key="enrolled" class="num">(\\d+)</td>.*?<td data-key="weekOnWeek" class="num">(-?\\d+)</td>`,
      );
      const m = row.exec(dom)!;
      expect([Number(m[1]), Number(m[2])]).toEqual([t.enrolled, t.weekOnWeek]);
    }
    const png = join(dir, 'progress.png');
    await screenshot(chromium, html, png);
    expect(statSync(png).size).toBeGreaterThan(20_000);
  });

  it('audit history tells the year across its continue-as-new runs: exchanges with rows and digests from the exchange log, rounds with the plan’s rule', async () => {
    const timeline = await campaignTimeline(env.client, 'campaign-kaiping-2024');
    expect(new Set(timeline.map((t) => t.runId)).size).toBe(progress.runs);
    expect(timeline[0]!.what).toMatch(/^campaign started by test-operator under policy [0-9a-f]{12}$/);
    expect(timeline[0]!.source).toBe('000 开平市2024年度城乡居民基本医疗保险参保工作方案');
    const exchanges = timeline.filter((t) => t.kind === 'exchange' && t.exchange?.sha256);
    expect(exchanges.length).toBeGreaterThan(10);
    const logged = new Set(
      (await q<{ sha256: string }>(`SELECT sha256 FROM exchange_log`)).map((r) => r.sha256),
    );
    for (const e of exchanges) expect(logged.has(e.exchange!.sha256!)).toBe(true);
    const toTax = exchanges.filter(
      (e) => e.exchange!.department === 'tax' && e.exchange!.direction === 'out',
    );
    expect(toTax.map((e) => e.exchange!.rows)).toEqual(progress.rounds.map((r) => r.lines));
    const first = timeline.find((t) => t.what.startsWith('levy round 1:'))!;
    expect(first.source).toMatch(/^000 五\(七\) 首次批扣前/);
    expect(first.campaignTime.slice(0, 10)).toBe('2023-10-09');
    expect(timeline.find((t) => t.what.startsWith('cut-off:'))!.source).toMatch(/视为自动弃保/);
    // nobody is named: the timeline carries counts and digests, never an ID number
    expect(JSON.stringify(timeline)).not.toMatch(/\b44078[0-9]{12}[0-9X]\b/);

    const dir = mkdtempSync(join(tmpdir(), 'medins-timeline-'));
    const html = join(dir, 'timeline.html');
    writeFileSync(html, timelineHtml('campaign-kaiping-2024', timeline));
    const dom = await renderedDom(inject('chromium'), html);
    expect([...dom.matchAll(/<tr class="kind-/g)]).toHaveLength(timeline.length);
    expect(dom).toContain('依据：000 五(七) 首次批扣前');
    // the text and HTML timelines speak Chinese; the English stays in the JSON for scripts
    expect(dom).toMatch(/第 1 轮应征数据：批次 \d+，\d+ 条，[\d.]+ 元/);
    const text = formatTimeline(timeline);
    expect(text).toContain('进入阶段：首次批扣');
    expect(text).toMatch(/截止：\d+ 人视为自动弃保/);
    expect(text).not.toContain('phase: deduction');
    expect(timeline.every((t) => t.zh.length > 0 && t.what.length > 0)).toBe(true);
  });

  it('the short ledger steps (events, coverage snapshots, the policy) are local activities: markers in the history, each still told in the audit timeline', async () => {
    const runs = (await collectRuns(env.client, 'campaign-kaiping-2024')).filter(
      (r) => r.workflowType === 'AnnualCampaignWorkflow',
    );
    const asked = new Map<string, number>();
    let markers = 0;
    for (const run of runs)
      for (const e of run.history.events ?? []) {
        const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
        if (name) asked.set(name, (asked.get(name) ?? 0) + 1);
        if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') markers += 1;
      }
    // the batch steps stay activities of their own; the short steps ask the server for none
    expect(asked.get('createLevyBatch')).toBe(progress.rounds.length);
    for (const short of ['recordCampaignEvent', 'snapshotCoverage', 'storePolicySnapshot'])
      expect(asked.get(short), short).toBeUndefined();
    const reports = (
      await q<{ snapshot_key: string }>(`SELECT DISTINCT snapshot_key FROM coverage_snapshots ORDER BY 1`)
    ).map((r) => r.snapshot_key);
    const [{ phases }] = (await q<{ phases: number }>(
      `SELECT count(*)::int AS phases FROM campaign_events WHERE kind = 'phase'`,
    )) as [{ phases: number }];
    expect(reports).toContain('cutoff');
    expect(markers).toBeGreaterThanOrEqual(reports.length + phases + 1);
    // the timeline reads each from its marker: every report by its key, every phase, the policy stored
    const timeline = await campaignTimeline(env.client, 'campaign-kaiping-2024');
    const told = timeline.filter((t) => t.kind === 'report').map((t) => /^progress (\S+):/.exec(t.what)![1]);
    expect(told.sort()).toEqual(reports);
    expect(timeline.filter((t) => t.kind === 'phase')).toHaveLength(phases);
    const campaignRuns = new Set(runs.map((r) => r.runId));
    expect(
      timeline.filter((t) => t.what === 'policy snapshot stored' && campaignRuns.has(t.runId)),
    ).toHaveLength(1);
    expect(formatTimeline(timeline)).toMatch(/进度统计 cutoff：参保 \d+ 人 \/ 应参保 \d+ 人/);
  });

  it('progress is reported every Thursday and the run continued as new to keep its history short', () => {
    expect(progress.lastReport!.key).toBe('progress-2023-12-28');
    expect(progress.runs).toBeGreaterThan(1);
    expect(progress.phase).toBe('closed');
  });
});

describe('the annual campaign: Meishan 2024, a different province and different rules', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let progress: CampaignProgress;
  const policy = seedPolicy('meishan', 2024);
  const q = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await db.pool.query<T & pg.QueryResultRow>(sql, params)).rows;

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    ({ progress } = await rehearse(env, db, policy, 0.0006));
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('partly subsidised people are levied their own share only: 95 or 285 yuan (003 三(三)2)', async () => {
    const amounts = await q<{ personal_fen: number; subsidy_fen: number }>(
      `SELECT DISTINCT e.personal_fen, e.subsidy_fen FROM enrollments e WHERE e.campaign_year = 2024 ORDER BY 1`,
    );
    expect(amounts).toEqual(expect.arrayContaining([{ personal_fen: 38000, subsidy_fen: 0 }]));
    for (const a of amounts) expect([0, 9500, 28500, 38000]).toContain(a.personal_fen);
    const levied = await q<{ amount_fen: number }>(`SELECT DISTINCT amount_fen FROM levy_lines ORDER BY 1`);
    expect(levied.every((l) => [9500, 28500, 38000].includes(l.amount_fen))).toBe(true);
  });

  it('a personal failure is not declared abandoned: it stays on the not-enrolled ledgers (003 六(二))', async () => {
    const abandoned = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollments WHERE status = 'abandoned'`,
    );
    expect(abandoned[0]!.n).toBe(0);
    expect(progress.cutoff!.abandoned).toBe(0);
    expect(progress.cutoff!.stillFailed).toBe(progress.rounds.at(-1)!.personal);
  });

  it('the special fiscal funds are claimed by 12-20 and the medical assistance fund by 12-31 (003 三(三)3(1))', () => {
    const funds = [...new Set(progress.claims.map((c) => c.fundingSource))];
    expect(funds.every((f) => ['special-fiscal-funds', 'medical-assistance-fund'].includes(f))).toBe(true);
    expect(progress.claimReceipts).toHaveLength(2);
    for (const c of progress.claims) expect(c.totalFen % 9500).toBe(0);
  });

  it('re-deduction runs weekly until the 2024-02-29 cut-off: the first round and 25 more', () => {
    expect(progress.rounds).toHaveLength(26);
  });
});

describe('the annual campaign: Heshan 2024', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let progress: CampaignProgress;
  const policy = seedPolicy('heshan', 2024);

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    ({ progress } = await rehearse(env, db, policy, 0.003));
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('each category is claimed from its own fund, the 计生优待户 (11) pays first and claims nothing centrally (001 三(二))', () => {
    const funds = new Set(progress.claims.map((c) => c.fundingSource));
    expect(funds.has('medical-assistance-fund')).toBe(true);
    expect(funds.has('health-department-funds')).toBe(false);
    for (const c of progress.claims) expect(c.totalFen).toBe(c.persons * 40600);
  });

  it('the enrolled count at the cut-off is the successes recorded by 12-31; personal failures are abandoned (001 六(三))', () => {
    expect(progress.cutoff!.abandoned).toBe(progress.rounds.at(-1)!.personal);
    expect(progress.cutoff!.stillFailed).toBe(0);
  });

  it('progress goes to the bureau on the 1st and 15th, the National Day report moved to 10-07 (001 七(七))', async () => {
    const keys = await db.pool.query<{ snapshot_key: string }>(
      `SELECT DISTINCT snapshot_key FROM coverage_snapshots ORDER BY 1`,
    );
    expect(keys.rows.map((r) => r.snapshot_key)).toEqual([
      'cutoff',
      'progress-2023-09-01',
      'progress-2023-09-15',
      'progress-2023-10-07',
      'progress-2023-10-16',
      'progress-2023-11-01',
      'progress-2023-11-15',
      'progress-2023-12-01',
      'progress-2023-12-15',
    ]);
    expect(progress.lastReport!.key).toBe('progress-2023-12-15');
  });
});

describe('附件1 forms during the campaign: stops by 10-07, new enrollments by 12-31 (000 五(三)(四))', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('a stop entered before the change deadline keeps last year’s payer out of the renewal and the levy', async () => {
    const policy = seedPolicy('kaiping', 2024);
    const outcomes: unknown[] = [];
    const { progress } = await rehearse(env, db, policy, 0.001, {}, async (handle) => {
      // last year's payer, renewed automatically unless stopped
      const payer = (
        await db.pool.query<{ id_number: string }>(
          `SELECT p.id_number FROM residents p JOIN enrollments e ON e.resident_id = p.id AND e.campaign_year = 2023 AND e.status = 'paid'
           WHERE p.residency = 'hukou' ORDER BY p.id LIMIT 1`,
        )
      ).rows[0]!;
      outcomes.push(
        await handle.executeUpdate(householdFormUpdate, {
          args: [
            {
              kind: 'stop',
              idNumber: payer.id_number,
              reason: '已参加职工医保',
              date: '2023-09-05',
              operator: 'town-clerk',
            },
          ],
        }),
      );
      return payer.id_number;
    });
    expect(outcomes).toEqual([
      { accepted: true, result: expect.stringMatching(/^stopped for 2024: 已参加职工医保/) },
    ]);
    const stopped = await db.pool.query<{ status: string; stop_reason: string; levied: number }>(
      `SELECT e.status::text, e.stop_reason, (SELECT count(*)::int FROM levy_lines l WHERE l.enrollment_id = e.id) AS levied
       FROM enrollments e WHERE e.campaign_year = 2024 AND e.status = 'stopped'`,
    );
    expect(stopped.rows).toEqual([{ status: 'stopped', stop_reason: '已参加职工医保', levied: 0 }]);
    // the stop is the enrollment's status history, made by the activity that applied the form
    const history = await db.pool.query(
      `SELECT h.from_status, h.to_status::text, c.made_by->>'workflowId' AS workflow, c.made_by->>'activityType' AS activity
       FROM enrollment_status_history h JOIN enrollment_status_changes c ON c.id = h.change_id
       JOIN enrollments e ON e.id = h.enrollment_id WHERE e.campaign_year = 2024 AND e.status = 'stopped'`,
    );
    expect(history.rows).toEqual([
      {
        from_status: null,
        to_status: 'stopped',
        workflow: 'campaign-kaiping-2024',
        activity: 'applyHouseholdForm',
      },
    ]);
    expect(progress.phase).toBe('closed');
  });
});

describe('departments that are late, down, or send their results twice and out of order', () => {
  let env: TestWorkflowEnvironment;
  let clean: TestDatabase;
  let faulty: TestDatabase;
  let cleanRun: CampaignProgress;
  let faultyRun: CampaignProgress;
  const policy = seedPolicy('kaiping', 2024);
  const endStates = async (db: TestDatabase) =>
    (
      await db.pool.query<{ status: string; n: number }>(
        `SELECT status::text, count(*)::int AS n FROM enrollments WHERE campaign_year = 2024 GROUP BY 1 ORDER BY 1`,
      )
    ).rows;

  beforeAll(async () => {
    [env, clean, faulty] = await Promise.all([
      timeSkippingEnvironment(),
      createTestDatabase(),
      createTestDatabase(),
    ]);
    ({ progress: cleanRun } = await rehearse(env, clean, policy, 0.002));
    ({ progress: faultyRun } = await rehearse(env, faulty, policy, 0.002, {
      simulation: {
        lateDepartments: ['civil-affairs'],
        taxUnavailableAttempts: 2,
        duplicateResultLines: true,
      },
    }));
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
    await clean?.drop();
    await faulty?.drop();
  });

  it('a late roster is taken when asked again at the deadline', () => {
    expect(faultyRun.rosters['civil-affairs']!.status).toBe('imported');
    expect(faultyRun.rosters['civil-affairs']!.rowsRead).toBe(cleanRun.rosters['civil-affairs']!.rowsRead);
  });

  it('a tax bureau down for two requests per batch, sending every line twice in reverse, changes nothing: the year ends as the clean one', async () => {
    expect(faultyRun.rounds).toEqual(cleanRun.rounds);
    expect(await endStates(faulty)).toEqual(await endStates(clean));
    const twice = await faulty.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT enrollment_id FROM deduction_results WHERE outcome = 'success' GROUP BY 1 HAVING count(*) > 1) x`,
    );
    expect(twice.rows[0]!.n).toBe(0);
    expect(faultyRun.claims).toEqual(cleanRun.claims);
    const received = async (db: TestDatabase) =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT sum(row_count)::int AS n FROM exchange_log WHERE kind = 'deduction-results'`,
        )
      ).rows[0]!.n;
    expect(await received(faulty)).toBe(2 * (await received(clean)));
  });
});
