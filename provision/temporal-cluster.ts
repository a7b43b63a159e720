/**
 * A real Temporal cluster as a bureau runs it: the Temporal server (`go.temporal.io/server`) with its four
 * services (frontend, history, matching, worker) as separate processes, persistence and visibility in
 * PostgreSQL, and mTLS between clients and the frontend. The configuration is the file the project ships,
 * `infra/temporal-cluster/cluster.yaml`, rendered by the server from the environment this module sets.
 *
 * The server and its `temporal-sql-tool` are found or built like the Temporal CLI (provision/temporal.ts):
 *   1. `TEMPORAL_SERVER_DIR` (a folder holding `temporal-server`, `temporal-sql-tool` and
 *      `schema/postgresql/v12/`); 2. the cache, `$HOME/.cache/resident-medins/temporal-server-v1.29.1/`;
 *   3. `go install` of the server's Go module into the cache (the schema files are copied from the same
 *      module); else a ProvisioningError saying what to install.
 * The databases are on the project's PostgreSQL (provision/postgres.ts), or on the server of
 * `TEMPORAL_DATABASE_URL` when set; they are created if missing and their schemas brought to the release's
 * version with `temporal-sql-tool` (idempotent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection, type TLSConfig } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import proto from '@temporalio/proto';
import pg from 'pg';
import { SEARCH_ATTRIBUTES } from './dev-server';
import { ensureDatabase, ensurePostgres, type PostgresServer } from './postgres';
import {
  cacheRoot,
  freePort,
  isExecutable,
  isPortFree,
  ProvisioningError,
  quietLogger,
  run,
  runIfMain,
  stderrLogger,
  which,
  withLock,
  type Logger,
} from '../infra/support';
import { ensureTestCertificates, temporalTls, type TestCertificates } from '../infra/temporal-tls';
import { childEnvironment, settings } from '../config/settings';

/** The server release the Temporal CLI v1.5.1 embeds (its go.mod requires go.temporal.io/server v1.29.1). */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
/** The folder of the server configuration the project ships (cluster.yaml, dynamicconfig.yaml). */
export const CLUSTER_CONFIG_DIR = fileURLToPath(new URL('../infra/temporal-cluster/', import.meta.url));
/** Started in this order; each is its own process. */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

export interface TemporalServerBuild {
  server: string;
  sqlTool: string;
  /** `schema/postgresql/v12` of the same release: `temporal/versioned` and `visibility/versioned`. */
  schemaDir: string;
  source: 'env' | 'cache' | 'built';
}

