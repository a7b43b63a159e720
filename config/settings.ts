/**
 * The one configuration: every setting the project reads from the environment (worker, command line,
 * console, codec server, provisioning of a development machine), in one zod schema with a line of
 * documentation per setting, validated once per process (again only when the environment changes, which
 * only tests do). Nothing else reads `process.env` (ESLint `no-restricted-properties`); a child process
 * is given this process's environment through `childEnvironment`. A bad value fails with an error naming
 * the variable. docs/configuration.md is the table of these settings (`npx tsx config/print-table.ts`;
 * test/unit/settings.test.ts keeps the two equal).
 */
import { z } from 'zod';
import { TASK_QUEUE } from '../workflows/names';

const text = () => z.string().min(1);
/**
 * An empty value counts as unset (as `MEDINS_SERVER_START_TIMEOUT_MS=` always did). Optional paths and
 * names outside the worker's own settings stay plain strings: an empty one is ignored where it is used,
 * as before there was one schema.
 */
const emptyIsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema);

/** Temporal: which server, namespace and task queue, and TLS to it (infra/temporal-tls.ts). */
const temporal = {
  TEMPORAL_ADDRESS: z
    .string()
    .default('127.0.0.1:7233')
    .describe('host:port of the Temporal frontend the worker, CLI and console dial'),
  TEMPORAL_NAMESPACE: z.string().default('default').describe('Temporal namespace of the campaigns'),
  TEMPORAL_TASK_QUEUE: z
    .string()
    .default(TASK_QUEUE)
    .describe('task queue the worker serves and clients use'),
  TEMPORAL_TLS_CA: text()
    .optional()
    .describe("PEM file of the CA that signed the frontend's certificate (unset with the others: plain TCP)"),
  TEMPORAL_TLS_CERT: text().optional().describe("PEM file of this process's client certificate (mTLS)"),
  TEMPORAL_TLS_KEY: text().optional().describe("PEM file of this process's client key (mTLS)"),
  TEMPORAL_TLS_SERVER_NAME: text()
    .optional()
    .describe("name in the frontend's certificate when it differs from the host dialled"),
};

/** The ledger: who logs in to PostgreSQL and where (libpq's conventions; provision/postgres.ts). */
const ledger = {
  DATABASE_URL: z
    .string()
    .optional()
    .describe("the worker's, CLI's or console's own login to the ledger (libpq URL); unset: PGSERVICE, PG*"),
  MEDINS_ADMIN_DATABASE_URL: z
    .string()
    .optional()
    .describe("the administrator's URL, for db migrate and users; unset: the local cluster's superuser"),
  MEDINS_DATABASE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and underscores only')
    .default('medins')
    .describe('database name on the local cluster when DATABASE_URL is not given'),
  PGSERVICE: z.string().optional().describe('a service of ~/.pg_service.conf to log in with (libpq)'),
  PGSERVICEFILE: z.string().optional().describe('the service file (libpq; default ~/.pg_service.conf)'),
  PGSYSCONFDIR: z
    .string()
    .optional()
    .describe('folder of the system-wide pg_service.conf (libpq; default /etc/postgresql-common)'),
  PGHOST: z
    .string()
    .optional()
    .describe('PostgreSQL host (libpq; with PGPORT, PGUSER, PGDATABASE, PGPASSWORD)'),
  PGPORT: z.string().optional().describe('PostgreSQL port (libpq; default 5432)'),
  PGUSER: z.string().optional().describe('login name (libpq); on the local cluster default op_demo'),
  PGPASSWORD: z.string().optional().describe("login's password (libpq; better ~/.pgpass)"),
  PGDATABASE: z.string().optional().describe('database name (libpq)'),
};

