/**
 * `npm run bench`: how long a whole Kaiping year takes on this machine, how close it is to what PostgreSQL
 * itself does, and how it grows. A benchmark, not a test: it measures and reports, it asserts nothing.
 *
 * For each scale (default 1x and 3x of Kaiping's 681,503 registered residents):
 *  1. generates the population in its own process, timed on its own, into a template database;
 *  2. for each repeat, two copies of it: on one the Kaiping 2024 rehearsal runs (time-skipping Temporal
 *     server, the worker in its own process), on the other the SQL baseline (bench/baseline/*.sql through
 *     psql); prints each phase's and step's wall time, rows/s, the ratio to the baseline, peak RSS of worker
 *     and client, the database size and every workflow run's history events and bytes;
 *  3. then the growth of each figure from the first scale to the last, and the targets met or missed, with
 *     the step that holds a missed one back.
 * At 1x it also imports a 700,000-row roster (issue #5's import rate).
 *
 *   npm run bench -- [--scales 1,3] [--repeats 3] [--repeats-large 1] [--json PATH] [--html PATH] [--no-import]
 *                    [--keep-year] (leaves the last repeat's year database, <template>_app, for EXPLAIN ANALYZE)
 *                    [--db-prefix NAME] (databases NAME_k<scale>...; default bench)
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrate } from '../ledger/migrate';
import { dropDatabase, ensureDatabase, ensurePostgres, type PostgresServer } from '../provision/postgres';
import { stderrLogger } from '../infra/support';
import { seedPolicy } from '../seeds';
import { runBaseline, type StepTime } from './baseline';
import type { ActivityName } from '../activities';
import { importBench, type ImportFigure, WRITE_FLOOR_STEP } from './import-bench';
import { benchHtml } from './report';
import type { YearFigures } from './year-child';
import { floorMarks, measureWriteFloor, type WriteFloor } from './write-floor';

const exec = promisify(execFile);
const SEED = 1;

export interface StepFigure {
  step: string;
  rows: number;
  seconds: number;
  baselineSeconds: number | null;
  ratio: number | null;
  /** The write floor's share of this step (bench/write-floor.ts), and the step's ratio to it. */
  floorSeconds: number | null;
  floorRatio: number | null;
  rowsPerSecond: number | null;
}

export interface RepeatFigures {
  yearSeconds: number;
  baselineSeconds: number;
  /** What PostgreSQL needs to write the year's rows (COPY and one UPDATE per status change), same copy. */
  floor: WriteFloor;
  /** The whole year over the write floor (target <= 3.0). */
  floorRatio: number;
  /** The whole year over the floor with the status history's rows added (reported, not the target). */
  floorWithHistoryRatio: number;
  /** Time in activities the baseline has no counterpart for, and time between activities (Temporal). */
  bookkeepingSeconds: number;
  orchestrationSeconds: number;
  phases: YearFigures['phases'];
  steps: StepFigure[];
  /** Wall time of each activity type, summed (round 1 apart from the later rounds), largest first. */
  activities: { activity: string; seconds: number; count: number }[];
  workerPeakRssMiB: number;
  clientPeakRssMiB: number;
  databaseMiB: number;
  runs: YearFigures['runs'];
  sameResult: { ok: boolean; app: Record<string, number>; baseline: Record<string, number> };
  /**
   * What PostgreSQL's checkpointer did during each measured phase: checkpoints started by WAL volume
   * (max_wal_size; also DROP DATABASE's, none of which run during a phase) and by the timer, and the WAL the
   * phase wrote, in MiB.
   * Absent in the JSON of runs before it was recorded.
   */
  checkpoints?: Record<'year' | 'floor' | 'baseline', PhaseCheckpoints>;
}

export interface PhaseCheckpoints {
  /** Checkpoints requested during the phase (WAL past max_wal_size's trigger). */
  requested: number;
  /** Checkpoints started by checkpoint_timeout during the phase. */
  timed: number;
  /** WAL written during the phase, MiB (the whole cluster's: nothing else runs during a bench). */
  walMiB: number;
}

export interface ScaleFigures {
  scale: number;
  population: {
    seconds: number;
    residents: number;
    households: number;
    toEnroll: number;
    peakRssMiB: number;
  };
  repeats: RepeatFigures[];
  /** The repeat whose year time is the median. */
  median: RepeatFigures;
}

