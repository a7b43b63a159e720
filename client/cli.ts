/**
 * The operator and auditor command line: `npm run cli -- <command>`. The commands live in client/commands/, one
 * module per group; this file assembles them, fills a missing --year, and checks the login before each action.
 */
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import pg from 'pg';
import { userConnection } from '../provision/postgres';
import { sessionIdentity, type Identity } from '../infra/roles';
import { stderrLogger } from '../infra/support';
import { loadConfig } from '../worker/config';
import { latestPolicyYear } from '../seeds';
import { registerAuditCommands } from './commands/audit';
import { registerCampaignCommands } from './commands/campaign';
import { registerCheckCommands } from './commands/check';
import { registerDbCommands } from './commands/db';
import { registerExportCommands } from './commands/export';
import { registerListsCommands } from './commands/lists';
import { registerPolicyCommands } from './commands/policy';
import { registerPopulationCommands } from './commands/population';
import { registerReconcileCommands } from './commands/reconcile';
import { registerRefundCommands } from './commands/refund';
import { registerRehearseCommands } from './commands/rehearse';
import { registerReportCommands } from './commands/report';
import { registerUsersCommands } from './commands/users';
import { setIdentity } from './commands/session';
import { accessOf, commandPath, leafCommands, refusal } from './commands/access';

const program = new Command()
  .name('medins')
  .description('Resident medical insurance enrollment campaign: operator and auditor commands')
  .showHelpAfterError();

/** A --year left out is the latest year with a policy for the --jurisdiction: no year is written in code. */
program.hook('preAction', (_root, action) => {
  const o = action.opts<{ year?: number; jurisdiction?: string }>();
  if (action.options.some((opt) => opt.long === '--year') && o.year === undefined && o.jurisdiction)
    try {
      action.setOptionValue('year', latestPolicyYear(o.jurisdiction));
    } catch (error) {
      throw new Error(`give --year: ${(error as Error).message}`);
    }
});

registerDbCommands(program);
registerUsersCommands(program);
registerCheckCommands(program);
registerPolicyCommands(program);
registerListsCommands(program);
registerCampaignCommands(program);
registerReconcileCommands(program);
registerReportCommands(program);
registerAuditCommands(program);
registerRehearseCommands(program);
registerExportCommands(program);
registerPopulationCommands(program);
registerRefundCommands(program);

/**
 * What runs on the administrator's connection, and only that (the schema and the people), as each command
 * module declares it beside the command (commands/access.ts).
 */
export const ADMIN = new Set(
  leafCommands(program)
    .filter((c) => accessOf(c) === 'admin')
    .map(commandPath),
);

program.hook('preAction', async (_root, action) => {
  const access = accessOf(action);
  if (access === 'public' || access === 'admin') return;
  // who this is comes from the login: the session's user and its role (pg_has_role), never the environment
  const config = loadConfig();
  const identify = async (database: string): Promise<Identity> => {
    const pool = new pg.Pool({ ...(await userConnection(database, 'op_demo', stderrLogger)), max: 1 });
    try {
      return await sessionIdentity(pool);
    } finally {
      await pool.end();
    }
  };
  let identity: Identity;
  try {
    try {
      identity = await identify(config.MEDINS_DATABASE);
    } catch (error) {
      // roles are the cluster's, not the ledger's: a login is known before any ledger exists (a fresh
      // machine's `npm run demo` rehearses in a database of its own), so ask the maintenance database
      if ((error as { code?: string }).code !== '3D000') throw error;
      identity = await identify('postgres').catch(() => {
        throw error;
      });
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '28P01' || code === '28000' || code === '3D000' || code === 'ECONNREFUSED')
      throw new Error(
        `cannot log in to the ledger: ${(error as Error).message}. Log in as yourself: PGUSER and PGPASSWORD, ~/.pgpass, PGSERVICE or DATABASE_URL (an administrator creates your login with \`users add\`)`,
      );
    throw error;
  }
  setIdentity(identity);
  const stale = loadConfig().MEDINS_ROLE;
  const staleNote = stale
    ? ` (MEDINS_ROLE=${stale} is not read: the role comes from the login; unset it)`
    : '';
  const refused = refusal(identity, action, action.opts<{ department?: string }>().department);
  if (refused) throw new Error(refused + staleNote);
  if (stale && stale !== identity.role)
    throw new Error(`${identity.user} logs in as ${identity.role}, not ${stale}${staleNote}`);
  const staleOperator = loadConfig().MEDINS_OPERATOR;
  if (staleOperator && staleOperator !== identity.user)
    throw new Error(
      `MEDINS_OPERATOR=${staleOperator} is not read: actions are recorded as the login, ${identity.user}; unset it, or log in as ${staleOperator}`,
    );
});

/** The command tree, for tests that go through every command (the program runs only as the entry point). */
export { program };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  program.parseAsync(process.argv).catch((error: unknown) => {
    // a refused Update or a failed workflow says why in its causes: print the whole chain
    const messages: string[] = [];
    for (let e: unknown = error; e instanceof Error && messages.length < 5; e = e.cause)
      messages.push(e.message);
    process.stderr.write(`${messages.length ? messages.join(': ') : String(error)}\n`);
    process.exit(1);
  });
