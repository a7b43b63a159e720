/**
 * Use cases on a campaign year, called alike by the command line (client/commands/) and the web console
 * (console/routes/): start a year, hand in a department's roster, decide a held roster. Each takes the
 * caller's own ledger connection (a person's login) and a Temporal client; none reads the environment.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import type { StoredFileRef } from '../ledger/exchange-store';
import { decideHeldRoster } from '../lists/import-list';
import { clearDrill, startCampaign } from './campaign-workflow';
import { uploadFile } from './uploads';
import { makeDrillPolicy } from '../domain/drill';
import type { Policy } from '../domain/policy';
import {
  campaignWorkflowId,
  rosterDecidedSignal,
  submitRosterUpdate,
  type RosterStatus,
} from '../workflows/campaign';

/** How far ahead of now a drill's first calendar point lies (ms): time to start the workflow first. */
export const DRILL_LEAD_MS = 10_000;

/**
 * Starts the campaign year of `policy` (or, with `drillMinutes`, a drill of it: the same rules with calendar
 * points that many minutes apart, from `now` + DRILL_LEAD_MS). Refuses a year that closed in the ledger or is
 * held by the server: throws CampaignAlreadyRunning (application/campaign-workflow.ts startCampaign). The ledger's
 * rows of the year are the real year's or one drill's, never both: a real year is refused while a drill's rows
 * are there and a drill while the real year's are (CampaignYearHeld, in English and Chinese, naming what to
 * do); a drill after a closed drill of that year clears the earlier drill's rows first (`clearedDrill`).
 */
export async function startCampaignYear(
  deps: { pool: pg.Pool; client: Client; taskQueue: string },
  input: { policy: Policy; operator: string; drillMinutes?: number; now?: number },
): Promise<{
  workflowId: string;
  runId: string;
  policyHash: string;
  drill: boolean;
  clearedDrill?: Record<string, unknown>;
}> {
  const policy = input.drillMinutes
    ? makeDrillPolicy(input.policy, (input.now ?? Date.now()) + DRILL_LEAD_MS, input.drillMinutes)
    : input.policy;
  return startCampaign(deps.client, {
    taskQueue: deps.taskQueue,
    policy,
    operator: input.operator,
    pool: deps.pool,
  });
}

/**
 * Clears the rows a closed drill of `jurisdiction` `year` left in the ledger, under the caller's login
 * (client/campaign-commands.ts clearDrill: refused while the drill runs, and for a real year's rows, with
 * CampaignYearHeld). Returns the rows deleted per table and the exchange-log entries kept.
 */
export async function clearDrillYear(
  deps: { pool: pg.Pool; client: Client },
  input: { jurisdiction: string; year: number },
): Promise<Record<string, unknown>> {
  return clearDrill(deps.client, deps.pool, input.jurisdiction, input.year);
}

/** No campaign of that id is running; the message says which one is, if the other kind of that year is. */
export class CampaignNotRunning extends Error {
  override name = 'CampaignNotRunning';
}

/**
 * Hands a department's roster file (`path`, on this machine) to the running campaign `workflowId`: the bytes
 * go into the ledger by digest (application/uploads.ts; throws UploadRefused for a missing, special or oversize
 * file, before any Temporal connection is asked of `temporal`), then the campaign's submit-roster Update
 * imports them in the worker. Resolves with the stored file
 * and the import's counts (or `held`); rejects with the file's refusal (WorkflowUpdateFailedError whose
 * causes name the file, row and field); with CampaignNotRunning when no campaign `workflowId` runs, saying
 * so and naming the drill (or the real year) of that year that does run.
 */
export async function submitRosterFile(
  deps: { pool: pg.Pool; temporal: () => Promise<Client> },
  input: { workflowId: string; department: string; path: string; operator: string },
): Promise<{ stored: StoredFileRef; status: RosterStatus }> {
  const stored = await uploadFile(deps.pool, input.path, input.operator);
  const client = await deps.temporal();
  const status = await client.workflow
    .getHandle(input.workflowId)
    .executeUpdate(submitRosterUpdate, {
      args: [{ department: input.department, file: stored, operator: input.operator }],
    })
    .catch(async (error: unknown) => {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      throw new CampaignNotRunning(await notRunningMessage(client, input.workflowId));
    });
  return { stored, status };
}

/**
 * An operator's decision on a held roster: applied in the ledger under the caller's login (decideHeldRoster),
 * then signalled to every campaign of that roster's jurisdiction and as-of date that is running (a campaign
 * not running, or a Temporal server `temporal` cannot reach, learns it from the ledger; `temporal` is asked
 * only when such a campaign exists). Returns the identities opened and closed,
 * and the last campaign told (its workflow id), if any.
 */
export async function decideRoster(
  deps: { pool: pg.Pool; temporal?: () => Promise<Client> },
  input: {
    submissionId: number;
    decision: 'confirm' | 'reject';
    operator: string;
    /** what the operator was shown (decideHeldRoster): applied only if the roster would still do that */
    shown?: { wouldClose: number; openBefore: number; wouldOpen?: number };
  },
): Promise<{ opened: number; closed: number; campaign?: string }> {
  const { submissionId, decision, operator } = input;
  const decided = await decideHeldRoster(deps.pool, submissionId, decision, operator, input.shown);
  const campaigns = await deps.pool.query<{ year: number; drill: boolean }>(
    `SELECT DISTINCT year, coalesce((policy->>'drill')::boolean, false) AS drill FROM campaign_policies
     WHERE jurisdiction = $1 AND left(policy->'calendar'->'rosterAsOf'->>'at', 10) = $2`,
    [decided.jurisdiction, decided.period],
  );
  let told: string | undefined;
  const client = campaigns.rows.length ? await deps.temporal?.().catch(() => undefined) : undefined;
  for (const c of campaigns.rows) {
    const id = campaignWorkflowId(decided.jurisdiction, c.year) + (c.drill ? '-drill' : '');
    try {
      await client?.workflow.getHandle(id).signal(rosterDecidedSignal, {
        department: decided.department,
        submissionId,
        decision: decision === 'confirm' ? 'confirmed' : 'rejected',
        operator,
      });
      if (client) told = id;
    } catch {
      // not running: the ledger holds the decision, which is what counts
    }
  }
  return { opened: decided.opened, closed: decided.closed, ...(told ? { campaign: told } : {}) };
}

/** What to say when `workflowId` is not found: the other kind of that year (drill or real), if it runs. */
async function notRunningMessage(client: Client, workflowId: string): Promise<string> {
  const drill = workflowId.endsWith('-drill');
  const other = drill ? workflowId.slice(0, -'-drill'.length) : `${workflowId}-drill`;
  const running = await client.workflow
    .getHandle(other)
    .describe()
    .then((d) => d.status.name === 'RUNNING')
    .catch(() => false);
  if (running && !drill)
    return `no campaign ${workflowId} is running, but a drill of that year is (${other}): to hand the roster to the drill, add --drill`;
  if (running)
    return `no drill ${workflowId} is running, but the real year is (${other}): to hand the roster to it, leave out --drill`;
  return `no campaign ${workflowId} is running (workflow not found): start it with campaign start, or see campaign status${drill ? ' --drill' : ''}`;
}
