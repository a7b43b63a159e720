import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationConfig } from '../../departments/simulated';
import { policyHash } from '../../ledger/policy-hash';
import { makeDrillPolicy } from '../../domain/drill';
import { seedPolicy } from '../../seeds';
import { createWorker } from '../../worker/create-worker';
import { departmentAdapters, type AdapterCatalog } from '../../worker/departments';
import { AnnualCampaignWorkflow, type CampaignProgress } from '../../workflows/campaign';
import { tabJsonTaxBureau } from '../support/adapters/tab-json-tax-bureau';
import { drillPopulation } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

/**
 * A tax bureau with its own API and file formats (tab-separated levy, JSON results with its own codes):
 * it refuses every 5th serial of a first round for insufficient balance (E01), deducts everything else.
 */
function startTaxBureau() {
  const levies = new Map<string, { round: number; header: string; serials: string[] }>();
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const put = /^\/batches\/(\w+)\/(\d+)$/.exec(url);
    const get = /^\/batches\/(\w+)\/(\d+)\/result$/.exec(url);
    if (req.method === 'PUT' && put) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const [header, ...rows] = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
        const key = `${put[1]}/${put[2]}`;
        if (!levies.has(key))
          levies.set(key, {
            round: Number(req.headers['x-round']),
            header: header!,
            serials: rows.map((r) => r.split('\t')[0]!),
          });
        res.writeHead(201).end();
      });
      return;
    }
    if (req.method === 'GET' && get) {
      const levy = levies.get(`${get[1]}/${get[2]}`);
      if (!levy) return void res.writeHead(204).end();
      const lines = levy.serials.map((serial) =>
        levy.round === 1 && Number(serial) % 5 === 0
          ? { serial, status: 'REFUSED', reason: 'E01' }
          : { serial, status: 'DEDUCTED' },
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ batch: Number(get[2]), lines }));
    }
    res.writeHead(404).end();
  });
  return { server, levies };
}

describe('a new tax bureau adapter, added in an adapter file and the composition root only', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  const drill = makeDrillPolicy(seedPolicy('kaiping', 2024), Date.now() + 8_000, 0.05);
  let simulation: SimulationConfig;
  const bureau = startTaxBureau();
  let base = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => bureau.server.listen(0, '127.0.0.1', resolve));
    const address = bureau.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
    simulation = await drillPopulation(db, drill, { seed: 9 });
  });
  afterAll(async () => {
    bureau.server.closeAllConnections();
    await new Promise((resolve) => bureau.server.close(resolve));
    await env?.teardown();
    await db?.drop();
  });

  it('a drill year runs its deduction rounds through the bureau’s own API and formats, its codes in the plan’s words', async () => {
    // the composition root's one change: a kind for the tax role, chosen by the tax role's setting
    const adapters: AdapterCatalog = {
      ...departmentAdapters,
      tax: { ...departmentAdapters.tax, 'tab-json': (url) => tabJsonTaxBureau(url) },
    };
    const taskQueue = uniqueTaskQueue('tax-adapter');
    const worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation,
      adapters,
      departments: { certifying: 'simulated', tax: `tab-json:${base}`, finance: 'simulated' },
      workflowBundle: await workflowBundle(),
    });
    const result: CampaignProgress = await worker.runUntil(async () => {
      // a workflow id of its own: the drill test may run the Kaiping drill on the same server at once
      const handle = await env.client.workflow.start(AnnualCampaignWorkflow, {
        taskQueue,
        workflowId: `tax-adapter-${taskQueue}`,
        args: [
          {
            policy: drill,
            policyHash: policyHash(drill),
            operator: 'operator-li',
            rehearsal: false,
            searchAttributes: false,
          },
        ],
      });
      return handle.result();
    });
    expect(result.phase).toBe('closed');

    // every levy went to this bureau, none to the simulated one
    const sent = [...bureau.levies.values()];
    const firstRound = sent.filter((l) => l.round === 1);
    expect(firstRound).toHaveLength(1);
    expect(sent.every((l) => l.header === 'serial\tid_number\taccount\tamount_fen')).toBe(true);
    const refused = firstRound[0]!.serials.filter((s) => Number(s) % 5 === 0).length;
    expect(refused).toBeGreaterThan(0);
    expect(result.rounds[0]).toMatchObject({
      round: 1,
      lines: firstRound[0]!.serials.length,
      success: firstRound[0]!.serials.length - refused,
      personal: refused, // E01 is 余额不足: a personal failure (000 五(四)(2))
      systemic: 0,
    });
    const simulated = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM sim_tax_results`);
    expect(simulated.rows[0]!.n).toBe(0);
    const failures = await db.pool.query<{ failure_code: string; n: number }>(
      `SELECT failure_code, count(*)::int AS n FROM deduction_results WHERE outcome = 'failure' GROUP BY 1`,
    );
    expect(failures.rows).toEqual([{ failure_code: 'insufficient-balance', n: refused }]);

    // the exchange log holds the bureau's own files, counted in its own format
    const log = await db.pool.query<{
      kind: string;
      file_name: string;
      row_count: number;
      stored_at: string;
    }>(
      `SELECT kind, file_name, row_count, stored_at FROM exchange_log WHERE department = 'tax' ORDER BY seq`,
    );
    const levyLog = log.rows.filter((r) => r.kind === 'levy-data');
    const resultLog = log.rows.filter((r) => r.kind === 'deduction-results');
    expect(levyLog.length).toBe(sent.length);
    expect(levyLog.every((r) => /^kaiping-\d+\.tsv$/.test(r.file_name))).toBe(true);
    expect(levyLog[0]!.row_count).toBe(firstRound[0]!.serials.length);
    expect(readFileSync(levyLog[0]!.stored_at, 'utf8').split('\n')[0]).toBe(
      'serial\tid_number\taccount\tamount_fen',
    );
    expect(resultLog.every((r) => /^kaiping-\d+-result\.json$/.test(r.file_name))).toBe(true);
    expect(resultLog[0]!.row_count).toBe(firstRound[0]!.serials.length);
  });
});
