/**
 * PIPL on the Temporal server itself: a drill year of Kaiping's synthetic population runs with the
 * payload codec on a dev server that keeps its history in a SQLite file; afterwards no national ID and no
 * bank account number of that population is found in the raw history or anywhere in the server's files,
 * while the Temporal CLI shows them decoded through the codec server to a holder of its token.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationConfig } from '../../departments/simulated';
import { startCampaign } from '../../application/campaign-workflow';
import { makeDrillPolicy } from '../../domain/drill';
import { makeIdNumber } from '../../domain/id-number';
import { startCodecServer, type CodecServer } from '../../infra/codec-server';
import { startDevServer, type DevServer } from '../../provision/dev-server';
import { AesGcmPayloadCodec, encryptingDataConverter } from '../../infra/payload-codec';
import { resolveTemporalCli } from '../../provision/temporal';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import { householdFormUpdate, type CampaignProgress } from '../../workflows/campaign';
import { StackCheckWorkflow } from '../../workflows/stack-check';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { quietRuntime, uniqueTaskQueue, workflowBundle } from '../support/temporal';

const run = promisify(execFile);

/** Every file the dev server wrote (the SQLite database, its WAL and shared memory). */
function serverFiles(dir: string): Buffer[] {
  return readdirSync(dir).map((f) => readFileSync(join(dir, f)));
}
/** The text of every payload in a history the CLI printed as JSON (payload data is base64 there). */
function payloadTexts(json: string): string {
  const texts: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.metadata && typeof o.data === 'string')
        texts.push(Buffer.from(o.data, 'base64').toString('utf8'));
      Object.values(o).forEach(walk);
    }
  };
  walk(JSON.parse(json));
  return texts.join('\n');
}
const foundIn = (files: Buffer[], text: string) => files.some((b) => b.includes(Buffer.from(text)));

