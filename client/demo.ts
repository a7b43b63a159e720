/**
 * `npm run demo`: the main job on a fresh machine. Provisions PostgreSQL and a Temporal dev server (or uses
 * TEMPORAL_ADDRESS / DATABASE_URL when given), applies migrations, runs a worker in this process and
 * drives the work through it, printing what happens.
 */
import { userInfo } from 'node:os';
import pg from 'pg';
import { migrate } from '../activities/db/migrate';
import { startDevServer, type DevServer } from '../infra/dev-server';
import { resolveDatabaseUrl } from '../infra/postgres';
import { stderrLogger } from '../infra/support';
import { loadConfig } from '../worker/config';
import { createWorker, NativeConnection } from '../worker/create-worker';
import { runStackCheck } from './stack-check';
import { connectClient } from './temporal-client';

async function main() {
  const config = loadConfig();
  const say = (line: string) => process.stdout.write(`${line}\n`);

  const databaseUrl = await resolveDatabaseUrl(config.MEDINS_DATABASE, stderrLogger);
  const { applied } = await migrate(databaseUrl, stderrLogger);
  say(`PostgreSQL ledger ready (${applied.length} migration(s) applied now)`);

  let server: DevServer | undefined;
  let address = config.TEMPORAL_ADDRESS;
  if (!process.env.TEMPORAL_ADDRESS) {
    server = await startDevServer({ log: stderrLogger });
    address = server.address;
    say(`Temporal dev server started on ${server.address}, Web UI ${server.uiUrl}`);
  }

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const connection = await NativeConnection.connect({ address });
  const client = await connectClient({ ...config, TEMPORAL_ADDRESS: address });
  try {
    const worker = await createWorker({
      connection,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      pool,
      namespace: config.TEMPORAL_NAMESPACE,
    });
    await worker.runUntil(async () => {
      const result = await runStackCheck(client, config.TEMPORAL_TASK_QUEUE, {
        requestedBy: config.MEDINS_OPERATOR ?? userInfo().username,
        note: 'demo',
      });
      say(`stack check ${result.workflowId}: workflow -> activity -> ledger row ${result.ledgerRowId}`);
    });
  } finally {
    await client.connection.close();
    await connection.close();
    await pool.end();
    await server?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
