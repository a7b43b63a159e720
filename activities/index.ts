/**
 * All activities, built from injected dependencies (the worker is the composition root). Workflows see
 * only the type: `proxyActivities<Activities>()`.
 */
import type pg from 'pg';
import { createStackCheckActivities } from './stack-check';

export interface ActivityDeps {
  pool: pg.Pool;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createStackCheckActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