describe('with the codec on, the Temporal server stores no national ID or bank account in plain text', () => {
  const codec = new AesGcmPayloadCodec(new Map([['k2024', randomBytes(32)]]), 'k2024');
  const dataConverter = encryptingDataConverter(codec);
  const token = randomBytes(16).toString('hex');
  const serverDir = mkdtempSync(join(tmpdir(), 'medins-history-'));
  let server: DevServer;
  let codecServer: CodecServer;
  let db: TestDatabase;
  let client: Client;
  let connection: NativeConnection;
  let plainClient: Client;
  const drill = makeDrillPolicy(seedPolicy('kaiping', 2024), Date.now() + 20_000, 0.05);
  const outDir = mkdtempSync(join(tmpdir(), 'medins-privacy-'));
  const controlId = makeIdNumber('440783', '1961-07-14', 35);

  beforeAll(async () => {
    quietRuntime();
    codecServer = await startCodecServer({ codec, token });
    [server, db] = await Promise.all([
      startDevServer({ dbFile: join(serverDir, 'temporal.sqlite'), uiCodecEndpoint: codecServer.url }),
      createTestDatabase(),
    ]);
    await generatePopulation(db.pool, drill, {
      scale: 0.001,
      seed: 21,
      defectRate: 0.02,
      deltaMonths: 0,
      outDir,
    });
    connection = await NativeConnection.connect({ address: server.address });
    const clientConnection = await Connection.connect({ address: server.address });
    client = new Client({ connection: clientConnection, dataConverter });
    plainClient = new Client({ connection: clientConnection });
  });
  afterAll(async () => {
    await connection?.close();
    await server?.stop();
    await codecServer?.close();
    await db?.drop();
  });

  it('a drill year with an operator’s bank-account change, a failure naming a person, and a control run without the codec', async () => {
    const simulation: SimulationConfig = {
      seed: 21,
      populationDirs: { kaiping: outDir },
      systemicFailureRate: 0.02,
      topUpRate: 0.5,
      missingDepartments: [],
      exchangeDir: join(outDir, 'exchange'),
    };
    const taskQueue = uniqueTaskQueue('privacy');
    const worker = await createWorker({
      connection,
      taskQueue,
      pool: db.pool,
      simulation,
      dataConverter,
      workflowBundle: await workflowBundle(),
    });
    const person = (
      await db.pool.query<{ id_number: string }>(
        `SELECT r.id_number FROM residents r JOIN households h ON h.id = r.household_id
          WHERE r.jurisdiction = 'kaiping' AND NOT r.employee_insured AND r.deceased_on IS NULL
          ORDER BY r.id LIMIT 1`,
      )
    ).rows[0]!.id_number;
    const newAccount = '6217' + String(Date.now()).padStart(15, '0');

    const progress = await worker.runUntil(async () => {
      const started = await startCampaign(client, { taskQueue, policy: drill, operator: 'operator-li' });
      const handle = client.workflow.getHandle(started.workflowId);
      const outcome = await handle.executeUpdate(householdFormUpdate, {
        args: [
          {
            kind: 'change-bank-account',
            idNumber: person,
            bankAccount: newAccount,
            bankName: '中国农业银行开平支行',
            date: drill.calendar.rosterAsOf.at,
            operator: 'operator-li',
          },
        ],
      });
      expect(outcome.accepted).toBe(true);
      return (await handle.result()) as CampaignProgress;
    });
    expect(progress.phase).toBe('closed');
    const changed = await db.pool.query<{ bank_account: string }>(
      `SELECT h.bank_account FROM residents r JOIN households h ON h.id = r.household_id WHERE r.id_number = $1`,
      [person],
    );
    expect(changed.rows[0]!.bank_account).toBe(newAccount);

    // a failure whose message names a person: its message and stack are encoded, then encrypted
    const failingQueue = uniqueTaskQueue('privacy-failure');
    const failing = await Worker.create({
      connection,
      taskQueue: failingQueue,
      dataConverter,
      workflowBundle: await workflowBundle(),
      activities: {
        recordStackCheck: () =>
          Promise.reject(ApplicationFailure.nonRetryable(`no household has a head with ID ${person}`)),
      },
    });
    const failure = await failing
      .runUntil(
        client.workflow.execute(StackCheckWorkflow, {
          taskQueue: failingQueue,
          workflowId: 'privacy-failure',
          args: [{ requestedBy: 'operator-li' }],
        }),
      )
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // the client holding the keys reads the message
    expect(((failure as WorkflowFailedError).cause?.cause as Error).message).toBe(
      `no household has a head with ID ${person}`,
    );

    // the control: the same kind of workflow without the codec leaves its ID readable in the server's files
    const controlQueue = uniqueTaskQueue('privacy-control');
    const control = await Worker.create({
      connection,
      taskQueue: controlQueue,
      workflowBundle: await workflowBundle(),
      activities: { recordStackCheck: () => Promise.resolve(1) },
    });
    await control.runUntil(
      plainClient.workflow.execute(StackCheckWorkflow, {
        taskQueue: controlQueue,
        workflowId: 'privacy-control',
        args: [{ requestedBy: 'operator-li', note: `household head ${controlId}` }],
      }),
    );

    // what the server returns without the keys
    const rawHistories = [
      JSON.stringify(await plainClient.workflow.getHandle('campaign-kaiping-2024-drill').fetchHistory()),
      JSON.stringify(await plainClient.workflow.getHandle('privacy-failure').fetchHistory()),
    ].join('\n');
    expect(rawHistories).not.toContain(person);
    expect(rawHistories).not.toContain(newAccount);
    expect(rawHistories).not.toContain('no household has a head');

    // the Temporal CLI shows the operator's form decoded through the codec server, to a holder of the token
    const cli = await resolveTemporalCli();
    if (cli.kind !== 'path') throw new Error('the Temporal CLI is needed for this test');
    const show = (extra: string[]) =>
      run(
        cli.path,
        [
          'workflow',
          'show',
          '--address',
          server.address,
          '--workflow-id',
          'campaign-kaiping-2024-drill',
          '--output',
          'json',
          ...extra,
        ],
        { maxBuffer: 256 * 1024 * 1024 },
      ).then((r) => r.stdout);
    const decoded = await show(['--codec-endpoint', codecServer.url, '--codec-auth', `Bearer ${token}`]);
    expect(payloadTexts(decoded)).toContain(person);
    expect(payloadTexts(decoded)).toContain(newAccount);
    expect(payloadTexts(await show([]))).not.toContain(newAccount);
    const refused = await show(['--codec-endpoint', codecServer.url, '--codec-auth', 'Bearer wrong']).catch(
      (e: { stderr?: string }) => e,
    );
    expect(typeof refused === 'string' ? payloadTexts(refused) : '').not.toContain(newAccount);

    // the Web UI is told where the codec server is
    const settings = (await (await fetch(`${server.uiUrl}/api/v1/settings`)).json()) as {
      Codec?: { Endpoint?: string };
    };
    expect(settings.Codec?.Endpoint).toBe(codecServer.url);

    // and on disk: stop the server so its WAL is checkpointed, then search every file it wrote
    const numbers = await db.pool.query<{ n: string }>(
      `SELECT id_number AS n FROM residents WHERE jurisdiction = 'kaiping'
       UNION SELECT bank_account FROM households WHERE bank_account IS NOT NULL`,
    );
    expect(numbers.rows.length).toBeGreaterThan(500);
    await server.stop();
    const files = serverFiles(serverDir);
    expect(foundIn(files, controlId)).toBe(true);
    const leaked = numbers.rows.map((r) => r.n).filter((n) => foundIn(files, n));
    expect(leaked).toEqual([]);
    expect(foundIn(files, 'no household has a head')).toBe(false);
  });
});
