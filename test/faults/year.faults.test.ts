/**
 * A Kaiping drill year on the real dev server and PostgreSQL, run once cleanly and then again under each
 * fault: workers killed with SIGKILL at the worst moments, PostgreSQL stopped for 30 s, a tax bureau that
 * is down, slow, and sends every result twice in reverse, a finance bureau that rejects a claim, two
 * workers of which one dies mid-round. Each faulty year must end with the registry and the summary of the
 * clean one: nobody deducted twice, no row imported twice, nothing lost.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_POINTS } from '../../activities/faults';
import { ensurePostgres, stopPostgres } from '../../provision/postgres';
import { progressQuery, type CampaignProgress } from '../../workflows/campaign';
import {
  fingerprint,
  prepareYear,
  startFaultyDepartments,
  startWorker,
  startYear,
  summaryOf,
  waitForFile,
  type Fingerprint,
  type WorkerProcess,
  type Year,
} from './harness';

/** What each case saw, printed at the end for the closing note. */
const outcomes: string[] = [];
const say = (line: string) => {
  outcomes.push(line);
  process.stderr.write(`[faults] ${line}\n`);
};
const counts = (fp: Fingerprint, p: CampaignProgress) =>
  `enrollments ${Object.entries(fp.enrollments)
    .map(([s, x]) => `${s} ${x.n}`)
    .join(
      ', ',
    )}; rounds ${fp.levyRounds.length} (${fp.levyRounds.reduce((n, r) => n + r.lines, 0)} levy lines); ` +
  `debits ${fp.debits.lines} for ${fp.debits.people} people; deducted twice ${fp.peopleDeductedTwice}; ` +
  `rosters ${Object.values(p.rosters)
    .map((r) => ('rowsRead' in r ? `${r.rowsRead}=${r.rowsAccepted}+${r.rowsRejected}` : r.status))
    .join(' ')}; claims ${p.claims.reduce((n, c) => n + c.persons, 0)} people`;

describe('fault suite: a drill year ends as the same year without faults', () => {
  let clean: { fp: Fingerprint; summary: ReturnType<typeof summaryOf> };
  const workers: WorkerProcess[] = [];
  const years: Year[] = [];

  const year = async () => {
    const y = await prepareYear();
    years.push(y);
    return y;
  };
  const worker = async (env: Record<string, string>) => {
    const w = await startWorker(env);
    workers.push(w);
    return w;
  };
  const finish = async (y: Year, progress: CampaignProgress, label: string) => {
    for (const w of workers.splice(0)) await w.stop();
    const fp = await fingerprint(y.db);
    expect(fp.peopleDeductedTwice).toBe(0);
    expect(fp).toEqual(clean.fp);
    expect(summaryOf(progress)).toEqual(clean.summary);
    say(`${label}: identical to the clean year; ${counts(fp, progress)}`);
    return fp;
  };

  beforeAll(async () => {
    const y = await year();
    const w = await worker(y.workerEnv);
    const run = await startYear(y);
    const progress = await run.result();
    await w.stop();
    const fp = await fingerprint(y.db);
    expect(progress.phase).toBe('closed');
    expect(fp.peopleDeductedTwice).toBe(0);
    expect(fp.levyRounds.length).toBeGreaterThanOrEqual(3);
    clean = { fp, summary: summaryOf(progress) };
    say(`clean year: ${counts(fp, progress)}`);
  }, 900_000);

  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    for (const y of years) await y.db.drop().catch(() => undefined);
    process.stderr.write(`\n[faults] summary\n${outcomes.map((o) => `  ${o}`).join('\n')}\n`);
  });

  it.each(FAULT_POINTS)(
    'kill -9 of the worker at %s: a new worker finishes the year',
    async (point) => {
      const y = await year();
      const signal = join(y.outDir, 'fault-reached');
      const first = await worker({
        ...y.workerEnv,
        MEDINS_FAULT_PAUSE_AT: point,
        MEDINS_FAULT_SIGNAL_FILE: signal,
      });
      const run = await startYear(y);
      await waitForFile(signal);
      await first.kill9();
      expect(first.child.signalCode).toBe('SIGKILL');
      await worker(y.workerEnv);
      const progress = await run.result();
      await finish(y, progress, `kill -9 at ${point}`);
    },
    900_000,
  );

  it('PostgreSQL stopped for 30 s in the deduction phase: activities retry with backoff and the year completes', async () => {
    const y = await year();
    await worker(y.workerEnv);
    const run = await startYear(y);
    const handle = y.client.workflow.getHandle(run.started.workflowId);
    for (;;) {
      const p = await handle.query(progressQuery).catch(() => null);
      if (p && (p.phase === 'deduction' || p.phase === 'follow-up')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const stoppedAt = Date.now();
    expect(await stopPostgres()).toBe(true);
    await new Promise((r) => setTimeout(r, 30_000));
    await ensurePostgres();
    const down = (Date.now() - stoppedAt) / 1000;
    const progress = await run.result();
    await finish(y, progress, `PostgreSQL down ${down.toFixed(0)} s during deduction`);
  }, 900_000);

  it('the tax bureau down, slow past the timeout, and sending every result twice in reverse; finance rejecting a claim once', async () => {
    const y = await year();
    const departments = await startFaultyDepartments(y, {
      taxDownMs: 15_000,
      hangOnceMs: 6_000,
      resultsTwiceReversed: true,
      rejectFirstClaim: true,
    });
    try {
      await worker({
        ...y.workerEnv,
        MEDINS_DEPARTMENTS: `http:${departments.url}`,
        MEDINS_DEPARTMENT_TIMEOUT_MS: '3000',
      });
      const run = await startYear(y);
      const progress = await run.result();
      expect(departments.seen.unavailable).toBeGreaterThan(0);
      expect(departments.seen.held).toBe(1);
      expect(departments.seen.claimsRejected).toBe(1);
      expect(progress.claimRejections).toBe(1);
      const rejected = await y.db.pool.query<{ kind: string }>(
        `SELECT kind FROM campaign_events WHERE kind = 'claim-rejected'`,
      );
      expect(rejected.rowCount).toBe(1);
      await finish(
        y,
        progress,
        `tax down 15 s (${departments.seen.unavailable} requests answered 503), one request held 6 s past a 3 s timeout, ` +
          `${departments.seen.resultFiles} result files each with every line twice in reverse, finance rejected 1 claim and took it again`,
      );
    } finally {
      await departments.close();
    }
  }, 900_000);

  it('two workers on the task queue, one killed mid-round: the other finishes the year', async () => {
    const y = await year();
    const signal = join(y.outDir, 'fault-reached');
    const doomed = await worker({
      ...y.workerEnv,
      MEDINS_FAULT_PAUSE_AT: 'applyDeductionResults:after-commit',
      MEDINS_FAULT_SIGNAL_FILE: signal,
    });
    const run = await startYear(y);
    // the doomed worker holds the first round, applied but not reported; a second worker joins the queue
    await waitForFile(signal);
    await worker(y.workerEnv);
    await doomed.kill9();
    const progress = await run.result();
    await finish(y, progress, 'two workers, one killed with a round applied but not reported');
  }, 900_000);
});
