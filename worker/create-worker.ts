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
import { fileExchangePorts } from '../activities/adapters/file-exchange';
import { httpPorts } from '../activities/adapters/http';
import type { DepartmentPorts } from '../activities/adapters/ports';
import { simulatedPorts, type SimulationConfig } from '../activities/adapters/simulated';
import { activityBoundary } from './activity-boundary';
import { activityTimings } from './activity-timings';
import { loadConfig, simulationConfig } from './config';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  pool: pg.Pool;
  /** The simulated departments (default: from the environment). */
  simulation?: SimulationConfig;
  /** How departments are reached (default: MEDINS_DEPARTMENTS, else the simulated ones). */
  ports?: DepartmentPorts;
  /** Payload encryption (default: from the environment, see infra/payload-codec.ts); null: none. */
  dataConverter?: DataConverter | null;
  /** A prebuilt bundle (tests bundle once per file); otherwise the workflows are bundled here. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Append one JSON line per activity execution to this file (the benchmark's step timings). */
  activityTimingsPath?: string;
}

/**
 * MEDINS_DEPARTMENTS chooses how the departments are reached: `simulated` (the default), `file:<folder>`
 * (inbox/outbox folders per department) or `http:<base URL>` (one JSON API for every role).
 */
export function departmentPorts(
  pool: pg.Pool,
  simulation: SimulationConfig,
  setting = process.env.MEDINS_DEPARTMENTS ?? 'simulated',
): DepartmentPorts {
  if (setting === 'simulated') return simulatedPorts(pool, simulation);
  if (setting.startsWith('file:')) return fileExchangePorts(setting.slice(5));
  if (setting.startsWith('http:') || setting.startsWith('https:')) {
    const base = setting.startsWith('http:http') ? setting.slice(5) : setting;
    const timeoutMs = Number(process.env.MEDINS_DEPARTMENT_TIMEOUT_MS ?? 30_000);
    return httpPorts({ certifying: base, tax: base, finance: base, timeoutMs });
  }
  throw new Error(`MEDINS_DEPARTMENTS=${setting}: use simulated, file:<folder> or http:<base URL>`);
}

export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const simulation = options.simulation ?? simulationConfig(loadConfig());
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
      simulation,
      ports: options.ports ?? departmentPorts(options.pool, simulation),
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
