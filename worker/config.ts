/** Runtime configuration from the environment, parsed once with zod so a typo fails at start-up. */
import { z } from 'zod';
import { join } from 'node:path';
import type { SimulationConfig } from '../activities/adapters/simulated';
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
  /** Database name on the local cluster when DATABASE_URL is not given. */
  MEDINS_DATABASE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and underscores only')
    .default('medins'),
  /** Where every exchanged file is kept, by digest (default: the cache's exchange/ folder). */
  MEDINS_EXCHANGE_DIR: z.string().min(1).optional(),
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

/**
 * The simulated departments' settings: MEDINS_POPULATION_DIRS ("kaiping=/path,heshan=/path") says where
 * the population generator wrote each jurisdiction's department files.
 */
export function simulationConfig(config: Config, env: NodeJS.ProcessEnv = process.env): SimulationConfig {
  const dirs = Object.fromEntries(
    (env.MEDINS_POPULATION_DIRS ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=') as [string, string]),
  );
  return {
    seed: Number(env.MEDINS_SIMULATION_SEED ?? 1),
    populationDirs: dirs,
    systemicFailureRate: Number(env.MEDINS_SIMULATED_SYSTEMIC_FAILURES ?? 0.01),
    topUpRate: Number(env.MEDINS_SIMULATED_TOP_UPS ?? 0.3),
    missingDepartments: (env.MEDINS_SIMULATED_MISSING_DEPARTMENTS ?? '').split(',').filter(Boolean),
    lateDepartments: (env.MEDINS_SIMULATED_LATE_DEPARTMENTS ?? '').split(',').filter(Boolean),
    taxUnavailableAttempts: Number(env.MEDINS_SIMULATED_TAX_OUTAGE_ATTEMPTS ?? 0),
    duplicateResultLines: env.MEDINS_SIMULATED_DUPLICATE_RESULTS === '1',
    latencyMs: Number(env.MEDINS_SIMULATED_LATENCY_MS ?? 0),
    exchangeDir: config.MEDINS_EXCHANGE_DIR ?? join(cacheRoot(), 'exchange'),
  };
}
