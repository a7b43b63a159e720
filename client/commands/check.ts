/**
 * `check`: a stack check through the running worker.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../worker/config';
import { runStackCheck } from '../stack-check';
import { connectClient } from '../temporal-client';
import { operatorName } from './session';
import { allow, OPERATORS } from './access';

/** Registers the check commands on the program. */
export function registerCheckCommands(program: Command): void {
  allow(program.command('check'), OPERATORS)
    .description('run a stack check: a workflow on the running worker writes one row to the ledger')
    .option('--note <text>', 'a note stored with the check')
    .option('--json', 'print JSON')
    .action(async (options: { note?: string; json?: boolean }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      try {
        const result = await runStackCheck(client, config.TEMPORAL_TASK_QUEUE, {
          requestedBy: operatorName(),
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
}
