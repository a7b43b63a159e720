/**
 * The composition root: a pg pool and the Temporal connection go in, a Worker serving every workflow and
 * activity of the project comes out. Used by `npm run worker`, the demo and the tests alike.
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import type pg from 'pg';
import { dataConverterFromEnv } from '../infra/payload-codec';
import { createActivities } from '../activities';
import type { DepartmentPorts } from '../departments/ports';
import type { SimulationConfig } from '../departments/simulated';
import { activityBoundary } from './activity-boundary';
import { activityTimings } from './activity-timings';
import { exchangeDirOf, loadConfig, simulationConfig } from './config';
import {
  departmentAdapters,
  departmentPorts,
  departmentSettings,
  type AdapterCatalog,
  type DepartmentSettings,
} from './departments';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  pool: pg.Pool;
  /** The simulated departments, for the roles that use them (default: from the environment). */
  simulation?: SimulationConfig;
  /** Where exchanged files are kept (default: the simulation's folder, else MEDINS_EXCHANGE_DIR). */
  exchangeDir?: string;
  /** Each role's adapter setting (default: from the environment, see worker/departments.ts). */
  departments?: Partial<DepartmentSettings>;
  /** The adapters settings may name (default: departmentAdapters). */
  adapters?: AdapterCatalog;
  /** Ready-made ports for every role (instead of `departments`). */
  ports?: DepartmentPorts;
  /** Payload encryption (default: from the environment, see infra/payload-codec.ts); null: none. */
  dataConverter?: DataConverter | null;
  /** A prebuilt bundle (tests bundle once per file); otherwise the workflows are bundled here. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Append one JSON line per activity execution to this file (the benchmark's step timings). */
  activityTimingsPath?: string;
}

export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const config = loadConfig();
  const simulation = () => options.simulation ?? simulationConfig(config);
  const ports =
    options.ports ??
    departmentPorts(
      { ...departmentSettings(config), ...options.departments },
      { pool: options.pool, timeoutMs: config.MEDINS_DEPARTMENT_TIMEOUT_MS, simulation },
      options.adapters ?? departmentAdapters,
    );
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    ...(() => {
      const dataConverter =
        options.dataConverter === undefined ? dataConverterFromEnv() : options.dataConverter;
      return dataConverter ? { dataConverter } : {};
    })(),
    activities: createActivities({
      pool: options.pool,
      exchangeDir: options.exchangeDir ?? options.simulation?.exchangeDir ?? exchangeDirOf(config),
      ports,
    }),
    interceptors: {
      activity: [
        ...(options.activityTimingsPath ? [activityTimings(options.activityTimingsPath)] : []),
        activityBoundary(),
      ],
    },
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH }),
  });
}

export { NativeConnection };
