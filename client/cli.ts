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
import {
  explainFile,
  formatExplanation,
  formatPolicy,
  formatTargets,
  policyFromFile,
  seedPolicy,
  seedTargets,
} from './policy-commands';

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

const policy = program
  .command('policy')
  .description('the rules of a jurisdiction-year, from seeds/ or a file');
policy
  .command('explain')
  .description('what the rules say for one person and one event, with every rule and its source')
  .requiredOption('--input <file>', 'JSON: { jurisdiction, year, person: {...}, event: {...} }')
  .option('--policy <file>', 'a policy file instead of the seed for the jurisdiction and year')
  .option('--json', 'print JSON')
  .action((options: { input: string; policy?: string; json?: boolean }) => {
    const answer = explainFile(options.input, options.policy);
    process.stdout.write(options.json ? `${JSON.stringify(answer, null, 2)}\n` : formatExplanation(answer));
  });
policy
  .command('show')
  .description('the calendar and categories of a policy')
  .option('--jurisdiction <j>', 'kaiping, heshan or meishan')
  .option('--year <y>', 'campaign year', (v) => Number(v))
  .option('--policy <file>', 'a policy file (validated) instead of a seed')
  .option('--json', 'print JSON')
  .action((options: { jurisdiction?: string; year?: number; policy?: string; json?: boolean }) => {
    if (!options.policy && (!options.jurisdiction || !options.year))
      throw new Error('give --jurisdiction and --year, or --policy FILE');
    const p = options.policy
      ? policyFromFile(options.policy)
      : seedPolicy(options.jurisdiction!, options.year!);
    process.stdout.write(options.json ? `${JSON.stringify(p, null, 2)}\n` : formatPolicy(p));
  });

program
  .command('targets')
  .description("a plan's per-town target table with derived coverage figures and the findings of its checks")
  .requiredOption('--jurisdiction <j>', 'jurisdiction')
  .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
  .option('--json', 'print JSON')
  .action((options: { jurisdiction: string; year: number; json?: boolean }) => {
    const table = seedTargets(options.jurisdiction, options.year);
    process.stdout.write(options.json ? `${JSON.stringify(table, null, 2)}\n` : formatTargets(table));
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
