import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationConfig } from '../../departments/simulated';
import { campaignTimeline } from '../../audit/history';
import { CampaignAlreadyRunning, campaignStatus, startCampaign } from '../../application/campaign-workflow';
import { makeDrillPolicy } from '../../domain/drill';
import { seedPolicy } from '../../seeds';
import { createWorker } from '../../worker/create-worker';
import { CampaignPhase, type CampaignProgress } from '../../workflows/campaign';
import { drillPopulation } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

describe('a drill campaign on the real dev server: Kaiping’s rules, three seconds between dates', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  const drill = makeDrillPolicy(seedPolicy('kaiping', 2024), Date.now() + 8_000, 0.05);
  let simulation: SimulationConfig;

  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
    simulation = await drillPopulation(db, drill, { seed: 9, missingDepartments: ['veterans-affairs'] });
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('campaign start runs the whole drill year to its close; a second start is refused, naming the run', async () => {
    const taskQueue = uniqueTaskQueue('drill');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation,
      workflowBundle: await workflowBundle(),
    });
    const result: CampaignProgress = await worker.runUntil(async () => {
      const started = await startCampaign(env.client, { taskQueue, policy: drill, operator: 'operator-li' });
      expect(started.workflowId).toBe('campaign-kaiping-2024-drill');
      const again = await startCampaign(env.client, {
        taskQueue,
        policy: drill,
        operator: 'operator-li',
      }).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(CampaignAlreadyRunning);
      expect((again as Error).message).toContain(
        `workflow campaign-kaiping-2024-drill, run ${started.runId}`,
      );
      return env.client.workflow.getHandle(started.workflowId).result() as Promise<CampaignProgress>;
    });
    expect(result.phase).toBe('closed');
    expect(result.rosters['veterans-affairs']).toEqual({ status: 'escalated' });
    expect(result.rosters['civil-affairs']!.status).toBe('imported');
    expect(result.rounds.length).toBeGreaterThanOrEqual(2);
    expect(result.claims.length).toBeGreaterThan(0);

    const status = await campaignStatus(env.client, 'campaign-kaiping-2024-drill');
    expect(status.status).toBe('COMPLETED');
    const described = await env.client.workflow.getHandle('campaign-kaiping-2024-drill').describe();
    expect(described.typedSearchAttributes.get(CampaignPhase)).toBe('closed');
    const escalations = await db.pool.query<{ kind: string }>(
      `SELECT kind FROM campaign_events WHERE event_key LIKE 'roster-%veterans-affairs' ORDER BY id`,
    );
    expect(escalations.rows.map((r) => r.kind)).toEqual(['roster-reminder', 'roster-escalated']);

    // the auditor's timeline tells the year in the domain's words
    const timeline = (await campaignTimeline(env.client, 'campaign-kaiping-2024-drill')).map((t) => t.what);
    expect(timeline[0]).toMatch(/^campaign started by operator-li under policy [0-9a-f]{12}$/);
    expect(timeline).toContain('phase: deduction');
    expect(
      timeline.some((t) =>
        /^imported the roster of civil-affairs: \d+ rows = \d+ accepted \+ \d+ rejected$/.test(t),
      ),
    ).toBe(true);
    expect(timeline).toContain('roster-escalated (veterans-affairs)');
    expect(
      timeline.some((t) =>
        /^results of batch \d+ applied: \d+ paid, \d+ personal and \d+ systemic failures/.test(t),
      ),
    ).toBe(true);
    expect(timeline.some((t) => /^subsidy claim due .*receipt CZ-9-/.test(t))).toBe(true);
  });
});
