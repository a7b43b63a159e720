/**
 * The fault suite's harness: a Kaiping drill year on the real dev server and PostgreSQL, with workers in
 * their own processes (so a test can `kill -9` one), and a fingerprint of the registry and the year's
 * summary to compare a run with faults against the same run without.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { inject } from 'vitest';
import { simulatedPorts } from '../../departments/simulated';
import { startCampaign } from '../../application/campaign-workflow';
import { makeDrillPolicy } from '../../domain/drill';
import type { Policy } from '../../domain/policy';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import type { CampaignProgress } from '../../workflows/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { uniqueTaskQueue } from '../support/temporal';

export const SEED = 5;
export const SCALE = 0.002;
/** Minutes of wall time per distinct date of the drill calendar. */
const STEP_MINUTES = 0.04;

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export interface Year {
  db: TestDatabase;
  outDir: string;
  exchangeDir: string;
  taskQueue: string;
  client: Client;
  workerEnv: Record<string, string>;
  /** An operator's own login (postgres URL), for the command line. */
  operatorUrl: string;
}

/** Where a year runs when not on the dev server of the global setup (the cluster suite's cluster). */
export interface TemporalTarget {
  address: string;
  namespace: string;
  tls: TLSConfig;
  /** TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_TLS_* for the worker processes. */
  env: Record<string, string>;
}

/**
 * A fresh database with the seeded Kaiping population, and the environment of its workers; on the dev
 * server of the global setup unless `target` says otherwise.
 */
export async function prepareYear(target?: TemporalTarget): Promise<Year> {
  const db = await createTestDatabase();
  db.pool.on('error', () => undefined); // idle connections die when PostgreSQL is stopped on purpose
  const outDir = mkdtempSync(join(tmpdir(), 'medins-faults-'));
  const exchangeDir = join(outDir, 'exchange');
  await generatePopulation(db.pool, drillPolicy(Date.now()), {
    scale: SCALE,
    seed: SEED,
    defectRate: 0.02,
    deltaMonths: 0,
    outDir,
  });
  const taskQueue = uniqueTaskQueue('faults');
  const connection = await Connection.connect(
    target ? { address: target.address, tls: target.tls } : { address: inject('devServerAddress') },
  );
  // the worker logs in as its own operator-level login, as in production; the superuser only migrates
  const [workerLogin, operatorLogin] = [await db.login('operator'), await db.login('operator')];
  return {
    operatorUrl: operatorLogin.url,
    db,
    outDir,
    exchangeDir,
    taskQueue,
    client: new Client({ connection, ...(target ? { namespace: target.namespace } : {}) }),
    workerEnv: {
      ...(target ? target.env : { TEMPORAL_ADDRESS: inject('devServerAddress') }),
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: workerLogin.url,
      MEDINS_ADMIN_DATABASE_URL: db.url,
      MEDINS_EXCHANGE_DIR: exchangeDir,
      MEDINS_POPULATION_DIRS: `kaiping=${outDir}`,
      MEDINS_SIMULATION_SEED: String(SEED),
      MEDINS_SIMULATED_SYSTEMIC_FAILURES: '0.02',
      MEDINS_SIMULATED_TOP_UPS: '0.5',
      MEDINS_PAYLOAD_ENCRYPTION: 'off',
    },
  };
}

export function drillPolicy(startMs: number): Policy {
  return makeDrillPolicy(seedPolicy('kaiping', 2024), startMs, STEP_MINUTES);
}

