/**
 * The operator and auditor command line: `npm run cli -- <command>`.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { migrate } from '../activities/db/migrate';
import { ensurePostgres, resolveDatabaseUrl, userConnection } from '../infra/postgres';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  addUser,
  grantRole,
  listUsers,
  parseRoleSpec,
  revokeRole,
  sessionIdentity,
  type Identity,
} from '../infra/roles';
import { stderrLogger } from '../infra/support';
import { loadConfig } from '../worker/config';
import {
  type ExportOptions,
  type PopulationCommandOptions,
  exportCommand,
  openLedger,
  formatImport,
  importCommand,
  populationCommand,
  rejectionsCommand,
  statusCommand,
} from './registry-commands';
import { campaignStatus, decideRoster, retryStep, startCampaign, submitRoster } from './campaign-commands';
import { uploadFile } from './uploads';
import { formatTrail, personTrail, trailHtml } from './audit-person';
import { registerRefundCommands } from './refund-commands';
import { heldRosters, wouldBeClosed } from './held-rosters';
import { makeDrillPolicy } from '../domain/drill';
import {
  backfillSchedule,
  createReconciliationSchedule,
  describeSchedule,
  formatScheduleDescription,
  formatTrigger,
  reconcileMonth,
  setSchedulePaused,
  triggerSchedule,
} from './reconcile-commands';
import { rehearseCommand } from './rehearse';
import { formatProgress, progressHtml, progressPdf, progressReport, progressXlsx } from '../reports/progress';
import { filingFor } from '../reports/filing';
import { verifyExchangeLog } from '../activities/audit/verify';
import {
  campaignTimeline,
  collectRuns,
  exportHistories,
  listExecutions,
  formatTimeline,
  timelineHtml,
} from './audit-history';
import { campaignWorkflowId } from '../workflows/campaign';
import { latestPolicyYear } from '../seeds';
import { runStackCheck } from './stack-check';
import { connectClient } from './temporal-client';
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

/** A --year left out is the latest year with a policy for the --jurisdiction: no year is written in code. */
const YEAR_HELP = 'campaign year (default: the latest with a policy for the jurisdiction in seeds/policies)';
program.hook('preAction', (_root, action) => {
  const o = action.opts<{ year?: number; jurisdiction?: string }>();
  if (action.options.some((opt) => opt.long === '--year') && o.year === undefined && o.jurisdiction)
    try {
      action.setOptionValue('year', latestPolicyYear(o.jurisdiction));
    } catch (error) {
      throw new Error(`give --year: ${(error as Error).message}`);
    }
});

const db = program.command('db').description('the PostgreSQL ledger');
db.command('migrate')
  .description(
    'apply pending schema migrations, as the administrator (MEDINS_ADMIN_DATABASE_URL, or the local cluster superuser)',
  )
  .action(async () => {
    const config = loadConfig();
    const url = await resolveDatabaseUrl(config.MEDINS_DATABASE, stderrLogger);
    const { applied } = await migrate(url, stderrLogger);
    process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'schema is up to date\n');
  });

/** The identity of the person at the command line, from their PostgreSQL login (set before each action). */
let identity: Identity | undefined;
const whoAmI = (): Identity => {
  if (!identity) throw new Error('this command runs without a login');
  return identity;
};
/** Who is recorded as having acted: the session's PostgreSQL user. */
const operatorName = () => whoAmI().user;

/** The administrator's connection (roles are cluster-wide: the maintenance database). */
const withAdmin = async (fn: (client: pg.Client) => Promise<void>) => {
  const client = new pg.Client({ connectionString: (await ensurePostgres(stderrLogger)).adminUrl });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
};
const users = program
  .command('users')
  .description(
    "the bureau's people, each a PostgreSQL login in one role (run as the administrator: MEDINS_ADMIN_DATABASE_URL, or the local cluster superuser)",
  );
const ROLE_HELP = 'operator, auditor or department:<department> (e.g. department:civil-affairs)';
users
  .command('add')
  .description(
    'create a login (or set its password again) in a role; the password is read from stdin, or made and printed once',
  )
  .argument('<name>', 'the login, e.g. wang_li (lower-case letters, digits, underscores)')
  .requiredOption('--role <role>', ROLE_HELP)
  .option('--password-stdin', 'read the password from stdin')
  .action(async (name: string, o: { role: string; passwordStdin?: boolean }) => {
    const role = parseRoleSpec(o.role);
    const given = o.passwordStdin ? readFileSync(0, 'utf8').trim() : undefined;
    if (given !== undefined && given.length < 12) throw new Error('a password of 12 characters or more');
    const password = given ?? randomBytes(15).toString('base64url');
    await withAdmin((client) => addUser(client, name, password, role));
    process.stdout.write(
      `${name} may log in as ${o.role}${given ? '' : `; password (shown once): ${password}`}\n`,
    );
  });