export interface BenchReport {
  machine: { cpus: number; node: string; when: string };
  scales: ScaleFigures[];
  growth: { figure: string; from: number; to: number; factor: number }[] | null;
  targets: { target: string; value: string; met: boolean; heldBackBy?: string }[];
  imports: ImportFigure[];
}

/** Which activities make up each step the baseline also does (batch ids are mapped to their rounds). */
function stepOf(activity: ActivityName, round: number | undefined): string | null {
  const name = round === undefined ? '' : round === 1 ? 'round 1' : 'follow-up rounds';
  switch (activity) {
    case 'requestRoster':
    case 'importRoster':
      return 'roster import';
    case 'openEnrollments':
      return 'open enrollments';
    // the simulated tax bureau deducts when the levy is handed over (sendLevyToTax), so levy generation,
    // hand-over and deduction are one step, as levy.sql and tax.sql are in the baseline
    case 'createLevyBatch':
    case 'sendLevyToTax':
    case 'fetchTaxResults':
      return `levy and deduction (tax simulated), ${name}`;
    case 'applyDeductionResults':
      return `apply deduction results, ${name}`;
    case 'snapshotCoverage':
      return 'coverage snapshots';
    case 'cutOff':
      return 'cut-off';
    case 'claimSubsidies':
      return 'subsidy claim';
    default:
      return null;
  }
}

