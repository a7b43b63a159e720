/**
 * `audit history`: a campaign's workflow history as a timeline in the domain's words (phase changes,
 * rosters, deduction rounds with their counts, reports, claims, operator actions with who), following
 * the continue-as-new chain. Payloads are decoded with the client's codec, so only those who hold the
 * keys read them.
 */
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';

export interface TimelineEntry {
  at: string;
  runId: string;
  what: string;
  detail?: unknown;
}

type Event = {
  eventTime?: { seconds?: { toNumber(): number } | number | null } | null;
  eventType?: number | null;
  activityTaskScheduledEventAttributes?: {
    activityType?: { name?: string | null } | null;
    input?: { payloads?: Payload[] | null } | null;
  } | null;
  activityTaskCompletedEventAttributes?: {
    scheduledEventId?: { toNumber(): number } | number | null;
    result?: { payloads?: Payload[] | null } | null;
  } | null;
  workflowExecutionStartedEventAttributes?: {
    continuedExecutionRunId?: string | null;
    input?: { payloads?: Payload[] | null } | null;
  } | null;
  workflowExecutionUpdateAcceptedEventAttributes?: {
    acceptedRequest?: {
      input?: { name?: string | null; args?: { payloads?: Payload[] | null } | null } | null;
    } | null;
  } | null;
  timerStartedEventAttributes?: {
    startToFireTimeout?: { seconds?: { toNumber(): number } | number | null } | null;
  } | null;
  eventId?: { toNumber(): number } | number | null;
};

const num = (v: { toNumber(): number } | number | null | undefined) =>
  v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber();

const PHRASES: Record<string, (args: unknown[], result: unknown) => string> = {
  storePolicySnapshot: () => 'policy snapshot stored',
  requestRoster: (a, r) => `asked ${String(a[1])} for its roster: ${r ? 'received' : 'not sent yet'}`,
  importRoster: (a, r) => {
    const x = r as { rowsRead: number; rowsAccepted: number; rowsRejected: number };
    return `imported the roster of ${(a[1] as { department: string }).department}: ${x.rowsRead} rows = ${x.rowsAccepted} accepted + ${x.rowsRejected} rejected`;
  },
  openEnrollments: (a, r) => {
    const x = r as { renewed: number; subsidisedRegistered: number; fullySubsidised: number };
    return `enrollments opened as of ${String(a[1])}: ${x.renewed} renewed, ${x.subsidisedRegistered} subsidised (${x.fullySubsidised} in full)`;
  },
  createLevyBatch: (a, r) => {
    const x = r as { batchId: number; lines: number; totalFen: number };
    return `levy round ${String(a[1])}: batch ${x.batchId}, ${x.lines} lines, ${(x.totalFen / 100).toFixed(2)} yuan`;
  },
  sendLevyToTax: (a) => `levy data of batch ${(a[1] as { batchId: number }).batchId} sent to the tax bureau`,
  fetchTaxResults: (a, r) =>
    `results of batch ${String(a[1])} received from the tax bureau: ${(r as { rows: number }).rows} lines`,
  applyDeductionResults: (_a, r) => {
    const x = r as {
      batchId: number;
      success: number;
      personal: number;
      systemic: number;
      duplicates: number;
    };
    return `results of batch ${x.batchId} applied: ${x.success} paid, ${x.personal} personal and ${x.systemic} systemic failures${x.duplicates ? `, ${x.duplicates} duplicate lines ignored` : ''}`;
  },
  snapshotCoverage: (a, r) => {
    const x = r as { enrolled: number; to_enroll: number };
    return `progress ${(a[1] as { key: string }).key}: ${x.enrolled} enrolled of ${x.to_enroll} to enroll`;
  },
  cutOff: (_a, r) => `cut-off: ${(r as { abandoned: number }).abandoned} abandoned (视为自动弃保)`,
  claimSubsidies: (a, r) => {
    const x = r as {
      claims: { persons: number; totalFen: number }[];
      receipt: string;
      excludedCount: number;
    };
    const persons = x.claims.reduce((s, c) => s + c.persons, 0);
    const total = x.claims.reduce((s, c) => s + c.totalFen, 0);
    return `subsidy claim due ${(a[1] as { dueOn: string }).dueOn}: ${persons} people, ${(total / 100).toFixed(2)} yuan, receipt ${x.receipt}${x.excludedCount ? `, ${x.excludedCount} left out` : ''}`;
  },
  recordCampaignEvent: (a) => {
    const e = a[1] as { kind: string; detail: Record<string, string | undefined> };
    return e.kind === 'phase'
      ? `phase: ${String(e.detail.phase)}`
      : `${e.kind}${e.detail.department ? ` (${String(e.detail.department)})` : ''}${e.detail.operator ? ` by ${String(e.detail.operator)}` : ''}`;
  },
  applyHouseholdForm: (a, r) =>
    `附件1 ${(a[1] as { kind: string }).kind}: ${(r as { result: string }).result}`,
};