export function temporalServerCacheDir(): string {
  return join(cacheRoot(), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

function buildIn(dir: string, source: TemporalServerBuild['source']): TemporalServerBuild | undefined {
  const build = {
    server: join(dir, 'temporal-server'),
    sqlTool: join(dir, 'temporal-sql-tool'),
    schemaDir: join(dir, 'schema', 'postgresql', 'v12'),
    source,
  };
  if (!isExecutable(build.server) || !isExecutable(build.sqlTool)) return undefined;
  if (!existsSync(join(build.schemaDir, 'temporal', 'versioned'))) return undefined;
  if (!existsSync(join(build.schemaDir, 'visibility', 'versioned'))) return undefined;
  return build;
}

/** Copies a folder of the (read-only) Go module cache as ordinary writable files. */
function copyTree(from: string, to: string) {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    if (statSync(source).isDirectory()) copyTree(source, join(to, name));
    else writeFileSync(join(to, name), readFileSync(source));
  }
}

/**
 * The Temporal server and its SQL tool, built from the Go module on first use (about 20 minutes on two
 * busy cores; later calls return the cached build at once). Throws a ProvisioningError naming what to
 * install when nothing works.
 */
export async function resolveTemporalServer(log: Logger = quietLogger): Promise<TemporalServerBuild> {
  const explicit = settings().TEMPORAL_SERVER_DIR;
  if (explicit) {
    const build = buildIn(explicit, 'env');
    if (!build) {
      throw new ProvisioningError(
        `TEMPORAL_SERVER_DIR is set to ${explicit}, which does not hold executable temporal-server and ` +
          `temporal-sql-tool and the folder schema/postgresql/v12/{temporal,visibility}/versioned. Unset it or ` +
          `fill it.`,
      );
    }
    return build;
  }
  const dir = temporalServerCacheDir();
  const cached = buildIn(dir, 'cache');
  if (cached) return cached;
  const go = which('go');
  const modulePath = `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`;
  if (!go) {
    throw new ProvisioningError(
      `No Temporal server is available for the cluster. Tried: TEMPORAL_SERVER_DIR (unset), the cache at ` +
        `${dir} (empty), and Go to build it (\`go\` not on PATH). Install Go 1.25 or newer (https://go.dev/dl) ` +
        `so that \`go install ${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}\` can build it, or ` +
        `set TEMPORAL_SERVER_DIR to a folder with temporal-server, temporal-sql-tool and the release's ` +
        `schema/postgresql/v12.`,
    );
  }
  return withLock(join(cacheRoot(), 'locks', 'temporal-server'), async () => {
    const again = buildIn(dir, 'cache');
    if (again) return again;
    const staging = join(dir, 'staging');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    const env = childEnvironment({ GOBIN: staging, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' });
    log(
      `building the Temporal server ${TEMPORAL_SERVER_VERSION} and temporal-sql-tool from ${TEMPORAL_SERVER_MODULE} ` +
        `into ${dir} (first run only; 10-30 minutes on two cores)`,
    );
    const started = Date.now();
    const install = await run(
      go,
      [
        'install',
        `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      { env, timeoutMs: 90 * 60_000 },
    );
    const download = await run(go, ['mod', 'download', '-json', modulePath], { env, timeoutMs: 10 * 60_000 });
    let moduleDir: string | undefined;
    try {
      moduleDir = (JSON.parse(download.stdout) as { Dir?: string }).Dir;
    } catch {
      moduleDir = undefined;
    }
    if (
      install.code !== 0 ||
      !isExecutable(join(staging, 'server')) ||
      !isExecutable(join(staging, 'sql')) ||
      !moduleDir
    ) {
      throw new ProvisioningError(
        `Building the Temporal server with \`go install ${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION} ` +
          `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}\` failed (exit ${install.code}; module ` +
          `download exit ${download.code}). Its last output was: ` +
          `${(install.stderr + download.stderr).trim().split('\n').slice(-5).join(' | ')}. Check that the Go module ` +
          `proxy is reachable (GOPROXY) and Go is 1.25 or newer, or set TEMPORAL_SERVER_DIR to a prepared folder.`,
      );
    }
    // the schema files ship inside the module; the binaries are moved last, so a half-done build is not
    // mistaken for a cached one
    copyTree(join(moduleDir, 'schema', 'postgresql', 'v12'), join(dir, 'schema', 'postgresql', 'v12'));
    renameSync(join(staging, 'sql'), join(dir, 'temporal-sql-tool'));
    renameSync(join(staging, 'server'), join(dir, 'temporal-server'));
    rmSync(staging, { recursive: true, force: true });
    log(`built the Temporal server in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return buildIn(dir, 'built')!;
  });
}

export interface ClusterDatabases {
  persistence: string;
  visibility: string;
  server: PostgresServer;
}

/** The PostgreSQL server for Temporal's databases: TEMPORAL_DATABASE_URL's, else the project's. */
async function temporalPostgres(log: Logger): Promise<PostgresServer> {
  const explicit = settings().TEMPORAL_DATABASE_URL;
  if (!explicit) return ensurePostgres(log);
  const url = new URL(explicit);
  url.pathname = '/postgres';
  return { adminUrl: url.toString(), source: 'DATABASE_URL' };
}

async function hasClusterMetadata(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM cluster_metadata_info`);
    return (result.rows[0]?.n ?? 0) > 0;
  } finally {
    await client.end();
  }
}

async function hasSchemaVersion(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ t: string | null }>(
      `SELECT to_regclass('schema_version')::text AS t`,
    );
    return result.rows[0]?.t != null;
  } finally {
    await client.end();
  }
}

/**
 * Creates the persistence and visibility databases when missing and brings both schemas to the version
 * of the built release with `temporal-sql-tool` (a database already at that version is left as it is).
 * Names: lower-case letters, digits and underscores. Throws with the tool's output when it fails.
 */
export async function ensureClusterDatabases(
  build: TemporalServerBuild,
  names: { persistence: string; visibility: string },
  log: Logger = quietLogger,
): Promise<ClusterDatabases> {
  const server = await temporalPostgres(log);
  const admin = new URL(server.adminUrl);
  for (const [kind, name] of [
    ['temporal', names.persistence],
    ['visibility', names.visibility],
  ] as const) {
    const url = await ensureDatabase(server, name);
    const env = childEnvironment({
      SQL_PLUGIN: 'postgres12',
      SQL_HOST: admin.hostname,
      SQL_PORT: admin.port || '5432',
      SQL_USER: decodeURIComponent(admin.username),
      SQL_PASSWORD: decodeURIComponent(admin.password),
      SQL_DATABASE: name,
    });
    const tool = async (args: string[]) => {
      const result = await run(build.sqlTool, args, { env, timeoutMs: 10 * 60_000 });
      if (result.code !== 0) {
        throw new ProvisioningError(
          `temporal-sql-tool ${args.join(' ')} failed on database ${name} (exit ${result.code}): ` +
            `${(result.stdout + result.stderr).trim().split('\n').slice(-5).join(' | ')}`,
        );
      }
    };
    if (!(await hasSchemaVersion(url))) {
      log(`setting up Temporal's ${kind} schema in database ${name}`);
      await tool(['--quiet', 'setup-schema', '-v', '0.0']);
    }
    await tool(['--quiet', 'update-schema', '-d', join(build.schemaDir, kind, 'versioned')]);
  }
  return { ...names, server };
}

export interface ClusterServiceProcess {
  service: ClusterService;
  child: ChildProcess;
  output(): string;
}

export interface TemporalCluster {
  /** host:port of the frontend (mTLS). */
  address: string;
  namespace: string;
  databases: ClusterDatabases;
  certificates: TestCertificates;
  /** The `tls` option of a client or worker connection (the project's client certificate). */
  tls: TLSConfig;
  /** What a worker or client process of this cluster sets (worker/config.ts reads it). */
  clientEnv: Record<string, string>;
  services: Record<ClusterService, ClusterServiceProcess>;
  /** Stops one service (SIGTERM, SIGKILL after 20 s) and starts it again on the same ports. */
  restart(service: ClusterService): Promise<void>;
  /** Stops every service. */
  stop(): Promise<void>;
}

export interface TemporalClusterOptions {
  /** Database names (default `temporal` and `temporal_visibility`). */
  persistenceDb?: string;
  visibilityDb?: string;
  /** Fixed for the life of the persistence database (default 4: enough for a test). */
  historyShards?: number;
  /** Certificates, logs: default the cache's `temporal-cluster/`. */
  dir?: string;
  namespace?: string;
  retentionDays?: number;
  /** The frontend's port (default: a free one). */
  frontendPort?: number;
  log?: Logger;
}

/**
 * A free loopback port below 32768: the persistence database keeps a membership port as a PostgreSQL
 * smallint, so the kernel's ephemeral ports (32768 and up, what freePort() gives) do not fit.
 */
async function freeMembershipPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!taken.has(port) && (await isPortFree(port))) {
      taken.add(port);
      return port;
    }
  }
  throw new ProvisioningError('No free loopback port between 20000 and 32000 for the cluster membership.');
}