/** The worker: where files are kept and how each department role is reached (worker/departments.ts). */
const worker = {
  MEDINS_ACTIVITY_TIMINGS: z
    .string()
    .optional()
    .describe("file the worker appends one JSON line per activity execution to (the benchmark's timings)"),
  MEDINS_EXCHANGE_DIR: text()
    .optional()
    .describe("where every exchanged file is kept, by digest (default: the cache's exchange/ folder)"),
  MEDINS_DEPARTMENTS: text()
    .default('simulated')
    .describe('how every department role is reached: simulated, file:<folder> or http:<base URL>'),
  MEDINS_CERTIFYING_DEPARTMENTS: text()
    .optional()
    .describe('how the certifying departments are reached (default: MEDINS_DEPARTMENTS)'),
  MEDINS_TAX_BUREAU: text()
    .optional()
    .describe('how the tax bureau is reached (default: MEDINS_DEPARTMENTS)'),
  MEDINS_FINANCE: text().optional().describe('how finance is reached (default: MEDINS_DEPARTMENTS)'),
  MEDINS_DEPARTMENT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe('how long an HTTP department may take to answer, in milliseconds'),
};

/** The simulated departments (departments/simulated.ts), for roles whose adapter is `simulated`. */
const simulation = {
  MEDINS_POPULATION_DIRS: z
    .string()
    .default('')
    .describe("where the generator wrote each jurisdiction's files (kaiping=/path,heshan=/path)"),
  MEDINS_SIMULATION_SEED: z.coerce.number().int().default(1).describe('seed of every simulated decision'),
  MEDINS_SIMULATED_SYSTEMIC_FAILURES: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.01)
    .describe('share (0-1) of round-1 levy lines failing for a systemic reason'),
  MEDINS_SIMULATED_TOP_UPS: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.3)
    .describe('share (0-1) of failed households topping their account up before each re-deduction'),
  MEDINS_SIMULATED_MISSING_DEPARTMENTS: z
    .string()
    .default('')
    .describe('certifying departments that never send their roster (comma-separated)'),
  MEDINS_SIMULATED_LATE_DEPARTMENTS: z
    .string()
    .default('')
    .describe('certifying departments whose roster arrives only when asked a second time (comma-separated)'),
  MEDINS_SIMULATED_TAX_OUTAGE_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('the simulated tax bureau is down for this many result requests per batch'),
  MEDINS_SIMULATED_DUPLICATE_RESULTS: z
    .string()
    .default('0')
    .describe('1: the simulated tax bureau sends every result line twice, in reverse order'),
  MEDINS_SIMULATED_LATENCY_MS: z.coerce
    .number()
    .min(0)
    .default(0)
    .describe('each simulated answer takes this long, in milliseconds (real time)'),
};

/** Payload encryption (infra/payload-codec.ts) and the codec server (infra/codec-server.ts). */
const payloads = {
  MEDINS_PAYLOAD_ENCRYPTION: z
    .string()
    .optional()
    .describe('off: payloads are not encrypted (the test suite); anything else or unset: AES-256-GCM'),
  MEDINS_CODEC_KEYS: z
    .string()
    .optional()
    .describe('payload keys "id:base64 32 bytes,..." (unset: a development key made once in the cache)'),
  MEDINS_CODEC_KEY_ID: z
    .string()
    .optional()
    .describe('the key that encrypts new payloads (default: the last one)'),
  CODEC_SERVER_TOKEN: z
    .string()
    .optional()
    .describe("the codec server's bearer token (default: a fresh one printed)"),
  CODEC_SERVER_PORT: emptyIsUnset(z.coerce.number().int().min(0).max(65535).default(8081)).describe(
    "the codec server's loopback port",
  ),
  TEMPORAL_UI_ORIGIN: z
    .string()
    .default('http://127.0.0.1:8233')
    .describe('the Web UI origin whose browser requests the codec server honours'),
};

