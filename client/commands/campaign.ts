/**
 * the campaign on the Temporal server: `campaign start|status|submit-list|retry`.
 */
import type { Command } from 'commander';
import { campaignWorkflowId } from '../../workflows/campaign';
import { loadConfig } from '../../worker/config';
import { clearDrillYear, startCampaignYear, submitRosterFile } from '../../application/campaigns';
import { campaignStatus, retryStep } from '../../application/campaign-workflow';
import { policyFromFile, seedPolicy } from '../policy-commands';
import { openLedger } from '../registry-commands';
import { connectClient } from '../temporal-client';
import { operatorName } from './session';
import { allow, OPERATORS, READERS } from './access';

/** Registers the campaign commands on the program. */
export function registerCampaignCommands(program: Command): void {
  const campaign = program
    .command('campaign')
    .description('the annual campaign on a Temporal server (start the worker first)');
  allow(campaign.command('start'), OPERATORS)
    .description('start the campaign year of a jurisdiction: campaign-<jurisdiction>-<year>')
    .requiredOption('--jurisdiction <j>', 'kaiping, heshan or meishan')
    .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
    .option('--policy <file>', 'a policy file instead of the seed (validated first)')
    .option(
      '--drill <minutes>',
      'a drill: the same rules with calendar points this many minutes apart, starting now',
      (v) => Number(v),
    )
    .action(async (o: { jurisdiction: string; year: number; policy?: string; drill?: number }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      try {
        const policy = o.policy ? policyFromFile(o.policy) : seedPolicy(o.jurisdiction, o.year);
        const { pool } = await openLedger();
        const started = await startCampaignYear(
          { pool, client, taskQueue: config.TEMPORAL_TASK_QUEUE },
          { policy, operator: operatorName(), ...(o.drill ? { drillMinutes: o.drill } : {}) },
        ).finally(() => pool.end());
        if (started.clearedDrill)
          process.stdout.write(`cleared the earlier drill's rows: ${JSON.stringify(started.clearedDrill)}\n`);
        process.stdout.write(
          `started ${started.workflowId} (run ${started.runId})${started.drill ? ' as a DRILL' : ''}, policy ${started.policyHash}\n`,
        );
      } finally {
        await client.connection.close();
      }
    });
  allow(campaign.command('clear-drill'), OPERATORS)
    .description(
      "delete the rows a closed drill of that year wrote in the ledger (never a real year's), so that the real year or a new drill can start",
    )
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
    .action(async (o: { jurisdiction: string; year: number }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      try {
        const { pool } = await openLedger();
        const cleared = await clearDrillYear({ pool, client }, o).finally(() => pool.end());
        process.stdout.write(
          `cleared the drill of ${o.jurisdiction} ${o.year} as ${operatorName()}: ${JSON.stringify(cleared)}\n`,
        );
      } finally {
        await client.connection.close();
      }
    });
  allow(campaign.command('status'), READERS)
    .description("a campaign's phase, date and counts")
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
    .option('--drill', 'the drill of that year')
    .option('--json', 'print JSON')
    .action(async (o: { jurisdiction: string; year: number; drill?: boolean; json?: boolean }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      try {
        const id = campaignWorkflowId(o.jurisdiction, o.year) + (o.drill ? '-drill' : '');
        const s = await campaignStatus(client, id);
        if (o.json)
          return void process.stdout.write(`${JSON.stringify({ workflowId: id, ...s }, null, 2)}\n`);
        const p = s.progress;
        process.stdout.write(
          `${id} ${s.status} (run ${s.runId})\n` +
            (p
              ? `phase ${p.phase}, campaign date ${p.campaignDate}, agenda ${p.itemsDone}/${p.itemsTotal}\n` +
                Object.entries(p.rosters)
                  .map(
                    ([d, r]) =>
                      `  roster ${d}: ${r.status}${r.rowsRead !== undefined ? ` (${r.rowsAccepted} accepted, ${r.rowsRejected} rejected)` : ''}`,
                  )
                  .join('\n') +
                '\n' +
                p.rounds
                  .map(
                    (r) =>
                      `  round ${r.round}: ${r.lines} levied, ${r.success} paid, ${r.personal} personal, ${r.systemic} systemic`,
                  )
                  .join('\n') +
                '\n'
              : ''),
        );
      } finally {
        await client.connection.close();
      }
    });
  allow(campaign.command('submit-list'), OPERATORS)
    .description(
      "hand in a department's roster before the roster deadline: the file is uploaded to the ledger by digest, imported by the campaign, and the result (or the file's refusal) printed",
    )
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
    .requiredOption('--department <d>', 'certifying department')
    .argument('<file>', 'the roster file (.xlsx or .csv) on this machine')
    .option('--drill', 'the drill of that year')
    .action(
      async (
        file: string,
        o: { jurisdiction: string; year: number; department: string; drill?: boolean },
      ) => {
        const config = loadConfig();
        const { pool } = await openLedger();
        let client: Awaited<ReturnType<typeof connectClient>> | undefined;
        try {
          const id = campaignWorkflowId(o.jurisdiction, o.year) + (o.drill ? '-drill' : '');
          const { status: r } = await submitRosterFile(
            { pool, temporal: async () => (client = await connectClient(config)) },
            { workflowId: id, department: o.department, path: file, operator: operatorName() },
          );
          process.stdout.write(
            r.status === 'held'
              ? `roster HELD: it would close ${r.wouldClose} of the department's ${r.openIdentities} open identities${r.wouldOpen !== undefined ? ` and open ${r.wouldOpen}` : ''}; nothing is closed until an operator runs lists confirm (or lists reject) --submission ${r.submissionId}\n`
              : `roster ${r.status}: ${r.rowsRead} rows read = ${r.rowsAccepted} accepted + ${r.rowsRejected} rejected${r.rowsSkipped !== undefined ? ` (+ ${r.rowsSkipped} lines skipped)` : ''}\n`,
          );
        } finally {
          await pool.end();
          await client?.connection.close();
        }
      },
    );
  allow(campaign.command('retry'), OPERATORS)
    .description('after a step failed past its retries (campaign status shows it): run that step again')
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
    .option('--drill', 'the drill of that year')
    .action(async (o: { jurisdiction: string; year: number; drill?: boolean }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      try {
        const id = campaignWorkflowId(o.jurisdiction, o.year) + (o.drill ? '-drill' : '');
        const r = await retryStep(client, id, operatorName());
        process.stdout.write(`step ${r.step} of ${id} runs again\n`);
      } finally {
        await client.connection.close();
      }
    });
}
