/**
 * `npm run worker`: applies pending migrations on the admin connection (MEDINS_ADMIN_DATABASE_URL, or the
 * local cluster it starts on demand), connects to PostgreSQL as its own operator-level login (DATABASE_URL,
 * PGSERVICE, PGUSER/PGPASSWORD, ~/.pgpass, else the local cluster's medins_worker), connects to Temporal at TEMPORAL_ADDRESS and serves the task queue until
 * SIGINT/SIGTERM.
 */
import pg from 'pg';
import { migrate } from '../ledger/migrate';
import { resolveDatabaseUrl, userConnection } from '../provision/postgres';
import { sessionIdentity } from '../infra/roles';
import { installRedactingRuntime } from '../infra/redacting-logger';
import { stderrLogger } from '../infra/support';
import { temporalTls } from '../infra/temporal-tls';
import { loadConfig } from './config';
import { createWorker, NativeConnection } from './create-worker';

/**
 * The worker's login: an operator (medins_worker on the local cluster). An auditor's or a department's login
 * is refused; a superuser is let through with a warning (older set-ups gave the worker the admin URL).
 */
async function workerIdentity(pool: pg.Pool): Promise<{ user: string }> {
  const superuser = await pool.query<{ user: string; superuser: boolean }>(
    `SELECT session_user AS user, rolsuper AS superuser FROM pg_roles WHERE rolname = session_user`,
  );
  const row = superuser.rows[0]!;
  if (row.superuser) {
    process.stderr.write(
      `warning: the worker logs in as ${row.user}, a superuser; give it its own operator-level login (users add medins_worker --role operator)\n`,
    );
    return { user: row.user };
  }
  const who = await sessionIdentity(pool);
  if (who.role !== 'operator')
    throw new Error(
      `the worker logs in as ${who.user}, an ${who.role} login: it needs an operator-level login (e.g. medins_worker)`,
    );
  return who;
}

async function main() {
  installRedactingRuntime('INFO');
  const config = loadConfig();
  // the schema is the administrator's: migrations run on the admin connection (MEDINS_ADMIN_DATABASE_URL, or
  // the local cluster's superuser) when there is one; the work runs as the worker's own operator-level login
  if (config.MEDINS_ADMIN_DATABASE_URL || !config.DATABASE_URL)
    await migrate(await resolveDatabaseUrl(config.MEDINS_DATABASE, stderrLogger), stderrLogger);
  const connection = await userConnection(config.MEDINS_DATABASE, 'medins_worker', stderrLogger);
  const pool = new pg.Pool({ ...connection, max: 10 });
  const who = await workerIdentity(pool);
  // an idle connection lost (PostgreSQL restarted) is not a reason to stop: activities retry and reconnect
  pool.on('error', (error) => process.stderr.write(`PostgreSQL connection lost: ${error.message}\n`));
  const tls = temporalTls(config);
  const temporal = await NativeConnection.connect({
    address: config.TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
  });
  try {
    const worker = await createWorker({
      connection: temporal,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      pool,
      ...(config.MEDINS_ACTIVITY_TIMINGS ? { activityTimingsPath: config.MEDINS_ACTIVITY_TIMINGS } : {}),
    });
    process.stderr.write(
      `worker (PostgreSQL login ${who.user}) serving task queue ${config.TEMPORAL_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE}${tls ? ', TLS' : ''})\n`,
    );
    await worker.run();
  } finally {
    await temporal.close();
    await pool.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
