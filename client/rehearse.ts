/**
 * `rehearse`: a whole campaign year on the time-skipping server, against the simulated departments and a
 * synthetic population, printing progress as it goes and a summary at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { installRedactingRuntime } from '../infra/redacting-logger';
import { collectRuns } from '../audit/history';
import pg from 'pg';
import type { SimulationConfig } from '../departments/simulated';
import { policyHash } from '../ledger/policy-hash';
import { migrate } from '../ledger/migrate';
import { formatYuan } from '../domain/money';
import { completionRate } from '../domain/rates';
import { userConnection } from '../provision/postgres';
import { claimRehearsalDatabase } from './rehearsal-database';
import { dataConverterFromEnv } from '../infra/payload-codec';
import { stderrLogger } from '../infra/support';
import { resolveTestServer } from '../provision/temporal';
import { createTimeSkippingEnvironment } from '../provision/time-skipping';
import type { Policy } from '../domain/policy';
import { seedPolicy } from '../seeds';
import { generatePopulation } from '../simulation/population';
import { createWorker } from '../worker/create-worker';
import {
  AnnualCampaignWorkflow,
  campaignWorkflowId,
  progressQuery,
  type CampaignProgress,
} from '../workflows/campaign';

const { History } = proto.temporal.api.history.v1;

export interface RehearsalSummary {
  jurisdiction: string;
  year: number;
  scale: number;
  seed: number;
  wallSeconds: { population: number; year: number };
  towns: {
    town: string;
    registered: number;
    toEnroll: number;
    target: number | null;
    enrolled: number;
    abandoned: number;
    failed: number;
    coverage: number | null;
    completion: number | null;
  }[];
  totals: {
    registered: number;
    toEnroll: number;
    enrolled: number;
    abandoned: number;
    failed: number;
    subsidised: number;
  };
  /** Registered residents to enroll by end state: enrollment statuses, and not-enrolled. */
  endStates: Record<string, number>;
  rounds: CampaignProgress['rounds'];
  claims: CampaignProgress['claims'];
  runs: { runId: string; events: number; bytes: number }[];
  /** With `keep`: the database left for the console, and the command that opens the console on it. */
  kept?: { database: string; console: string };
}

/**
 * The shell command that opens the console (`npm run console`) on database `name` of `server`: the console
 * takes the server and database from DATABASE_URL (never a user: each person logs in as themselves), or for
 * a Unix socket from PGHOST/PGPORT/PGDATABASE with DATABASE_URL unset.
 */
export function consoleCommand(server: { host: string; port: number }, name: string): string {
  if (server.host.startsWith('/'))
    return `env -u DATABASE_URL PGHOST=${server.host} PGPORT=${server.port} PGDATABASE=${name} npm run console`;
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `DATABASE_URL=postgres://${host}:${server.port}/${name} npm run console`;
}

/**
 * The campaign workflow's input for a rehearsal: the seed policy, its clock shifted to now, no search
 * attributes; `operator` is who started it (the CLI's login; the benchmark's OS user).
 */
export function rehearsalInput(policy: Policy, operator = userInfo().username) {
  return {
    policy,
    policyHash: policyHash(policy),
    operator,
    rehearsal: true,
    searchAttributes: false,
  };
}

