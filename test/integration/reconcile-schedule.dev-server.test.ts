import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backfillSchedule,
  createReconciliationSchedule,
  describeSchedule,
  setSchedulePaused,
  triggerSchedule,
} from '../../client/reconcile-commands';
import { chinaYearMonthOf } from '../../domain/dates';
import { seedPolicy } from '../../seeds';
import { createWorker } from '../../worker/create-worker';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

const china = () => chinaYearMonthOf(Date.now());
/** The 10th of the month `offset` months from now, 09:00 Beijing time, moved by `hours`. */
const deltaDay = (offset: number, hours: number) =>
  new Date(Date.UTC(china().year, china().month - 1 + offset, 10, 1 + hours));
const monthAgo = (offset: number) =>
  new Date(Date.UTC(china().year, china().month - 1 + offset, 1)).toISOString().slice(0, 7);

describe('the monthly reconciliation on a Temporal Schedule (real dev server)', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  const policy = seedPolicy('heshan', 2024);

  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
  });
  afterAll(async () => {
    await env?.client.schedule
      .getHandle('reconcile-heshan')
      .delete()
      .catch(() => undefined);
    await env?.teardown();
    await db?.drop();
  });

  it('is created from the policy, triggered, backfilled for two missed months, and reconciles each month exactly once', async () => {
    const taskQueue = uniqueTaskQueue('schedule');
    const dir = mkdtempSync(join(tmpdir(), 'medins-schedule-'));
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation: {
        seed: 1,
        populationDirs: {},
        systemicFailureRate: 0,
        topUpRate: 0,
        missingDepartments: [],
        exchangeDir: dir,
      },
      workflowBundle: await workflowBundle(),
    });
    const months = async () =>
      (
        await db.pool.query<{ month: string; finished: boolean }>(
          `SELECT month, finished_at IS NOT NULL AS finished FROM reconciliations ORDER BY month`,
        )
      ).rows;
    const waitFor = async (n: number) => {
      for (let i = 0; i < 120 && (await months()).filter((m) => m.finished).length < n; i += 1)
        await new Promise((r) => setTimeout(r, 500));
    };

    await worker.runUntil(async () => {
      await createReconciliationSchedule(env.client, taskQueue, policy, { paused: true, graceMs: 0 });
      const described = await describeSchedule(env.client, 'heshan');
      expect(described.spec.calendars?.[0]).toMatchObject({ dayOfMonth: [{ start: 10, end: 10, step: 1 }] });
      expect(described.spec.timezone).toBe('Asia/Shanghai');
      expect(described.policies.overlap).toBe('SKIP');
      expect(described.state.paused).toBe(true);

      await triggerSchedule(env.client, 'heshan');
      await waitFor(1);
      // two delta days missed while the schedule was paused, three and two months ago
      await backfillSchedule(env.client, 'heshan', deltaDay(-3, -1), deltaDay(-2, 1));
      await waitFor(3);
      await triggerSchedule(env.client, 'heshan'); // the same month again
      await new Promise((r) => setTimeout(r, 3000));
      await setSchedulePaused(env.client, 'heshan', false, 'test: resumed');
      expect((await describeSchedule(env.client, 'heshan')).state.paused).toBe(false);
    });

    expect(await months()).toEqual(
      [monthAgo(-4), monthAgo(-3), monthAgo(-1)].map((month) => ({ month, finished: true })),
    );
    const escalated = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM campaign_events WHERE kind = 'delta-escalated'`,
    );
    expect(escalated.rows[0]!.n).toBe(3 * policy.departments.length);
  });
});
