import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyHash } from '../../ledger/policy-hash';
import { CampaignNotRunning, clearDrillYear, submitRosterFile } from '../../application/campaigns';
import { CampaignAlreadyRunning, CampaignYearHeld, startCampaign } from '../../application/campaign-workflow';
import type { SimulationConfig } from '../../departments/simulated';
import { makeDrillPolicy } from '../../domain/drill';
import { seedPolicy } from '../../seeds';
import { createWorker } from '../../worker/create-worker';
import { AnnualCampaignWorkflow, type CampaignProgress } from '../../workflows/campaign';
import { drillPopulation } from '../support/campaign';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

/**
 * The newcomer's sequence (defect 1): a drill of Kaiping 2024 runs to its close in the production ledger,
 * then the real 2024 campaign is started in that ledger, then a second drill. A drill's enrollments and levy
 * batches share the real year's ledger rows, so the real year must never start on them (it closed at once,
 * with the drill's paid and abandoned people as its own), and a second drill must levy its own rounds.
 */
describe('a drill never stands in for the real year in the ledger, and runs again with its own rounds', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let operator: Login;
  let simulation: SimulationConfig;
  const real = seedPolicy('kaiping', 2024);

  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
    operator = await db.login('operator');
    simulation = await drillPopulation(db, real, { seed: 11 });
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  const batches = async () =>
    (
      await db.pool.query<{ id: string; round: number }>(
        `SELECT id, round FROM levy_batches WHERE jurisdiction = 'kaiping' AND campaign_year = 2024 ORDER BY round`,
      )
    ).rows;

  it('a real year is refused on a closed drill’s rows, saying what to run; the second drill clears the first and levies its own rounds', async () => {
    const taskQueue = uniqueTaskQueue('drill-ledger');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation,
      workflowBundle: await workflowBundle(),
    });
    await worker.runUntil(async () => {
      // 1. the drill, started as the console and the CLI start it (the operator's login, the ledger given)
      const first = makeDrillPolicy(real, Date.now() + 8_000, 0.05);
      const started = await startCampaign(env.client, {
        taskQueue,
        policy: first,
        operator: operator.user,
        pool: operator.pool,
      });
      const done = (await env.client.workflow
        .getHandle(started.workflowId, started.runId)
        .result()) as CampaignProgress;
      expect(done.phase).toBe('closed');
      const firstBatches = await batches();
      expect(firstBatches.length).toBeGreaterThanOrEqual(2);

      // 2. the real year in the same ledger: refused before Temporal is asked, naming the command to run
      const refused = await startCampaign(env.client, {
        taskQueue: uniqueTaskQueue('real-on-drill'),
        policy: real,
        operator: operator.user,
        pool: operator.pool,
      }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CampaignYearHeld);
      expect((refused as Error).message).toContain('the ledger holds the rows of a drill of kaiping 2024');
      expect((refused as Error).message).toContain(
        'npm run cli -- campaign clear-drill --jurisdiction kaiping --year 2024',
      );
      expect((refused as CampaignYearHeld).zh).toContain('清除演练数据');
      // the ledger itself holds to it, however the real year is started (here the workflow directly, not
      // through the CLI or the console): its first step is refused, not retried, and it writes nothing
      const direct = await env.client.workflow.start(AnnualCampaignWorkflow, {
        taskQueue,
        workflowId: `drill-ledger-real-${randomUUID()}`,
        args: [
          {
            policy: real,
            policyHash: policyHash(real),
            operator: operator.user,
            rehearsal: false,
            searchAttributes: false,
          },
        ],
      });
      const failed = await direct.result().catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(WorkflowFailedError);
      let causes = '';
      for (let e = failed as Error | undefined; e; e = e.cause as Error | undefined)
        causes += `${e.message}\n`;
      expect(causes).toContain('the ledger holds the rows of a drill of kaiping 2024');
      // nothing of the drill was taken over: its batches are still the only ones, and no real policy is stored
      expect(await batches()).toEqual(firstBatches);
      const policies = await db.pool.query<{ drill: boolean }>(
        `SELECT coalesce((policy->>'drill')::boolean, false) AS drill FROM campaign_policies WHERE jurisdiction = 'kaiping' AND year = 2024`,
      );
      expect(policies.rows.map((r) => r.drill)).toEqual([true]);

      // 3. a second drill: the first one's rows are cleared under the operator, and it levies its own rounds
      const secondPolicy = makeDrillPolicy(real, Date.now() + 8_000, 0.05);
      const second = await startCampaign(env.client, {
        taskQueue,
        policy: secondPolicy,
        operator: operator.user,
        pool: operator.pool,
      });
      expect(second.clearedDrill).toMatchObject({ levy_batches: firstBatches.length });
      expect(Number(second.clearedDrill?.enrollments)).toBeGreaterThan(0);

      // a roster handed to the real year's id while only the drill runs says to add --drill
      const dir = mkdtempSync(join(tmpdir(), 'medins-drill-ledger-'));
      const file = join(dir, 'roster.csv');
      writeFileSync(file, '姓名,身份证号码,类别\n');
      const notRunning = await submitRosterFile(
        { pool: operator.pool, temporal: () => Promise.resolve(env.client) },
        {
          workflowId: 'campaign-kaiping-2024',
          department: 'civil-affairs',
          path: file,
          operator: operator.user,
        },
      ).catch((e: unknown) => e);
      expect(notRunning).toBeInstanceOf(CampaignNotRunning);
      expect((notRunning as Error).message).toMatch(
        /no campaign campaign-kaiping-2024 is running, but a drill of that year is \(campaign-kaiping-2024-drill\): .*add --drill/,
      );

      // clearing while the drill runs is refused
      const whileRunning = await clearDrillYear(
        { pool: operator.pool, client: env.client },
        { jurisdiction: 'kaiping', year: 2024 },
      ).catch((e: unknown) => e);
      expect(whileRunning).toBeInstanceOf(CampaignYearHeld);
      expect((whileRunning as Error).message).toMatch(/campaign-kaiping-2024-drill .* is running/);

      const secondDone = (await env.client.workflow
        .getHandle(second.workflowId, second.runId)
        .result()) as CampaignProgress;
      expect(secondDone.phase).toBe('closed');
      const secondBatches = await batches();
      expect(secondBatches.length).toBeGreaterThanOrEqual(2);
      expect(secondBatches.map((b) => b.round)).toEqual(secondDone.rounds.map((r) => r.round));
      const firstIds = new Set(firstBatches.map((b) => b.id));
      expect(secondBatches.filter((b) => firstIds.has(b.id))).toEqual([]);
      const levied = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM levy_lines l JOIN levy_batches b ON b.id = l.batch_id
         WHERE b.jurisdiction = 'kaiping' AND b.campaign_year = 2024 AND b.round = 1`,
      );
      expect(levied.rows[0]!.n).toBe(secondDone.rounds[0]!.lines);
      expect(secondDone.rounds[0]!.lines).toBeGreaterThan(0);
    });

    // 4. the operator clears the closed drill; the real year may then start on an empty year
    const cleared = await clearDrillYear(
      { pool: operator.pool, client: env.client },
      { jurisdiction: 'kaiping', year: 2024 },
    );
    expect(Number(cleared.levy_batches)).toBeGreaterThanOrEqual(2);
    const left = await db.pool.query<{ enrollments: number; batches: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM enrollments WHERE jurisdiction = 'kaiping' AND campaign_year = 2024) AS enrollments,
              (SELECT count(*)::int FROM levy_batches WHERE jurisdiction = 'kaiping' AND campaign_year = 2024) AS batches,
              (SELECT count(*)::int FROM campaign_events WHERE jurisdiction = 'kaiping' AND campaign_year = 2024) AS events`,
    );
    expect(left.rows[0]).toEqual({ enrollments: 0, batches: 0, events: 0 });
    const claims = await db.pool.query<{ drill: boolean; cleared_by: string | null }>(
      `SELECT drill, cleared_by FROM campaign_year_claims WHERE jurisdiction = 'kaiping' AND campaign_year = 2024 ORDER BY id`,
    );
    expect(claims.rows).toEqual([
      { drill: true, cleared_by: operator.user },
      { drill: true, cleared_by: operator.user },
    ]);

    const realStart = await startCampaign(env.client, {
      taskQueue: uniqueTaskQueue('real-after-clear'),
      policy: real,
      operator: operator.user,
      pool: operator.pool,
    }).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    // the ledger lets the real year start (on the shared dev server the id may be held by an earlier run of
    // this file: then Temporal, not the ledger, refuses it)
    if (realStart instanceof Error) {
      expect(realStart).toBeInstanceOf(CampaignAlreadyRunning);
      expect(realStart).not.toBeInstanceOf(CampaignYearHeld);
    } else {
      await env.client.workflow.getHandle(realStart.workflowId).terminate('test: only the start was checked');
    }
    // and now the year is the real year's: a drill of it is refused, in English and in Chinese
    const drillAfterReal = await startCampaign(env.client, {
      taskQueue,
      policy: makeDrillPolicy(real, Date.now() + 8_000, 0.05),
      operator: operator.user,
      pool: operator.pool,
    }).catch((e: unknown) => e);
    expect(drillAfterReal).toBeInstanceOf(CampaignYearHeld);
    expect((drillAfterReal as Error).message).toContain('the real kaiping 2024 campaign is in this ledger');
    expect((drillAfterReal as CampaignYearHeld).zh).toContain('正式年度');
    const refusedClear = await clearDrillYear(
      { pool: operator.pool, client: env.client },
      { jurisdiction: 'kaiping', year: 2024 },
    ).catch((e: unknown) => e);
    expect((refusedClear as Error).message).toContain("are the real year's: they are never cleared");
  });
});
