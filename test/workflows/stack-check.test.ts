import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { exchangeDirOf, loadConfig, simulationConfig } from '../../worker/config';
import { departmentPorts, departmentSettings } from '../../worker/departments';
import { createWorker } from '../../worker/create-worker';
import { StackCheckWorkflow } from '../../workflows/stack-check';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { timeSkippingEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

describe('stack check on the time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('a check that first waits thirty days completes at once in skipped time and writes one ledger row', async () => {
    const taskQueue = uniqueTaskQueue('stack-check');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      workflowBundle: await workflowBundle(),
    });
    const wallStart = Date.now();
    const serverStart = await env.currentTimeMs();
    const result = await worker.runUntil(
      env.client.workflow.execute(StackCheckWorkflow, {
        taskQueue,
        workflowId: 'stack-check-thirty-days',
        args: [{ requestedBy: 'test-operator', note: 'thirty days', waitFirst: '30 days' }],
      }),
    );
    const serverElapsed = (await env.currentTimeMs()) - serverStart;

    expect(serverElapsed).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
    expect(Date.now() - wallStart).toBeLessThan(30 * 24 * 3600 * 1000);
    const rows = await db.pool.query('SELECT id, workflow_id, requested_by, note FROM stack_checks');
    expect(rows.rows).toEqual([
      {
        id: String(result.ledgerRowId),
        workflow_id: 'stack-check-thirty-days',
        requested_by: 'test-operator',
        note: 'thirty days',
      },
    ]);
  });

  it('a retried stack-check activity returns the row it already wrote instead of writing a second one', async () => {
    const config = loadConfig();
    const activities = createActivities({
      pool: db.pool,
      exchangeDir: exchangeDirOf(config),
      ports: departmentPorts(departmentSettings(config), {
        pool: db.pool,
        timeoutMs: config.MEDINS_DEPARTMENT_TIMEOUT_MS,
        simulation: () => simulationConfig(config),
      }),
    });
    const first = await activities.recordStackCheck({ workflowId: 'stack-check-retried', requestedBy: 'op' });
    const second = await activities.recordStackCheck({
      workflowId: 'stack-check-retried',
      requestedBy: 'op',
    });
    expect(second).toBe(first);
    const count = await db.pool.query(
      "SELECT count(*)::int AS n FROM stack_checks WHERE workflow_id = 'stack-check-retried'",
    );
    expect(count.rows[0]).toEqual({ n: 1 });
  });
});