export async function rehearse(options: {
  jurisdiction: string;
  year: number;
  scale: number;
  seed: number;
  say: (line: string) => void;
  /** Write every run's history here (JSON list; each history protobuf-encoded, base64), for replay tests. */
  exportHistory?: string;
  /**
   * The operator's own login (default: userConnection's, as the CLI logs in, to the local cluster's
   * maintenance database, which always exists: the rehearsal needs no ledger); never the administrator's.
   */
  login?: pg.ClientConfig;
  /** Who is recorded as having started the rehearsal's campaign (the login's user). */
  operator?: string;
  /**
   * Keep the database of a run that finishes (not of one that fails or is interrupted) until the next
   * rehearsal, for the console (the summary's `kept` says how to open it). Default: dropped at the end.
   */
  keep?: boolean;
}): Promise<RehearsalSummary> {
  const { say } = options;
  installRedactingRuntime('WARN');
  const policy = seedPolicy(options.jurisdiction, options.year);
  const login = options.login ?? (await userConnection('postgres', 'op_demo', stderrLogger));
  // a database of this run alone, made and owned under the operator's login (medins_rehearsal): a second
  // rehearsal at the same time gets its own and both finish
  const database = await claimRehearsalDatabase(login, options.jurisdiction, options.year, say);
  const dbName = database.name;
  // the department files hold full ID and bank numbers: removed at the end, however the run ends
  const outDir = mkdtempSync(join(tmpdir(), `medins-rehearsal-${options.jurisdiction}-`));
  say(`department files in ${outDir} (removed at the end; they hold full ID and bank numbers)`);
  let pool: pg.Pool | undefined;
  let keepDatabase = false;
  const cleanUp = onInterrupt(async () => {
    rmSync(outDir, { recursive: true, force: true });
    if (pool) {
      // on Ctrl-C the worker may still hold connections: give them 5 s, then the drop closes them
      pool.on('error', () => undefined);
      await Promise.race([pool.end().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
    }
    await (keepDatabase ? database.keep() : database.release());
    // again: an activity still running when the signal came may have written into the folder meanwhile
    rmSync(outDir, { recursive: true, force: true });
  });
  try {
    await migrate(database.connection);
    pool = new pg.Pool({ ...database.connection, max: 8 });
    let t = Date.now();
    say(
      `population: generating ${options.jurisdiction} ${options.year} at scale ${options.scale} in database ${dbName}`,
    );
    const manifest = await generatePopulation(pool, policy, {
      scale: options.scale,
      seed: options.seed,
      defectRate: 0.01,
      deltaMonths: 0,
      outDir,
      onProgress: (line) => say(`${line} (${((Date.now() - t) / 1000).toFixed(0)} s)`),
    });
    const populationSeconds = (Date.now() - t) / 1000;
    say(
      `population: ${manifest.totals.residents} people, ${manifest.totals.households} households, ${manifest.totals.toEnroll} to enroll (${populationSeconds.toFixed(1)} s) in database ${dbName}`,
    );

    const testServer = await resolveTestServer(stderrLogger);
    const dataConverter = dataConverterFromEnv();
    const env = await createTimeSkippingEnvironment({
      ...(dataConverter ? { client: { dataConverter } } : {}),
      server: testServer,
      log: stderrLogger,
    });
    const simulation: SimulationConfig = {
      seed: options.seed,
      populationDirs: { [policy.jurisdiction]: outDir },
      systemicFailureRate: 0.01,
      topUpRate: 0.3,
      missingDepartments: [],
      exchangeDir: join(outDir, 'exchange'),
    };
    try {
      const taskQueue = `rehearsal-${policy.jurisdiction}`;
      const worker = await createWorker({
        connection: env.nativeConnection,
        taskQueue,
        pool,
        simulation,
        dataConverter: dataConverter ?? null,
      });
      const workflowId = campaignWorkflowId(policy.jurisdiction, policy.year);
      t = Date.now();
      const result = await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(AnnualCampaignWorkflow, {
          taskQueue,
          workflowId,
          args: [rehearsalInput(policy, options.operator)],
        });
        let last = '';
        let inflight: Promise<void> = Promise.resolve();
        const watch = setInterval(() => {
          inflight = handle
            .query(progressQuery)
            .then((p) => {
              const r = p.rounds.at(-1);
              const line =
                `${p.campaignDate} ${p.phase.padEnd(18)} items ${p.itemsDone}/${p.itemsTotal}` +
                (r
                  ? `  round ${r.round}: ${r.lines} levied, ${r.success} paid, ${r.personal} personal, ${r.systemic} systemic failures`
                  : '');
              if (line !== last) say(line);
              last = line;
            })
            .catch(() => undefined);
        }, 2000);
        try {
          return await handle.result();
        } finally {
          clearInterval(watch);
          await inflight;
        }
      });
      const yearSeconds = (Date.now() - t) / 1000;

      // the continue-as-new chain, oldest first (a rehearsal starts no child workflows)
      const chain = await collectRuns(env.client, workflowId);
      const runs: RehearsalSummary['runs'] = chain.map((r) => ({
        runId: r.runId,
        events: r.history.events?.length ?? 0,
        bytes: JSON.stringify(r.history).length,
      }));
      const exported = chain.map((r) => ({
        workflowId,
        runId: r.runId,
        history: Buffer.from(History.encode(r.history as never).finish()).toString('base64'),
      }));
      if (options.exportHistory) writeFileSync(options.exportHistory, JSON.stringify(exported));
      const towns = await pool.query<{
        town: string;
        registered: number;
        to_enroll: number;
        target: number | null;
        enrolled: number;
        abandoned: number;
        failed: number;
        subsidised: number;
      }>(
        `SELECT t.name AS town, s.registered, s.to_enroll, s.target, s.enrolled, s.abandoned, s.failed, s.subsidised
         FROM coverage_snapshots s JOIN towns t ON t.id = s.town_id WHERE s.snapshot_key = 'cutoff' ORDER BY t.id`,
      );
      // every registered resident to enroll ends in exactly one state (never enrolled counts as one)
      const endStates = await pool.query<{ status: string; n: number }>(
        `SELECT coalesce(e.status::text, 'not-enrolled') AS status, count(*)::int AS n
         FROM residents p LEFT JOIN enrollments e ON e.resident_id = p.id AND e.campaign_year = $1
         WHERE p.residency = 'hukou' AND NOT p.employee_insured GROUP BY 1 ORDER BY 1`,
        [policy.year],
      );
      const sum = (k: 'registered' | 'to_enroll' | 'enrolled' | 'abandoned' | 'failed' | 'subsidised') =>
        towns.rows.reduce((s, r) => s + r[k], 0);
      // the year ran to its end: what it left in its ledger may be kept for the console
      keepDatabase = options.keep === true;
      return {
        jurisdiction: policy.jurisdiction,
        year: policy.year,
        scale: options.scale,
        seed: options.seed,
        wallSeconds: { population: populationSeconds, year: yearSeconds },
        towns: towns.rows.map((r) => ({
          town: r.town,
          registered: r.registered,
          toEnroll: r.to_enroll,
          target: r.target === null ? null : Math.round(r.target * options.scale),
          enrolled: r.enrolled,
          abandoned: r.abandoned,
          failed: r.failed,
          coverage: completionRate(r.enrolled, r.to_enroll),
          completion: completionRate(r.enrolled, r.target === null ? null : r.target * options.scale),
        })),
        totals: {
          registered: sum('registered'),
          toEnroll: sum('to_enroll'),
          enrolled: sum('enrolled'),
          abandoned: sum('abandoned'),
          failed: sum('failed'),
          subsidised: sum('subsidised'),
        },
        endStates: Object.fromEntries(endStates.rows.map((r) => [r.status, r.n])),
        rounds: result.rounds,
        claims: result.claims,
        runs,
        ...(keepDatabase
          ? { kept: { database: dbName, console: consoleCommand(database.server, dbName) } }
          : {}),
      };
    } finally {
      await env.teardown();
    }
  } finally {
    await cleanUp();
  }
}