async function child(script: string, args: string[]): Promise<void> {
  const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  const [code] = (await once(p, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${script} failed (${code}): ${err}`);
}

/** `fn` on a connection of the cluster's superuser of its own, closed after. */
async function asAdmin<T>(server: PostgresServer, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: server.adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function cloneDatabase(server: PostgresServer, template: string, name: string): Promise<string> {
  await dropDatabase(server, name);
  await asAdmin(server, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  return ensureDatabase(server, name);
}

/**
 * What PostgreSQL's checkpointer and WAL do during a measured phase: call before it, and the returned function
 * after it. A checkpoint makes every page first changed after it write its full image to the WAL, and the
 * checkpointer starts one when the WAL passes max_wal_size's trigger (the population's load and the two clones,
 * CREATE DATABASE ... TEMPLATE, write WAL too) or checkpoint_timeout has passed: whether one falls into the year
 * depends on what ran before it, one source of the year's run-to-run spread. Reported, not steered.
 */
async function checkpointsDuring(server: PostgresServer): Promise<() => Promise<PhaseCheckpoints>> {
  const before = await asAdmin(
    server,
    async (c) =>
      (
        await c.query<{ requested: string; timed: string; lsn: string }>(
          `SELECT checkpoints_req::text AS requested, checkpoints_timed::text AS timed, pg_current_wal_lsn()::text AS lsn FROM pg_stat_bgwriter`,
        )
      ).rows[0]!,
  );
  return () =>
    asAdmin(server, async (c) => {
      const since = (
        await c.query<{ requested: string; timed: string; bytes: string }>(
          `SELECT (checkpoints_req - $1::bigint)::text AS requested, (checkpoints_timed - $2::bigint)::text AS timed,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), $3::pg_lsn)::text AS bytes
           FROM pg_stat_bgwriter`,
          [before.requested, before.timed, before.lsn],
        )
      ).rows[0]!;
      return {
        requested: Number(since.requested),
        timed: Number(since.timed),
        walMiB: Number(since.bytes) / 1048576,
      };
    });
}

/** Row counts of each step, from the ledger the step wrote. */
async function stepRows(url: string, policy: { jurisdiction: string; year: number }) {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const q = async (sql: string, params: unknown[] = [policy.jurisdiction, policy.year]) =>
      (await pool.query<{ n: string }>(sql, params)).rows[0]?.n ?? '0';
    const rounds = `SELECT id FROM levy_batches WHERE jurisdiction = $1 AND campaign_year = $2`;
    const rows: Record<string, number> = {
      'roster import': Number(
        await q(
          `SELECT coalesce(sum(rows_read), 0) AS n FROM submissions WHERE jurisdiction = $1 AND kind = 'roster'`,
          [policy.jurisdiction],
        ),
      ),
      'open enrollments': Number(
        await q(`SELECT count(*) AS n FROM enrollments WHERE jurisdiction = $1 AND campaign_year = $2`),
      ),
      'levy and deduction (tax simulated), round 1': Number(
        await q(`SELECT count(*) AS n FROM levy_lines WHERE batch_id IN (${rounds} AND round = 1)`),
      ),
      'levy and deduction (tax simulated), follow-up rounds': Number(
        await q(`SELECT count(*) AS n FROM levy_lines WHERE batch_id IN (${rounds} AND round > 1)`),
      ),
      'coverage snapshots': Number(
        await q(
          `SELECT count(*) AS n FROM coverage_snapshots WHERE jurisdiction = $1 AND campaign_year = $2`,
        ),
      ),
      'cut-off': Number(
        await q(
          `SELECT count(*) AS n FROM enrollments WHERE jurisdiction = $1 AND campaign_year = $2 AND status = 'abandoned'`,
        ),
      ),
      'subsidy claim': Number(
        await q(
          `SELECT count(*) AS n FROM subsidy_claim_lines l JOIN subsidy_claims c ON c.id = l.claim_id WHERE c.jurisdiction = $1 AND c.campaign_year = $2`,
        ),
      ),
    };
    rows['apply deduction results, round 1'] = rows['levy and deduction (tax simulated), round 1']!;
    rows['apply deduction results, follow-up rounds'] =
      rows['levy and deduction (tax simulated), follow-up rounds']!;
    // the end state both must reach: enrollments by status, results by outcome, the claim's total
    const end = await pool.query<{ k: string; n: string }>(
      `SELECT 'enrollments ' || status AS k, count(*)::text AS n FROM enrollments WHERE jurisdiction = $1 AND campaign_year = $2 GROUP BY status
       UNION ALL SELECT 'results ' || outcome, count(*)::text FROM deduction_results GROUP BY outcome
       UNION ALL SELECT 'claimed fen', coalesce(sum(total_fen), 0)::text FROM subsidy_claims WHERE jurisdiction = $1 AND campaign_year = $2
       UNION ALL SELECT 'identities open', count(*)::text FROM identities WHERE jurisdiction = $1 AND valid_to IS NULL`,
      [policy.jurisdiction, policy.year],
    );
    const size = await pool.query<{ b: string }>(`SELECT pg_database_size(current_database())::text AS b`);
    return {
      rows,
      end: Object.fromEntries(end.rows.map((r) => [r.k, Number(r.n)])),
      databaseMiB: Number(size.rows[0]!.b) / 2 ** 20,
    };
  } finally {
    await pool.end();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function oneRepeat(
  server: PostgresServer,
  template: string,
  scale: number,
  populationDir: string,
  work: string,
): Promise<RepeatFigures> {
  const policy = seedPolicy('kaiping', 2024);
  const appName = `${template}_app`;
  const blName = `${template}_sql`;
  const appUrl = await cloneDatabase(server, template, appName);
  const blUrl = await cloneDatabase(server, template, blName);
  try {
    const yearWork = mkdtempSync(join(work, 'year-'));
    const marks = await floorMarks(appUrl);
    const figuresPath = join(yearWork, 'year.json');
    process.stdout.write(`  the year on the time-skipping server (scale ${scale}) ...\n`);
    const yearCheckpoints = await checkpointsDuring(server);
    await child('bench/year-child.ts', [figuresPath, appUrl, populationDir, yearWork, String(SEED)]);
    const checkpointsYear = await yearCheckpoints();
    const year = JSON.parse(readFileSync(figuresPath, 'utf8')) as YearFigures;
    const app = await stepRows(appUrl, policy);
    process.stdout.write(`  the write floor on the same copy ...\n`);
    const floorCheckpoints = await checkpointsDuring(server);
    const floor = await measureWriteFloor(appUrl, policy.jurisdiction, policy.year, marks, yearWork);
    const checkpointsFloor = await floorCheckpoints();

    process.stdout.write(`  the SQL baseline through psql ...\n`);
    const baselineCheckpoints = await checkpointsDuring(server);
    const baselineSteps: StepTime[] = await runBaseline({
      url: blUrl,
      appUrl,
      policy,
      seed: SEED,
      workDir: yearWork,
    });
    const checkpointsBaseline = await baselineCheckpoints();
    const bl = await stepRows(blUrl, policy);

    // activity time per step (batch ids mapped to rounds through the app's ledger)
    const pool = new pg.Pool({ connectionString: appUrl, max: 1 });
    const batches = new Map(
      (await pool.query<{ id: string; round: number }>(`SELECT id, round FROM levy_batches`)).rows.map(
        (b) => [Number(b.id), b.round],
      ),
    );
    await pool.end();
    const appSeconds = new Map<string, number>();
    let activitySeconds = 0;
    let bookkeeping = 0;
    const byActivity = new Map<string, { seconds: number; count: number }>();
    for (const t of year.timings) {
      const round = t.round ?? (t.batchId !== undefined ? batches.get(t.batchId) : undefined);
      const step = stepOf(t.activity, round);
      const key = `${t.activity}${round === undefined ? '' : round === 1 ? ', round 1' : ', later rounds'}`;
      const a = byActivity.get(key) ?? { seconds: 0, count: 0 };
      a.seconds += t.ms / 1000;
      a.count += 1;
      byActivity.set(key, a);
      activitySeconds += t.ms / 1000;
      if (step) appSeconds.set(step, (appSeconds.get(step) ?? 0) + t.ms / 1000);
      else bookkeeping += t.ms / 1000;
    }
    const blSeconds = new Map<string, number>();
    for (const s of baselineSteps) blSeconds.set(s.step, (blSeconds.get(s.step) ?? 0) + s.seconds);
    const floorSeconds = new Map<string, number>();
    for (const f of floor.items) floorSeconds.set(f.step, (floorSeconds.get(f.step) ?? 0) + f.seconds);
    const names = [...new Set([...appSeconds.keys(), ...blSeconds.keys()])];
    const steps: StepFigure[] = names.map((step) => {
      const seconds = appSeconds.get(step) ?? 0;
      const b = blSeconds.get(step) ?? null;
      const rows = app.rows[step] ?? 0;
      const f = floorSeconds.get(step) ?? null;
      return {
        step,
        rows,
        seconds,
        baselineSeconds: b,
        ratio: b && b > 0 ? seconds / b : null,
        floorSeconds: f,
        floorRatio: f && f > 0 ? seconds / f : null,
        rowsPerSecond: seconds > 0 && rows > 0 ? rows / seconds : null,
      };
    });
    const keys = [...new Set([...Object.keys(app.end), ...Object.keys(bl.end)])].sort();
    const sameResult = {
      ok: keys.every((k) => app.end[k] === bl.end[k]),
      app: app.end,
      baseline: bl.end,
    };
    return {
      yearSeconds: year.yearSeconds,
      baselineSeconds: baselineSteps.reduce((s, x) => s + x.seconds, 0),
      floor,
      floorRatio: year.yearSeconds / floor.seconds,
      floorWithHistoryRatio: year.yearSeconds / (floor.seconds + floor.history.seconds),
      bookkeepingSeconds: bookkeeping,
      orchestrationSeconds: Math.max(0, year.yearSeconds - activitySeconds),
      phases: year.phases,
      steps,
      activities: [...byActivity.entries()]
        .map(([activity, a]) => ({ activity, ...a }))
        .sort((x, y) => y.seconds - x.seconds),
      workerPeakRssMiB: year.workerPeakRssMiB,
      clientPeakRssMiB: year.clientPeakRssMiB,
      databaseMiB: app.databaseMiB,
      runs: year.runs,
      sameResult,
      checkpoints: { year: checkpointsYear, floor: checkpointsFloor, baseline: checkpointsBaseline },
    };
  } finally {
    // --keep-year leaves the year's copy for EXPLAIN ANALYZE afterwards (the next repeat replaces it)
    if (!process.argv.includes('--keep-year')) await dropDatabase(server, appName);
    await dropDatabase(server, blName);
  }
}

function printRepeat(r: RepeatFigures, say: (s: string) => void) {
  say(
    `  whole year ${r.yearSeconds.toFixed(1)} s (workflow start to the subsidy claim's receipt); SQL baseline ${r.baselineSeconds.toFixed(1)} s; ratio ${(r.yearSeconds / r.baselineSeconds).toFixed(2)}`,
  );
  say(
    `  write floor ${r.floor.seconds.toFixed(1)} s (COPY of every row the year writes, one UPDATE per status change; the tables issue #23 names: ${r.floor.namedSeconds.toFixed(1)} s); year / floor ${r.floorRatio.toFixed(2)}${r.floor.sameEnd ? '' : ' (WARNING: the floor ends in other statuses than the year)'}`,
  );
  say(
    `  with the status history the triggers write (${r.floor.history.rows} rows, ${r.floor.history.seconds.toFixed(1)} s more): year / floor ${r.floorWithHistoryRatio.toFixed(2)} (reported; the target is held to the floor without it)`,
  );
  for (const f of r.floor.items)
    say(
      `    floor: ${f.item.padEnd(52)} ${String(f.rows).padStart(9)} rows ${f.seconds.toFixed(2).padStart(7)} s`,
    );
  const checkpoints = r.checkpoints;
  if (checkpoints)
    say(
      `  checkpoints during: ${(['year', 'floor', 'baseline'] as const)
        .map((k) => {
          const c = checkpoints[k];
          return `${k} ${c.requested} by WAL, ${c.timed} timed, ${c.walMiB.toFixed(0)} MiB of WAL`;
        })
        .join('; ')}`,
    );
  say(`  phases: ${r.phases.map((p) => `${p.phase} ${p.seconds.toFixed(1)} s`).join(', ')}`);
  say(
    `  ${'step'.padEnd(44)} ${'rows'.padStart(9)} ${'app s'.padStart(8)} ${'rows/s'.padStart(9)} ${'SQL s'.padStart(8)} ${'ratio'.padStart(6)} ${'floor s'.padStart(8)} ${'x floor'.padStart(7)}`,
  );
  for (const s of r.steps)
    say(
      `  ${s.step.padEnd(44)} ${String(s.rows).padStart(9)} ${s.seconds.toFixed(2).padStart(8)} ${(s.rowsPerSecond ? Math.round(s.rowsPerSecond) : '').toString().padStart(9)} ${(s.baselineSeconds?.toFixed(2) ?? '-').padStart(8)} ${(s.ratio?.toFixed(2) ?? '-').padStart(6)} ${(s.floorSeconds?.toFixed(2) ?? '-').padStart(8)} ${(s.floorRatio?.toFixed(1) ?? '-').padStart(7)}`,
    );
  say(
    `  ${'activities without a SQL counterpart (events, policy, reports)'.padEnd(62)} ${r.bookkeepingSeconds.toFixed(2).padStart(8)}`,
  );
  say(
    `  ${'between activities (Temporal: tasks, timers, histories)'.padEnd(62)} ${r.orchestrationSeconds.toFixed(2).padStart(8)}`,
  );
  say(
    `  activities, longest first: ${r.activities
      .slice(0, 8)
      .map((a) => `${a.activity} ${a.seconds.toFixed(1)} s (${a.count}x)`)
      .join('; ')}`,
  );
  say(
    `  peak RSS: worker ${r.workerPeakRssMiB.toFixed(0)} MiB, client ${r.clientPeakRssMiB.toFixed(0)} MiB; database ${r.databaseMiB.toFixed(0)} MiB`,
  );
  say(
    `  workflow runs: ${r.runs.map((x) => `${x.workflowType} ${x.events} events ${(x.bytes / 1024).toFixed(0)} KiB`).join('; ')}`,
  );
  say(
    r.sameResult.ok
      ? `  the baseline reached the same end state (${Object.entries(r.sameResult.app)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')})`
      : `  WARNING: the baseline's end state differs: app ${JSON.stringify(r.sameResult.app)} baseline ${JSON.stringify(r.sameResult.baseline)}`,
  );
}

