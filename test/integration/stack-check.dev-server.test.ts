import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStackCheck } from '../../client/stack-check';
import { createWorker } from '../../worker/create-worker';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

describe('stack check on the real Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;

  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('the CLI path starts a check that a worker completes, the ledger holds its row and the server keeps its history', async () => {
    const taskQueue = uniqueTaskQueue('dev-stack-check');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      workflowBundle: await workflowBundle(),
    });
    const result = await worker.runUntil(
      runStackCheck(env.client, taskQueue, { requestedBy: 'operator-zhang' }),
    );

    const row = await db.pool.query('SELECT workflow_id, requested_by FROM stack_checks WHERE id = $1', [
      result.ledgerRowId,
    ]);
    expect(row.rows).toEqual([{ workflow_id: result.workflowId, requested_by: 'operator-zhang' }]);

    const description = await env.client.workflow.getHandle(result.workflowId).describe();
    expect(description.status.name).toBe('COMPLETED');
    const history = await env.client.workflow.getHandle(result.workflowId).fetchHistory();
    const types = (history.events ?? []).map((e) => e.eventType);
    expect(types.length).toBeGreaterThan(5);
  });
});