/**
 * Runs `cleanUp` once: when the caller calls the returned function (its `finally`), or on Ctrl-C,
 * SIGTERM or SIGHUP, after which the process exits with 128 + the signal's number.
 */
function onInterrupt(cleanUp: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => (done ??= cleanUp());
  const signals = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  const handlers = Object.entries(signals).map(([signal, number]) => {
    const handler = () => {
      process.stderr.write(`rehearsal interrupted (${signal}): removing its files and its database\n`);
      const timer = setTimeout(() => process.exit(128 + number), 15_000);
      void once()
        .catch((error: unknown) => process.stderr.write(`cleaning up failed: ${String(error)}\n`))
        .finally(() => {
          clearTimeout(timer);
          process.exit(128 + number);
        });
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return async () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    await once();
  };
}

export function formatSummary(s: RehearsalSummary): string {
  const lines = [
    `${s.jurisdiction} ${s.year} rehearsal (scale ${s.scale}, seed ${s.seed}): population ${s.wallSeconds.population.toFixed(1)} s, whole year ${s.wallSeconds.year.toFixed(1)} s`,
    `镇(街)              户籍人口   应参保  目标任务${s.scale === 1 ? '' : `×${s.scale}`}   参保人数   弃保   未缴   参保率   完成率`,
    ...s.towns.map(
      (t) =>
        `${t.town.padEnd(10, '　')} ${String(t.registered).padStart(8)} ${String(t.toEnroll).padStart(8)} ${String(t.target ?? '').padStart(9)} ${String(t.enrolled).padStart(9)} ${String(t.abandoned).padStart(6)} ${String(t.failed).padStart(6)} ${t.coverage === null ? '' : `${t.coverage.toFixed(1)}%`.padStart(7)} ${t.completion === null ? '' : `${t.completion.toFixed(1)}%`.padStart(7)}`,
    ),
    `合计${' '.repeat(16)} ${String(s.totals.registered).padStart(8)} ${String(s.totals.toEnroll).padStart(8)} ${''.padStart(9)} ${String(s.totals.enrolled).padStart(9)} ${String(s.totals.abandoned).padStart(6)} ${String(s.totals.failed).padStart(6)}`,
    `residents to enroll by end state: ${Object.entries(s.endStates)
      .map(([k, n]) => `${k} ${n}`)
      .join(
        ', ',
      )} = ${Object.values(s.endStates).reduce((a, b) => a + b, 0)} (paid includes ${s.totals.subsidised} subsidised; 参保人数 also counts residence-permit holders)`,
    'deduction rounds:',
    ...s.rounds.map(
      (r) =>
        `  round ${String(r.round).padStart(2)}: ${String(r.lines).padStart(7)} levied  ${String(r.success).padStart(7)} paid  ${String(r.personal).padStart(6)} personal  ${String(r.systemic).padStart(5)} systemic`,
    ),
    'subsidy claims:',
    ...s.claims.map(
      (c) => `  ${c.fundingSource} / ${c.department}: ${c.persons} people, ${formatYuan(c.totalFen)} yuan`,
    ),
    'workflow runs:',
    ...s.runs.map((r) => `  ${r.runId}: ${r.events} events, ${(r.bytes / 1024).toFixed(0)} KiB`),
    ...(s.kept
      ? [
          '',
          `The rehearsal's ledger is kept in database ${s.kept.database} until the next rehearsal. To see it in the`,
          'console (工作台, 名单, 进度, 扣费与跟进, 对账, 审计), run:',
          '',
          `  ${s.kept.console}`,
          '',
          'and open the address it prints (http://127.0.0.1:8400). Log in as yourself: on the local cluster',
          'op_demo (operator), audit_demo (auditor) or civil_demo (civil affairs), passwords in users.json of the',
          "cluster's cache folder. The year's workflow ended with the rehearsal's own Temporal server: the pages",
          "show its ledger; the campaign timeline and the exchange log's archived files went with the run.",
        ]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}

export async function rehearseCommand(o: {
  jurisdiction: string;
  year: number;
  scale: number;
  seed: number;
  summaryJson?: string;
  operator?: string;
  keep?: boolean;
}) {
  const summary = await rehearse({ ...o, say: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(formatSummary(summary));
  if (o.summaryJson) writeFileSync(o.summaryJson, JSON.stringify(summary, null, 2));
  return summary;
}
