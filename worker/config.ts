/**
 * Runtime configuration for the composition root: the one validated configuration (config/settings.ts,
 * every setting of the project in one zod schema), and what the worker derives from it.
 */
import { join } from 'node:path';
import { parseSettings, settings, type Settings } from '../config/settings';
import type { SimulationConfig } from '../departments/simulated';
import { cacheRoot } from '../infra/support';

/** The worker's, CLI's and console's view of the one configuration (config/settings.ts). */
export type Config = Settings;

/**
 * The settings: this process's environment (validated once), or `env` when given (a test's own).
 * Throws `Invalid environment: NAME: problem; ...` naming every bad variable.
 */
export function loadConfig(env?: Record<string, string | undefined>): Config {
  return env ? parseSettings(env) : settings();
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
