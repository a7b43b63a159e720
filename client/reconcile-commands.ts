/**
 * The monthly reconciliation's Temporal Schedule, one per jurisdiction: created from the policy (its delta
 * day, Asia/Shanghai, overlap SKIP, a catch-up window), and described, paused, unpaused, triggered and
 * backfilled from the command line; `run` reconciles one month directly.
 */
import { ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import { policyHash } from '../activities/campaign';
import type { Policy } from '../domain/policy';
import {
  MonthlyReconciliationWorkflow,
  reconciliationScheduleId,
  type ReconciliationResult,
} from '../workflows/reconciliation';

export async function createReconciliationSchedule(
  client: Client,
  taskQueue: string,
  policy: Policy,
  options: { paused?: boolean; graceMs?: number } = {},
): Promise<string> {
  const scheduleId = reconciliationScheduleId(policy.jurisdiction);
  await client.schedule.create({
    scheduleId,
    spec: {
      calendars: [{ dayOfMonth: policy.calendar.monthlyDelta.day, hour: 9, minute: 0 }],
      timezone: 'Asia/Shanghai',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '30 days' },
    action: {
      type: 'startWorkflow',
      workflowType: MonthlyReconciliationWorkflow,
      workflowId: scheduleId,
      taskQueue,
      args: [
        {
          policy,
          policyHash: policyHash(policy),
          ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
        },
      ],
    },
    state: {
      paused: options.paused ?? false,
      note: `monthly delta day ${policy.calendar.monthlyDelta.day} (${policy.calendar.monthlyDelta.source})`,
    },
  });
  return scheduleId;
}

export async function describeSchedule(client: Client, jurisdiction: string): Promise<ScheduleDescription> {
  return client.schedule.getHandle(reconciliationScheduleId(jurisdiction)).describe();
}

export async function setSchedulePaused(client: Client, jurisdiction: string, paused: boolean, note: string) {
  const handle = client.schedule.getHandle(reconciliationScheduleId(jurisdiction));
  if (paused) await handle.pause(note);
  else await handle.unpause(note);
}

export async function triggerSchedule(client: Client, jurisdiction: string) {
  await client.schedule
    .getHandle(reconciliationScheduleId(jurisdiction))
    .trigger(ScheduleOverlapPolicy.ALLOW_ALL);
}

/** Runs every scheduled time between `start` and `end` that was missed (each reconciles its own month). */
export async function backfillSchedule(client: Client, jurisdiction: string, start: Date, end: Date) {
  await client.schedule
    .getHandle(reconciliationScheduleId(jurisdiction))
    .backfill([{ start, end, overlap: ScheduleOverlapPolicy.ALLOW_ALL }]);
}

export async function reconcileMonth(
  client: Client,
  taskQueue: string,
  policy: Policy,
  month: string,
): Promise<ReconciliationResult> {
  return client.workflow.execute(MonthlyReconciliationWorkflow, {
    taskQueue,
    workflowId: `${reconciliationScheduleId(policy.jurisdiction)}-${month}`,
    args: [{ policy, policyHash: policyHash(policy), month, graceMs: 0 }],
  });
}
