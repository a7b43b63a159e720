/**
 * The production topology, tested: a Kaiping drill year on a real Temporal cluster (frontend, history,
 * matching and worker as separate processes; persistence and visibility in PostgreSQL; mTLS between the
 * project's workers and clients and the frontend) with two workers, the history service restarted and one
 * worker killed with SIGKILL in the deduction phase. The year must end with the registry fingerprint and
 * summary of the same year run cleanly on the dev server, and the campaign must be found by its search
 * attributes through visibility on PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  backfillSchedule,
  createReconciliationSchedule,
  describeSchedule,
  triggerSchedule,
} from '../../client/reconcile-commands';
import { startCodecServer } from '../../infra/codec-server';
import { AesGcmPayloadCodec } from '../../infra/payload-codec';
import { dropDatabase } from '../../provision/postgres';
import { stderrLogger } from '../../infra/support';
import { startClusterUi, startTemporalCluster, type TemporalCluster } from '../../provision/temporal-cluster';
import { seedPolicy } from '../../seeds';
import { progressQuery, type CampaignProgress } from '../../workflows/campaign';
import { createTestDatabase } from '../support/database';
import { chinaYearMonthOf } from '../../domain/dates';
import { uniqueTaskQueue } from '../support/temporal';
import {
  fingerprint,
  prepareYear,
  startWorker,
  startYear,
  summaryOf,
  type TemporalTarget,
  type WorkerProcess,
  type Year,
} from '../faults/harness';

const say = (line: string) => process.stderr.write(`[cluster] ${line}\n`);

describe('a drill year on a Temporal cluster backed by PostgreSQL', () => {
  let cluster: TemporalCluster | undefined;
  let target: TemporalTarget;
  const workers: WorkerProcess[] = [];
  const years: Year[] = [];
  const suffix = `${process.pid}_${Date.now()}`;
  const databases = { persistence: `temporal_p${suffix}`, visibility: `temporal_v${suffix}` };

  const year = async (on?: TemporalTarget) => {
    const y = await prepareYear(on);
    years.push(y);
    return y;
  };
  const worker = async (env: Record<string, string>) => {
    const w = await startWorker(env);
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startTemporalCluster({
      persistenceDb: databases.persistence,
      visibilityDb: databases.visibility,
      dir: mkdtempSync(join(tmpdir(), 'medins-cluster-')),
      log: stderrLogger,
    });
    target = {
      address: cluster.address,
      namespace: cluster.namespace,
      tls: cluster.tls,
      env: cluster.clientEnv,
    };
    say(
      `cluster up in ${((Date.now() - started) / 1000).toFixed(0)} s: frontend ${cluster.address} (mTLS), ` +
        `services ${Object.values(cluster.services)
          .map((s) => `${s.service} pid ${s.child.pid}`)
          .join(', ')}; databases ${databases.persistence}, ${databases.visibility}`,
    );
  });

  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    for (const y of years) await y.db.drop().catch(() => undefined);
    await cluster?.stop();
    const server = cluster?.databases.server ?? {
      adminUrl: inject('adminDatabaseUrl'),
      source: 'local-cluster',
    };
    await dropDatabase(server, databases.persistence).catch(() => undefined);
    await dropDatabase(server, databases.visibility).catch(() => undefined);
  });

  it('the frontend takes only clients with a certificate its CA signed', async () => {
    const c = cluster!;
    const attempt = async (options: Parameters<typeof Connection.connect>[0]) => {
      const connection = await Connection.connect({ ...options, connectTimeout: 3000 });
      try {
        await connection.workflowService.getSystemInfo({});
      } finally {
        await connection.close();
      }
    };
    await expect(attempt({ address: c.address })).rejects.toThrow();
    const { clientCertPair: _pair, ...withoutCertificate } = c.tls;
    await expect(attempt({ address: c.address, tls: withoutCertificate })).rejects.toThrow();
    await expect(attempt({ address: c.address, tls: c.tls })).resolves.toBeUndefined();
  });

  it('two workers, history restarted and a worker killed mid-year: the registry ends as the clean dev-server year, and visibility finds the campaign', async () => {
    // the reference: the same year, run cleanly on the dev server, at the same time
    const clean = (async () => {
      const y = await year();
      const w = await worker(y.workerEnv);
      const run = await startYear(y);
      const progress = await run.result();
      await w.stop();
      return { fp: await fingerprint(y.db), progress };
    })();
    clean.catch(() => undefined); // awaited below; a failure there is reported there

    const y = await year(target);
    const doomed = await worker(y.workerEnv);
    await worker(y.workerEnv);
    const run = await startYear(y);
    const handle = y.client.workflow.getHandle(run.started.workflowId);
    // mid-year: the deduction phase; a year already past it would not test the restarts, and says so
    const watchUntil = Date.now() + 600_000;
    for (;;) {
      const p = await handle.query(progressQuery).catch(() => null);
      if (p && (p.phase === 'deduction' || p.phase === 'follow-up')) break;
      if (p && ['cut-off', 'subsidy-claim', 'closed'].includes(p.phase))
        throw new Error(`the year reached ${p.phase} before the deduction phase was seen`);
      if (Date.now() > watchUntil) throw new Error(`no deduction phase within 10 minutes (last ${p?.phase})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const restartedAt = Date.now();
    await Promise.all([cluster!.restart('history'), doomed.kill9()]);
    expect(doomed.child.signalCode).toBe('SIGKILL');
    say(
      `history restarted (serving again after ${((Date.now() - restartedAt) / 1000).toFixed(1)} s) and worker ` +
        `${doomed.child.pid} killed with SIGKILL in the deduction phase`,
    );
    const progress: CampaignProgress = await run.result();
    const reference = await clean;
    for (const w of workers.splice(0)) await w.stop();

    const fp = await fingerprint(y.db);
    expect(progress.phase).toBe('closed');
    expect(fp.peopleDeductedTwice).toBe(0);
    expect(fp.levyRounds.length).toBeGreaterThanOrEqual(3);
    expect(fp).toEqual(reference.fp);
    expect(summaryOf(progress)).toEqual(summaryOf(reference.progress));
    say(
      `cluster year = dev-server year: enrollments ${Object.entries(fp.enrollments)
        .map(([s, x]) => `${s} ${x.n}`)
        .join(
          ', ',
        )}; ${fp.levyRounds.length} levy rounds; debits ${fp.debits.lines} for ${fp.debits.people} ` +
        `people; deducted twice ${fp.peopleDeductedTwice}; claims ${fp.claims.length}`,
    );

    // visibility on PostgreSQL: the campaign by jurisdiction, year and phase (eventually consistent)
    const query = `CampaignJurisdiction = 'kaiping' AND CampaignYear = 2024 AND CampaignPhase = 'closed'`;
    let found: string[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      found = [];
      for await (const execution of y.client.workflow.list({ query })) found.push(execution.workflowId);
      if (found.includes(run.started.workflowId)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(found).toContain(run.started.workflowId);
    const elsewhere = [];
    for await (const e of y.client.workflow.list({ query: `CampaignJurisdiction = 'heshan'` }))
      elsewhere.push(e.workflowId);
    expect(elsewhere).toEqual([]);
    say(`visibility: ${query} -> ${found.join(', ')}`);
  });

  it("the monthly reconciliation Schedule fires and backfills on the cluster (the server's own worker service runs it, over mTLS)", async () => {
    const c = cluster!;
    const db = await createTestDatabase();
    const china = () => chinaYearMonthOf(Date.now());
    /** The 10th of the month `offset` months from now, 09:00 Beijing time, moved by `hours`. */
    const deltaDay = (offset: number, hours: number) =>
      new Date(Date.UTC(china().year, china().month - 1 + offset, 10, 1 + hours));
    const month = (offset: number) =>
      new Date(Date.UTC(china().year, china().month - 1 + offset, 1)).toISOString().slice(0, 7);
    const policy = seedPolicy('heshan', 2024);
    const taskQueue = uniqueTaskQueue('cluster-schedule');
    const client = new Client({
      connection: await Connection.connect({ address: c.address, tls: c.tls }),
      namespace: c.namespace,
    });
    try {
      await worker({
        ...c.clientEnv,
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: db.url,
        MEDINS_EXCHANGE_DIR: mkdtempSync(join(tmpdir(), 'medins-cluster-schedule-')),
        MEDINS_SIMULATED_SYSTEMIC_FAILURES: '0',
        MEDINS_SIMULATED_TOP_UPS: '0',
        MEDINS_PAYLOAD_ENCRYPTION: 'off',
      });
      const months = async () =>
        (
          await db.pool.query<{ month: string; finished: boolean }>(
            `SELECT month, finished_at IS NOT NULL AS finished FROM reconciliations ORDER BY month`,
          )
        ).rows;
      const waitFor = async (n: number) => {
        for (let i = 0; i < 240 && (await months()).filter((m) => m.finished).length < n; i += 1)
          await new Promise((r) => setTimeout(r, 500));
      };
      await createReconciliationSchedule(client, taskQueue, policy, { paused: true, graceMs: 0 });
      expect((await describeSchedule(client, 'heshan')).state.paused).toBe(true);
      await triggerSchedule(client, 'heshan');
      await waitFor(1);
      // two delta days missed while the Schedule was paused, three and two months ago
      await backfillSchedule(client, 'heshan', deltaDay(-3, -1), deltaDay(-2, 1));
      await waitFor(3);
      expect(await months()).toEqual(
        [month(-4), month(-3), month(-1)].map((m) => ({ month: m, finished: true })),
      );
      const described = await describeSchedule(client, 'heshan');
      expect(described.info.numActionsTaken).toBe(3);
      say(
        `Schedule reconcile-heshan on the cluster: triggered once, backfilled two missed months; reconciled ${(
          await months()
        )
          .map((m) => m.month)
          .join(', ')}`,
      );
    } finally {
      for (const w of workers.splice(0)) await w.stop();
      await client.schedule
        .getHandle('reconcile-heshan')
        .delete()
        .catch(() => undefined);
      await client.connection.close();
      await db.drop();
    }
  });

  it('the Web UI reaches the cluster over mTLS and is pointed at the codec server', async () => {
    const codec = await startCodecServer({
      codec: new AesGcmPayloadCodec(new Map([['test', randomBytes(32)]]), 'test'),
      token: randomBytes(18).toString('base64url'),
    });
    const ui = await startClusterUi(cluster!, { codecEndpoint: codec.url, log: stderrLogger });
    try {
      const settings = (await (await fetch(`${ui.url}/api/v1/settings`)).json()) as {
        Codec: { Endpoint: string; PassAccessToken: boolean };
      };
      expect(settings.Codec.Endpoint).toBe(codec.url);
      expect(settings.Codec.PassAccessToken).toBe(false);
      // the UI's API answers from the frontend, which takes only clients with a certificate
      const namespaces = (await (await fetch(`${ui.url}/api/v1/namespaces`)).json()) as {
        namespaces: { namespaceInfo: { name: string } }[];
      };
      expect(namespaces.namespaces.map((n) => n.namespaceInfo.name)).toContain(cluster!.namespace);
      // without the token the codec server decodes nothing for the UI's readers
      const anonymous = await fetch(`${codec.url}/decode`, {
        method: 'POST',
        body: JSON.stringify({ payloads: [] }),
      });
      expect(anonymous.status).toBe(401);
      say(`Web UI at ${ui.url} on the cluster (mTLS), codec endpoint ${settings.Codec.Endpoint}`);
    } finally {
      await ui.stop();
      await codec.close();
    }
  });
});
