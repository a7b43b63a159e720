/**
 * reports for a meeting: `report progress`.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { makeProgressReport } from '../../application/reports';
import { formatProgress, progressHtml, progressPdf, progressXlsx } from '../../documents/progress';
import { seedPolicy } from '../policy-commands';
import { openLedger } from '../registry-commands';
import { YEAR_HELP } from './session';
import { allow, READERS } from './access';

/** Registers the report commands on the program. */
export function registerReportCommands(program: Command): void {
  allow(
    program.command('report').description('reports an operator prints for a meeting').command('progress'),
    READERS,
  )
    .description(
      'per-town progress for a date: coverage against target and the goal line (95%), week-on-week change; .xlsx and HTML',
    )
    .requiredOption('--jurisdiction <j>', 'kaiping, heshan or meishan')
    .option('--year <y>', YEAR_HELP, (v) => Number(v))
    .requiredOption('--date <yyyy-mm-dd>', 'the last snapshot on or before this date is reported')
    .option('--xlsx <file>', 'write the table as .xlsx (参保进度), laid out to be filed')
    .option('--html <file>', 'write the table and its chart as an HTML page')
    .option('--pdf <file>', 'write the table as a PDF for printing (A4)')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        jurisdiction: string;
        year: number;
        date: string;
        xlsx?: string;
        html?: string;
        pdf?: string;
        json?: boolean;
      }) => {
        const { pool } = await openLedger();
        try {
          const { report, filing } = await makeProgressReport(
            { pool },
            { policy: seedPolicy(o.jurisdiction, o.year), date: o.date },
          );
          process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatProgress(report));
          if (o.xlsx) writeFileSync(o.xlsx, await progressXlsx(report, filing));
          if (o.html) writeFileSync(o.html, progressHtml(report));
          if (o.pdf) writeFileSync(o.pdf, await progressPdf(report, filing));
        } finally {
          await pool.end();
        }
      },
    );
}
