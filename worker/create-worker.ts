/**
 * The composition root: a pg pool and the Temporal connection go in, a Worker serving every workflow and
 * activity of the project comes out. Used by `npm run worker`, the demo and the tests alike.
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type pg from 'pg';
import { createActivities } from '../activities';
import type { SimulationConfig } from '../activities/adapters/simulated';
import { loadConfig, simulationConfig } from './config';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  pool: pg.Pool;
  /** The simulated departments (default: from the environment). */
  simulation?: SimulationConfig;
  /** A prebuilt bundle (tests bundle once per file); otherwise the workflows are bundled here. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    activities: createActivities({
      pool: options.pool,
      simulation: options.simulation ?? simulationConfig(loadConfig()),
    }),
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH }),
  });
}

export { NativeConnection };