/** `npm run worker` in its own process; resolves once it serves the task queue. */
export async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let killedOnPurpose = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      // a worker that dies on its own is a finding: say how, with its last words
      if (!killedOnPurpose)
        process.stderr.write(
          `[faults] worker ${child.pid} exited by itself (${code ?? signal}):\n${output.slice(-4000)}\n`,
        );
      resolve();
    }),
  );
  const deadline = Date.now() + 180_000;
  while (!output.includes(' serving task queue ')) {
    if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode}): ${output}`);
    if (Date.now() > deadline) throw new Error(`the worker did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    output: () => output,
    async kill9() {
      killedOnPurpose = true;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      killedOnPurpose = true;
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Waits until `file` exists (a worker reached its fault point). */
export async function waitForFile(file: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`no worker reached the fault point (${file})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the drill campaign a few seconds from now; returns its handle's result promise. */
export async function startYear(year: Year) {
  const policy = drillPolicy(Date.now() + 4_000);
  const started = await startCampaign(year.client, {
    taskQueue: year.taskQueue,
    policy,
    operator: 'fault-suite',
  });
  const handle = year.client.workflow.getHandle(started.workflowId, started.runId);
  return { started, policy, handle, result: () => handle.result() as Promise<CampaignProgress> };
}

export interface Fingerprint {
  enrollments: Record<string, { n: number; personalFen: number; subsidyFen: number }>;
  levyRounds: { round: number; lines: number; totalFen: number }[];
  results: Record<string, number>;
  /** Successful deductions the simulated tax bureau made from bank accounts, and the money taken. */
  debits: { lines: number; people: number; fen: number };
  peopleDeductedTwice: number;
  bankBalanceFen: number;
  submissions: Record<string, { read: number; accepted: number; rejected: number }>;
  identities: number;
  claims: { fundingSource: string; department: string; persons: number; totalFen: number }[];
  /** Per progress report in order (a drill's report keys carry the wall time), and at the cut-off. */
  snapshots: Record<string, { enrolled: number; failed: number; abandoned: number }>;
  followUps: Record<string, number>;
  /** Distinct files that crossed a boundary (a resend of the same file is the same digest). */
  exchangedFiles: number;
}

/** The registry after the year, in figures that do not depend on timing or row ids. */
export async function fingerprint(db: TestDatabase): Promise<Fingerprint> {
  const q = async <T>(sql: string) => (await db.pool.query(sql)).rows as T[];
  const enrollments = await q<{ status: string; n: number; p: string; s: string }>(
    `SELECT status::text, count(*)::int AS n, sum(personal_fen)::text AS p, sum(subsidy_fen)::text AS s
     FROM enrollments WHERE campaign_year = 2024 GROUP BY 1 ORDER BY 1`,
  );
  const levy = await q<{ round: number; lines: number; total: string }>(
    `SELECT round, line_count AS lines, total_fen::text AS total FROM levy_batches ORDER BY round`,
  );
  const results = await q<{ k: string; n: number }>(
    `SELECT outcome || coalesce('/' || failure_class, '') AS k, count(*)::int AS n FROM deduction_results GROUP BY 1 ORDER BY 1`,
  );
  const debits = await q<{ lines: number; people: number; fen: string }>(
    `SELECT count(*)::int AS lines, count(DISTINCT t.enrollment_id)::int AS people, coalesce(sum(l.amount_fen), 0)::text AS fen
     FROM sim_tax_results t JOIN levy_lines l ON l.batch_id = t.batch_id AND l.enrollment_id = t.enrollment_id
     WHERE t.outcome = 'success'`,
  );
  const twice = await q<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT enrollment_id FROM sim_tax_results WHERE outcome = 'success'
       GROUP BY enrollment_id HAVING count(*) > 1) x`,
  );
  const balance = await q<{ fen: string }>(
    `SELECT coalesce(sum(balance_fen), 0)::text AS fen FROM sim_bank_accounts`,
  );
  const submissions = await q<{ k: string; read: number; accepted: number; rejected: number }>(
    `SELECT department || '/' || kind || '/' || status AS k, sum(rows_read)::int AS read,
            sum(rows_accepted)::int AS accepted, sum(rows_rejected)::int AS rejected
     FROM submissions GROUP BY 1 ORDER BY 1`,
  );
  const identities = await q<{ n: number }>(`SELECT count(*)::int AS n FROM identities`);
  const claims = await q<{ fundingSource: string; department: string; persons: number; totalFen: string }>(
    `SELECT funding_source AS "fundingSource", department, person_count AS persons, total_fen::text AS "totalFen"
     FROM subsidy_claims ORDER BY 1, 2`,
  );
  const snapshots = await q<{ key: string; enrolled: number; failed: number; abandoned: number }>(
    `SELECT CASE WHEN snapshot_key LIKE 'progress-%' THEN 'report ' || rank() OVER (PARTITION BY snapshot_key LIKE 'progress-%' ORDER BY max(taken_at), snapshot_key) ELSE snapshot_key END AS key,
            sum(enrolled)::int AS enrolled, sum(failed)::int AS failed, sum(abandoned)::int AS abandoned
     FROM coverage_snapshots GROUP BY snapshot_key ORDER BY max(taken_at), snapshot_key`,
  );
  const followUps = await q<{ k: string; n: number }>(
    `SELECT coalesce(outcome, 'open') AS k, count(*)::int AS n FROM follow_up_tasks GROUP BY 1 ORDER BY 1`,
  );
  const exchanged = await q<{ n: number }>(
    `SELECT count(DISTINCT (direction, kind, period, sha256))::int AS n FROM exchange_log`,
  );
  return {
    enrollments: Object.fromEntries(
      enrollments.map((r) => [r.status, { n: r.n, personalFen: Number(r.p), subsidyFen: Number(r.s) }]),
    ),
    levyRounds: levy.map((r) => ({ round: r.round, lines: r.lines, totalFen: Number(r.total) })),
    results: Object.fromEntries(results.map((r) => [r.k, r.n])),
    debits: { lines: debits[0]!.lines, people: debits[0]!.people, fen: Number(debits[0]!.fen) },
    peopleDeductedTwice: twice[0]!.n,
    bankBalanceFen: Number(balance[0]!.fen),
    submissions: Object.fromEntries(
      submissions.map((r) => [r.k, { read: r.read, accepted: r.accepted, rejected: r.rejected }]),
    ),
    identities: identities[0]!.n,
    claims: claims.map((c) => ({ ...c, totalFen: Number(c.totalFen) })),
    snapshots: Object.fromEntries(
      snapshots.map((r) => [r.key, { enrolled: r.enrolled, failed: r.failed, abandoned: r.abandoned }]),
    ),
    followUps: Object.fromEntries(followUps.map((r) => [r.k, r.n])),
    exchangedFiles: exchanged[0]!.n,
  };
}

