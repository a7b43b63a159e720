import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationConfig } from '../../activities/adapters/simulated';
import { policyHash } from '../../activities/campaign';
import type { Policy } from '../../domain/policy';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import { AnnualCampaignWorkflow, campaignWorkflowId, type CampaignProgress } from '../../workflows/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { timeSkippingEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

async function rehearse(
  env: TestWorkflowEnvironment,
  db: TestDatabase,
  policy: Policy,
  scale: number,
  options: { maxHistoryEvents?: number } = {},
) {
  const outDir = mkdtempSync(join(tmpdir(), `medins-${policy.jurisdiction}-`));
  const manifest = await generatePopulation(db.pool, policy, {
    scale,
    seed: 3,
    defectRate: 0.02,
    deltaMonths: 0,
    outDir,
  });
  const simulation: SimulationConfig = {
    seed: 3,
    populationDirs: { [policy.jurisdiction]: outDir },
    systemicFailureRate: 0.02,
    topUpRate: 0.3,
    missingDepartments: [],
    exchangeDir: mkdtempSync(join(tmpdir(), 'medins-exchange-')),
  };
  const taskQueue = uniqueTaskQueue(`campaign-${policy.jurisdiction}`);
  const worker = await createWorker({
    connection: env.nativeConnection,
    taskQueue,
    pool: db.pool,
    simulation,
    workflowBundle: await workflowBundle(),
  });
  const handle = await env.client.workflow.start(AnnualCampaignWorkflow, {
    taskQueue,
    workflowId: campaignWorkflowId(policy.jurisdiction, policy.year),
    args: [
      {
        policy,
        policyHash: policyHash(policy),
        operator: 'test-operator',
        rehearsal: true,
        searchAttributes: false,
        ...options,
      },
    ],
  });
  const progress: CampaignProgress = await worker.runUntil(handle.result());
  return { progress, manifest, handle };
}

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

  it('progress is reported every Thursday and the run continued as new to keep its history short', () => {
    expect(progress.lastReport!.key).toBe('progress-2023-12-28');
    expect(progress.runs).toBeGreaterThan(1);
    expect(progress.phase).toBe('closed');
  });
});
