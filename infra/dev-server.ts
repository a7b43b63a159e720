/**
 * Starts a Temporal dev server (the real server, SQLite, Web UI) on loopback.
 *
 * As a library: `startDevServer()` gives an ephemeral server on free ports for tests and the demo.
 * As a script (`npm run dev:server`): a persistent server whose SQLite file lives in the cache, on
 * TEMPORAL_PORT (7233) with its Web UI on TEMPORAL_UI_PORT (8233), until Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { resolveTemporalCli } from './temporal';
import { cacheRoot, freePort, ProvisioningError, stderrLogger, type Logger, quietLogger } from './support';

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
  readyTimeoutMs?: number;
}

async function waitUntilServing(
  address: string,
  child: ChildProcess,
  timeoutMs: number,
  output: () => string,
) {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new ProvisioningError(`The Temporal dev server exited with code ${child.exitCode}: ${output()}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  child.kill('SIGKILL');
  throw new ProvisioningError(
    `The Temporal dev server did not answer at ${address} within ${timeoutMs} ms (${String(lastError)}). Output: ${output()}`,
  );
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const log = options.log ?? quietLogger;
  const executable = await resolveTemporalCli(log);
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (await freePort());
  const searchAttributeArgs = Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => [
    '--search-attribute',
    `${name}=${type}`,
  ]);

  if (executable.kind === 'sdk-download') {
    log('starting the Temporal dev server downloaded by the SDK');
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port,
        ui: true,
        uiPort,
        ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
        extraArgs: searchAttributeArgs,
      },
    });
    return {
      address: `127.0.0.1:${port}`,
      uiUrl: `http://127.0.0.1:${uiPort}`,
      namespace: 'default',
      stop: () => env.teardown(),
    };
  }

  const args = [
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
    ...((options.uiCodecEndpoint ?? process.env.TEMPORAL_UI_CODEC_ENDPOINT)
      ? ['--ui-codec-endpoint', (options.uiCodecEndpoint ?? process.env.TEMPORAL_UI_CODEC_ENDPOINT)!]
      : []),
  ];
  log(`starting ${executable.path} ${args.join(' ')}`);
  const child = spawn(executable.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const address = `127.0.0.1:${port}`;
  await waitUntilServing(address, child, options.readyTimeoutMs ?? 60_000, () => output);
  return {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    namespace: 'default',
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

async function main() {
  const dir = join(cacheRoot(), 'dev-server');
  mkdirSync(dir, { recursive: true });
  const server = await startDevServer({
    port: Number(process.env.TEMPORAL_PORT ?? 7233),
    uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
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

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