function targetsOf(scales: ScaleFigures[]): BenchReport['targets'] {
  const out: BenchReport['targets'] = [];
  const first = scales[0]!;
  const m = first.median;
  const worstStep = [...m.steps].filter((s) => s.ratio !== null).sort((a, b) => b.ratio! - a.ratio!)[0];
  const excess = [...m.steps]
    .filter((s) => s.baselineSeconds !== null)
    .map((s) => ({ step: s.step, over: s.seconds - s.baselineSeconds! }))
    .sort((a, b) => b.over - a.over);
  const longest = [...m.steps].sort((a, b) => b.seconds - a.seconds);
  // no step over its baseline: the longest steps are what holds the year back, not an excess
  const why = (what: string) =>
    `${what}: ${
      (excess[0]?.over ?? 0) > 0
        ? `the largest excess over the baseline is ${excess[0]?.step} (+${excess[0]?.over.toFixed(1)} s), then ${excess[1]?.step} (+${excess[1]?.over.toFixed(1)} s)`
        : `no step exceeds its baseline; the longest are ${longest[0]?.step} (${longest[0]?.seconds.toFixed(1)} s), then ${longest[1]?.step} (${longest[1]?.seconds.toFixed(1)} s)`
    }; activities without a SQL counterpart take ${m.bookkeepingSeconds.toFixed(1)} s and the time between activities ${m.orchestrationSeconds.toFixed(1)} s`;
  if (first.scale === 1) {
    out.push({
      target: 'whole Kaiping year <= 60 s',
      value: `${m.yearSeconds.toFixed(1)} s`,
      met: m.yearSeconds <= 60,
      ...(m.yearSeconds > 60 ? { heldBackBy: why('over 60 s') } : {}),
    });
  }
  // issue #23: against what PostgreSQL needs to write the year's rows, and the plain-SQL baseline
  const overFloor = [...m.steps]
    .filter((s) => s.floorSeconds !== null)
    .map((s) => ({ step: s.step, over: s.seconds - s.floorSeconds! }))
    .sort((a, b) => b.over - a.over);
  out.push({
    target: `whole year <= 3.0 x the write floor (x${first.scale})`,
    value: `${m.floorRatio.toFixed(2)} (${m.yearSeconds.toFixed(1)} s against ${m.floor.seconds.toFixed(1)} s)`,
    met: m.floorRatio <= 3,
    ...(m.floorRatio > 3
      ? {
          heldBackBy: `the largest excess over the floor is ${overFloor[0]?.step} (+${overFloor[0]?.over.toFixed(1)} s), then ${overFloor[1]?.step} (+${overFloor[1]?.over.toFixed(1)} s); steps without rows to write (coverage reads, activities without a SQL counterpart ${m.bookkeepingSeconds.toFixed(1)} s, between activities ${m.orchestrationSeconds.toFixed(1)} s)`,
        }
      : {}),
  });
  const ratio = m.yearSeconds / m.baselineSeconds;
  out.push({
    target: `whole year <= 1.0 x the SQL baseline (x${first.scale})`,
    value: ratio.toFixed(2),
    met: ratio <= 1,
    ...(ratio > 1 ? { heldBackBy: why('over 1.0') } : {}),
  });
  out.push({
    target: `no single step above 1.2 x the baseline (x${first.scale})`,
    value: worstStep ? `${worstStep.step} ${worstStep.ratio!.toFixed(2)}` : '-',
    met: !worstStep || worstStep.ratio! <= 1.2,
    ...(worstStep && worstStep.ratio! > 1.2
      ? {
          heldBackBy: `${worstStep.step}: ${worstStep.seconds.toFixed(2)} s against ${worstStep.baselineSeconds!.toFixed(2)} s in plain SQL`,
        }
      : {}),
  });
  for (const s of scales) {
    const rss = Math.max(s.median.workerPeakRssMiB, ...s.repeats.map((r) => r.workerPeakRssMiB));
    out.push({
      target: `worker peak RSS <= 1 GiB at ${s.scale}x`,
      value: `${rss.toFixed(0)} MiB`,
      met: rss <= 1024,
    });
  }
  const last = scales.at(-1)!;
  if (scales.length > 1) {
    const growth = last.median.yearSeconds / first.median.yearSeconds;
    // issue #23: 10.5x from 1x to 10x, i.e. 5% over linear
    const expected = (last.scale / first.scale) * 1.05;
    out.push({
      target: `growth ${first.scale}x to ${last.scale}x <= ${expected.toFixed(1)}x in time`,
      value: `${growth.toFixed(2)}x`,
      met: growth <= expected,
    });
    const events = Math.max(...last.median.runs.map((r) => r.events));
    out.push({
      target: `no workflow run above 10,000 events at ${last.scale}x`,
      value: String(events),
      met: events <= 10_000,
    });
    out.push({
      target: `database size at ${last.scale}x reported`,
      value: `${last.median.databaseMiB.toFixed(0)} MiB (${first.median.databaseMiB.toFixed(0)} MiB at ${first.scale}x)`,
      met: true,
    });
  }
  return out;
}

