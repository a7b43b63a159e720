/**
 * PostgreSQL for the worker, the CLI, the demo and the tests.
 *
 * `DATABASE_URL` wins when given. Otherwise a project-local cluster is used: created with initdb from the
 * machine's PostgreSQL 15+ server binaries (Debian's `postgresql` package is installed when they are
 * missing and we are root), kept in the cache, started on demand on a free loopback port and reused by
 * every later run.
 *
 * PostgreSQL refuses to run as root, and the `postgres` user cannot enter root's home directory, so when
 * running as root the cluster lives in /var/cache/resident-medins (the system's cache directory) and runs
 * as the `postgres` user; otherwise it lives in $HOME/.cache/resident-medins.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  cacheRoot,
  freePort,
  installDebianPackages,
  isExecutable,
  isPortFree,
  PROJECT,
  ProvisioningError,
  quietLogger,
  run,
  which,
  withLock,
  type Logger,
} from '../infra/support';
import { addUser, type RoleSpec } from '../infra/roles';
import { settings, type Settings } from '../config/settings';

export const MIN_PG_MAJOR = 15;
const SUPERUSER = 'medins_admin';

export interface PostgresServer {
  /** Connection string of the maintenance database, as a superuser. */
  adminUrl: string;
  source: 'DATABASE_URL' | 'local-cluster';
}

