/**
 * All activities, built from injected dependencies (the worker is the composition root). Workflows see
 * only the type: `proxyActivities<Activities>()`.
 */
import type pg from 'pg';
import type { DepartmentPorts } from '../departments/ports';
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

/**
 * The name of an activity as workflows schedule it and histories record it: a key of `Activities`, so a
 * consumer keyed by names (audit timeline, benchmark steps, timing log) fails to compile on a misspelt or
 * renamed one.
 */
export type ActivityName = Extract<keyof Activities, string>;
