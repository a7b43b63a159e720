/**
 * What the command modules share: the login of the person at the command line (set by cli.ts before each
 * action), the administrator's connection, a Temporal client for one action, and the --year help text.
 */
import pg from 'pg';
import { ensurePostgres } from '../../provision/postgres';
import type { Identity } from '../../infra/roles';
import { stderrLogger } from '../../infra/support';
import { loadConfig } from '../../worker/config';
import { connectClient } from '../temporal-client';

/** A --year left out is the latest year with a policy for the --jurisdiction: no year is written in code. */
export const YEAR_HELP =
  'campaign year (default: the latest with a policy for the jurisdiction in seeds/policies)';

/** The identity of the person at the command line, from their PostgreSQL login (set before each action). */
let identity: Identity | undefined;
/** Records who is at the command line (cli.ts, from the login, before each action). */
export const setIdentity = (who: Identity | undefined): void => {
  identity = who;
};
/** Who is at the command line; throws for a command that runs without a login. */
export const whoAmI = (): Identity => {
  if (!identity) throw new Error('this command runs without a login');
  return identity;
};
/** Who is recorded as having acted: the session's PostgreSQL user. */
export const operatorName = (): string => whoAmI().user;

/** The administrator's connection (roles are cluster-wide: the maintenance database). */
export const withAdmin = async (fn: (client: pg.Client) => Promise<void>): Promise<void> => {
  const client = new pg.Client({ connectionString: (await ensurePostgres(stderrLogger)).adminUrl });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
};

/** Runs `fn` with a Temporal client and the task queue of the configuration; closes the connection after. */
export const withClient = async (
  fn: (client: Awaited<ReturnType<typeof connectClient>>, taskQueue: string) => Promise<void>,
): Promise<void> => {
  const config = loadConfig();
  const client = await connectClient(config);
  try {
    await fn(client, config.TEMPORAL_TASK_QUEUE);
  } finally {
    await client.connection.close();
  }
};