users
  .command('grant')
  .description('add a role to a login')
  .argument('<name>', 'the login')
  .argument('<role>', ROLE_HELP)
  .action(async (name: string, role: string) => {
    await withAdmin((client) => grantRole(client, name, parseRoleSpec(role)));
    process.stdout.write(`${name} granted ${role}\n`);
  });
users
  .command('revoke')
  .description('take a role from a login')
  .argument('<name>', 'the login')
  .argument('<role>', ROLE_HELP)
  .action(async (name: string, role: string) => {
    await withAdmin((client) => revokeRole(client, name, parseRoleSpec(role)));
    process.stdout.write(`${name} no longer ${role}\n`);
  });
users
  .command('list')
  .description("every login in one of the project's roles")
  .action(async () => {
    await withAdmin(async (client) => {
      const rows = await listUsers(client);
      process.stdout.write(
        rows.length
          ? rows
              .map((u) => `${u.name}\t${u.roles.join(', ')}${u.canLogin ? '' : '\t(cannot log in)'}`)
              .join('\n') + '\n'
          : 'no users\n',
      );
    });
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

const lists = program.command('lists').description("departments' lists: import, status, rejection reports");
lists
  .command('import')
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
lists
  .command('status')
  .description('every list received, with its row counts')
  .option('--jurisdiction <j>', 'only this jurisdiction')
  .action(async (o: { jurisdiction?: string }) => {
    process.stdout.write(await statusCommand(o.jurisdiction));
  });
lists
  .command('held')
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
                  `${h.submissionId}\t${h.jurisdiction}\t${h.department}\troster ${h.period}\twould close ${h.wouldClose} of ${h.openBefore} open identities\t${h.fileName}\tfrom ${h.receivedBy} at ${h.receivedAt.toISOString()}`,
              )
              .join('\n') + '\n'
          : 'no roster is held\n',
      );
    } finally {
      await pool.end();
    }
  });
for (const decision of ['confirm', 'reject'] as const) {
  lists
    .command(decision)
    .description(
      decision === 'confirm'
        ? 'apply a held roster: identities it no longer lists close, new ones open (see lists status)'
        : 'reject a held roster: nothing changes; the department is asked for a corrected list',
    )
    .requiredOption('--submission <id>', 'the held submission', (v) => Number(v))
    .action(async (o: { submission: number }) => {
      const r = await decideRoster(o.submission, decision, operatorName());
      process.stdout.write(
        decision === 'confirm'
          ? `submission ${o.submission} confirmed by ${operatorName()}: ${r.opened} identities opened, ${r.closed} closed${r.campaign ? `; ${r.campaign} told` : ''}\n`
          : `submission ${o.submission} rejected by ${operatorName()}: nothing changed${r.campaign ? `; ${r.campaign} told` : ''}\n`,
      );
    });
}
lists
  .command('rejections')
  .description("write a submission's rejection report, in the format the department sent")
  .requiredOption('--submission <id>', 'submission id', (v) => Number(v))
  .requiredOption('--out <file>', 'output file')
  .action(async (o: { submission: number; out: string }) => {
    // an auditor's report is built from the masked view: no full ID, name, address or phone
    const masked = whoAmI().role === 'auditor';
    process.stdout.write(
      `${await rejectionsCommand(o.submission, o.out, masked)} rejected rows written to ${o.out}${masked ? ' (IDs masked)' : ''}\n`,
    );
  });

const campaign = program
  .command('campaign')
  .description('the annual campaign on a Temporal server (start the worker first)');
campaign
  .command('start')
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
      const base = o.policy ? policyFromFile(o.policy) : seedPolicy(o.jurisdiction, o.year);
      const policy = o.drill ? makeDrillPolicy(base, Date.now() + 10_000, o.drill) : base;
      const { pool } = await openLedger();
      const started = await startCampaign(client, {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        policy,
        operator: operatorName(),
        pool,
      }).finally(() => pool.end());
      process.stdout.write(
        `started ${started.workflowId} (run ${started.runId})${started.drill ? ' as a DRILL' : ''}, policy ${started.policyHash}\n`,
      );
    } finally {
      await client.connection.close();
    }
  });
