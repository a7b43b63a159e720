/**
 * monthly reconciliation: `reconcile run`, `reconcile schedule …`.
 */
import type { Command } from 'commander';
import { seedPolicy } from '../policy-commands';
import {
  backfillSchedule,
  createReconciliationSchedule,
  describeSchedule,
  formatScheduleDescription,
  formatTrigger,
  reconcileMonth,
  setSchedulePaused,
  triggerSchedule,
} from '../reconcile-commands';
import { operatorName, withClient } from './session';
import { allow, OPERATORS, READERS } from './access';

/** Registers the reconcile commands on the program. */
export function registerReconcileCommands(program: Command): void {
  const reconcile = program
    .command('reconcile')
    .description('monthly reconciliation of the difficulty lists');
  const schedule = reconcile
    .command('schedule')
    .description('the per-jurisdiction Temporal Schedule (the policy’s delta day, Asia/Shanghai)');
  allow(schedule.command('create'), OPERATORS)
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--year <y>', 'campaign year of the policy', (v) => Number(v))
    .option('--paused', 'create it paused')
    .action((o: { jurisdiction: string; year: number; paused?: boolean }) =>
      withClient(async (client, taskQueue) => {
        const id = await createReconciliationSchedule(client, taskQueue, seedPolicy(o.jurisdiction, o.year), {
          paused: Boolean(o.paused),
        });
        process.stdout.write(`schedule ${id} created${o.paused ? ' (paused)' : ''}\n`);
      }),
    );
  allow(schedule.command('describe'), READERS)
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .action((o: { jurisdiction: string }) =>
      withClient(async (client) => {
        process.stdout.write(formatScheduleDescription(await describeSchedule(client, o.jurisdiction)));
      }),
    );
  for (const [name, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    allow(schedule.command(name), OPERATORS)
      .requiredOption('--jurisdiction <j>', 'jurisdiction')
      .option('--note <text>', 'why (default: who did it)')
      .action((o: { jurisdiction: string; note?: string }) =>
        withClient(async (client) => {
          await setSchedulePaused(client, o.jurisdiction, paused, o.note ?? `${name}d by ${operatorName()}`);
          process.stdout.write(`${name}d\n`);
        }),
      );
  }
  allow(schedule.command('trigger'), OPERATORS)
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .action((o: { jurisdiction: string }) =>
      withClient(async (client) => {
        process.stdout.write(formatTrigger(await triggerSchedule(client, o.jurisdiction)));
      }),
    );
  allow(schedule.command('backfill'), OPERATORS)
    .description('run the scheduled times missed between two instants (each reconciles its own month, once)')
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--from <iso>', 'start, e.g. 2024-01-01T00:00:00+08:00')
    .requiredOption('--to <iso>', 'end')
    .action((o: { jurisdiction: string; from: string; to: string }) =>
      withClient(async (client) =>
        backfillSchedule(client, o.jurisdiction, new Date(o.from), new Date(o.to)),
      ),
    );
  allow(reconcile.command('run'), OPERATORS)
    .description('reconcile one month now')
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--year <y>', 'campaign year of the policy', (v) => Number(v))
    .requiredOption('--month <yyyy-mm>', 'the month whose additions and removals to reconcile')
    .action((o: { jurisdiction: string; year: number; month: string }) =>
      withClient(async (client, taskQueue) => {
        const r = await reconcileMonth(client, taskQueue, seedPolicy(o.jurisdiction, o.year), o.month);
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      }),
    );
}