/** The year's summary without what depends on timing (runs, the date the query was answered). */
export function summaryOf(p: CampaignProgress) {
  const { runs: _runs, campaignDate: _date, claimRejections: _rejections, lastReport, ...rest } = p;
  const { key: _key, ...report } = lastReport ?? { key: '' };
  return { ...rest, lastReport: report };
}

export interface DepartmentFaults {
  /** The tax bureau answers 503 to every results request for this long after the first levy arrives. */
  taxDownMs: number;
  /** One results request is held longer than the adapter's timeout. */
  hangOnceMs: number;
  /** Result files come with every line twice, in reverse order. */
  resultsTwiceReversed: boolean;
  /** Finance rejects the first claim (HTTP 400) and accepts it when sent again. */
  rejectFirstClaim: boolean;
}

/**
 * The departments behind the HTTP API the http adapter speaks (departments/http.ts), backed by the
 * simulated departments, misbehaving as told. Counts what it was asked, for the test to report.
 */
export async function startFaultyDepartments(year: Year, faults: DepartmentFaults) {
  const ports = simulatedPorts(year.db.pool, {
    seed: SEED,
    populationDirs: { kaiping: year.outDir },
    systemicFailureRate: 0.02,
    topUpRate: 0.5,
    missingDepartments: [],
    exchangeDir: year.exchangeDir,
  });
  const seen = { unavailable: 0, held: 0, resultFiles: 0, claimsRejected: 0, claimsAccepted: 0, levies: 0 };
  let firstLevyAt: number | undefined;
  let heldOnce = false;
  let claimRejected = false;
  const file = (f: { fileName: string; bytes: Buffer }) =>
    JSON.stringify({ fileName: f.fileName, contentBase64: f.bytes.toString('base64') });
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  };
  const server = createServer((req, res) => {
    void (async () => {
      const parts = (req.url ?? '').split('/').filter(Boolean);
      const send = (status: number, text = '') => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      try {
        if (parts[0] === 'rosters') {
          const f = await ports.certifying.fetchRoster(parts[1]!, parts[2]!, parts[3]!);
          return f ? send(200, file(f)) : send(404);
        }
        if (parts[0] === 'deltas') {
          const f = await ports.certifying.fetchDelta(parts[1]!, parts[2]!, parts[3]!);
          return f ? send(200, file(f)) : send(404);
        }
        if (parts[0] === 'levies') {
          const b = await body(req);
          firstLevyAt ??= Date.now();
          seen.levies += 1;
          // the port takes the levy on disk, as the worker hands it over
          const levyPath = join(mkdtempSync(join(tmpdir(), 'medins-faulty-tax-')), 'levy.csv');
          writeFileSync(levyPath, Buffer.from(String(b.contentBase64), 'base64'));
          await ports.tax.submitLevy(parts[1]!, Number(parts[2]), Number(b.round), {
            fileName: String(b.fileName),
            path: levyPath,
          });
          return send(200, '{}');
        }
        if (parts[0] === 'results') {
          if (firstLevyAt !== undefined && Date.now() - firstLevyAt < faults.taxDownMs) {
            seen.unavailable += 1;
            return send(503, '{"error":"税务系统维护中"}');
          }
          if (faults.hangOnceMs && !heldOnce) {
            heldOnce = true;
            seen.held += 1;
            await new Promise((r) => setTimeout(r, faults.hangOnceMs));
          }
          const onDisk = await ports.tax.fetchResults(parts[1]!, Number(parts[2]));
          if (!onDisk) return send(404);
          const f = { fileName: onDisk.fileName, bytes: readFileSync(onDisk.path) };
          seen.resultFiles += 1;
          if (!faults.resultsTwiceReversed) return send(200, file(f));
          const [header, ...lines] = f.bytes.toString('utf8').trimEnd().split(/\r?\n/);
          const reversed = [...lines].reverse();
          const doubled = [header, ...reversed, ...reversed].join('\r\n') + '\r\n';
          return send(200, file({ fileName: f.fileName, bytes: Buffer.from(doubled) }));
        }
        if (parts[0] === 'claims') {
          const b = await body(req);
          if (faults.rejectFirstClaim && !claimRejected) {
            claimRejected = true;
            seen.claimsRejected += 1;
            return send(400, '{"error":"申请材料不全，请补正后重新报送"}');
          }
          const receipt = await ports.finance.submitClaim(parts[1]!, parts[2]!, {
            fileName: String(b.fileName),
            bytes: Buffer.from(String(b.contentBase64), 'base64'),
          });
          seen.claimsAccepted += 1;
          return receipt ? send(200, JSON.stringify({ receipt })) : send(202, '{}');
        }
        send(404);
      } catch (error) {
        send(500, JSON.stringify({ error: String(error) }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