/**
 * Issue #5's target for a full roster imported as CSV (not for the resend that supersedes it, which first
 * undoes the 700,000 identities the first file opened), and issue #23's: the .xlsx at half the UTF-8 CSV's
 * rate or better, the UTF-8 CSV at half the bare COPY's or better, every import within 512 MiB.
 */
function importTargets(imports: ImportFigure[]): BenchReport['targets'] {
  const out: BenchReport['targets'] = [];
  const slowest = (f: ImportFigure) =>
    [...(f.steps ?? [])]
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, 2)
      .map((x) => `${x.step} (${x.seconds.toFixed(2)} s)`)
      .join(', then ');
  for (const f of imports.filter(
    (f) => f.step.includes('CSV') && f.step.startsWith('roster import') && !f.step.includes('supersedes'),
  ))
    out.push({
      target: `${f.step} >= 100,000 rows/s`,
      value: `${Math.round(f.rowsPerSecond)} rows/s`,
      met: f.rowsPerSecond >= 100_000,
      ...(f.rowsPerSecond < 100_000 ? { heldBackBy: slowest(f) } : {}),
    });
  const csv = imports.find((f) => f.step === 'roster import, UTF-8 CSV');
  const xlsx = imports.find((f) => f.step.startsWith('roster import, .xlsx'));
  const bare = imports.find((f) => f.step.startsWith('bare COPY'));
  const floor = imports.find((f) => f.step === WRITE_FLOOR_STEP);
  if (csv && xlsx) {
    const r = xlsx.rowsPerSecond / csv.rowsPerSecond;
    out.push({
      target: '.xlsx roster >= 0.5 x the rate of the same rows as UTF-8 CSV',
      value: `${r.toFixed(2)} (${Math.round(xlsx.rowsPerSecond)} against ${Math.round(csv.rowsPerSecond)} rows/s)`,
      met: r >= 0.5,
      ...(r < 0.5 ? { heldBackBy: slowest(xlsx) } : {}),
    });
  }
  if (csv && bare) {
    const r = csv.rowsPerSecond / bare.rowsPerSecond;
    out.push({
      target: 'UTF-8 CSV roster >= 0.5 x the rate of a bare COPY of the same rows',
      value: `${r.toFixed(2)} (${Math.round(csv.rowsPerSecond)} against ${Math.round(bare.rowsPerSecond)} rows/s)`,
      met: r >= 0.5,
      ...(r < 0.5
        ? {
            heldBackBy:
              slowest(csv) +
              (floor
                ? `; the rows it must write (its submission rows and identities) take ${floor.seconds.toFixed(2)} s to COPY into tables of the same shape, ${(bare.rowsPerSecond / floor.rowsPerSecond).toFixed(2)} x the bare COPY, so while it writes them it reaches at most ${(floor.rowsPerSecond / bare.rowsPerSecond).toFixed(2)} x; against that floor it runs at ${(csv.rowsPerSecond / floor.rowsPerSecond).toFixed(2)} x`
                : ''),
          }
        : {}),
    });
  }
  const rss = Math.max(0, ...imports.map((f) => f.maxRssMiB ?? 0));
  if (rss > 0)
    out.push({
      target: 'importing process peak RSS <= 512 MiB',
      value: `${rss.toFixed(0)} MiB`,
      met: rss <= 512,
    });
  return out;
}

