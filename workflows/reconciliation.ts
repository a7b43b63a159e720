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

const acts = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes' },
});

const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

export interface ReconciliationInput {
  policy: Policy;
  policyHash: string;
  /** YYYY-MM; default: the month before the scheduled time. */
  month?: string;
  /** How long to wait for a department's delta after the delta day before escalating. */
  graceMs?: number;
  /** The registration day (a rehearsal passes its campaign date); default today in China. */
  effectiveOn?: string;
}

export interface ReconciliationResult {
  jurisdiction: string;
  month: string;
  alreadyReconciledBy?: string;
  departments: Record<
    string,
    {
      status: 'imported' | 'escalated';
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
  const d = new Date(ms + 8 * 3600_000); // China date
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth(); // 0-based: the previous month's 1-based number
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, '0')}`;
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
  const effectiveOn = input.effectiveOn ?? new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
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
    const r = await acts.importDelta(ref, { department: d.id, month, path, effectiveOn });
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
