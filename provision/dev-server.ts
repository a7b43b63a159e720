/**
 * Starts a Temporal dev server (the real server, SQLite, Web UI) on loopback.
 *
 * As a library: `startDevServer()` gives an ephemeral server on free ports for tests and the demo.
 * As a script (`npm run dev:server`): a persistent server whose SQLite file lives in the cache, on
 * TEMPORAL_PORT (7233) with its Web UI on TEMPORAL_UI_PORT (8233), until Ctrl-C.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { resolveTemporalCli } from './temporal';
import { serverStartTimeoutMs, spawnServer } from './server-process';
import {
  cacheRoot,
  freePort,
  ProvisioningError,
  runIfMain,
  stderrLogger,
  type Logger,
  quietLogger,
} from '../infra/support';
import { settings } from '../config/settings';

/** Search attributes the campaign workflows set; registered on every dev server we start. */
export const SEARCH_ATTRIBUTES = {
  CampaignJurisdiction: 'Keyword',
  CampaignYear: 'Int',
  CampaignPhase: 'Keyword',
} as const;

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  namespace: string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** SQLite file; omitted means an in-memory server that forgets everything when it stops. */
  dbFile?: string;
  /** The codec server the Web UI calls to show decrypted history (default TEMPORAL_UI_CODEC_ENDPOINT). */
  uiCodecEndpoint?: string;
  log?: Logger;
  /** How long it may take to answer (default `serverStartTimeoutMs()`). */
  readyTimeoutMs?: number;
}

/** Whether an error is the SDK's ephemeral-server start giving up after its fixed 5 s. */
const sdkStartTimedOut = (error: unknown) => /did not start within/.test(String(error));

/**
 * Starts a dev server and resolves once its default namespace answers.
 *
 * Errors: ProvisioningError when no Temporal CLI can be found or built (see `resolveTemporalCli`), when
 * the server exits before answering, or does not answer within `readyTimeoutMs` (default
 * `serverStartTimeoutMs()`, 180 s: a busy machine starts it slowly); for the SDK's download, when four
 * starts with backoff all exceed the SDK's fixed 5 s.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const log = options.log ?? quietLogger;
  const executable = await resolveTemporalCli(log);
  const searchAttributeArgs = Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => [
    '--search-attribute',
    `${name}=${type}`,
  ]);
  const codecEndpoint = options.uiCodecEndpoint ?? settings().TEMPORAL_UI_CODEC_ENDPOINT;

  if (executable.kind === 'sdk-download') {
    const delays = [2000, 5000, 10_000];
    for (let attempt = 1; ; attempt += 1) {
      const port = options.port ?? (await freePort());
      const uiPort = options.uiPort ?? (await freePort());
      log(`starting the Temporal dev server downloaded by the SDK (start ${attempt})`);
      try {
        const env = await TestWorkflowEnvironment.createLocal({
          server: {
            ip: '127.0.0.1',
            port,
            ui: true,
            uiPort,
            ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
            extraArgs: [
              ...searchAttributeArgs,
              ...(codecEndpoint ? ['--ui-codec-endpoint', codecEndpoint] : []),
            ],
          },
        });
        return {
          address: `127.0.0.1:${port}`,
          uiUrl: `http://127.0.0.1:${uiPort}`,
          namespace: 'default',
          stop: () => env.teardown(),
        };
      } catch (error) {
        const delay = delays[attempt - 1];
        if (!sdkStartTimedOut(error)) throw error;
        if (delay === undefined)
          throw new ProvisioningError(
            `The Temporal dev server downloaded by the SDK did not open its port within the SDK's fixed 5 s in ` +
              `${attempt} starts (the machine is busy). Install Go 1.23+ so that the project builds the Temporal CLI ` +
              `and waits for it up to MEDINS_SERVER_START_TIMEOUT_MS, or retry when the load is lower.`,
          );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  let uiPort = 0;
  // the Web UI's port is chosen again with each gRPC port tried
  const args = async (port: number) => {
    uiPort = options.uiPort ?? (await freePort());
    return [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--namespace',
      'default',
      '--log-level',
      'warn',
      ...searchAttributeArgs,
      ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
      // the Web UI decodes encrypted history through the codec server (npm run codec-server)
      ...(codecEndpoint ? ['--ui-codec-endpoint', codecEndpoint] : []),
    ];
  };
  const server = await spawnServer({
    what: 'the Temporal dev server',
    executable: executable.path,
    args,
    ...(options.port !== undefined ? { port: options.port } : {}),
    readyTimeoutMs: options.readyTimeoutMs ?? serverStartTimeoutMs(),
    log,
  });
  await waitForNamespace(server.address, options.readyTimeoutMs ?? serverStartTimeoutMs()).catch(
    async (error: unknown) => {
      await server.stop();
      throw error;
    },
  );
  return {
    address: server.address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    namespace: 'default',
    stop: () => server.stop(10_000),
  };
}

/** The dev server answers before its default namespace is registered: wait for that too. */
async function waitForNamespace(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const connection = await Connection.connect({ address, connectTimeout: 2000 });
  try {
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new ProvisioningError(
            `The Temporal dev server at ${address} answers but has no namespace "default" after ${Math.round(timeoutMs / 1000)} s: ${String(error)}`,
          );
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  } finally {
    await connection.close();
  }
}

async function main() {
  const dir = join(cacheRoot(), 'dev-server');
  mkdirSync(dir, { recursive: true });
  const server = await startDevServer({
    port: settings().TEMPORAL_PORT,
    uiPort: settings().TEMPORAL_UI_PORT,
    dbFile: join(dir, 'temporal.sqlite'),
    log: stderrLogger,
  });
  process.stdout.write(
    `Temporal dev server on ${server.address} (namespace ${server.namespace}); Web UI at ${server.uiUrl}\n` +
      `History is kept in ${join(dir, 'temporal.sqlite')}. Ctrl-C stops it.\n`,
  );
  const stop = () => {
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

runIfMain(import.meta.url, main);
