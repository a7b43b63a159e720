/**
 * The monthly reconciliation's Temporal Schedule, one per jurisdiction: created from the policy (its delta
 * day, Asia/Shanghai, overlap SKIP, a catch-up window), and described, paused, unpaused, triggered and
 * backfilled from the command line; `run` reconciles one month directly.
 */
import { ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import { policyHash } from '../ledger/policy-hash';
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

/** What a trigger did: the reconciliation run it started, when the server has recorded it. */
export interface TriggerResult {
  scheduleId: string;
  started?: { workflowId: string; runId: string; at: Date };
}

/**
 * Starts the schedule's action now (overlap ALLOW_ALL), then waits up to `waitMs` (default 10 s) for the
 * server to record the run it started, so the operator is told which workflow to follow.
 *
 * Errors: the client's, e.g. a schedule that does not exist (ScheduleNotFoundError).
 */
export async function triggerSchedule(
  client: Client,
  jurisdiction: string,
  waitMs = 10_000,
): Promise<TriggerResult> {
  const handle = client.schedule.getHandle(reconciliationScheduleId(jurisdiction));
  const before = new Set(
    (await handle.describe()).info.recentActions.map((a) => a.action.workflow.firstExecutionRunId),
  );
  await handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const fresh = (await handle.describe()).info.recentActions.find(
      (a) => !before.has(a.action.workflow.firstExecutionRunId),
    );
    if (fresh)
      return {
        scheduleId: handle.scheduleId,
        started: {
          workflowId: fresh.action.workflow.workflowId,
          runId: fresh.action.workflow.firstExecutionRunId,
          at: fresh.takenAt,
        },
      };
    if (Date.now() > deadline) return { scheduleId: handle.scheduleId };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What `reconcile schedule trigger` prints. */
export function formatTrigger(r: TriggerResult, timeZone = 'Asia/Shanghai'): string {
  return r.started
    ? `schedule ${r.scheduleId} triggered: started ${r.started.workflowId} (run ${r.started.runId}) at ${formatInZone(r.started.at, timeZone)}\n`
    : `schedule ${r.scheduleId} triggered; the server has not recorded the run yet: see \`reconcile schedule describe\`\n`;
}

/**
 * An instant as a wall-clock time in a time zone, `2024-12-10 09:00:00 Beijing time` for Asia/Shanghai
 * (the schedule's zone) and `… <zone>` for another.
 */
export function formatInZone(at: Date, timeZone = 'Asia/Shanghai'): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const zone = timeZone === 'Asia/Shanghai' ? 'Beijing time' : timeZone;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${zone}`;
}

/** What `reconcile schedule describe` prints: state, policy, the next three runs and the recent ones, in the schedule's zone. */
export function formatScheduleDescription(d: ScheduleDescription): string {
  const zone = d.spec.timezone ?? 'UTC';
  const recent = d.info.recentActions.map(
    (a) => `${formatInZone(a.scheduledAt, zone)} -> ${a.action.workflow.workflowId}`,
  );
  return (
    `${d.scheduleId}: ${d.state.paused ? 'paused' : 'running'}${d.state.note ? ` (${d.state.note})` : ''}; time zone ${zone}; overlap ${d.policies.overlap}\n` +
    `next: ${
      d.info.nextActionTimes
        .slice(0, 3)
        .map((t) => formatInZone(t, zone))
        .join(', ') || 'none'
    }\n` +
    `recent: ${recent.join(', ') || 'none'}\n`
  );
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