async function connect(address: string, tls: TLSConfig): Promise<Connection> {
  return Connection.connect({ address, tls, connectTimeout: 2000 });
}

const grpcCode = (error: unknown) => (error as { code?: number }).code;
const ALREADY_EXISTS = 6;

async function until<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T>,
  tail: () => string,
  exited: () => string | undefined = () => undefined,
) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const dead = exited();
    if (dead)
      throw new ProvisioningError(`A Temporal service stopped by itself: ${dead}. Last output: ${tail()}`);
    try {
      return await attempt();
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new ProvisioningError(
    `The Temporal cluster did not ${what} within ${timeoutMs / 1000} s (${String(last)}). Last output: ${tail()}`,
  );
}

/**
 * Proves that history answers: starts a throwaway workflow execution (nothing polls its task queue) and
 * terminates it. Throws while the history service or the namespace is not ready.
 */
async function probeHistory(connection: Connection, namespace: string) {
  const workflowId = `cluster-probe-${process.pid}-${Date.now()}`;
  await connection.workflowService.startWorkflowExecution({
    namespace,
    workflowId,
    workflowType: { name: 'ClusterProbe' },
    taskQueue: { name: 'cluster-probe' },
    requestId: workflowId,
  });
  await connection.workflowService.terminateWorkflowExecution({
    namespace,
    workflowExecution: { workflowId },
    reason: 'readiness probe',
  });
}

