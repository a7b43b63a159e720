/**
 * `npm run worker`: connects to PostgreSQL (DATABASE_URL, or the local cluster it starts on demand),
 * applies pending migrations, connects to Temporal at TEMPORAL_ADDRESS and serves the task queue until
 * SIGINT/SIGTERM.
 */
import pg from 'pg';
import { migrate } from '../activities/db/migrate';
import { resolveDatabaseUrl } from '../infra/postgres';
import { installRedactingRuntime } from '../infra/redacting-logger';
import { stderrLogger } from '../infra/support';
import { temporalTls } from '../infra/temporal-tls';
import { loadConfig } from './config';
import { createWorker, NativeConnection } from './create-worker';

async function main() {
  installRedactingRuntime('INFO');
  const config = loadConfig();
  const databaseUrl = await resolveDatabaseUrl(config.MEDINS_DATABASE, stderrLogger);
  await migrate(databaseUrl, stderrLogger);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  // an idle connection lost (PostgreSQL restarted) is not a reason to stop: activities retry and reconnect
  pool.on('error', (error) => process.stderr.write(`PostgreSQL connection lost: ${error.message}\n`));
  const tls = temporalTls(config);
  const connection = await NativeConnection.connect({
    address: config.TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
  });
  try {
    const worker = await createWorker({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      pool,
      ...(process.env.MEDINS_ACTIVITY_TIMINGS
        ? { activityTimingsPath: process.env.MEDINS_ACTIVITY_TIMINGS }
        : {}),
    });
    process.stderr.write(
      `worker serving task queue ${config.TEMPORAL_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE}${tls ? ', TLS' : ''})\n`,
    );
    await worker.run();
  } finally {
    await connection.close();
    await pool.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