campaign
  .command('status')
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
      if (o.json) return void process.stdout.write(`${JSON.stringify({ workflowId: id, ...s }, null, 2)}\n`);
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
campaign
  .command('submit-list')
  .description(
    "hand in a department's roster before the roster deadline: the file is uploaded to the ledger by digest, imported by the campaign, and the result (or the file's refusal) printed",
  )
  .requiredOption('--jurisdiction <j>', 'jurisdiction')
  .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
  .requiredOption('--department <d>', 'certifying department')
  .argument('<file>', 'the roster file (.xlsx or .csv) on this machine')
  .option('--drill', 'the drill of that year')
  .action(
    async (file: string, o: { jurisdiction: string; year: number; department: string; drill?: boolean }) => {
      const config = loadConfig();
      const { pool } = await openLedger();
      let stored;
      try {
        stored = await uploadFile(pool, file, operatorName());
      } finally {
        await pool.end();
      }
      const client = await connectClient(config);
      try {
        const id = campaignWorkflowId(o.jurisdiction, o.year) + (o.drill ? '-drill' : '');
        const r = await submitRoster(client, id, {
          department: o.department,
          file: stored,
          operator: operatorName(),
        });
        process.stdout.write(
          r.status === 'held'
            ? `roster HELD: it would close ${r.wouldClose} of the department's ${r.openIdentities} open identities; nothing is closed until an operator runs lists confirm (or lists reject) --submission ${r.submissionId}
`
            : `roster ${r.status}: ${r.rowsRead} rows read = ${r.rowsAccepted} accepted + ${r.rowsRejected} rejected${r.rowsSkipped !== undefined ? ` (+ ${r.rowsSkipped} lines skipped)` : ''}
`,
        );
      } finally {
        await client.connection.close();
      }
    },
  );
campaign
  .command('retry')
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

const reconcile = program.command('reconcile').description('monthly reconciliation of the difficulty lists');
const withClient = async (
  fn: (client: Awaited<ReturnType<typeof connectClient>>, taskQueue: string) => Promise<void>,
) => {
  const config = loadConfig();
  const client = await connectClient(config);
  try {
    await fn(client, config.TEMPORAL_TASK_QUEUE);
  } finally {
    await client.connection.close();
  }
};
const schedule = reconcile
  .command('schedule')
  .description('the per-jurisdiction Temporal Schedule (the policy’s delta day, Asia/Shanghai)');
schedule
  .command('create')
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
schedule
  .command('describe')
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
  schedule
    .command(name)
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .option('--note <text>', 'why (default: who did it)')
    .action((o: { jurisdiction: string; note?: string }) =>
      withClient(async (client) => {
        await setSchedulePaused(client, o.jurisdiction, paused, o.note ?? `${name}d by ${operatorName()}`);
        process.stdout.write(`${name}d\n`);
      }),
    );
}
schedule
  .command('trigger')
  .requiredOption('--jurisdiction <j>', 'jurisdiction')
  .action((o: { jurisdiction: string }) =>
    withClient(async (client) => {
      process.stdout.write(formatTrigger(await triggerSchedule(client, o.jurisdiction)));
    }),
  );
schedule
  .command('backfill')
  .description('run the scheduled times missed between two instants (each reconciles its own month, once)')
  .requiredOption('--jurisdiction <j>', 'jurisdiction')
  .requiredOption('--from <iso>', 'start, e.g. 2024-01-01T00:00:00+08:00')
  .requiredOption('--to <iso>', 'end')
  .action((o: { jurisdiction: string; from: string; to: string }) =>
    withClient(async (client) => backfillSchedule(client, o.jurisdiction, new Date(o.from), new Date(o.to))),
  );
reconcile
  .command('run')
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

program
  .command('report')
  .description('reports an operator prints for a meeting')
  .command('progress')
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
        const policy = seedPolicy(o.jurisdiction, o.year);
        const report = await progressReport(pool, policy, o.date);
        process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatProgress(report));
        const filing = await filingFor(pool, policy);
        if (o.xlsx) writeFileSync(o.xlsx, await progressXlsx(report, filing));
        if (o.html) writeFileSync(o.html, progressHtml(report));
        if (o.pdf) writeFileSync(o.pdf, await progressPdf(report, filing));
      } finally {
        await pool.end();
      }
    },
  );