/**
 * Builds or reuses the server, migrates its databases, makes test certificates, starts the four services
 * on free loopback ports, registers the namespace (retention `retentionDays`, default 3) and the
 * campaign's search attributes, and resolves once a workflow can be started. Throws a ProvisioningError
 * with the services' last output when they do not come up within three minutes.
 */
export async function startTemporalCluster(options: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const log = options.log ?? quietLogger;
  const build = await resolveTemporalServer(log);
  const dir = options.dir ?? join(cacheRoot(), 'temporal-cluster');
  mkdirSync(dir, { recursive: true });
  const databases = await ensureClusterDatabases(
    build,
    {
      persistence: options.persistenceDb ?? 'temporal',
      visibility: options.visibilityDb ?? 'temporal_visibility',
    },
    log,
  );
  const certificates = await ensureTestCertificates(join(dir, 'certificates'));
  const namespace = options.namespace ?? 'default';
  const db = new URL(databases.server.adminUrl);
  const taken = new Set<number>();
  const ports = {
    frontend: options.frontendPort ?? (await freePort()),
    frontendHttp: await freePort(),
    history: await freePort(),
    matching: await freePort(),
    worker: await freePort(),
    frontendMembership: await freeMembershipPort(taken),
    historyMembership: await freeMembershipPort(taken),
    matchingMembership: await freeMembershipPort(taken),
    workerMembership: await freeMembershipPort(taken),
  };
  const address = `127.0.0.1:${ports.frontend}`;
  const persistenceUrl = Object.assign(new URL(databases.server.adminUrl), {
    pathname: `/${databases.persistence}`,
  }).toString();
  const serverEnv: Record<string, string> = {
    TEMPORAL_CLUSTER_HISTORY_SHARDS: String(options.historyShards ?? 4),
    TEMPORAL_CLUSTER_PERSISTENCE_DB: databases.persistence,
    TEMPORAL_CLUSTER_VISIBILITY_DB: databases.visibility,
    TEMPORAL_CLUSTER_DB_ADDRESS: `${db.hostname}:${db.port || '5432'}`,
    TEMPORAL_CLUSTER_DB_USER: decodeURIComponent(db.username),
    TEMPORAL_CLUSTER_DB_PASSWORD: decodeURIComponent(db.password),
    // the project's PostgreSQL is shared with the ledger and the tests: 4 services x (5 + 2) connections
    TEMPORAL_CLUSTER_DB_MAX_CONNS: settings().TEMPORAL_CLUSTER_DB_MAX_CONNS,
    TEMPORAL_CLUSTER_BIND_IP: '127.0.0.1',
    TEMPORAL_CLUSTER_BROADCAST_ADDRESS: '127.0.0.1',
    TEMPORAL_CLUSTER_FRONTEND_ADDRESS: address,
    TEMPORAL_CLUSTER_FRONTEND_PORT: String(ports.frontend),
    TEMPORAL_CLUSTER_FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    TEMPORAL_CLUSTER_FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    TEMPORAL_CLUSTER_HISTORY_PORT: String(ports.history),
    TEMPORAL_CLUSTER_HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    TEMPORAL_CLUSTER_MATCHING_PORT: String(ports.matching),
    TEMPORAL_CLUSTER_MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    TEMPORAL_CLUSTER_WORKER_PORT: String(ports.worker),
    TEMPORAL_CLUSTER_WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
    TEMPORAL_CLUSTER_TLS_CA: certificates.ca,
    TEMPORAL_CLUSTER_TLS_SERVER_CERT: certificates.server.cert,
    TEMPORAL_CLUSTER_TLS_SERVER_KEY: certificates.server.key,
    TEMPORAL_CLUSTER_TLS_SERVER_NAME: certificates.serverName,
    TEMPORAL_CLUSTER_TLS_SYSTEM_WORKER_CERT: certificates.systemWorker.cert,
    TEMPORAL_CLUSTER_TLS_SYSTEM_WORKER_KEY: certificates.systemWorker.key,
    TEMPORAL_CLUSTER_DYNAMIC_CONFIG: join(CLUSTER_CONFIG_DIR, 'dynamicconfig.yaml'),
    TEMPORAL_CLUSTER_LOG_LEVEL: settings().TEMPORAL_CLUSTER_LOG_LEVEL,
  };
  const clientEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TLS_CA: certificates.ca,
    TEMPORAL_TLS_CERT: certificates.client.cert,
    TEMPORAL_TLS_KEY: certificates.client.key,
    TEMPORAL_TLS_SERVER_NAME: certificates.serverName,
  };
  const tls = temporalTls(clientEnv)!;
  const logFile = join(dir, 'services.log');

  const spawnService = (service: ClusterService): ClusterServiceProcess => {
    const child = spawn(
      build.server,
      [
        '--root',
        CLUSTER_CONFIG_DIR,
        '--config',
        '.',
        '--env',
        'cluster',
        '--allow-no-auth',
        'start',
        '--service',
        service,
      ],
      { env: childEnvironment(serverEnv), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
      appendFileSync(logFile, chunk.toString().replace(/^/gm, `[${service} ${child.pid}] `));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return { service, child, output: () => output };
  };
  const services = {} as Record<ClusterService, ClusterServiceProcess>;
  // On a fresh database every service would write the cluster's metadata at once, and the losers of that
  // race exit ("SaveClusterMetadata encountered version mismatch"): the first service writes it alone.
  const [first, ...rest] = CLUSTER_SERVICES;
  services[first] = spawnService(first);
  const exited = () =>
    CLUSTER_SERVICES.map((s) => services[s])
      .filter((p) => p !== undefined && (p.child.exitCode !== null || p.child.signalCode !== null))
      .map((p) => `${p.service} (exit ${p.child.exitCode ?? p.child.signalCode})`)
      .join(', ') || undefined;
  /** Each service's state and last log lines (messages and errors only; stack traces are in the log file). */
  const tail = () =>
    CLUSTER_SERVICES.filter((s) => services[s] !== undefined)
      .map((s) => {
        const p = services[s];
        const state = p.child.exitCode === null ? 'running' : `exited ${p.child.exitCode}`;
        const lines = p
          .output()
          .trim()
          .split('\n')
          .slice(-3)
          .map((line) => {
            const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
            const err = /"error":"([^"]*)"/.exec(line)?.[1];
            return msg ? `${msg}${err ? `: ${err}` : ''}` : line.slice(0, 300);
          });
        return `${s} (${state}): ${lines.join(' | ')}`;
      })
      .join(' || ');
  const stopService = (p: ClusterServiceProcess) =>
    new Promise<void>((resolve) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
      p.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      p.child.kill('SIGTERM');
    });
  const stop = async () => {
    await Promise.all(
      CLUSTER_SERVICES.filter((s) => services[s] !== undefined).map((s) => stopService(services[s])),
    );
  };

  try {
    await until(
      'write its cluster metadata',
      180_000,
      async () => {
        if (!(await hasClusterMetadata(persistenceUrl))) throw new Error('no cluster metadata yet');
      },
      tail,
      exited,
    );
    for (const service of rest) services[service] = spawnService(service);
    log(`starting the Temporal cluster's services (frontend at ${address}, mTLS; log ${logFile})`);
    const connection = await until(
      'answer at its frontend',
      180_000,
      () => connect(address, tls),
      tail,
      exited,
    );
    try {
      await until(
        `register the namespace ${namespace}`,
        180_000,
        async () => {
          try {
            await connection.workflowService.registerNamespace({
              namespace,
              workflowExecutionRetentionPeriod: msToTs((options.retentionDays ?? 3) * 86_400_000),
              description: 'resident medical insurance campaigns',
            });
          } catch (error) {
            if (grpcCode(error) !== ALREADY_EXISTS) throw error;
          }
        },
        tail,
        exited,
      );
      const { IndexedValueType } = proto.temporal.api.enums.v1;
      const types = {
        Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
      } as const;
      await until(
        'register the campaign search attributes',
        120_000,
        async () => {
          const known = await connection.operatorService.listSearchAttributes({ namespace });
          const missing = Object.entries(SEARCH_ATTRIBUTES).filter(
            ([n]) => !(n in (known.customAttributes ?? {})),
          );
          if (missing.length === 0) return;
          await connection.operatorService
            .addSearchAttributes({
              namespace,
              searchAttributes: Object.fromEntries(missing.map(([n, t]) => [n, types[t]])),
            })
            .catch((error: unknown) => {
              if (grpcCode(error) !== ALREADY_EXISTS) throw error;
            });
          throw new Error('search attributes registered; checking again');
        },
        tail,
        exited,
      );
      await until('start a workflow', 180_000, () => probeHistory(connection, namespace), tail, exited);
    } finally {
      await connection.close();
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    address,
    namespace,
    databases,
    certificates,
    tls,
    clientEnv,
    services,
    async restart(service) {
      await stopService(services[service]);
      services[service] = spawnService(service);
      const connection = await until(
        'answer at its frontend',
        180_000,
        () => connect(address, tls),
        tail,
        exited,
      );
      try {
        await until(
          `serve again after ${service} restarted`,
          180_000,
          () => probeHistory(connection, namespace),
          tail,
          exited,
        );
      } finally {
        await connection.close();
      }
    },
    stop,
  };
}

