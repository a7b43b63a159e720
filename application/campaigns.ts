/**
 * Use cases on a campaign year, called alike by the command line (client/commands/) and the web console
 * (console/routes/): start a year, hand in a department's roster, decide a held roster. Each takes the
 * caller's own ledger connection (a person's login) and a Temporal client; none reads the environment.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { StoredFileRef } from '../ledger/exchange-store';
import { decideHeldRoster } from '../lists/import-list';
import { startCampaign } from './campaign-workflow';
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
 * held by the server: throws CampaignAlreadyRunning (application/campaign-workflow.ts startCampaign).
 */
export async function startCampaignYear(
  deps: { pool: pg.Pool; client: Client; taskQueue: string },
  input: { policy: Policy; operator: string; drillMinutes?: number; now?: number },
): Promise<{ workflowId: string; runId: string; policyHash: string; drill: boolean }> {
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
 * Hands a department's roster file (`path`, on this machine) to the running campaign `workflowId`: the bytes
 * go into the ledger by digest (application/uploads.ts; throws UploadRefused for a missing, special or oversize
 * file, before any Temporal connection is asked of `temporal`), then the campaign's submit-roster Update
 * imports them in the worker. Resolves with the stored file
 * and the import's counts (or `held`); rejects with the file's refusal (WorkflowUpdateFailedError whose
 * causes name the file, row and field).
 */
export async function submitRosterFile(
  deps: { pool: pg.Pool; temporal: () => Promise<Client> },
  input: { workflowId: string; department: string; path: string; operator: string },
): Promise<{ stored: StoredFileRef; status: RosterStatus }> {
  const stored = await uploadFile(deps.pool, input.path, input.operator);
  const client = await deps.temporal();
  const status = await client.workflow.getHandle(input.workflowId).executeUpdate(submitRosterUpdate, {
    args: [{ department: input.department, file: stored, operator: input.operator }],
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
