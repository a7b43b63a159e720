/**
 * All activities, built from injected dependencies (the worker is the composition root). Workflows see
 * only the type: `proxyActivities<Activities>()`.
 */
import type pg from 'pg';
import type { DepartmentPorts } from './adapters/ports';
import { createCampaignActivities } from './campaign';
import { createStackCheckActivities } from './stack-check';

export interface ActivityDeps {
  pool: pg.Pool;
  /** Where every exchanged file is kept, by digest. */
  exchangeDir: string;
  /** The department adapters, one per role, chosen by the composition root (worker/departments.ts). */
  ports: DepartmentPorts;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createStackCheckActivities(deps),
    ...createCampaignActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