/** The Web UI server the Temporal CLI v1.5.1 embeds (its go.mod requires ui-server/v2 v2.42.1). */
export const TEMPORAL_UI_VERSION = 'v2.42.1';
export const TEMPORAL_UI_MODULE = 'github.com/temporalio/ui-server/v2';
export const CLUSTER_UI_CONFIG_DIR = fileURLToPath(new URL('../infra/temporal-cluster/ui/', import.meta.url));

export function temporalUiCacheDir(): string {
  return join(cacheRoot(), `temporal-ui-server-${TEMPORAL_UI_VERSION}`);
}

/**
 * The Web UI server: `TEMPORAL_UI_SERVER_PATH`, else the cache, else built there with `go install` of its
 * Go module (a few minutes). Throws a ProvisioningError naming what to install when nothing works.
 */
export async function resolveTemporalUi(log: Logger = quietLogger): Promise<string> {
  const explicit = settings().TEMPORAL_UI_SERVER_PATH;
  if (explicit) {
    if (!isExecutable(explicit))
      throw new ProvisioningError(
        `TEMPORAL_UI_SERVER_PATH is set to ${explicit}, which is not an executable file.`,
      );
    return explicit;
  }
  const dir = temporalUiCacheDir();
  const cached = join(dir, 'temporal-ui-server');
  if (isExecutable(cached)) return cached;
  const go = which('go');
  const target = `${TEMPORAL_UI_MODULE}/cmd/server@${TEMPORAL_UI_VERSION}`;
  if (!go) {
    throw new ProvisioningError(
      `No Temporal Web UI server is available. Tried: TEMPORAL_UI_SERVER_PATH (unset), the cache at ${cached} ` +
        `(empty), and Go to build it (\`go\` not on PATH). Install Go 1.25 or newer so that \`go install ${target}\` ` +
        `can build it, or set TEMPORAL_UI_SERVER_PATH.`,
    );
  }
  return withLock(join(cacheRoot(), 'locks', 'temporal-ui-server'), async () => {
    if (isExecutable(cached)) return cached;
    const staging = join(dir, 'staging');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    log(
      `building the Temporal Web UI server ${TEMPORAL_UI_VERSION} from its Go module into ${dir} (first run only)`,
    );
    const result = await run(go, ['install', target], {
      env: childEnvironment({ GOBIN: staging, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' }),
      timeoutMs: 60 * 60_000,
    });
    if (result.code !== 0 || !isExecutable(join(staging, 'server'))) {
      throw new ProvisioningError(
        `Building the Temporal Web UI server with \`go install ${target}\` failed (exit ${result.code}): ` +
          `${result.stderr.trim().split('\n').slice(-5).join(' | ')}. Check that the Go module proxy is reachable ` +
          `(GOPROXY), or set TEMPORAL_UI_SERVER_PATH.`,
      );
    }
    renameSync(join(staging, 'server'), cached);
    rmSync(staging, { recursive: true, force: true });
    return cached;
  });
}

export interface ClusterUi {
  url: string;
  stop(): Promise<void>;
}

/**
 * The Web UI on loopback in front of `cluster` (mTLS with the project's client certificate), showing
 * payloads through the codec server at `codecEndpoint`. Resolves once its API answers; throws with its
 * output when it does not within a minute.
 */
export async function startClusterUi(
  cluster: TemporalCluster,
  options: { codecEndpoint: string; port?: number; log?: Logger },
): Promise<ClusterUi> {
  const server = await resolveTemporalUi(options.log);
  const port = options.port ?? (await freePort());
  const child = spawn(
    server,
    ['--root', CLUSTER_UI_CONFIG_DIR, '--config', '.', '--env', 'cluster', 'start'],
    {
      env: childEnvironment({
        TEMPORAL_UI_FRONTEND_ADDRESS: cluster.address,
        TEMPORAL_UI_PORT: String(port),
        TEMPORAL_UI_TLS_CA: cluster.certificates.ca,
        TEMPORAL_UI_TLS_CERT: cluster.certificates.client.cert,
        TEMPORAL_UI_TLS_KEY: cluster.certificates.client.key,
        TEMPORAL_UI_TLS_SERVER_NAME: cluster.certificates.serverName,
        TEMPORAL_UI_CODEC_ENDPOINT: options.codecEndpoint,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new ProvisioningError(`The Web UI server exited (${child.exitCode}): ${output}`);
    const ok = await fetch(`${url}/api/v1/settings`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return { url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new ProvisioningError(`The Web UI server did not answer at ${url} within 60 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * `npm run cluster`: a persistent Temporal cluster on this machine (databases `temporal` and
 * `temporal_visibility` on the project's PostgreSQL or TEMPORAL_DATABASE_URL's server, frontend on
 * TEMPORAL_PORT, default 7233, mTLS with the test CA in the cache) until Ctrl-C; prints the environment a
 * worker or the CLI needs to use it.
 */
async function main() {
  const cluster = await startTemporalCluster({
    frontendPort: settings().TEMPORAL_PORT,
    retentionDays: settings().TEMPORAL_RETENTION_DAYS,
    log: stderrLogger,
  });
  process.stdout.write(
    `Temporal cluster: frontend ${cluster.address} (mTLS), services ${CLUSTER_SERVICES.map(
      (s) => `${s} pid ${cluster.services[s].child.pid}`,
    ).join(', ')}; databases ${cluster.databases.persistence}, ${cluster.databases.visibility}.\n` +
      `Workers and the CLI use it with:\n` +
      Object.entries(cluster.clientEnv)
        .map(([k, v]) => `  export ${k}=${v}\n`)
        .join('') +
      `Ctrl-C stops it.\n`,
  );
  const stop = () => {
    void cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

runIfMain(import.meta.url, main);
