/**
 * `rehearse`: a whole year on the time-skipping server.
 */
import type { Command } from 'commander';
import { rehearseCommand } from '../rehearse';
import { YEAR_HELP, operatorName } from './session';
import { allow, OPERATORS } from './access';

/** Registers the rehearse commands on the program. */
export function registerRehearseCommands(program: Command): void {
  allow(program.command('rehearse'), OPERATORS)
    .description('a whole campaign year on the time-skipping server against simulated departments')
    .requiredOption('--jurisdiction <j>', 'kaiping, heshan or meishan')
    .option('--year <y>', YEAR_HELP, (v) => Number(v))
    .option('--scale <s>', 'population scale (Kaiping 1 = 附件3)', (v) => Number(v), 1)
    .option('--seed <n>', 'seed', (v) => Number(v), 1)
    .option('--summary-json <path>', 'write the summary as JSON')
    .option('--export-history <path>', 'write every workflow run’s history (JSON) for replay tests')
    .option(
      '--keep',
      'keep the database of a finished run until the next rehearsal and print the command that opens the console on it',
    )
    .action(
      async (o: {
        jurisdiction: string;
        year: number;
        scale: number;
        seed: number;
        summaryJson?: string;
        exportHistory?: string;
        keep?: boolean;
      }) => {
        await rehearseCommand({ ...o, operator: operatorName() });
      },
    );
}
