/**
 * Operator mistakes, made at the real command line against the dev server: starting a campaign twice, a
 * list handed in after the roster deadline, a drill policy whose dates are out of order. Each is refused
 * with a message that says what to do, and changes nothing.
 */
import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { progressQuery } from '../../workflows/campaign';
import { prepareYear, startWorker, startYear, type WorkerProcess, type Year } from './harness';

const exec = promisify(execFile);
const outcomes: string[] = [];

describe('operator mistakes are refused with a clear message', () => {
  const years: Year[] = [];
  const workers: WorkerProcess[] = [];
  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    for (const y of years) await y.db.drop().catch(() => undefined);
    process.stderr.write(`\n[faults] operator mistakes\n${outcomes.map((o) => `  ${o}`).join('\n')}\n`);
  });
  const cli = (year: Year, ...args: string[]) =>
    exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
      env: { ...process.env, ...year.workerEnv, DATABASE_URL: year.operatorUrl },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  it('starting the same campaign twice: the second is refused, naming the running one', async () => {
    const y = await prepareYear();
    years.push(y);
    const first = await cli(
      y,
      'campaign',
      'start',
      '--jurisdiction',
      'kaiping',
      '--year',
      '2024',
      '--drill',
      '5',
    );
    expect(first.code).toBe(0);
    const runId = /run ([0-9a-f-]{36})/.exec(first.stdout)![1]!;
    const second = await cli(
      y,
      'campaign',
      'start',
      '--jurisdiction',
      'kaiping',
      '--year',
      '2024',
      '--drill',
      '5',
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `the kaiping 2024 campaign drill already exists: workflow campaign-kaiping-2024-drill, run ${runId}, RUNNING since`,
    );
    expect(second.stderr).toContain('It is not started twice.');
    outcomes.push(`started twice: refused, "${second.stderr.trim()}"`);
    await y.client.workflow
      .getHandle('campaign-kaiping-2024-drill')
      .terminate('fault suite: operator mistake case done');
  });

  it('a roster handed in after the roster deadline is refused and not imported: it goes in as a monthly delta', async () => {
    const y = await prepareYear();
    years.push(y);
    workers.push(await startWorker(y.workerEnv));
    const run = await startYear(y);
    const handle = y.client.workflow.getHandle(run.started.workflowId);
    try {
      for (;;) {
        const p = await handle.query(progressQuery).catch(() => null);
        if (p && p.phase !== 'roster-submission') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const file = join(
        y.outDir,
        readdirSync(y.outDir).find((f) => f.includes('civil-affairs') && f.includes('roster'))!,
      );
      const before = await y.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM submissions`);
      const late = await cli(
        y,
        'campaign',
        'submit-list',
        file,
        '--jurisdiction',
        'kaiping',
        '--year',
        '2024',
        '--department',
        'civil-affairs',
        '--drill',
      );
      expect(late.code).toBe(1);
      expect(late.stderr).toMatch(
        /the roster deadline has passed: the campaign is in [a-z-]+; send the list as a monthly delta/,
      );
      const after = await y.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM submissions`);
      expect(after.rows).toEqual(before.rows);
      outcomes.push(
        `list after the deadline: refused, "${late.stderr.trim()}", submissions unchanged (${String(before.rows[0]!.n)})`,
      );
    } finally {
      await handle.terminate('fault suite: operator mistake case done').catch(() => undefined);
    }
  });

  it('a drill policy with dates out of order is refused at validation, before anything starts', async () => {
    const y = await prepareYear();
    years.push(y);
    const policy = JSON.parse(
      (await import('node:fs')).readFileSync('seeds/policies/kaiping-2024.json', 'utf8'),
    ) as { calendar: { firstBatchDeduction: { at: string } } };
    policy.calendar.firstBatchDeduction.at = '2023-08-01'; // before the roster deadline
    const file = join(y.outDir, 'kaiping-2024-drill-bad.json');
    writeFileSync(file, JSON.stringify(policy));
    const latest = () =>
      y.client.workflow
        .getHandle('campaign-kaiping-2024-drill')
        .describe()
        .then((d) => d.runId)
        .catch(() => 'none');
    const runBefore = await latest();
    const r = await cli(
      y,
      'campaign',
      'start',
      '--jurisdiction',
      'kaiping',
      '--year',
      '2024',
      '--policy',
      file,
      '--drill',
      '1',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('kaiping-2024-drill-bad.json');
    expect(r.stderr).toMatch(
      /calendar\.firstBatchDeduction: calendar out of order: rosterDeadline \(2023-09-10\) must not be after firstBatchDeduction \(2023-08-01\)|calendar out of order/,
    );
    expect(await latest()).toBe(runBefore); // no run was started
    outcomes.push(`policy out of order: refused, "${r.stderr.trim().split('\n')[0]}"`);
  });
});
