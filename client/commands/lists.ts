/**
 * departments' lists: `lists import|status|held|confirm|reject|rejections`.
 */
import type { Command } from 'commander';
import {
  formatImport,
  importCommand,
  openLedger,
  rejectionsCommand,
  statusCommand,
} from '../registry-commands';
import { decideRoster } from '../../application/campaigns';
import { loadConfig } from '../../worker/config';
import { connectClient } from '../temporal-client';
import { heldRosters, wouldBeClosed } from '../held-rosters';
import { YEAR_HELP, operatorName, whoAmI } from './session';
import { allow, OPERATORS, READERS } from './access';

/** Registers the lists commands on the program. */
export function registerListsCommands(program: Command): void {
  const lists = program.command('lists').description("departments' lists: import, status, rejection reports");
  allow(lists.command('import'), ['operator', 'department'])
    .description('import a roster (full list as of a date) or a monthly delta, .xlsx or .csv (UTF-8 or GBK)')
    .argument('<file>', 'the file the department sent')
    .requiredOption('--jurisdiction <j>', 'kaiping, heshan or meishan')
    .option('--year <y>', YEAR_HELP, (v) => Number(v))
    .requiredOption(
      '--department <d>',
      'civil-affairs, rural-revitalization, disabled-persons-federation, veterans-affairs, health, natural-resources',
    )
    .requiredOption('--kind <k>', 'roster or delta')
    .requiredOption('--period <p>', 'roster: as-of date YYYY-MM-DD; delta: month YYYY-MM')
    .option(
      '--effective-on <date>',
      "the registration day the identities take effect (default: a roster's date; a delta's month's registration day, e.g. 2023-10-10 for 2023-09)",
    )
    .option('--rejections <file>', 'write the rejection report here (same format as received)')
    .option('--json', 'print JSON')
    .action(
      async (
        file: string,
        o: {
          jurisdiction: string;
          year: number;
          department: string;
          kind: string;
          period: string;
          effectiveOn?: string;
          rejections?: string;
          json?: boolean;
        },
      ) => {
        if (o.kind !== 'roster' && o.kind !== 'delta') throw new Error('--kind must be roster or delta');
        const result = await importCommand(file, { ...o, kind: o.kind }, operatorName());
        process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : formatImport(result));
      },
    );
  allow(lists.command('status'), ['operator', 'auditor', 'department'])
    .description('every list received, with its row counts')
    .option('--jurisdiction <j>', 'only this jurisdiction')
    .action(async (o: { jurisdiction?: string }) => {
      process.stdout.write(await statusCommand(o.jurisdiction));
    });
  allow(lists.command('held'), READERS)
    .description(
      'rosters held because they would close too many identities; with --submission, who it would close (IDs masked)',
    )
    .option('--jurisdiction <j>', 'only this jurisdiction')
    .option('--submission <id>', 'one held roster: the people it would close', (v) => Number(v))
    .action(async (o: { jurisdiction?: string; submission?: number }) => {
      const { pool } = await openLedger();
      try {
        if (o.submission !== undefined) {
          const people = await wouldBeClosed(pool, o.submission);
          process.stdout.write(
            people.length
              ? `${people.map((p) => `${p.idNumber}\t${p.name}\t类别 ${p.category}\t自 ${p.openedOn}`).join('\n')}\n${people.length} identities would close\n`
              : `submission ${o.submission} is not held, or closes nobody\n`,
          );
          return;
        }
        const held = await heldRosters(pool, o.jurisdiction);
        process.stdout.write(
          held.length
            ? held
                .map(
                  (h) =>
                    `${h.submissionId}\t${h.jurisdiction}\t${h.department}\troster ${h.period}\twould close ${h.wouldClose} of ${h.openBefore} open identities${h.wouldOpen !== null ? `, open ${h.wouldOpen}` : ''}\t${h.fileName}\tfrom ${h.receivedBy} at ${h.receivedAt.toISOString()}`,
                )
                .join('\n') + '\n'
            : 'no roster is held\n',
        );
      } finally {
        await pool.end();
      }
    });
  const count = (v: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`"${v}" is not a count`);
    return Number(v);
  };
  for (const decision of ['confirm', 'reject'] as const) {
    const command = allow(lists.command(decision), OPERATORS)
      .description(
        decision === 'confirm'
          ? 'apply a held roster: identities it no longer lists close, new ones open (see lists status)'
          : 'reject a held roster: nothing changes; the department is asked for a corrected list',
      )
      .requiredOption('--submission <id>', 'the held submission', (v) => Number(v));
    if (decision === 'confirm')
      command
        .option('--closes <n>', 'the figures lists held showed you: would close N …', count)
        .option('--of <m>', '… of M open identities (with --closes)', count)
        .option('--opens <k>', '… and open K (with --closes)', count);
    command.action(async (o: { submission: number; closes?: number; of?: number; opens?: number }) => {
      // the figures the operator read: applied only if the roster would still do exactly that (without
      // them, the figures lists held shows now)
      if (
        (o.closes === undefined) !== (o.of === undefined) ||
        (o.opens !== undefined && o.closes === undefined)
      )
        throw new Error(
          '--closes and --of go together (and --opens with them): the figures lists held showed',
        );
      const shown =
        o.closes !== undefined && o.of !== undefined
          ? {
              wouldClose: o.closes,
              openBefore: o.of,
              ...(o.opens !== undefined ? { wouldOpen: o.opens } : {}),
            }
          : undefined;
      const { pool } = await openLedger();
      let client: Awaited<ReturnType<typeof connectClient>> | undefined;
      const r = await decideRoster(
        { pool, temporal: async () => (client = await connectClient(loadConfig())) },
        { submissionId: o.submission, decision, operator: operatorName(), ...(shown ? { shown } : {}) },
      ).finally(async () => {
        await pool.end();
        await client?.connection.close();
      });
      process.stdout.write(
        decision === 'confirm'
          ? `submission ${o.submission} confirmed by ${operatorName()}: ${r.opened} identities opened, ${r.closed} closed${r.campaign ? `; ${r.campaign} told` : ''}\n`
          : `submission ${o.submission} rejected by ${operatorName()}: nothing changed${r.campaign ? `; ${r.campaign} told` : ''}\n`,
      );
    });
  }
  allow(lists.command('rejections'), ['operator', 'auditor', 'department'])
    .description("write a submission's rejection report, in the format the department sent")
    .requiredOption('--submission <id>', 'submission id', (v) => Number(v))
    .requiredOption('--out <file>', 'output file')
    .action(async (o: { submission: number; out: string }) => {
      // an auditor's report is built from the masked view: no full ID, name, address or phone
      const masked = whoAmI().role === 'auditor';
      process.stdout.write(
        `${await rejectionsCommand(o.submission, o.out, masked).then((r) => `${r.rows} rejected rows written to ${r.path}`)}${masked ? ' (IDs masked)' : ''}\n`,
      );
    });
}
