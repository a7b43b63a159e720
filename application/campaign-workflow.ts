/**
 * The campaign workflow as the application drives it, on a dev server or cluster: start a year (from the
 * seed policy, a policy file, or a drill of either), read its status, hand in a department's roster, retry
 * a failed step. The use cases the CLI and the console call (application/campaigns.ts) are built on these;
 * `campaign status` and `campaign retry` call campaignStatus and retryStep directly.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type pg from 'pg';
import { policyHash } from '../activities/campaign';
import type { Policy } from '../domain/policy';
import type { StoredFileRef } from '../ledger/exchange-store';
import {
  AnnualCampaignWorkflow,
  campaignWorkflowId,
  progressQuery,
  retryStepUpdate,
  submitRosterUpdate,
  type CampaignProgress,
  type RosterStatus,
} from '../workflows/campaign';

export class CampaignAlreadyRunning extends Error {
  override name = 'CampaignAlreadyRunning';
}

/**
 * Starts a campaign year. A year is started once: Temporal refuses an id it still holds, running or closed
 * (REJECT_DUPLICATE; a drill may run again once closed), and, given the ledger, a real year whose campaign closed there is refused even after the
 * server has forgotten it (retention). Throws CampaignAlreadyRunning naming the existing run.
 */
export async function startCampaign(
  client: Client,
  options: {
    taskQueue: string;
    policy: Policy;
    operator: string;
    maxHistoryEvents?: number;
    /** The ledger, to refuse a year that closed there. */
    pool?: pg.Pool;
  },
): Promise<{ workflowId: string; runId: string; policyHash: string; drill: boolean }> {
  const { policy } = options;
  const workflowId = campaignWorkflowId(policy.jurisdiction, policy.year) + (policy.drill ? '-drill' : '');
  const hash = policyHash(policy);
  if (options.pool && !policy.drill) {
    const closed = await options.pool.query<{ at: Date }>(
      // closed, and under a real (not a drill's) policy of that year
      `SELECT e.recorded_at AS at FROM campaign_events e
       WHERE e.jurisdiction = $1 AND e.campaign_year = $2 AND e.event_key = 'phase-closed'
         AND EXISTS (SELECT 1 FROM campaign_policies p WHERE p.jurisdiction = $1 AND p.year = $2
                       AND NOT coalesce((p.policy->>'drill')::boolean, false))`,
      [policy.jurisdiction, policy.year],
    );
    if (closed.rows[0])
      throw new CampaignAlreadyRunning(
        `the ${policy.jurisdiction} ${policy.year} campaign closed on ${closed.rows[0].at.toISOString()} (ledger); a closed year is not started again`,
      );
  }
  try {
    const handle = await client.workflow.start(AnnualCampaignWorkflow, {
      taskQueue: options.taskQueue,
      workflowId,
      // a drill may be run again once it closed; a real year never
      workflowIdReusePolicy: policy.drill
        ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
        : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [
        {
          policy,
          policyHash: hash,
          operator: options.operator,
          rehearsal: false,
          searchAttributes: true,
          ...(options.maxHistoryEvents ? { maxHistoryEvents: options.maxHistoryEvents } : {}),
        },
      ],
      memo: { startedBy: options.operator, policyHash: hash },
    });
    return { workflowId, runId: handle.firstExecutionRunId, policyHash: hash, drill: policy.drill };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      const existing = await client.workflow.getHandle(workflowId).describe();
      throw new CampaignAlreadyRunning(
        `the ${policy.jurisdiction} ${policy.year} campaign${policy.drill ? ' drill' : ''} already exists: workflow ${workflowId}, run ${existing.runId}, ${existing.status.name} since ${existing.startTime.toISOString()}. It is not started twice.`,
      );
    }
    throw error;
  }
}

export async function campaignStatus(
  client: Client,
  workflowId: string,
): Promise<{ status: string; runId: string; progress: CampaignProgress | null }> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  let progress: CampaignProgress | null = null;
  try {
    progress = await handle.query(progressQuery);
  } catch {
    progress = null;
  }
  return { status: d.status.name, runId: d.runId, progress };
}

/**
 * Hands a roster (already uploaded, named by digest: application/uploads.ts) to the campaign. Resolves with the
 * import's counts (or `held`); rejects with the file's refusal (WorkflowUpdateFailedError whose cause names
 * the file and what is wrong) within seconds, and the campaign goes on.
 */
export async function submitRoster(
  client: Client,
  workflowId: string,
  input: { department: string; file: StoredFileRef; operator: string },
): Promise<RosterStatus> {
  return client.workflow.getHandle(workflowId).executeUpdate(submitRosterUpdate, { args: [input] });
}

/** Asks a campaign waiting on a failed step (progress.attention) to run it again. */
export async function retryStep(
  client: Client,
  workflowId: string,
  operator: string,
): Promise<{ step: string }> {
  return client.workflow.getHandle(workflowId).executeUpdate(retryStepUpdate, { args: [{ operator }] });
}
