/**
 * `npm run console`: the web console on loopback (CONSOLE_HOST, CONSOLE_PORT), for the ledger named by the
 * one configuration (DATABASE_URL's server and database, or the local cluster's MEDINS_DATABASE) and the
 * Temporal server of TEMPORAL_ADDRESS. Each person logs in with their own PostgreSQL user. SIGINT/SIGTERM:
 * stops taking requests, finishes those under way, closes every login's connections, then exits.
 */
import type { Client } from '@temporalio/client';
import { connectClient } from '../client/temporal-client';
import { ensureLocalCluster } from '../provision/postgres';
import { runIfMain, stderrLogger } from '../infra/support';
import { exchangeDirOf, loadConfig } from '../worker/config';
import { loadConsoleConfig } from './config';
import type { DatabaseAddress } from './logins';
import { buildConsole } from './server';

/** Host, port and database of the ledger, without any user: DATABASE_URL's, or the local cluster's. */
export async function ledgerAddress(database: string): Promise<DatabaseAddress> {
  const env = loadConfig();
  const given = env.DATABASE_URL;
  if (given) {
    const u = new URL(given);
    return {
      host: u.hostname,
      port: Number(u.port || 5432),
      database: decodeURIComponent(u.pathname.slice(1)),
    };
  }
  if (env.PGHOST)
    return {
      host: env.PGHOST,
      port: Number(env.PGPORT ?? 5432),
      database: env.PGDATABASE ?? database,
    };
  const cluster = await ensureLocalCluster(stderrLogger);
  process.stderr.write(
    `ledger: the local cluster's database ${database}; its development logins are ${Object.keys(
      cluster.devPasswords,
    )
      .filter((u) => u !== 'medins_worker')
      .join(', ')} (passwords in users.json of the cluster's cache folder)\n`,
  );
  return { host: '127.0.0.1', port: cluster.port, database };
}

async function main() {
  const { config, console: settings } = loadConsoleConfig();
  let client: Promise<Client> | undefined;
  const temporal = () => {
    client ??= connectClient(config).catch((error: unknown) => {
      client = undefined; // try again on the next request
      throw error;
    });
    return client;
  };
  const app = await buildConsole({
    address: await ledgerAddress(config.MEDINS_DATABASE),
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    exchangeDir: exchangeDirOf(config),
    settings,
  });
  app.addHook('onClose', async () => {
    if (client) await (await client.catch(() => undefined))?.connection.close();
  });
  const url = await app.listen({ host: settings.CONSOLE_HOST, port: settings.CONSOLE_PORT });
  process.stderr.write(`控制台 console: ${url} (log in with your PostgreSQL user; Ctrl-C stops it)\n`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${signal}: finishing requests under way, then stopping\n`);
      void app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
}

runIfMain(import.meta.url, main);
