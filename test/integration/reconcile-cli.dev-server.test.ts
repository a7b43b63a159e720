/**
 * What an operator reads from `reconcile schedule describe` and `trigger` (real dev server, the real
 * command line): next runs in Beijing time, the schedule's own zone; a trigger names the run it started.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chinaDateOf } from '../../domain/dates';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue } from '../support/temporal';

const exec = promisify(execFile);
const taskQueue = uniqueTaskQueue('schedule-cli');
/** The operator's own login: the command line knows who it is from the ledger's login. */
let operatorUrl = '';
const cli = async (...args: string[]) =>
  (
    await exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', 'reconcile', 'schedule', ...args], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: inject('devServerAddress'),
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: operatorUrl,
      },
    })
  ).stdout;

/** The next 10th of a month, 09:00 Beijing time (01:00 UTC), after `now`. */
function nextDeltaDay(now: Date): Date {
  for (let m = 0; ; m += 1) {
    const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + m, 10, 1));
    if (at > now) return at;
  }
}

describe('reconcile schedule describe and trigger on the command line', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  const started: { workflowId: string; runId: string }[] = [];
  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
    operatorUrl = (await db.login('operator')).url;
  });
  afterAll(async () => {
    for (const s of started)
      await env.client.workflow
        .getHandle(s.workflowId, s.runId)
        .terminate('test over')
        .catch(() => undefined);
    await env.client.schedule
      .getHandle('reconcile-meishan')
      .delete()
      .catch(() => undefined);
    await env.teardown();
    await db?.drop();
  });

  it('describe gives the next delta days at 09:00 Beijing time; trigger says which reconciliation it started', async () => {
    const now = new Date();
    expect(await cli('create', '--jurisdiction', 'meishan', '--year', '2024')).toMatch(
      /schedule reconcile-meishan created/,
    );

    const described = await cli('describe', '--jurisdiction', 'meishan');
    const next = nextDeltaDay(now);
    const beijing = chinaDateOf(next.getTime());
    expect(described).toContain('time zone Asia/Shanghai');
    expect(described).toMatch(
      new RegExp(`^next: ${beijing} 09:00:00 Beijing time, \\d{4}-\\d{2}-10 09:00:00 Beijing time`, 'm'),
    );
    expect(described).not.toMatch(/\dT\d{2}:\d{2}:\d{2}(\.\d+)?Z/); // no UTC instants beside the zone
    expect(described).toMatch(/^recent: none$/m);

    const triggered = await cli('trigger', '--jurisdiction', 'meishan');
    const m =
      /^schedule reconcile-meishan triggered: started (reconcile-meishan-\S+) \(run ([0-9a-f-]{36})\) at (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) Beijing time$/m.exec(
        triggered,
      );
    expect(m, triggered).not.toBeNull();
    const [, workflowId, runId, at] = m!;
    started.push({ workflowId: workflowId!, runId: runId! });
    // the run it names exists, is the monthly reconciliation, and started when it says (Beijing time)
    const run = await env.client.workflow.getHandle(workflowId!, runId).describe();
    expect(run.type).toBe('MonthlyReconciliationWorkflow');
    const printed = Date.parse(`${at!.replace(' ', 'T')}+08:00`);
    expect(Math.abs(printed - run.startTime.getTime())).toBeLessThan(5000);

    expect(await cli('describe', '--jurisdiction', 'meishan')).toMatch(
      new RegExp(`^recent: \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} Beijing time -> ${workflowId}$`, 'm'),
    );
  });
});
