/**
 * `export`: files for the departments.
 */
import type { Command } from 'commander';
import { type ExportOptions, exportCommand } from '../registry-commands';
import { YEAR_HELP } from './session';
import { allow, READERS } from './access';

/** Registers the export commands on the program. */
export function registerExportCommands(program: Command): void {
  allow(program.command('export'), READERS)
    .description(
      'files for the departments: levy (应征数据, tax), mobilisation (附件2, towns), household (附件1), ledgers (the four 台账, 003 六(二))',
    )
    .argument('<what>', 'levy, mobilisation or household')
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .option('--year <y>', YEAR_HELP, (v) => Number(v))
    .requiredOption('--out <file>', 'the .xlsx to write')
    .option('--batch <id>', 'levy batch (levy)', (v) => Number(v))
    .option('--town <name>', 'one town only (mobilisation)')
    .option('--household <id>', 'household id (household)', (v) => Number(v))
    .option('--reader <role>', 'who reads it: tax, town, household or auditor (decides what is masked)')
    .option('--pdf <file>', 'also print it as a PDF (mobilisation: a page per village)')
    .action(async (what: string, o: ExportOptions) => {
      if (what !== 'levy' && what !== 'mobilisation' && what !== 'household' && what !== 'ledgers')
        throw new Error('export levy, mobilisation, household or ledgers');
      process.stdout.write(`${await exportCommand(what, o)} rows written to ${o.out}\n`);
    });
}
