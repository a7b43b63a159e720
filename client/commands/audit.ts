/**
 * what auditors check: `audit history|export|person|runs|verify`.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { explainPerson, verifyLog } from '../../application/audit';
import { loadConfig } from '../../worker/config';
import {
  campaignTimeline,
  collectRuns,
  exportHistories,
  formatTimeline,
  listExecutions,
  timelineHtml,
} from '../../audit/history';
import { formatTrail, trailHtml } from '../../audit/person';
import { openLedger } from '../registry-commands';
import { connectClient } from '../temporal-client';
import { withClient } from './session';
import { allow, READERS } from './access';

/** Registers the audit commands on the program. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('what auditors check');
  allow(audit.command('history'), READERS)
    .description(
      "a campaign's history as a timeline in the domain's words, across continue-as-new runs and child workflows",
    )
    .requiredOption('--workflow-id <id>', 'e.g. campaign-kaiping-2024')
    .option('--run-id <id>', 'a run of that id other than the latest (audit runs lists them)')
    .option('--json', 'print JSON')
    .option('--html <file>', 'also write the timeline as an HTML page')
    .action((o: { workflowId: string; runId?: string; json?: boolean; html?: string }) =>
      withClient(async (client) => {
        const timeline = await campaignTimeline(client, o.workflowId, o.runId);
        process.stdout.write(o.json ? `${JSON.stringify(timeline, null, 2)}\n` : formatTimeline(timeline));
        if (o.html) {
          writeFileSync(o.html, timelineHtml(o.workflowId, timeline));
          process.stderr.write(`timeline page written to ${o.html}\n`);
        }
      }),
    );
  allow(audit.command('export'), READERS)
    .description('write the raw histories (JSON, replayable) of a campaign and its child workflows')
    .requiredOption('--workflow-id <id>', 'e.g. campaign-kaiping-2024')
    .requiredOption('--out <dir>', 'folder for one JSON file per run and index.json')
    .option('--run-id <id>', 'a run of that id other than the latest (audit runs lists them)')
    .action((o: { workflowId: string; out: string; runId?: string }) =>
      withClient(async (client) => {
        const index = exportHistories(await collectRuns(client, o.workflowId, null, o.runId), o.out);
        for (const r of index)
          process.stdout.write(`${r.file}: ${r.workflowType}, ${r.events} events, sha256 ${r.sha256}\n`);
      }),
    );
  allow(audit.command('person'), READERS)
    .description(
      "one person's whole story for a campaign year, in Chinese, each entry with its proof, cross-checked (exit 1 on a mismatch)",
    )
    .requiredOption('--id <idNumber>', 'the national ID number')
    .option('--jurisdiction <j>', 'default: the campaign whose region codes hold the ID')
    .option('--year <y>', 'campaign year (default: the latest campaign of the jurisdiction)', (v) =>
      Number(v),
    )
    .option('--no-history', 'do not consult the workflow histories')
    .option('--json', 'print JSON')
    .option('--html <file>', 'also write the trail as an HTML page')
    .action(
      async (o: {
        id: string;
        jurisdiction?: string;
        year?: number;
        history: boolean;
        json?: boolean;
        html?: string;
      }) => {
        const { pool } = await openLedger();
        let client: Awaited<ReturnType<typeof connectClient>> | undefined;
        try {
          const trail = await explainPerson(
            {
              pool,
              ...(o.history ? { temporal: async () => (client = await connectClient(loadConfig())) } : {}),
            },
            {
              idNumber: o.id,
              ...(o.jurisdiction ? { jurisdiction: o.jurisdiction } : {}),
              ...(o.year ? { year: o.year } : {}),
            },
          );
          process.stdout.write(o.json ? `${JSON.stringify(trail, null, 2)}\n` : formatTrail(trail));
          if (o.html) {
            writeFileSync(o.html, trailHtml(trail));
            process.stderr.write(`trail page written to ${o.html}\n`);
          }
          if (trail.mismatches) process.exitCode = 1;
        } finally {
          await pool.end();
          await client?.connection.close();
        }
      },
    );
  allow(audit.command('runs'), READERS)
    .description(
      'every run the server holds under a workflow id (a campaign id reused, continue-as-new runs)',
    )
    .requiredOption('--workflow-id <id>', 'e.g. campaign-kaiping-2024')
    .action((o: { workflowId: string }) =>
      withClient(async (client) => {
        for (const r of await listExecutions(client, o.workflowId))
          process.stdout.write(
            `${r.runId} ${r.status} started ${r.startTime.toISOString()}${r.closeTime ? ` closed ${r.closeTime.toISOString()}` : ''}\n`,
          );
      }),
    );
  allow(audit.command('verify'), READERS)
    .description("re-check the exchange log's hash chain and every stored file against its digest")
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { pool } = await openLedger();
      try {
        const r = await verifyLog({ pool });
        if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else {
          process.stdout.write(`${r.entries} exchange log entries, ${r.filesChecked} stored files checked\n`);
          if (r.firstBrokenLink)
            process.stdout.write(
              `BROKEN: entry ${r.firstBrokenLink.seq} (${r.firstBrokenLink.fileName}) ${r.firstBrokenLink.reason}\n`,
            );
          for (const f of r.tamperedFiles)
            process.stdout.write(
              `${f.missing ? 'MISSING' : 'TAMPERED'}: entry ${f.seq} ${f.fileName} at ${f.storedAt}: ${f.reason}\n`,
            );
          if (r.ok) process.stdout.write('the chain holds and every stored file matches its digest\n');
        }
        if (!r.ok) process.exitCode = 1;
      } finally {
        await pool.end();
      }
    });
}
