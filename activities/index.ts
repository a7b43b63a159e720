/**
 * All activities, built from injected dependencies (the worker is the composition root). Workflows see
 * only the type: `proxyActivities<Activities>()`.
 */
import type pg from 'pg';
import type { DepartmentPorts } from './adapters/ports';
import type { SimulationConfig } from './adapters/simulated';
import { createCampaignActivities } from './campaign';
import { createStackCheckActivities } from './stack-check';

export interface ActivityDeps {
  pool: pg.Pool;
  simulation: SimulationConfig;
  ports?: DepartmentPorts;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createStackCheckActivities(deps),
    ...createCampaignActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
