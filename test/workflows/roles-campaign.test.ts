import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPolicy } from '../../seeds';
import type { CampaignProgress } from '../../workflows/campaign';
import { rehearse } from '../support/campaign';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { fullNumbersVisible } from '../support/full-numbers';
import { timeSkippingEnvironment } from '../support/temporal';

describe('a campaign year run by an operator-level login, then read by an auditor', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let worker: Login;
  let auditor: Login;
  let progress: CampaignProgress;
  const policy = seedPolicy('kaiping', 2024);

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    [worker, auditor] = await Promise.all([db.login('operator'), db.login('auditor')]);
    // the population, every activity and the monthly reconciliations write as the worker's own login
    ({ progress } = await rehearse(env, { ...db, pool: worker.pool }, policy, 0.0006, {
      deltaMonths: 2,
      reconcileMonthly: true,
    }));
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('an operator-level login runs the whole year: rosters imported, levied, deducted, claimed, reconciled', async () => {
    expect(progress.phase).toBe('closed');
    expect(Object.values(progress.rosters).every((r) => r.status === 'imported')).toBe(true);
    expect(progress.rounds.length).toBeGreaterThan(0);
    expect(progress.claims.length).toBeGreaterThan(0);
    expect(progress.reconciledMonths?.length).toBeGreaterThan(0);
    const written = await db.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM deduction_results)::int + (SELECT count(*) FROM campaign_events)::int AS n`,
    );
    expect(written.rows[0]!.n).toBeGreaterThan(0);
  });

  it('after a whole year, no table or view an auditor can select holds a full ID or bank account', async () => {
    const seen = await fullNumbersVisible(auditor.pool);
    expect(seen.selectable.length).toBeGreaterThan(15);
    expect(seen.exposed).toEqual([]);
    // the year's ledger does hold full numbers: the worker's login sees them where its work needs them
    const workerSees = (await fullNumbersVisible(worker.pool)).exposed.map((e) => e.relation);
    expect(workerSees).toEqual(expect.arrayContaining(['public.residents', 'public.submission_rows']));
  });
});