async function main() {
  const arg = (name: string) =>
    process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;
  const scales = (arg('--scales') ?? '1,3').split(',').map(Number);
  const repeats = Number(arg('--repeats') ?? 3);
  const jsonPath = arg('--json');
  const htmlPath = arg('--html') ?? 'bench-report.html';
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const server = await ensurePostgres(stderrLogger);
  const work = mkdtempSync(join(tmpdir(), 'medins-bench-'));
  const { stdout: cpus } = await exec('nproc');
  const results: ScaleFigures[] = [];
  let imports: ImportFigure[] = [];
  try {
    for (const scale of scales) {
      // --db-prefix keeps two benchmarks on one shared cluster apart (databases <prefix>_k<scale>...)
      const template = `${arg('--db-prefix') ?? 'bench'}_k${String(scale).replace('.', '_')}`;
      await dropDatabase(server, template);
      const url = await ensureDatabase(server, template);
      await migrate(url);
      const populationDir = join(work, `population-${scale}`);
      const popPath = join(work, `population-${scale}.json`);
      say(`\nKaiping x${scale}: generating the population ...`);
      await child('bench/population-child.ts', [popPath, url, String(scale), String(SEED), populationDir]);
      const population = JSON.parse(readFileSync(popPath, 'utf8')) as ScaleFigures['population'];
      say(
        `  population: ${population.residents} residents, ${population.households} households, ${population.toEnroll} to enroll, in ${population.seconds.toFixed(1)} s (${Math.round(population.residents / population.seconds)} residents/s, peak RSS ${population.peakRssMiB.toFixed(0)} MiB)`,
      );
      // the larger scales take several times as long: once each unless --repeats-large says otherwise
      const n = scale === scales[0] ? repeats : Number(arg('--repeats-large') ?? 1);
      const done: RepeatFigures[] = [];
      for (let i = 0; i < n; i += 1) {
        say(`  repeat ${i + 1} of ${n}`);
        const r = await oneRepeat(server, template, scale, populationDir, work);
        printRepeat(r, say);
        done.push(r);
      }
      if (done.length) {
        const mid = median(done.map((r) => r.yearSeconds));
        results.push({ scale, population, repeats: done, median: done.find((r) => r.yearSeconds === mid)! });
      }
      if (scale === 1 && !process.argv.includes('--no-import')) {
        say(`\nregistry import at Kaiping x1 (issue #5):`);
        const importUrl = await cloneDatabase(server, template, `${template}_import`);
        const xlsxUrl = await cloneDatabase(server, template, `${template}_import_xlsx`);
        try {
          imports = await importBench(importUrl, xlsxUrl, mkdtempSync(join(work, 'import-')));
        } finally {
          await dropDatabase(server, `${template}_import`);
          await dropDatabase(server, `${template}_import_xlsx`);
        }
      }
      await dropDatabase(server, template);
    }
    const growth =
      results.length > 1
        ? (() => {
            const a = results[0]!;
            const b = results.at(-1)!;
            const pairs: [string, number, number][] = [
              ['population generation, s', a.population.seconds, b.population.seconds],
              ['whole year, s', a.median.yearSeconds, b.median.yearSeconds],
              ['SQL baseline, s', a.median.baselineSeconds, b.median.baselineSeconds],
              ['worker peak RSS, MiB', a.median.workerPeakRssMiB, b.median.workerPeakRssMiB],
              ['client peak RSS, MiB', a.median.clientPeakRssMiB, b.median.clientPeakRssMiB],
              ['database, MiB', a.median.databaseMiB, b.median.databaseMiB],
              [
                'most events in a run',
                Math.max(...a.median.runs.map((r) => r.events)),
                Math.max(...b.median.runs.map((r) => r.events)),
              ],
              ...a.median.steps.map((s): [string, number, number] => [
                `${s.step}, s`,
                s.seconds,
                b.median.steps.find((x) => x.step === s.step)?.seconds ?? 0,
              ]),
            ];
            return pairs.map(([figure, from, to]) => ({
              figure,
              from,
              to,
              factor: from > 0 ? to / from : 0,
            }));
          })()
        : null;
    if (growth) {
      say(`\ngrowth from ${results[0]!.scale}x to ${results.at(-1)!.scale}x:`);
      for (const g of growth)
        say(
          `  ${g.figure.padEnd(52)} ${g.from.toFixed(1).padStart(9)} -> ${g.to.toFixed(1).padStart(9)}  x${g.factor.toFixed(2)}`,
        );
    }
    const targets = [...(results.length ? targetsOf(results) : []), ...importTargets(imports)];
    say('\ntargets (median of the repeats):');
    for (const t of targets) {
      say(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.value}`);
      if (t.heldBackBy) say(`         held back by ${t.heldBackBy}`);
    }
    const report: BenchReport = {
      machine: { cpus: Number(cpus.trim()), node: process.version, when: new Date().toISOString() },
      scales: results,
      growth,
      targets,
      imports,
    };
    if (jsonPath) writeFileSync(jsonPath, JSON.stringify(report, null, 2));
    if (results.length) writeFileSync(htmlPath, benchHtml(report));
    say(`\nreport: ${htmlPath}${jsonPath ? `, figures: ${jsonPath}` : ''}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