export async function campaignTimeline(client: Client, workflowId: string): Promise<TimelineEntry[]> {
  const converter = client.options.loadedDataConverter;
  const decode = async (payloads: Payload[] | null | undefined): Promise<unknown[]> => {
    if (!payloads?.length) return [];
    let decoded = payloads;
    for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
    return decoded.map((p) => converter.payloadConverter.fromPayload(p));
  };
  // walk back the continue-as-new chain from the latest run
  const runIds: string[] = [];
  const histories = new Map<string, Event[]>();
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = (history.events ?? []) as Event[];
    runIds.unshift(runId);
    histories.set(runId, events);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  const timeline: TimelineEntry[] = [];
  for (const id of runIds) {
    const events = histories.get(id)!;
    const scheduled = new Map<number, { name: string; args: unknown[] }>();
    for (const e of events) {
      const at = new Date(num(e.eventTime?.seconds) * 1000).toISOString();
      if (e.workflowExecutionStartedEventAttributes) {
        const [input] = (await decode(e.workflowExecutionStartedEventAttributes.input?.payloads)) as [
          { operator?: string; policyHash?: string; cursor?: number }?,
        ];
        timeline.push({
          at,
          runId: id,
          what: input?.cursor
            ? `run continued at agenda item ${input.cursor}`
            : `campaign started by ${input?.operator ?? '?'} under policy ${input?.policyHash?.slice(0, 12) ?? '?'}`,
        });
      } else if (e.activityTaskScheduledEventAttributes) {
        scheduled.set(num(e.eventId), {
          name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
          args: await decode(e.activityTaskScheduledEventAttributes.input?.payloads),
        });
      } else if (e.activityTaskCompletedEventAttributes) {
        const s = scheduled.get(num(e.activityTaskCompletedEventAttributes.scheduledEventId));
        if (!s) continue;
        const [result] = await decode(e.activityTaskCompletedEventAttributes.result?.payloads);
        const phrase = PHRASES[s.name];
        timeline.push({ at, runId: id, what: phrase ? phrase(s.args, result) : s.name, detail: result });
      } else if (e.workflowExecutionUpdateAcceptedEventAttributes) {
        const req = e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input;
        const [arg] = (await decode(req?.args?.payloads)) as [
          { operator?: string; department?: string; kind?: string }?,
        ];
        timeline.push({
          at,
          runId: id,
          what: `operator ${arg?.operator ?? '?'}: ${req?.name ?? 'update'}${arg?.department ? ` for ${arg.department}` : ''}${arg?.kind ? ` (${arg.kind})` : ''}`,
        });
      } else if (e.timerStartedEventAttributes) {
        const seconds = num(e.timerStartedEventAttributes.startToFireTimeout?.seconds);
        timeline.push({
          at,
          runId: id,
          what: `waiting ${(seconds / 86400).toFixed(1)} days for the next date of the calendar`,
        });
      }
    }
  }
  return timeline;
}

export function formatTimeline(entries: TimelineEntry[]): string {
  return entries.map((e) => `${e.at}  ${e.what}`).join('\n') + '\n';
}
