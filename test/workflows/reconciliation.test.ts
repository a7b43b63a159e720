import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationConfig } from '../../activities/adapters/simulated';
import { importDepartmentList } from '../../activities/registry/import-list';
import { reconcileMonth } from '../../client/reconcile-commands';
import { seedPolicy } from '../../seeds';
import { generatePopulation, type PopulationManifest } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import type { ReconciliationResult } from '../../workflows/reconciliation';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { timeSkippingEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

describe('monthly reconciliation of the difficulty lists (000 五(一), 001 七(三), 003 附件1)', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let manifest: PopulationManifest;
  let result: ReconciliationResult;
  const policy = seedPolicy('kaiping', 2024);

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    const outDir = mkdtempSync(join(tmpdir(), 'medins-deltas-'));
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

  it('a removal ends the subsidised standard with the month: from the next month on (000 五(一))', async () => {
    const removed = await db.pool.query<{ valid_to: string; month_end: string }>(
      `SELECT i.valid_to::text, (date_trunc('month', s.effective_on) + interval '1 month - 1 day')::date::text AS month_end
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
            policyHash: (await import('../../activities/campaign')).policyHash(policy),
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
});
