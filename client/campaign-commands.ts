/**
 * Operators' commands for a real campaign on a dev server or cluster: start one (from the seed policy, a
 * policy file, or a drill of either), see its status, hand in a department's roster.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { policyHash } from '../activities/campaign';
import type { Policy } from '../domain/policy';
import {
  AnnualCampaignWorkflow,
  campaignWorkflowId,
  progressQuery,
  submitRosterUpdate,
  type CampaignProgress,
  type RosterStatus,
} from '../workflows/campaign';

export class CampaignAlreadyRunning extends Error {
  override name = 'CampaignAlreadyRunning';
}

export async function startCampaign(
  client: Client,
  options: { taskQueue: string; policy: Policy; operator: string; maxHistoryEvents?: number },
): Promise<{ workflowId: string; runId: string; policyHash: string; drill: boolean }> {
  const { policy } = options;
  const workflowId = campaignWorkflowId(policy.jurisdiction, policy.year) + (policy.drill ? '-drill' : '');
  const hash = policyHash(policy);
  try {
    const handle = await client.workflow.start(AnnualCampaignWorkflow, {
      taskQueue: options.taskQueue,
      workflowId,
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

export async function submitRoster(
  client: Client,
  workflowId: string,
  input: { department: string; path: string; operator: string },
): Promise<RosterStatus> {
  return client.workflow.getHandle(workflowId).executeUpdate(submitRosterUpdate, { args: [input] });
}
