/**
 * MonthlyReconciliationWorkflow: last month's additions and removals from each certifying department,
 * on a Temporal Schedule per jurisdiction (the policy's delta day, Asia/Shanghai). The month comes from
 * the schedule's scheduled time (or the input), and is claimed first, so a trigger, a backfill or a retry
 * never reconciles a month twice.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { log, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { CampaignActivities, CampaignRef } from '../activities/campaign';
import type { Policy } from '../domain/policy';
import { chinaDateOf } from '../domain/dates';
import { NON_RETRYABLE_FAILURES } from '../domain/failures';
import { deltaRegistrationDay } from '../domain/reconciliation';
import { refusalOf } from './failures';

/**
 * Each month's steps are idempotent (the month is claimed, a delta imported once by digest): eight attempts
 * over about ten minutes ride out a worker or database restart; a delta file that cannot be read is refused
 * at once (the department is escalated, the other departments' deltas still reconciled).
 */
const acts = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '5 minutes',
  retry: {
    initialInterval: '5 seconds',
    maximumInterval: '5 minutes',
    maximumAttempts: 8,
    nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
  },
});

const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

export interface ReconciliationInput {
  policy: Policy;
  policyHash: string;
  /** YYYY-MM; default: the month before the scheduled time. */
  month?: string;
  /** How long to wait for a department's delta after the delta day before escalating. */
  graceMs?: number;
  /**
   * The registration day additions are subsidised from (a rehearsal passes its campaign date); default: the
   * month's own registration day (deltaRegistrationDay), never the day the reconciliation happens to run.
   */
  effectiveOn?: string;
}

export interface ReconciliationResult {
  jurisdiction: string;
  month: string;
  alreadyReconciledBy?: string;
  departments: Record<
    string,
    {
      status: 'imported' | 'refused' | 'escalated';
      /** A delta file that could not be read: its failure type and masked reason. */
      refusal?: { type: string; message: string };
      rows?: number;
      accepted?: number;
      rejected?: number;
      added?: number;
      removed?: number;
    }
  >;
  conflicts?: number;
  newlyRegistered?: number;
}

export function reconciliationScheduleId(jurisdiction: string): string {
  return `reconcile-${jurisdiction}`;
}

function previousMonth(ms: number): string {
  const [y, m] = chinaDateOf(ms).split('-').map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

export async function MonthlyReconciliationWorkflow(
  input: ReconciliationInput,
): Promise<ReconciliationResult> {
  const { policy } = input;
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(TemporalScheduledStartTime);
  const month = input.month ?? previousMonth(scheduled ? scheduled.getTime() : Date.now());
  const ref: CampaignRef = {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    policyHash: input.policyHash,
  };
  const effectiveOn = input.effectiveOn ?? deltaRegistrationDay(policy, month);
  const result: ReconciliationResult = { jurisdiction: policy.jurisdiction, month, departments: {} };

  await acts.storePolicySnapshot({ policy, hash: input.policyHash });
  const claim = await acts.claimReconciliationMonth(ref, { month, workflowId: info.workflowId });
  if (!claim.claimed) {
    log.info('month already reconciled', { month, by: claim.by });
    return { ...result, alreadyReconciledBy: claim.by };
  }
  for (const d of policy.departments) {
    let path = await acts.fetchDelta(ref, { department: d.id, month });
    if (!path) {
      await sleep(input.graceMs ?? 3 * 24 * 3600_000);
      path = await acts.fetchDelta(ref, { department: d.id, month });
    }
    if (!path) {
      result.departments[d.id] = { status: 'escalated' };
      await acts.recordCampaignEvent(ref, {
        key: `delta-escalated-${d.id}-${month}`,
        kind: 'delta-escalated',
        campaignAtMs: Date.now(),
        detail: { department: d.id, month },
      });
      continue;
    }
    let r;
    try {
      r = await acts.importDelta(ref, { department: d.id, month, file: path, effectiveOn });
    } catch (error) {
      const refusal = refusalOf(error);
      if (!refusal) throw error;
      result.departments[d.id] = { status: 'refused', refusal };
      await acts.recordCampaignEvent(ref, {
        key: `delta-refused-${d.id}-${month}`,
        kind: 'delta-refused',
        campaignAtMs: Date.now(),
        detail: { department: d.id, month, type: refusal.type, reason: refusal.message },
      });
      continue;
    }
    result.departments[d.id] = {
      status: 'imported',
      rows: r.rows,
      accepted: r.accepted,
      rejected: r.rejected,
      added: r.added,
      removed: r.removed,
    };
  }
  const settled = await acts.settleMonth(ref, {
    month,
    effectiveOn,
    summary: { departments: result.departments },
  });
  return { ...result, ...settled };
}
