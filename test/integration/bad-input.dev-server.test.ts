/**
 * Bad input reaches the operator in seconds and the year goes on, on the real dev server with the real
 * command line: a file that is no roster handed in with `campaign submit-list`, a special file, and a
 * department whose adapter sends an unreadable roster. Heshan's rules on a drill calendar.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SimulationConfig } from '../../departments/simulated';
import { policyHash } from '../../ledger/policy-hash';
import { CampaignAlreadyRunning, CampaignYearHeld, startCampaign } from '../../application/campaign-workflow';
import { clearDrillYear } from '../../application/campaigns';
import { makeDrillPolicy } from '../../domain/drill';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import type { CampaignProgress } from '../../workflows/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

const exec = promisify(execFile);

describe('bad input on the dev server: refused in seconds, never retried, and the year goes on', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let outDir: string;
  // the roster phase lasts until the first calendar point, 40 s away: time for the command line to start
  const drill = makeDrillPolicy(seedPolicy('heshan', 2024), Date.now() + 40_000, 0.05);
  const refusedDepartment = drill.departments[0]!.id;
  const handedDepartment = drill.departments[1]!.id;

  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
    outDir = mkdtempSync(join(tmpdir(), 'medins-bad-input-'));
    await generatePopulation(db.pool, drill, {
      scale: 0.001,
      seed: 4,
      defectRate: 0,
      deltaMonths: 0,
      outDir,
    });
    // one department's adapter hands over something that is no list at all
    const roster = readdirSync(outDir).find((f) => f.startsWith(`${refusedDepartment}-roster-`))!;
    writeFileSync(join(outDir, roster), 'Dear colleagues, the list follows next week.\n');
  }, 300_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('campaign submit-list with a file that is no roster fails in seconds naming the file; a FIFO is refused; the adapter’s unreadable roster is refused and escalated; the year closes', async () => {
    const taskQueue = uniqueTaskQueue('bad-input');
    const simulation: SimulationConfig = {
      seed: 4,
      populationDirs: { heshan: outDir },
      systemicFailureRate: 0,
      topUpRate: 0.5,
      missingDepartments: [],
      exchangeDir: join(outDir, 'exchange'),
    };
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation,
      workflowBundle: await workflowBundle(),
    });
    // the clerk logs in as herself: who handed the file in is her login, not a name she types
    const clerk = await db.login('operator');
    const cliEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: inject('devServerAddress'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: clerk.url,
    };
    const submit = async (file: string) => {
      const started = Date.now();
      const outcome = await exec(
        process.execPath,
        [
          '--import',
          'tsx',
          'client/cli.ts',
          'campaign',
          'submit-list',
          '--jurisdiction',
          'heshan',
          '--year',
          '2024',
          '--drill',
          '--department',
          handedDepartment,
          file,
        ],
        { cwd: process.cwd(), env: cliEnv },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      return { ...outcome, ms: Date.now() - started };
    };

    const result: CampaignProgress = await worker.runUntil(async () => {
      const started = await startCampaign(env.client, { taskQueue, policy: drill, operator: 'operator-li' });
      const dir = mkdtempSync(join(tmpdir(), 'medins-submit-'));
      const text = join(dir, 'not-a-roster.txt');
      writeFileSync(text, Buffer.from([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x00, 0x01, 0x02]));
      const bad = await submit(text);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('not-a-roster.txt');
      expect(bad.stderr).toMatch(/not a spreadsheet/);
      expect(bad.ms).toBeLessThan(10_000);

      const fifo = join(dir, 'roster.csv');
      execFileSync('mkfifo', [fifo]);
      const special = await submit(fifo);
      expect(special.code).toBe(1);
      expect(special.stderr).toMatch(/special file/);

      return env.client.workflow.getHandle(started.workflowId).result() as Promise<CampaignProgress>;
    });
    expect(result.phase).toBe('closed');
    expect(result.rosters[refusedDepartment]).toMatchObject({
      status: 'escalated',
      refusal: { type: 'ListFileError' },
    });
    expect(result.claims.length).toBeGreaterThan(0);
    const refused = await db.pool.query<{ department: string; received_by: string }>(
      `SELECT department, received_by FROM refused_files ORDER BY id`,
    );
    expect(refused.rows).toEqual([
      { department: handedDepartment, received_by: clerk.user },
      { department: refusedDepartment, received_by: `adapter:${refusedDepartment}` },
    ]);
    const events = await db.pool.query<{ kind: string }>(
      `SELECT kind FROM campaign_events WHERE kind IN ('roster-refused', 'roster-escalated', 'step-failed') ORDER BY id`,
    );
    expect(events.rows.map((r) => r.kind)).not.toContain('step-failed');
    expect(events.rows.filter((r) => r.kind === 'roster-refused').length).toBeGreaterThanOrEqual(2);
  });

  it('a real year that closed in the ledger is not started again', async () => {
    const real = seedPolicy('heshan', 2024);
    // the drill of that year closed; its rows are still in the ledger, and the real year does not start on them
    const onDrillRows = await startCampaign(env.client, {
      taskQueue: uniqueTaskQueue('real-year'),
      policy: real,
      operator: 'operator-li',
      pool: db.pool,
    }).catch((e: unknown) => e);
    expect(onDrillRows).toBeInstanceOf(CampaignYearHeld);
    expect((onDrillRows as Error).message).toContain(
      'campaign clear-drill --jurisdiction heshan --year 2024',
    );
    // once the drill's rows are cleared, the drill does not close the real year
    await clearDrillYear({ pool: db.pool, client: env.client }, { jurisdiction: 'heshan', year: 2024 });
    const allowed = await startCampaign(env.client, {
      taskQueue: uniqueTaskQueue('real-year'),
      policy: real,
      operator: 'operator-li',
      pool: db.pool,
    });
    await env.client.workflow.getHandle(allowed.workflowId).terminate('test: only the start was checked');
    await db.pool.query(
      `INSERT INTO campaign_policies (policy_hash, jurisdiction, year, policy) VALUES ($2, 'heshan', 2024, $1)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(real), policyHash(real)],
    );
    await db.pool.query(
      `INSERT INTO campaign_events (jurisdiction, campaign_year, event_key, kind, campaign_at, detail)
       VALUES ('heshan', 2024, 'phase-closed', 'phase', now(), '{"phase":"closed"}') ON CONFLICT DO NOTHING`,
    );
    // the server forgot it (another id here, as after its retention), the ledger did not
    const again = await startCampaign(env.client, {
      taskQueue: uniqueTaskQueue('closed-year'),
      policy: real,
      operator: 'operator-li',
      pool: db.pool,
    }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(CampaignAlreadyRunning);
    expect((again as Error).message).toMatch(/closed on .*a closed year is not started again/);
  });
});