/** The web console (console/config.ts). */
const consoleSettings = {
  CONSOLE_HOST: text().default('127.0.0.1').describe('address the console listens on (loopback by default)'),
  CONSOLE_PORT: z.coerce.number().int().min(0).max(65535).default(8400).describe("the console's port"),
  CONSOLE_SESSION_SECRET: z
    .string()
    .min(32)
    .optional()
    .describe('signs the session cookie, 32+ characters (default: random per start; logins end on restart)'),
  CONSOLE_IDLE_MINUTES: z.coerce
    .number()
    .positive()
    .default(15)
    .describe('minutes without a request after which a login ends'),
  CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: z.coerce
    .number()
    .int()
    .positive()
    .default(10)
    .describe('login attempts allowed per client address per minute'),
  CONSOLE_SECURE_COOKIE: z
    .enum(['auto', 'always'])
    .default('auto')
    .describe('auto: Secure cookie when the request came over HTTPS; always: no session over plain HTTP'),
  CONSOLE_TRUST_PROXY: z
    .enum(['0', '1'])
    .default('0')
    .describe(
      "1: trust a TLS proxy's X-Forwarded-* headers (set before opening the console beyond loopback)",
    ),
};

/** Logs (infra/structured-log.ts). */
const logging = {
  MEDINS_LOG_FORMAT: z
    .enum(['auto', 'text', 'json'])
    .default('auto')
    .describe('provisioning lines on stderr: text at a terminal and JSON otherwise (auto), or always one'),
};

/** Provisioning of a development machine and of the test cluster (infra/): where servers come from. */
const provisioning = {
  MEDINS_CACHE_DIR: z
    .string()
    .optional()
    .describe('the cache of servers, keys and the local cluster (default ~/.cache/resident-medins)'),
  MEDINS_SERVER_START_TIMEOUT_MS: emptyIsUnset(z.coerce.number().positive().default(180_000)).describe(
    'how long a Temporal server we start may take to answer, in milliseconds',
  ),
  MEDINS_TEST_SERVER_CDS: z
    .string()
    .optional()
    .describe("off: the time-skipping server's JVM uses no class-data-sharing archive"),
  MEDINS_DOWNLOAD_PROBE_URL: z
    .string()
    .default('https://temporal.download/')
    .describe("URL probed to learn whether the SDK's server downloads can work"),
  TEMPORAL_CLI_PATH: z.string().optional().describe('the Temporal CLI executable (dev server) to use'),
  TEMPORAL_TEST_SERVER_PATH: z
    .string()
    .optional()
    .describe('the time-skipping test server executable to use'),
  TEMPORAL_PORT: emptyIsUnset(z.coerce.number().int().min(0).max(65535).default(7233)).describe(
    'frontend port of npm run dev:server and npm run cluster',
  ),
  TEMPORAL_UI_PORT: emptyIsUnset(z.coerce.number().int().min(0).max(65535).default(8233)).describe(
    'Web UI port of npm run dev:server',
  ),
  TEMPORAL_UI_CODEC_ENDPOINT: z
    .string()
    .optional()
    .describe("the codec server the dev server's Web UI is pointed at"),
  PG_BIN_DIR: z.string().optional().describe('folder of initdb and pg_ctl to use first'),
  CHROMIUM_PATH: z.string().optional().describe('headless Chromium for PDFs and the console test'),
  TEMPORAL_SERVER_DIR: z.string().optional().describe("folder of the Temporal server's binaries (cluster)"),
  TEMPORAL_UI_SERVER_PATH: z.string().optional().describe('the Temporal UI server executable (cluster)'),
  TEMPORAL_DATABASE_URL: z
    .string()
    .optional()
    .describe("the cluster's PostgreSQL administrator URL (default: the local cluster's)"),
  TEMPORAL_CLUSTER_DB_MAX_CONNS: z
    .string()
    .default('5')
    .describe("each cluster service's connections per store"),
  TEMPORAL_CLUSTER_LOG_LEVEL: z.string().default('warn').describe("the cluster services' log level"),
  TEMPORAL_RETENTION_DAYS: emptyIsUnset(z.coerce.number().int().positive().default(30)).describe(
    "the cluster namespace's history retention, in days",
  ),
};

