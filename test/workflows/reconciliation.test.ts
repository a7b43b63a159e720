import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationConfig } from '../../departments/simulated';
import { importDepartmentList } from '../../lists/import-list';
import { campaignTimeline, collectRuns, exportHistories } from '../../audit/history';
import { reconcileMonth } from '../../client/reconcile-commands';
import { seedPolicy } from '../../seeds';
import { generatePopulation, type PopulationManifest } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import type { CampaignProgress } from '../../workflows/campaign';
import type { ReconciliationResult } from '../../workflows/reconciliation';
import { rehearse } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { timeSkippingEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

describe('monthly reconciliation of the difficulty lists (000 五(一), 001 七(三), 003 附件1)', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let manifest: PopulationManifest;
  let result: ReconciliationResult;
  let populationDir: string;
  const policy = seedPolicy('kaiping', 2024);

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    const outDir = mkdtempSync(join(tmpdir(), 'medins-deltas-'));
    populationDir = outDir;
    manifest = await generatePopulation(db.pool, policy, {
      scale: 0.005,
      seed: 31,
      defectRate: 0,
      deltaMonths: 2,
      outDir,
    });
    const exchangeDir = join(outDir, 'exchange');
    for (const f of manifest.files.filter((x) => x.kind === 'roster')) {
      await importDepartmentList(
        { pool: db.pool, policy, exchangeDir },
        {
          jurisdiction: 'kaiping',
          department: f.department,
          kind: 'roster',
          period: '2023-08-31',
          effectiveOn: '2023-08-31',
          fileName: 'roster',
          receivedBy: 'test',
        },
        readFileSync(f.path),
      );
    }
    const simulation: SimulationConfig = {
      seed: 31,
      populationDirs: { kaiping: outDir },
      systemicFailureRate: 0,
      topUpRate: 0,
      missingDepartments: [],
      exchangeDir,
    };
    const taskQueue = uniqueTaskQueue('reconcile');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation,
      workflowBundle: await workflowBundle(),
    });
    result = await worker.runUntil(reconcileMonth(env.client, taskQueue, policy, '2023-09'));
  }, 300_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('two past months reconciled today keep their own dates: additions from each month’s registration day (the 10th after it), removals ending with the month (000 五(一))', async () => {
    const taskQueue = uniqueTaskQueue('reconcile-late');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation: {
        seed: 31,
        populationDirs: { kaiping: populationDir },
        systemicFailureRate: 0,
        topUpRate: 0,
        missingDepartments: [],
        exchangeDir: join(populationDir, 'exchange'),
      },
      workflowBundle: await workflowBundle(),
    });
    // September ran in beforeAll (today, years late); October now
    await worker.runUntil(reconcileMonth(env.client, taskQueue, policy, '2023-10'));
    const dated = await db.pool.query<{
      month: string;
      action: string;
      valid_from: string;
      valid_to: string | null;
    }>(
      `SELECT s.period AS month, r.action, i.valid_from::text, i.valid_to::text
       FROM submissions s JOIN submission_rows r ON r.submission_id = s.id AND r.accepted
       JOIN residents p ON p.id_number = r.id_number
       JOIN identities i ON i.resident_id = p.id AND i.category = r.category
         AND (i.opened_by_submission = s.id OR i.closed_by_submission = s.id)
       WHERE s.kind = 'delta' ORDER BY 1, 2`,
    );
    const months = new Set(dated.rows.map((r) => r.month));
    expect([...months].sort()).toEqual(['2023-09', '2023-10']);
    const expected: Record<string, { from: string; to: string }> = {
      '2023-09': { from: '2023-10-10', to: '2023-09-30' },
      '2023-10': { from: '2023-11-10', to: '2023-10-31' },
    };
    for (const r of dated.rows) {
      if (r.action === 'add') expect(r.valid_from).toBe(expected[r.month]!.from);
      else expect(r.valid_to).toBe(expected[r.month]!.to);
    }
    expect(dated.rows.some((r) => r.action === 'add')).toBe(true);
    expect(dated.rows.some((r) => r.action === 'remove')).toBe(true);
  });

  it('each department’s September delta is imported, and its rows add up', () => {
    const deltas = manifest.files.filter((f) => f.kind === 'delta' && f.period === '2023-09');
    for (const f of deltas) {
      const d = result.departments[f.department]!;
      expect(d.status).toBe('imported');
      expect(d.rows).toBe(f.rows);
      expect(d.accepted! + d.rejected!).toBe(d.rows);
    }
  });

  it('an addition is marked from the registration day and registered as subsidised (先登记参保)', async () => {
    const added = await db.pool.query<{ valid_from: string; registered_on: string; enrolled: string | null }>(
      `SELECT i.valid_from::text, s.effective_on::text AS registered_on, e.status::text AS enrolled FROM identities i
       JOIN submissions s ON s.id = i.opened_by_submission AND s.kind = 'delta'
       LEFT JOIN enrollments e ON e.resident_id = i.resident_id AND e.campaign_year = 2024`,
    );
    expect(added.rowCount).toBeGreaterThan(0);
    for (const a of added.rows) {
      expect(a.valid_from).toBe(a.registered_on);
      expect(a.enrolled).not.toBeNull();
    }
    expect(result.newlyRegistered).toBeGreaterThan(0);
  });

  it('a removal ends the subsidised standard with the delta’s month: from the next month on (000 五(一))', async () => {
    const removed = await db.pool.query<{ valid_to: string; month_end: string }>(
      `SELECT i.valid_to::text, (date_trunc('month', (s.period || '-01')::date) + interval '1 month - 1 day')::date::text AS month_end
       FROM identities i JOIN submissions s ON s.id = i.closed_by_submission AND s.kind = 'delta'`,
    );
    expect(removed.rowCount).toBeGreaterThan(0);
    for (const r of removed.rows) expect(r.valid_to).toBe(r.month_end);
  });

  it('the month is reconciled once: the same month run again changes nothing', async () => {
    const before = await db.pool.query(
      `SELECT (SELECT count(*) FROM identities) AS i, (SELECT count(*) FROM submissions) AS s, (SELECT count(*) FROM enrollments) AS e`,
    );
    const taskQueue = uniqueTaskQueue('reconcile-again');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation: {
        seed: 31,
        populationDirs: {},
        systemicFailureRate: 0,
        topUpRate: 0,
        missingDepartments: [],
        exchangeDir: tmpdir(),
      },
      workflowBundle: await workflowBundle(),
    });
    const again = await worker.runUntil(
      env.client.workflow.execute('MonthlyReconciliationWorkflow', {
        taskQueue,
        workflowId: 'reconcile-kaiping-2023-09-second',
        args: [
          {
            policy,
            policyHash: (await import('../../ledger/policy-hash')).policyHash(policy),
            month: '2023-09',
            graceMs: 0,
          },
        ],
      }) as Promise<ReconciliationResult>,
    );
    expect(again.alreadyReconciledBy).toBe('reconcile-kaiping-2023-09');
    const after = await db.pool.query(
      `SELECT (SELECT count(*) FROM identities) AS i, (SELECT count(*) FROM submissions) AS s, (SELECT count(*) FROM enrollments) AS e`,
    );
    expect(after.rows).toEqual(before.rows);
  });

  it('the same person added by two departments in one month is an exception for operators, with the precedence recorded', async () => {
    const person = (
      await db.pool.query<{ id_number: string; name: string }>(
        `SELECT id_number, name FROM residents WHERE residency = 'hukou' AND NOT employee_insured AND deceased_on IS NULL
         AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = residents.id) ORDER BY id DESC LIMIT 1`,
      )
    ).rows[0]!;
    const header = '序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别,变动类型\r\n';
    writeFileSync(
      join(populationDir, 'civil-affairs-delta-2023-11.csv'),
      `${header}1,${person.name},男,${person.id_number},,,1,新增\r\n`,
    );
    writeFileSync(
      join(populationDir, 'disabled-persons-federation-delta-2023-11.csv'),
      `${header}1,${person.name},男,${person.id_number},,,7,新增\r\n`,
    );
    const taskQueue = uniqueTaskQueue('reconcile-conflict');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation: {
        seed: 31,
        populationDirs: { kaiping: populationDir },
        systemicFailureRate: 0,
        topUpRate: 0,
        missingDepartments: [],
        exchangeDir: tmpdir(),
      },
      workflowBundle: await workflowBundle(),
    });
    const november = await worker.runUntil(reconcileMonth(env.client, taskQueue, policy, '2023-11'));
    expect(november.conflicts).toBe(1);
    const exceptions = await db.pool.query<{
      kind: string;
      id_number: string;
      detail: { departments: string[]; precedence: string };
    }>(`SELECT kind, id_number, detail FROM reconciliation_exceptions WHERE month = '2023-11'`);
    expect(exceptions.rows).toEqual([
      {
        kind: 'added-by-two-departments',
        id_number: person.id_number,
        detail: expect.objectContaining({
          departments: ['civil-affairs', 'disabled-persons-federation'],
          precedence: 'most-favourable-then-document-order',
        }),
      },
    ]);
  });
});

