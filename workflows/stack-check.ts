import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_FAILURES } from '../domain/failures';

/** One row written: five attempts (about a minute) ride out a database restart; a check is not a campaign. */
const { recordStackCheck } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
  },
});

export interface StackCheckArgs {
  requestedBy: string;
  note?: string;
  /** A durable timer before the write (e.g. '30 days'), to prove timers survive and skip in tests. */
  waitFirst?: string;
}

export interface StackCheckResult {
  ledgerRowId: number;
  workflowId: string;
}

/** Proves the stack end to end: a workflow whose activity writes one row to the PostgreSQL ledger. */
export async function StackCheckWorkflow(args: StackCheckArgs): Promise<StackCheckResult> {
  if (args.waitFirst) await sleep(args.waitFirst as Parameters<typeof sleep>[0]);
  const { workflowId } = workflowInfo();
  const ledgerRowId = await recordStackCheck({ workflowId, requestedBy: args.requestedBy, note: args.note });
  return { ledgerRowId, workflowId };
}
