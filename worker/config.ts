/** Runtime configuration from the environment, parsed once with zod so a typo fails at start-up. */
import { z } from 'zod';
import { join } from 'node:path';
import type { SimulationConfig } from '../departments/simulated';
import { cacheRoot } from '../infra/support';
import { TASK_QUEUE } from '../workflows/names';

const Env = z.object({
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default(TASK_QUEUE),
  /**
   * TLS to the Temporal frontend (infra/temporal-tls.ts): PEM files of the CA that signed the frontend's
   * certificate, of this process's client certificate and key (mTLS), and the name in the frontend's
   * certificate when it differs from the host dialled. None set: plain TCP (the dev server).
   */
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** The worker's and CLI's own login to the ledger (libpq URL); unset: the local cluster's per-role login. */
  DATABASE_URL: z.string().optional(),
  /** The administrator's URL, for migrations; unset with DATABASE_URL set: the worker does not migrate. */
  MEDINS_ADMIN_DATABASE_URL: z.string().optional(),
  /** The worker appends one JSON line per activity execution to this file (the benchmark's step timings). */
  MEDINS_ACTIVITY_TIMINGS: z.string().optional(),
  /** Database name on the local cluster when DATABASE_URL is not given. */
  MEDINS_DATABASE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and underscores only')
    .default('medins'),
  /** Where every exchanged file is kept, by digest (default: the cache's exchange/ folder). */
  MEDINS_EXCHANGE_DIR: z.string().min(1).optional(),
  /**
   * How every department role is reached, unless a role's own setting below says otherwise: `simulated`,
   * `file:<folder>` (inbox/outbox folders) or `http:<base URL>` (a JSON API); worker/departments.ts.
   */
  MEDINS_DEPARTMENTS: z.string().min(1).default('simulated'),
  /** How the certifying departments (civil affairs, health, ...) are reached (default: MEDINS_DEPARTMENTS). */
  MEDINS_CERTIFYING_DEPARTMENTS: z.string().min(1).optional(),
  /** How the tax bureau is reached (default: MEDINS_DEPARTMENTS). */
  MEDINS_TAX_BUREAU: z.string().min(1).optional(),
  /** How finance is reached (default: MEDINS_DEPARTMENTS). */
  MEDINS_FINANCE: z.string().min(1).optional(),
  /** How long an HTTP department may take to answer, in milliseconds. */
  MEDINS_DEPARTMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Simulated departments: where the population generator wrote each jurisdiction's files ("kaiping=/path,heshan=/path"). */
  MEDINS_POPULATION_DIRS: z.string().default(''),
  /** Simulated departments: the seed every simulated decision derives from. */
  MEDINS_SIMULATION_SEED: z.coerce.number().int().default(1),
  /** Simulated tax bureau: share (0-1) of round-1 levy lines failing for a systemic reason. */
  MEDINS_SIMULATED_SYSTEMIC_FAILURES: z.coerce.number().min(0).max(1).default(0.01),
  /** Simulated households: share (0-1) of failed households topping their account up before each re-deduction. */
  MEDINS_SIMULATED_TOP_UPS: z.coerce.number().min(0).max(1).default(0.3),
  /** Simulated certifying departments that never send their roster (comma-separated). */
  MEDINS_SIMULATED_MISSING_DEPARTMENTS: z.string().default(''),
  /** Simulated certifying departments whose roster arrives only when asked a second time (comma-separated). */
  MEDINS_SIMULATED_LATE_DEPARTMENTS: z.string().default(''),
  /** Simulated tax bureau: down for this many result requests per batch. */
  MEDINS_SIMULATED_TAX_OUTAGE_ATTEMPTS: z.coerce.number().int().min(0).default(0),
  /** Simulated tax bureau: `1` sends every result line twice, in reverse order. */
  MEDINS_SIMULATED_DUPLICATE_RESULTS: z.string().default('0'),
  /** Simulated departments: each answer takes this long, in milliseconds (real time). */
  MEDINS_SIMULATED_LATENCY_MS: z.coerce.number().min(0).default(0),
});

export type Config = z.infer<typeof Env>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid environment: ${problems}`);
  }
  return parsed.data;
}

/** Where every exchanged file is kept, by digest. */
export function exchangeDirOf(config: Config): string {
  return config.MEDINS_EXCHANGE_DIR ?? join(cacheRoot(), 'exchange');
}

/** The simulated departments' settings, for a role whose adapter is `simulated`. */
export function simulationConfig(config: Config): SimulationConfig {
  const list = (text: string) => text.split(',').filter(Boolean);
  return {
    seed: config.MEDINS_SIMULATION_SEED,
    populationDirs: Object.fromEntries(
      list(config.MEDINS_POPULATION_DIRS).map((pair) => pair.split('=') as [string, string]),
    ),
    systemicFailureRate: config.MEDINS_SIMULATED_SYSTEMIC_FAILURES,
    topUpRate: config.MEDINS_SIMULATED_TOP_UPS,
    missingDepartments: list(config.MEDINS_SIMULATED_MISSING_DEPARTMENTS),
    lateDepartments: list(config.MEDINS_SIMULATED_LATE_DEPARTMENTS),
    taxUnavailableAttempts: config.MEDINS_SIMULATED_TAX_OUTAGE_ATTEMPTS,
    duplicateResultLines: config.MEDINS_SIMULATED_DUPLICATE_RESULTS === '1',
    latencyMs: config.MEDINS_SIMULATED_LATENCY_MS,
    exchangeDir: exchangeDirOf(config),
  };
}