const audit = program.command('audit').description('what auditors check');
audit
  .command('history')
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
audit
  .command('export')
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
audit
  .command('person')
  .description(
    "one person's whole story for a campaign year, in Chinese, each entry with its proof, cross-checked (exit 1 on a mismatch)",
  )
  .requiredOption('--id <idNumber>', 'the national ID number')
  .option('--jurisdiction <j>', 'default: the campaign whose region codes hold the ID')
  .option('--year <y>', 'campaign year (default: the latest campaign of the jurisdiction)', (v) => Number(v))
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
        const where = await pool.query<{ jurisdiction: string; year: number }>(
          `SELECT jurisdiction, max(year)::int AS year FROM campaign_policies
           WHERE ($1::text IS NULL OR jurisdiction = $1) AND ($1::text IS NOT NULL OR policy->'regionCodes' ? left($2, 6))
           GROUP BY jurisdiction ORDER BY jurisdiction LIMIT 1`,
          [o.jurisdiction ?? null, o.id],
        );
        const jurisdiction = o.jurisdiction ?? where.rows[0]?.jurisdiction;
        const year = o.year ?? where.rows[0]?.year;
        if (!jurisdiction || !year)
          throw new Error('no campaign in the ledger covers that ID number: give --jurisdiction and --year');
        if (o.history) client = await connectClient(loadConfig()).catch(() => undefined);
        const trail = await personTrail(pool, {
          idNumber: o.id,
          jurisdiction,
          year,
          ...(client ? { client } : {}),
        });
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
audit
  .command('runs')
  .description('every run the server holds under a workflow id (a campaign id reused, continue-as-new runs)')
  .requiredOption('--workflow-id <id>', 'e.g. campaign-kaiping-2024')
  .action((o: { workflowId: string }) =>
    withClient(async (client) => {
      for (const r of await listExecutions(client, o.workflowId))
        process.stdout.write(
          `${r.runId} ${r.status} started ${r.startTime.toISOString()}${r.closeTime ? ` closed ${r.closeTime.toISOString()}` : ''}\n`,
        );
    }),
  );
audit
  .command('verify')
  .description("re-check the exchange log's hash chain and every stored file against its digest")
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const { pool } = await openLedger();
    try {
      const r = await verifyExchangeLog(pool);
      if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else {
        process.stdout.write(`${r.entries} exchange log entries, ${r.filesChecked} stored files checked\n`);
        if (r.firstBrokenLink)
          process.stdout.write(
            `BROKEN: entry ${r.firstBrokenLink.seq} (${r.firstBrokenLink.fileName}) ${r.firstBrokenLink.reason}\n`,
          );
        for (const f of r.tamperedFiles)
          process.stdout.write(`TAMPERED: entry ${f.seq} ${f.fileName} at ${f.storedAt}: ${f.reason}\n`);
        if (r.ok) process.stdout.write('the chain holds and every stored file matches its digest\n');
      }
      if (!r.ok) process.exitCode = 1;
    } finally {
      await pool.end();
    }
  });

program
  .command('rehearse')
  .description('a whole campaign year on the time-skipping server against simulated departments')
  .requiredOption('--jurisdiction <j>', 'kaiping, heshan or meishan')
  .option('--year <y>', YEAR_HELP, (v) => Number(v))
  .option('--scale <s>', 'population scale (Kaiping 1 = 附件3)', (v) => Number(v), 1)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .option('--summary-json <path>', 'write the summary as JSON')
  .option('--export-history <path>', 'write every workflow run’s history (JSON) for replay tests')
  .action(
    async (o: {
      jurisdiction: string;
      year: number;
      scale: number;
      seed: number;
      summaryJson?: string;
      exportHistory?: string;
    }) => {
      await rehearseCommand({ ...o, operator: operatorName() });
    },
  );

program
  .command('export')
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

program
  .command('population')
  .description('synthetic population')
  .command('generate')
  .description(
    'generate a seeded synthetic population into the ledger, and the files its departments would send',
  )
  .requiredOption('--jurisdiction <j>', 'kaiping, heshan or meishan')
  .option('--year <y>', YEAR_HELP, (v) => Number(v))
  .option('--scale <s>', 'scale (Kaiping 1 = 附件3 exactly)', (v) => Number(v), 1)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .option('--defects <share>', 'share of department file rows with a defect', (v) => Number(v), 0.01)
  .option('--deltas <months>', 'monthly delta files per department', (v) => Number(v), 0)
  .option('--out <dir>', 'where the department files go')
  .option('--json', 'print the manifest as JSON')
  .action(async (o: PopulationCommandOptions & { json?: boolean }) => {
    const started = Date.now();
    const m = await populationCommand(o);
    if (o.json) return void process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
    process.stdout.write(
      `${m.jurisdiction} ${m.year} x${m.scale} seed ${m.seed}: ${m.totals.residents} people in ${m.totals.households} households (${((Date.now() - started) / 1000).toFixed(1)} s)\n` +
        m.towns
          .map(
            (t) =>
              `  ${t.name}\tregistered ${t.registered}\temployee ${t.employeeInsured}\tto enroll ${t.toEnroll}\tpaid last year ${t.paidLastYear}`,
          )
          .join('\n') +
        `\n  total\tregistered ${m.totals.registered}\temployee ${m.totals.employeeInsured}\tto enroll ${m.totals.toEnroll}\tpaid last year ${m.totals.paidLastYear}\n` +
        `certified: ${Object.entries(m.certified)
          .map(([d, n]) => `${d} ${n}`)
          .join(', ')}\n` +
        m.files.map((f) => `  ${f.path} (${f.rows} rows)`).join('\n') +
        '\n',
    );
  });

