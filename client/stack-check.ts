import type { Client } from '@temporalio/client';
import { StackCheckWorkflow, type StackCheckResult } from '../workflows/stack-check';
import { stackCheckWorkflowId } from '../workflows/names';

/** Starts a stack check and waits for the ledger row id it wrote. */
export async function runStackCheck(
  client: Client,
  taskQueue: string,
  args: { requestedBy: string; note?: string; waitFirst?: string },
): Promise<StackCheckResult> {
  const workflowId = stackCheckWorkflowId(new Date().toISOString().replace(/[:.]/g, '-'));
  return client.workflow.execute(StackCheckWorkflow, { taskQueue, workflowId, args: [args] });
}