async function majorVersion(binDir: string): Promise<number | undefined> {
  try {
    const { stdout } = await run(join(binDir, 'initdb'), ['--version'], { timeoutMs: 10_000 });
    const match = /(\d+)(?:\.\d+)?/.exec(stdout);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Server binaries (initdb, pg_ctl, postgres) of version 15 or newer, newest first. */
export async function findServerBinaries(): Promise<{ binDir: string; major: number } | undefined> {
  const candidates: string[] = [];
  const given = settings().PG_BIN_DIR;
  if (given) candidates.push(given);
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    for (const version of readdirSync(debianRoot).sort((a, b) => Number(b) - Number(a))) {
      candidates.push(join(debianRoot, version, 'bin'));
    }
  }
  const initdb = which('initdb');
  if (initdb) candidates.push(join(initdb, '..'));
  for (const binDir of candidates) {
    if (!['initdb', 'pg_ctl', 'postgres'].every((p) => isExecutable(join(binDir, p)))) continue;
    const major = await majorVersion(binDir);
    if (major !== undefined && major >= MIN_PG_MAJOR) return { binDir, major };
  }
  return undefined;
}

function installDebianPostgres(log: Logger): Promise<void> {
  log('PostgreSQL server binaries are missing');
  return installDebianPackages(
    ['postgresql'],
    log,
    `Install PostgreSQL ${MIN_PG_MAJOR} or newer yourself, or set DATABASE_URL to a database you can use.`,
  );
}

interface ClusterLayout {
  dir: string;
  data: string;
  socketDir: string;
  logFile: string;
  passwordFile: string;
  portFile: string;
  /** The user the server runs as when we are root (PostgreSQL refuses root). */
  runAs: { uid: number; gid: number; name: string } | undefined;
}

async function systemUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const result = await run('id', ['-u', name]);
  if (result.code !== 0) return undefined;
  const gid = await run('id', ['-g', name]);
  return { uid: Number(result.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function clusterLayout(major: number, log: Logger): Promise<ClusterLayout> {
  const isRoot = process.getuid?.() === 0;
  const base = isRoot && !settings().MEDINS_CACHE_DIR ? join('/var/cache', PROJECT) : cacheRoot();
  const dir = join(base, `pg${major}`);
  let runAs: ClusterLayout['runAs'];
  if (isRoot) {
    let user = await systemUser('postgres');
    if (!user) {
      log('creating the system user postgres to run the local PostgreSQL cluster');
      await run('useradd', [
        '--system',
        '--home-dir',
        '/var/lib/postgresql',
        '--shell',
        '/bin/sh',
        'postgres',
      ]);
      user = await systemUser('postgres');
    }
    if (!user)
      throw new ProvisioningError(
        'Running as root, but the postgres system user could not be found or created.',
      );
    runAs = { ...user, name: 'postgres' };
  }
  return {
    dir,
    data: join(dir, 'data'),
    socketDir: join(dir, 'run'),
    logFile: join(dir, 'server.log'),
    passwordFile: join(dir, 'password'),
    portFile: join(dir, 'port'),
    runAs,
  };
}

/** Runs a server binary, as the postgres user when we are root. */
function runPg(layout: ClusterLayout, binary: string, args: string[], timeoutMs = 120_000) {
  if (!layout.runAs) return run(binary, args, { timeoutMs });
  return run(
    'setpriv',
    [
      `--reuid=${layout.runAs.uid}`,
      `--regid=${layout.runAs.gid}`,
      '--init-groups',
      '--reset-env',
      binary,
      ...args,
    ],
    { timeoutMs, cwd: layout.dir },
  );
}

function own(layout: ClusterLayout, path: string) {
  if (layout.runAs) chownSync(path, layout.runAs.uid, layout.runAs.gid);
}

async function runningPort(layout: ClusterLayout, binDir: string): Promise<number | undefined> {
  const status = await runPg(layout, join(binDir, 'pg_ctl'), ['status', '-D', layout.data], 20_000);
  if (status.code !== 0) return undefined;
  const pidFile = readFileSync(join(layout.data, 'postmaster.pid'), 'utf8').split('\n');
  const port = Number(pidFile[3]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/**
 * The server and its admin connection: MEDINS_ADMIN_DATABASE_URL (an administrator's login, CREATEROLE and
 * owner of the schema), else DATABASE_URL (a deployment whose one URL is an administrator's), else the
 * project-local cluster and its superuser.
 */
export async function ensurePostgres(log: Logger = quietLogger): Promise<PostgresServer> {
  const given = settings().MEDINS_ADMIN_DATABASE_URL ?? settings().DATABASE_URL;
  if (given) {
    const url = new URL(given);
    url.pathname = '/postgres';
    return { adminUrl: url.toString(), source: 'DATABASE_URL' };
  }
  const { adminUrl } = await ensureLocalCluster(log);
  return { adminUrl, source: 'local-cluster' };
}

/** A person of the local development cluster, one per role, created with the cluster (passwords in the cache). */
export const DEV_USERS: readonly { name: string; role: RoleSpec; what: string }[] = [
  { name: 'op_demo', role: { kind: 'operator' }, what: 'an operator of the insurance center' },
  { name: 'audit_demo', role: { kind: 'auditor' }, what: 'an auditor' },
  {
    name: 'civil_demo',
    role: { kind: 'department', department: 'civil-affairs' },
    what: 'the civil affairs bureau',
  },
  { name: 'medins_worker', role: { kind: 'operator' }, what: 'the worker service' },
];

export interface LocalCluster {
  adminUrl: string;
  port: number;
  /** Passwords of DEV_USERS, by name. */
  devPasswords: Record<string, string>;
}

/**
 * The project-local cluster, created and started on demand. Its superuser creates DEV_USERS once (their
 * passwords kept in the cache like the superuser's); later calls only read the cache.
 */
export async function ensureLocalCluster(log: Logger = quietLogger): Promise<LocalCluster> {
  let binaries = await findServerBinaries();
  if (!binaries) {
    if (process.getuid?.() === 0 && which('apt-get')) {
      await installDebianPostgres(log);
      binaries = await findServerBinaries();
    }
    if (!binaries) {
      throw new ProvisioningError(
        `No PostgreSQL ${MIN_PG_MAJOR}+ server binaries (initdb, pg_ctl, postgres) were found in PG_BIN_DIR, ` +
          `/usr/lib/postgresql/*/bin or on PATH${process.getuid?.() === 0 ? ', and apt-get is not available to install them' : ''}. ` +
          `Install PostgreSQL ${MIN_PG_MAJOR} or newer (Debian: \`sudo apt-get install postgresql\`; macOS: ` +
          `\`brew install postgresql@16\`), or set DATABASE_URL to a PostgreSQL database this project may use.`,
      );
    }
  }
  const { binDir, major } = binaries;
  const layout = await clusterLayout(major, log);

  return withLock(join(cacheRoot(), 'locks', `pg${major}`), async () => {
    mkdirSync(layout.dir, { recursive: true });
    own(layout, layout.dir);
    if (!existsSync(join(layout.data, 'PG_VERSION'))) {
      log(`creating a PostgreSQL ${major} cluster in ${layout.data}`);
      const password = randomBytes(18).toString('base64url');
      const pwfile = join(layout.dir, 'initdb.pw');
      writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
      own(layout, pwfile);
      const init = await runPg(layout, join(binDir, 'initdb'), [
        '-D',
        layout.data,
        '-U',
        SUPERUSER,
        `--pwfile=${pwfile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ]);
      rmSync(pwfile, { force: true });
      if (init.code !== 0) {
        throw new ProvisioningError(
          `initdb failed in ${layout.data} (exit ${init.code}): ${init.stderr.trim()}`,
        );
      }
      writeFileSync(layout.passwordFile, password, { mode: 0o600 });
      rmSync(join(layout.dir, 'users.json'), { force: true }); // a new cluster has none of the old users
    }
    const password = readFileSync(layout.passwordFile, 'utf8').trim();

    let port = await runningPort(layout, binDir);
    if (port === undefined) {
      const remembered = existsSync(layout.portFile) ? Number(readFileSync(layout.portFile, 'utf8')) : NaN;
      port = Number.isInteger(remembered) && (await isPortFree(remembered)) ? remembered : await freePort();
      mkdirSync(layout.socketDir, { recursive: true });
      own(layout, layout.socketDir);
      chmodSync(layout.socketDir, 0o700);
      log(`starting PostgreSQL ${major} on 127.0.0.1:${port}`);
      const options = [
        `-p ${port}`,
        '-c listen_addresses=127.0.0.1',
        `-c unix_socket_directories=${layout.socketDir}`,
        '-c max_connections=200',
        '-c shared_buffers=256MB',
        '-c fsync=on',
        // a deduction round rewrites every enrollment: with the default 1 GB a checkpoint came every 17 s of
        // the Kaiping year, each followed by full-page writes of the pages the round goes on to change. Sized
        // for a city of ten times Kaiping (issue #23): at 4 GB and the default 5 min such a year (7.2 million
        // residents) had 3-4 checkpoints and wrote 7.2-8.2 GB of WAL, 13.5-15x the Kaiping year's 547 MiB; at
        // 16 GB, 30 min and full-page images compressed it had none and wrote 5.7 GB, 10.4x. A crash replays
        // more WAL (up to 30 min of it) before the ledger opens again.
        '-c max_wal_size=16GB',
        '-c checkpoint_timeout=30min',
        '-c wal_compression=lz4',
      ].join(' ');
      const start = await runPg(layout, join(binDir, 'pg_ctl'), [
        'start',
        '-D',
        layout.data,
        '-l',
        layout.logFile,
        '-w',
        '-t',
        '60',
        '-o',
        options,
      ]);
      if (start.code !== 0) {
        let tail = '';
        try {
          tail = readFileSync(layout.logFile, 'utf8').trim().split('\n').slice(-5).join(' | ');
        } catch {
          // no log written
        }
        throw new ProvisioningError(
          `PostgreSQL did not start from ${layout.data} (pg_ctl exit ${start.code}): ${start.stderr.trim()} ${tail}`,
        );
      }
      writeFileSync(layout.portFile, String(port));
    }
    const adminUrl = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    const devPasswords = await ensureDevUsers(join(layout.dir, 'users.json'), adminUrl, log);
    return { adminUrl, port, devPasswords };
  });
}

async function ensureDevUsers(file: string, adminUrl: string, log: Logger): Promise<Record<string, string>> {
  const known: Record<string, string> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)
    : {};
  const missing = DEV_USERS.filter((u) => !known[u.name]);
  if (!missing.length) return known;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const user of missing) {
      log(`creating the development user ${user.name} (${user.what})`);
      const password = randomBytes(18).toString('base64url');
      await addUser(client, user.name, password, user.role);
      known[user.name] = password;
    }
  } finally {
    await client.end();
  }
  writeFileSync(file, JSON.stringify(known, null, 2), { mode: 0o600 });
  return known;
}

/** Stops the project-local cluster if it runs (the `provision stop` command). */
export async function stopPostgres(log: Logger = quietLogger): Promise<boolean> {
  const binaries = await findServerBinaries();
  if (!binaries) return false;
  const layout = await clusterLayout(binaries.major, log);
  if (!existsSync(join(layout.data, 'PG_VERSION'))) return false;
  const result = await runPg(layout, join(binaries.binDir, 'pg_ctl'), [
    'stop',
    '-D',
    layout.data,
    '-m',
    'fast',
    '-w',
  ]);
  return result.code === 0;
}

/** The connection string of database `name` on the server, created if it does not exist yet. */
export async function ensureDatabase(server: PostgresServer, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
  const client = new pg.Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`);
      } catch (error) {
        // another process created it between our check and our CREATE
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end();
  }
  const url = new URL(server.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(server: PostgresServer, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
  const client = new pg.Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * The application's database through the ADMIN connection (migrations, `users`, the bench and test set-up):
 * MEDINS_ADMIN_DATABASE_URL or DATABASE_URL as given, or database `name` on the local cluster as its
 * superuser (created on first use). Commands a person runs use {@link userConnection} instead.
 */
export async function resolveDatabaseUrl(name = 'medins', log: Logger = quietLogger): Promise<string> {
  const given = settings().MEDINS_ADMIN_DATABASE_URL ?? settings().DATABASE_URL;
  if (given) return given;
  return ensureDatabase(await ensurePostgres(log), name);
}

/** Reads a connection service of pg_service.conf (PGSERVICEFILE, ~/.pg_service.conf, PGSYSCONFDIR). */
export function serviceConnection(
  service: string,
  env: Pick<Settings, 'PGSERVICEFILE' | 'PGSYSCONFDIR'> = settings(),
): pg.ClientConfig {
  const files = [
    env.PGSERVICEFILE ?? join(homedir(), '.pg_service.conf'),
    join(env.PGSYSCONFDIR ?? '/etc/postgresql-common', 'pg_service.conf'),
  ];
  for (const file of files) {
    if (!existsSync(file)) continue;
    let section: string | undefined;
    const found: Record<string, string> = {};
    for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const header = /^\[(.+)\]$/.exec(line);
      if (header) {
        section = header[1];
        continue;
      }
      const eq = line.indexOf('=');
      if (section === service && eq > 0) found[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    if (Object.keys(found).length)
      return {
        ...(found.host ? { host: found.host } : {}),
        ...(found.port ? { port: Number(found.port) } : {}),
        ...(found.dbname ? { database: found.dbname } : {}),
        ...(found.user ? { user: found.user } : {}),
        ...(found.password ? { password: found.password } : {}),
      };
  }
  throw new Error(`PGSERVICE=${service}: no such service in ${files.join(' or ')}`);
}

/**
 * A person's own connection, by the libpq conventions: DATABASE_URL; else PGSERVICE; else PGHOST with
 * PGPORT/PGUSER/PGDATABASE/PGPASSWORD or ~/.pgpass; else the local development cluster's database `name` as
 * PGUSER (default `defaultUser`, e.g. op_demo), with PGPASSWORD, ~/.pgpass or, for a development user, its
 * cached password. Never the superuser: the admin connection is {@link resolveDatabaseUrl}'s.
 */
export async function userConnection(
  name = 'medins',
  defaultUser = 'op_demo',
  log: Logger = quietLogger,
): Promise<pg.ClientConfig> {
  const env = settings();
  if (env.DATABASE_URL) return { connectionString: env.DATABASE_URL };
  if (env.PGSERVICE) return serviceConnection(env.PGSERVICE);
  if (env.PGHOST) return {}; // node-postgres reads PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ~/.pgpass
  const cluster = await ensureLocalCluster(log);
  const user = env.PGUSER ?? defaultUser;
  const password = env.PGPASSWORD ?? cluster.devPasswords[user];
  return { host: '127.0.0.1', port: cluster.port, database: name, user, ...(password ? { password } : {}) };
}