registerRefundCommands(program);

/** What anyone may run without a login: the published rules. */
const PUBLIC = new Set(['policy explain', 'policy show', 'targets']);
/** What runs on the administrator's connection, and only that: the schema and the people. */
export const ADMIN = new Set(['db migrate', 'users add', 'users grant', 'users revoke', 'users list']);
/** What an auditor may run: reading, never starting, signalling or changing. */
const READ_ONLY = new Set([
  'audit verify',
  'audit history',
  'audit export',
  'audit runs',
  'audit person',
  'report progress',
  'export',
  'lists rejections',
  'lists held',
  'campaign status',
  'lists status',
  'reconcile schedule describe',
]);
/**
 * What a department runs: its own lists' import (matched against the register inside the database, migration
 * 0021), status and rejection reports; row security keeps them its own.
 */
const DEPARTMENT_COMMANDS = new Set(['lists import', 'lists status', 'lists rejections']);

/** Why `who` may not run `command` (with `department`, for lists import), or undefined if it may. */
function refusal(who: Identity, command: string, department?: string): string | undefined {
  if (who.role === 'auditor' && !READ_ONLY.has(command))
    return `${who.user} is an auditor: role auditor may read history, reports and the exchange log; it cannot run "${command}", which starts, signals or changes something. Ask an operator.`;
  if (who.role === 'department') {
    if (DEPARTMENT_COMMANDS.has(command) && (command !== 'lists import' || department === who.department))
      return undefined;
    return `${who.user} is the department ${who.department}: role department may submit its own lists only; it cannot run "${command}"${command === 'lists import' ? ` for ${department}` : ''}.`;
  }
  return undefined;
}

program.hook('preAction', async (_root, action) => {
  const path: string[] = [];
  for (let c: Command | null = action; c && c.parent; c = c.parent) path.unshift(c.name());
  const command = path.join(' ');
  if (PUBLIC.has(command) || ADMIN.has(command)) return;
  // who this is comes from the login: the session's user and its role (pg_has_role), never the environment
  const config = loadConfig();
  const pool = new pg.Pool({
    ...(await userConnection(config.MEDINS_DATABASE, 'op_demo', stderrLogger)),
    max: 1,
  });
  try {
    identity = await sessionIdentity(pool);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '28P01' || code === '28000' || code === '3D000' || code === 'ECONNREFUSED')
      throw new Error(
        `cannot log in to the ledger: ${(error as Error).message}. Log in as yourself: PGUSER and PGPASSWORD, ~/.pgpass, PGSERVICE or DATABASE_URL (an administrator creates your login with \`users add\`)`,
      );
    throw error;
  } finally {
    await pool.end();
  }
  const stale = process.env.MEDINS_ROLE;
  const staleNote = stale
    ? ` (MEDINS_ROLE=${stale} is not read: the role comes from the login; unset it)`
    : '';
  const refused = refusal(identity, command, action.opts<{ department?: string }>().department);
  if (refused) throw new Error(refused + staleNote);
  if (stale && stale !== identity.role)
    throw new Error(`${identity.user} logs in as ${identity.role}, not ${stale}${staleNote}`);
  const staleOperator = process.env.MEDINS_OPERATOR;
  if (staleOperator && staleOperator !== identity.user)
    throw new Error(
      `MEDINS_OPERATOR=${staleOperator} is not read: actions are recorded as the login, ${identity.user}; unset it, or log in as ${staleOperator}`,
    );
});

/** The command tree, for tests that go through every command (the program runs only as the entry point). */
export { program };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  program.parseAsync(process.argv).catch((error: unknown) => {
    // a refused Update or a failed workflow says why in its causes: print the whole chain
    const messages: string[] = [];
    for (let e: unknown = error; e instanceof Error && messages.length < 5; e = e.cause)
      messages.push(e.message);
    process.stderr.write(`${messages.length ? messages.join(': ') : String(error)}\n`);
    process.exit(1);
  });
