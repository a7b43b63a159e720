/**
 * The benchmark's client process: one campaign year on the time-skipping server, the worker in a process
 * of its own (worker/main.ts, as in production), so each one's peak memory is its own.
 *
 *   tsx bench/year-child.ts <figures.json> <database URL> <population dir> <work dir> <seed>
 *
 * Writes the year's wall time, each phase's wall time (from the ledger's phase events), every workflow run's
 * history size, the worker's and this client's peak RSS, and the worker's activity timings.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import pg from 'pg';
import { collectRuns } from '../audit/history';
import { rehearsalInput } from '../client/rehearse';
import { dataConverterFromEnv } from '../infra/payload-codec';
import { installRedactingRuntime } from '../infra/redacting-logger';
import { stderrLogger } from '../infra/support';
import { resolveTestServer } from '../provision/temporal';
import { createTimeSkippingEnvironment } from '../provision/time-skipping';
import { seedPolicy } from '../seeds';
import type { ActivityTiming } from '../worker/activity-timings';
import { AnnualCampaignWorkflow, campaignWorkflowId } from '../workflows/campaign';

const { History } = proto.temporal.api.history.v1;

export interface YearFigures {
  yearSeconds: number;
  phases: { phase: string; seconds: number }[];
  runs: { workflowId: string; runId: string; workflowType: string; events: number; bytes: number }[];
  workerPeakRssMiB: number;
  clientPeakRssMiB: number;
  timings: ActivityTiming[];
  rounds: { round: number; lines: number; success: number; personal: number; systemic: number }[];
}

/** The peak resident set of a process (VmHWM), in MiB; Linux only. */
function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function main() {
  const [out, url, populationDir, workDir, seed] = process.argv.slice(2) as [
    string,
    string,
    string,
    string,
    string,
  ];
  installRedactingRuntime('WARN');
  const policy = seedPolicy('kaiping', 2024);
  const testServer = await resolveTestServer(stderrLogger);
  const dataConverter = dataConverterFromEnv();
  const env = await createTimeSkippingEnvironment({
    ...(dataConverter ? { client: { dataConverter } } : {}),
    server: testServer,
    log: stderrLogger,
  });
  const taskQueue = 'bench-year';
  const timingsPath = join(workDir, 'activity-timings.jsonl');
  writeFileSync(timingsPath, '');
  // as `npm run worker` starts it: its V8 heap capped at 512 MiB, so garbage is collected before the RSS
  // grows with the population (issue #23: uncapped, a 3x year peaked at 492-817 MiB; capped at 256 MiB, 374)
  const worker = spawn(process.execPath, ['--max-old-space-size=512', '--import', 'tsx', 'worker/main.ts'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: url,
      MEDINS_EXCHANGE_DIR: join(workDir, 'exchange'),
      MEDINS_POPULATION_DIRS: `kaiping=${populationDir}`,
      MEDINS_SIMULATION_SEED: seed,
      MEDINS_SIMULATED_SYSTEMIC_FAILURES: '0.01',
      MEDINS_SIMULATED_TOP_UPS: '0.3',
      MEDINS_ACTIVITY_TIMINGS: timingsPath,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let workerSays = '';
  worker.stderr.on('data', (d: Buffer) => {
    workerSays = (workerSays + d.toString()).slice(-20_000);
  });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const deadline = Date.now() + 120_000;
    while (!workerSays.includes(' serving task queue ')) {
      if (worker.exitCode !== null) throw new Error(`the worker exited: ${workerSays}`);
      if (Date.now() > deadline) throw new Error(`the worker did not start: ${workerSays}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const workflowId = campaignWorkflowId(policy.jurisdiction, policy.year);
    const started = Date.now();
    const handle = await env.client.workflow.start(AnnualCampaignWorkflow, {
      taskQueue,
      workflowId,
      args: [rehearsalInput(policy)],
    });
    const result = await handle.result();
    const yearSeconds = (Date.now() - started) / 1000;
    const workerPeakRssMiB = peakRssMiB(worker.pid!);

    // each phase from its phase event to the next, and the last to the year's end
    const events = await pool.query<{ phase: string; at: Date }>(
      `SELECT detail->>'phase' AS phase, recorded_at AS at FROM campaign_events
       WHERE jurisdiction = $1 AND campaign_year = $2 AND kind = 'phase' ORDER BY recorded_at`,
      [policy.jurisdiction, policy.year],
    );
    const marks = [
      { phase: 'start', at: started },
      ...events.rows.map((e) => ({ phase: e.phase, at: e.at.getTime() })),
    ];
    const phases = marks
      .slice(0, -1)
      .map((m, i) => ({
        phase: m.phase === 'start' ? 'workflow start' : m.phase,
        seconds: (marks[i + 1]!.at - m.at) / 1000,
      }))
      .filter((p) => p.phase !== 'closed');

    const runs = (await collectRuns(env.client, workflowId)).map((r) => ({
      workflowId: r.workflowId,
      runId: r.runId,
      workflowType: r.workflowType,
      events: r.history.events?.length ?? 0,
      bytes: History.encode(r.history as never).finish().length,
    }));
    const timings = readFileSync(timingsPath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ActivityTiming);
    const figures: YearFigures = {
      yearSeconds,
      phases,
      runs,
      workerPeakRssMiB,
      clientPeakRssMiB: process.resourceUsage().maxRSS / 1024,
      timings,
      rounds: result.rounds,
    };
    writeFileSync(out, JSON.stringify(figures));
  } finally {
    worker.kill('SIGTERM');
    // a worker still waiting on an activity is not waited for forever
    const killer = setTimeout(() => worker.kill('SIGKILL'), 30_000);
    await new Promise((r) => (worker.exitCode !== null ? r(null) : worker.once('exit', r)));
    clearTimeout(killer);
    await pool.end();
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
