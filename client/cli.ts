/**
 * The operator and auditor command line: `npm run cli -- <command>`.
 */
import { Command } from 'commander';
import { migrate } from '../activities/db/migrate';
import { resolveDatabaseUrl } from '../infra/postgres';
import { stderrLogger } from '../infra/support';
import { loadConfig } from '../worker/config';
import { runStackCheck } from './stack-check';
import { connectClient } from './temporal-client';
import { userInfo } from 'node:os';

const program = new Command()
  .name('medins')
  .description('Resident medical insurance enrollment campaign: operator and auditor commands')
  .showHelpAfterError();

const db = program.command('db').description('the PostgreSQL ledger');
db.command('migrate')
  .description('apply pending schema migrations (the worker and the tests do this at start-up too)')
  .action(async () => {
    const config = loadConfig();
    const url = await resolveDatabaseUrl(config.MEDINS_DATABASE, stderrLogger);
    const { applied } = await migrate(url, stderrLogger);
    process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'schema is up to date\n');
  });

program
  .command('check')
  .description('run a stack check: a workflow on the running worker writes one row to the ledger')
  .option('--note <text>', 'a note stored with the check')
  .option('--json', 'print JSON')
  .action(async (options: { note?: string; json?: boolean }) => {
    const config = loadConfig();
    const client = await connectClient(config);
    try {
      const result = await runStackCheck(client, config.TEMPORAL_TASK_QUEUE, {
        requestedBy: config.MEDINS_OPERATOR ?? userInfo().username,
        note: options.note,
      });
      process.stdout.write(
        options.json
          ? `${JSON.stringify(result)}\n`
          : `stack check ${result.workflowId} wrote ledger row ${result.ledgerRowId}\n`,
      );
    } finally {
      await client.connection.close();
    }
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