describe('a Kaiping year with twelve monthly deltas (000 五(一))', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let progress: CampaignProgress;
  const policy = seedPolicy('kaiping', 2024);

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    ({ progress } = await rehearse(env, db, policy, 0.004, { deltaMonths: 12, reconcileMonthly: true }));
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('reconciles each of the twelve months after the roster, once, on its delta day', async () => {
    expect(progress.reconciledMonths).toEqual([
      '2023-09',
      '2023-10',
      '2023-11',
      '2023-12',
      '2024-01',
      '2024-02',
      '2024-03',
      '2024-04',
      '2024-05',
      '2024-06',
      '2024-07',
      '2024-08',
    ]);
    const rows = await db.pool.query<{ month: string; finished: boolean }>(
      `SELECT month, finished_at IS NOT NULL AS finished FROM reconciliations ORDER BY month`,
    );
    expect(rows.rows.every((r) => r.finished)).toBe(true);
    expect(rows.rowCount).toBe(12);
  });

  it('leaves the registry exactly as a direct SQL replay of the roster and the same deltas', async () => {
    // the replay: for every person and category, the last accepted line of the roster and the deltas in order decides
    const replay = await db.pool.query<{ resident_id: string; category: string; valid_to: string | null }>(
      `WITH lines AS (
         SELECT p.id AS resident_id, r.category, r.action, s.kind, s.period, r.row_no,
                CASE WHEN s.kind = 'delta' THEN (s.period || '-01')::date ELSE s.effective_on END AS effective_on
         FROM submission_rows r JOIN submissions s ON s.id = r.submission_id AND s.status = 'current'
         JOIN residents p ON p.jurisdiction = s.jurisdiction AND p.id_number = r.id_number
         WHERE r.accepted
       ), last AS (
         SELECT DISTINCT ON (resident_id, category) resident_id, category, action, effective_on
         FROM lines ORDER BY resident_id, category, (kind = 'delta') DESC, period DESC, row_no DESC
       )
       SELECT resident_id, category,
              CASE WHEN action = 'remove' THEN (date_trunc('month', effective_on) + interval '1 month - 1 day')::date::text END AS valid_to
       FROM last ORDER BY 1, 2`,
    );
    const registry = await db.pool.query<{ resident_id: string; category: string; valid_to: string | null }>(
      `SELECT DISTINCT ON (resident_id, category) resident_id, category, valid_to::text
       FROM identities ORDER BY resident_id, category, (valid_to IS NULL) DESC, valid_to DESC`,
    );
    expect(replay.rowCount).toBeGreaterThan(0);
    expect(registry.rows).toEqual(replay.rows);
    const removals = replay.rows.filter((r) => r.valid_to !== null).length;
    expect(removals).toBeGreaterThan(0);
  });

  it('an addition registered before the claim (March, April …) counts in the June 30 claim; one who had already paid keeps the year as it is (000 五(一))', async () => {
    const additions = await db.pool.query<{ claimed: boolean; subsidy_fen: number; status: string }>(
      `SELECT EXISTS (SELECT 1 FROM subsidy_claim_lines l WHERE l.enrollment_id = e.id) AS claimed, e.subsidy_fen, e.status::text
       FROM identities i JOIN submissions s ON s.id = i.opened_by_submission
       JOIN enrollments e ON e.resident_id = i.resident_id AND e.campaign_year = 2024
       WHERE s.kind = 'delta' AND s.effective_on <= '2024-06-10'
         AND NOT EXISTS (SELECT 1 FROM identities o WHERE o.resident_id = i.resident_id AND o.id <> i.id)`,
    );
    const subsidised = additions.rows.filter((r) => r.subsidy_fen > 0);
    expect(subsidised.length).toBeGreaterThan(0);
    expect(subsidised.every((r) => r.claimed)).toBe(true);
    expect(
      additions.rows.filter((r) => r.subsidy_fen === 0).every((r) => r.status === 'paid' && !r.claimed),
    ).toBe(true);
  });

  it('audit history follows the campaign into its twelve reconciliation children, and audit export writes histories that replay', async () => {
    const timeline = await campaignTimeline(env.client, 'campaign-kaiping-2024');
    const children = timeline.filter((t) => t.what.startsWith('monthly reconciliation reconcile-kaiping-'));
    expect(children.map((c) => c.workflowId)).toEqual(
      progress.reconciledMonths!.map((m) => `reconcile-kaiping-${m}`),
    );
    expect(children[0]!.what).toBe(
      'monthly reconciliation reconcile-kaiping-2023-09 started by campaign-kaiping-2024 for 2023-09',
    );
    // each child's delta imports carry department, rows and the digest the exchange log holds
    const deltas = timeline.filter((t) => /^imported the \d{4}-\d{2} delta of /.test(t.what));
    expect(deltas.length).toBeGreaterThan(12);
    const logged = new Set(
      (
        await db.pool.query<{ sha256: string }>(`SELECT sha256 FROM exchange_log WHERE direction = 'in'`)
      ).rows.map((r) => r.sha256),
    );
    for (const d of deltas) expect(logged.has(d.exchange!.sha256!)).toBe(true);
    // a child's entries sit between the parent's, in time order
    const at = timeline.map((t) => t.at);
    expect([...at].sort()).toEqual(at);

    const out = mkdtempSync(join(tmpdir(), 'medins-audit-export-'));
    const index = exportHistories(await collectRuns(env.client, 'campaign-kaiping-2024'), out);
    expect(index.filter((r) => r.workflowType === 'MonthlyReconciliationWorkflow')).toHaveLength(12);
    expect(index.filter((r) => r.workflowType === 'AnnualCampaignWorkflow').length).toBe(progress.runs);
    const listed = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as typeof index;
    expect(listed).toEqual(index);
    const bundle = await workflowBundle();
    for (const run of index) {
      const text = readFileSync(join(out, run.file), 'utf8');
      expect(createHash('sha256').update(text).digest('hex')).toBe(run.sha256);
      await Worker.runReplayHistory(
        { workflowBundle: bundle },
        historyFromJSON(JSON.parse(text)),
        run.workflowId,
      );
    }
  });
});