/** The operating system's, read by provisioning and handed on to the programs it runs. */
const system = {
  PATH: z.string().optional().describe('where temporal, go, java, mvn, initdb and chromium are looked for'),
  JDK_JAVA_OPTIONS: z
    .string()
    .optional()
    .describe("JVM options; the test server's class-data-sharing options are added to them"),
  CGO_ENABLED: z.string().optional().describe('cgo for Go builds of the Temporal CLI (default 0)'),
};

/** Test only: set by the fault suite in a worker's environment; unset in production, they do nothing. */
const testOnly = {
  MEDINS_FAULT_PAUSE_AT: z
    .string()
    .optional()
    .describe('test only: the fault point (activities/faults.ts) where the worker stops to be killed'),
  MEDINS_FAULT_SIGNAL_FILE: z
    .string()
    .optional()
    .describe('test only: the file the worker writes when it stops at the fault point'),
};

/** Read only to refuse them: the role and operator are the login's (client/cli.ts). */
const retired = {
  MEDINS_ROLE: z.string().optional().describe('not read: a value disagreeing with the login is an error'),
  MEDINS_OPERATOR: z.string().optional().describe('not read: a value disagreeing with the login is an error'),
};

/** The sections in the order docs/configuration.md gives them. */
export const SETTING_SECTIONS = [
  ['Temporal', temporal],
  ['Ledger (PostgreSQL)', ledger],
  ['Worker and departments', worker],
  ['Simulated departments', simulation],
  ['Payload encryption and codec server', payloads],
  ['Console', consoleSettings],
  ['Logs', logging],
  ['Provisioning (development machine, test cluster)', provisioning],
  ['System', system],
  ['Test only', testOnly],
  ['Retired', retired],
] as const;

export const Settings = z.object({
  ...temporal,
  ...ledger,
  ...worker,
  ...simulation,
  ...payloads,
  ...consoleSettings,
  ...logging,
  ...provisioning,
  ...system,
  ...testOnly,
  ...retired,
});
export type Settings = z.infer<typeof Settings>;
export const SETTING_NAMES = Object.keys(Settings.shape) as (keyof Settings)[];

/** The environment as given: parsed against the schema, throwing one error naming every bad variable. */
export function parseSettings(env: Record<string, string | undefined>): Settings {
  const parsed = Settings.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid environment: ${problems}`);
  }
  return parsed.data;
}

let cached: { key: string; settings: Settings } | undefined;

/**
 * This process's settings, validated the first time they are asked for; parsed again only if one of them
 * changed in the environment since (a test setting MEDINS_CACHE_DIR). Throws naming every bad variable.
 */
export function settings(): Settings {
  const key = SETTING_NAMES.map((name) => process.env[name] ?? '\u0000').join('\u0001');
  if (cached?.key !== key) cached = { key, settings: parseSettings(process.env) };
  return cached.settings;
}

/**
 * The environment for a program this process starts: this process's own (so libpq, Go, Java and the
 * servers see what it was given), `defaults` under it and `overrides` over it.
 */
export function childEnvironment(
  overrides: Record<string, string | undefined> = {},
  defaults: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return { ...defaults, ...process.env, ...overrides };
}

/** docs/configuration.md's table of every setting, section by section (name, default, what it does). */
export function settingsMarkdown(): string {
  const lines: string[] = [];
  for (const [title, shape] of SETTING_SECTIONS) {
    lines.push(`### ${title}`, '', '| setting | default | what it does |', '| --- | --- | --- |');
    for (const [name, schema] of Object.entries(shape) as [string, z.ZodType][]) {
      const fallback = (schema.safeParse(undefined) as { data?: unknown }).data;
      const shown =
        fallback === undefined || fallback === ''
          ? ''
          : `\`${typeof fallback === 'string' || typeof fallback === 'number' ? String(fallback) : JSON.stringify(fallback)}\``;
      lines.push(`| \`${name}\` | ${shown} | ${(schema.description ?? '').replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
