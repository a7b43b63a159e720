/**
 * What auditors read of a campaign's workflow history.
 *
 * - `collectRuns`: every run that belongs to a campaign: the continue-as-new chain of the campaign
 *   workflow and, recursively, the child workflows it started (the monthly reconciliations).
 * - `campaignTimeline`: those runs as one timeline in the domain's words: phase changes, each exchange with
 *   department, direction, rows and digest, each deduction round with its counts, each decision with the
 *   rule of the plan it follows (quoted from the policy the run started with), each operator action with
 *   who. Payloads are decoded with the client's codec, so only those who hold the keys read them; the
 *   timeline itself names no person.
 * - `exportHistories`: the raw histories as JSON files (the format `temporal workflow show -o json` and
 *   the SDK's replayer read), with an index of event counts and SHA-256 digests.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type proto from '@temporalio/proto';
import { departmentName } from '../domain/departments';
import { buildAgenda } from '../domain/agenda';
import { chinaMinuteOf } from '../domain/dates';
import type { ActivityName } from '../activities';
import type { Policy } from '../domain/policy';
import { escapeHtml } from '../documents/html';

type History = proto.temporal.api.history.v1.IHistory;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

export interface RunHistory {
  workflowId: string;
  runId: string;
  workflowType: string;
  /** The workflow that started this one as a child, if any. */
  parentWorkflowId: string | null;
  history: History;
}

export type TimelineKind =
  'run' | 'phase' | 'exchange' | 'deduction' | 'decision' | 'operator' | 'wait' | 'report';

export interface TimelineEntry {
  /** When the server recorded it (UTC). */
  at: string;
  /** The same instant in the campaign's own calendar, China time (a rehearsal's shifted clock undone). */
  campaignTime: string;
  workflowId: string;
  runId: string;
  kind: TimelineKind;
  /** What happened, in English (kept for scripts: `--json`). */
  what: string;
  /** The same in Chinese, the documents' words: what the text and HTML timelines show. */
  zh: string;
  /** The plan's rule this step follows, as the policy quotes it. */
  source?: string;
  /** Department, direction, rows and digest of a file that crossed a boundary. */
  exchange?: {
    department: string;
    /** The department's Chinese name. */
    departmentName?: string;
    direction: 'in' | 'out';
    rows: number | null;
    sha256: string | null;
  };
  detail?: unknown;
}

type Long = { toNumber(): number } | number | null | undefined;
const num = (v: Long) => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());
const timeOf = (e: HistoryEvent) =>
  new Date(num(e.eventTime?.seconds) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6)).toISOString();

/**
 * The digest a stored exchange file is named by: a `{ sha256, fileName }` reference, or (older histories) a
 * store path `…/ab/ab12…#name.csv` → `ab12…`.
 */
const digestOf = (file: unknown) => {
  if (file && typeof file === 'object' && typeof (file as { sha256?: unknown }).sha256 === 'string')
    return (file as { sha256: string }).sha256;
  const m = typeof file === 'string' ? /([0-9a-f]{64})(?:#|$)/.exec(file) : null;
  return m ? m[1]! : null;
};

async function fetchRun(client: Client, workflowId: string, runId?: string) {
  const handle = client.workflow.getHandle(workflowId, runId);
  const resolvedRunId = runId ?? (await handle.describe()).runId;
  const history = await client.workflow.getHandle(workflowId, resolvedRunId).fetchHistory();
  return { runId: resolvedRunId, history };
}

/** The campaign's runs, oldest first: its continue-as-new chain, then each child's, depth first. */
/**
 * Every run of a workflow's continue-as-new chain, ending at `lastRunId` (default: the latest run with that
 * id), followed by each run's child workflows. A campaign id started again after it closed has older chains:
 * `listExecutions` names their runs.
 */
export async function collectRuns(
  client: Client,
  workflowId: string,
  parent: string | null = null,
  lastRunId?: string,
) {
  const chain: RunHistory[] = [];
  let runId: string | undefined = lastRunId;
  let first = lastRunId === undefined;
  for (;;) {
    const { runId: id, history } = await fetchRun(client, workflowId, first ? undefined : runId);
    first = false;
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    chain.unshift({
      workflowId,
      runId: id,
      workflowType: started?.workflowType?.name ?? '?',
      parentWorkflowId: parent,
      history,
    });
    runId = started?.continuedExecutionRunId || undefined;
    if (!runId) break;
  }
  const runs: RunHistory[] = [];
  for (const run of chain) {
    runs.push(run);
    for (const e of run.history.events ?? []) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId) runs.push(...(await collectRuns(client, child.workflowId, workflowId)));
    }
  }
  return runs;
}

interface Phrase {
  kind: TimelineKind;
  what: string;
  source?: string;
  exchange?: TimelineEntry['exchange'];
}

const rosterFile = (args: unknown[]): unknown => {
  const input = args[1] as { path?: string; file?: unknown } | undefined;
  return input?.file ?? input?.path ?? (typeof args[1] === 'string' ? args[1] : undefined);
};

/** A department's Chinese name under the policy of the run being told. */
const deptZh = (d: unknown, policy?: Policy) => departmentName(String(d), policy);
const PHASE_ZH: Record<string, string> = {
  'roster-submission': '名单报送',
  'changes-and-stops': '变更与停保',
  deduction: '首次批扣',
  'follow-up': '扣费失败跟进',
  'cut-off': '截止',
  'subsidy-claim': '财政补助申请',
  closed: '结束',
};
const EVENT_ZH: Record<string, string> = {
  'roster-reminder': '催报名单',
  'roster-escalated': '名单逾期上报',
  'roster-refused': '名单文件被拒收',
  'roster-held': '名单暂缓生效（待确认）',
  'operator-submitted-roster': '经办人提交名单',
  'delta-escalated': '月度名单逾期上报',
  'delta-refused': '月度名单文件被拒收',
  'claim-rejected': '财政局退回补助申请',
  'step-failed': '步骤失败，待经办人重试',
};
const yuanZh = (fen: number) => (fen / 100).toFixed(2);

/** The marker the SDK records a local activity's result in (its details: `data`, the step's type; `result`). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** A table's entry for an activity named in a history (a name from elsewhere has none). */
function byActivity<T>(table: Partial<Record<ActivityName, T>>, name: string): T | undefined {
  return (table as Partial<Record<string, T>>)[name];
}

/** Each activity's completion in Chinese (the same facts as PHRASES). */
const PHRASES_ZH: Partial<
  Record<ActivityName, (args: unknown[], result: unknown, policy?: Policy) => string>
> = {
  storePolicySnapshot: () => '保存政策快照',
  requestRoster: (a, r, p) => `向${deptZh(a[1], p)}索取花名册：${r ? '已收到' : '尚未报送'}`,
  importRoster: (a, r, p) => {
    const x = r as {
      rowsRead: number;
      rowsAccepted: number;
      rowsRejected: number;
      rowsSkipped?: number;
      held?: boolean;
    };
    return `导入${deptZh((a[1] as { department: string }).department, p)}花名册：读取 ${x.rowsRead} 行 = 接受 ${x.rowsAccepted} + 拒收 ${x.rowsRejected}${x.rowsSkipped ? ` + 跳过 ${x.rowsSkipped}` : ''}${x.held ? '；将关闭过多身份标识，暂缓生效待确认' : ''}`;
  },
  openEnrollments: (a, r) => {
    const x = r as { renewed: number; subsidisedRegistered: number; fullySubsidised: number };
    return `截至 ${String(a[1])} 登记参保：续保 ${x.renewed} 人，资助参保 ${x.subsidisedRegistered} 人（全额资助 ${x.fullySubsidised} 人）`;
  },
  createLevyBatch: (a, r) => {
    const x = r as { batchId: number; lines: number; totalFen: number };
    return `第 ${String(a[1])} 轮应征数据：批次 ${x.batchId}，${x.lines} 条，${yuanZh(x.totalFen)} 元`;
  },
  sendLevyToTax: (a, r) => {
    const x = r as { rows?: number };
    return `批次 ${(a[1] as { batchId: number }).batchId} 应征数据发送税务局${x.rows === undefined ? '' : `：${x.rows} 条`}`;
  },
  fetchTaxResults: (a, r) => `收到税务局批次 ${String(a[1])} 扣费结果：${(r as { rows: number }).rows} 条`,
  applyDeductionResults: (_a, r) => {
    const x = r as {
      batchId: number;
      success: number;
      personal: number;
      systemic: number;
      duplicates?: number;
    };
    return `批次 ${x.batchId} 扣费结果入账：扣费成功 ${x.success} 人，个人原因失败 ${x.personal} 人，系统原因失败 ${x.systemic} 人${x.duplicates ? `，重复结果 ${x.duplicates} 条已忽略` : ''}`;
  },
  snapshotCoverage: (a, r) => {
    const x = r as { enrolled: number; to_enroll: number };
    return `进度统计 ${(a[1] as { key: string }).key}：参保 ${x.enrolled} 人 / 应参保 ${x.to_enroll} 人`;
  },
  cutOff: (_a, r) => `截止：${(r as { abandoned: number }).abandoned} 人视为自动弃保`,
  claimSubsidies: (a, r) => {
    const x = r as {
      claims: { persons: number; totalFen: number }[];
      receipt: string;
      excludedCount: number;
    };
    const persons = x.claims.reduce((n, c) => n + c.persons, 0);
    const total = x.claims.reduce((n, c) => n + c.totalFen, 0);
    return `申请个人缴费财政补助（${(a[1] as { dueOn: string }).dueOn} 前）：${persons} 人，${yuanZh(total)} 元，回执 ${x.receipt}${x.excludedCount ? `，${x.excludedCount} 人未纳入` : ''}`;
  },
  recordCampaignEvent: (a, _r, p) => {
    const e = a[1] as { kind: string; detail: Record<string, string | undefined> };
    if (e.kind === 'phase') return `进入阶段：${PHASE_ZH[String(e.detail.phase)] ?? String(e.detail.phase)}`;
    const label =
      EVENT_ZH[e.kind] ?? (e.kind.startsWith('household-form-') ? `附件1 ${e.kind.slice(15)}` : e.kind);
    return `${label}${e.detail.department ? `（${deptZh(e.detail.department, p)}）` : ''}${e.detail.operator ? `，经办人 ${String(e.detail.operator)}` : ''}`;
  },
  applyHouseholdForm: (a, r) =>
    `附件1 ${(a[1] as { kind: string }).kind}：${(r as { result: string }).result}`,
  claimReconciliationMonth: (a, r) => {
    const x = r as { claimed: boolean; by: string };
    const month = (a[1] as { month: string }).month;
    return x.claimed ? `开始核对 ${month} 月度名单` : `${month} 已由 ${x.by} 核对`;
  },
  fetchDelta: (a, r, p) => {
    const x = a[1] as { department: string; month: string };
    return `向${deptZh(x.department, p)}索取 ${x.month} 新增减员名单：${r ? '已收到' : '尚未报送'}`;
  },
  importDelta: (a, r, p) => {
    const x = r as { rows: number; accepted: number; rejected: number; added: number; removed: number };
    const i = a[1] as { department: string; month: string };
    return `导入${deptZh(i.department, p)} ${i.month} 新增减员名单：读取 ${x.rows} 行 = 接受 ${x.accepted} + 拒收 ${x.rejected}（新增 ${x.added}，减员 ${x.removed}）`;
  },
  settleMonth: (a, r) => {
    const x = r as { conflicts: number; newlyRegistered: number };
    return `${(a[1] as { month: string }).month} 月度核对完成：新登记资助参保 ${x.newlyRegistered} 人，冲突 ${x.conflicts} 条`;
  },
};

/** Each activity's completion in the domain's words, with the plan's rule where it decides something. */
const PHRASES: Partial<
  Record<ActivityName, (args: unknown[], result: unknown, policy: Policy | undefined) => Phrase>
> = {
  storePolicySnapshot: () => ({ kind: 'decision', what: 'policy snapshot stored' }),
  requestRoster: (a, r, p) => ({
    kind: r ? 'exchange' : 'wait',
    what: `asked ${String(a[1])} for its roster: ${r ? 'received' : 'not sent yet'}`,
    source: p?.calendar.rosterDeadline.source,
    ...(r
      ? { exchange: { department: String(a[1]), direction: 'in', rows: null, sha256: digestOf(r) } }
      : {}),
  }),
  importRoster: (a, r, p) => {
    const x = r as { rowsRead: number; rowsAccepted: number; rowsRejected: number; rowsSkipped?: number };
    const department = (a[1] as { department: string }).department;
    return {
      kind: 'exchange',
      what: `imported the roster of ${department}: ${x.rowsRead} rows = ${x.rowsAccepted} accepted + ${x.rowsRejected} rejected${x.rowsSkipped ? ` + ${x.rowsSkipped} skipped` : ''}`,
      source: p?.calendar.rosterAsOf.source,
      exchange: { department, direction: 'in', rows: x.rowsRead, sha256: digestOf(rosterFile(a)) },
    };
  },
  openEnrollments: (a, r, p) => {
    const x = r as { renewed: number; subsidisedRegistered: number; fullySubsidised: number };
    return {
      kind: 'decision',
      what: `enrollments opened as of ${String(a[1])}: ${x.renewed} renewed, ${x.subsidisedRegistered} subsidised (${x.fullySubsidised} in full)`,
      source: p?.calendar.centralisedPeriod.source,
    };
  },
  createLevyBatch: (a, r, p) => {
    const x = r as { batchId: number; lines: number; totalFen: number };
    return {
      kind: 'deduction',
      what: `levy round ${String(a[1])}: batch ${x.batchId}, ${x.lines} lines, ${(x.totalFen / 100).toFixed(2)} yuan`,
      source: Number(a[1]) === 1 ? p?.calendar.firstBatchDeduction.source : p?.calendar.reDeduction.source,
    };
  },
  sendLevyToTax: (a, r) => {
    const x = r as { batchId: number; rows?: number; sha256?: string };
    return {
      kind: 'exchange',
      what: `levy data of batch ${(a[1] as { batchId: number }).batchId} sent to the tax bureau${x.rows === undefined ? '' : `: ${x.rows} lines`}`,
      exchange: { department: 'tax', direction: 'out', rows: x.rows ?? null, sha256: x.sha256 ?? null },
    };
  },
  fetchTaxResults: (a, r) => {
    const x = r as { rows: number; resultFile: string };
    return {
      kind: 'exchange',
      what: `results of batch ${String(a[1])} received from the tax bureau: ${x.rows} lines`,
      exchange: { department: 'tax', direction: 'in', rows: x.rows, sha256: digestOf(x.resultFile) },
    };
  },
  applyDeductionResults: (_a, r, p) => {
    const x = r as {
      batchId: number;
      success: number;
      personal: number;
      systemic: number;
      duplicates: number;
    };
    return {
      kind: 'deduction',
      what: `results of batch ${x.batchId} applied: ${x.success} paid, ${x.personal} personal and ${x.systemic} systemic failures${x.duplicates ? `, ${x.duplicates} duplicate lines ignored` : ''}`,
      source: p?.deductionFailures.source,
    };
  },
  snapshotCoverage: (a, r, p) => {
    const x = r as { enrolled: number; to_enroll: number };
    return {
      kind: 'report',
      what: `progress ${(a[1] as { key: string }).key}: ${x.enrolled} enrolled of ${x.to_enroll} to enroll`,
      source: p?.calendar.progressReports.source,
    };
  },
  cutOff: (_a, r, p) => ({
    kind: 'decision',
    what: `cut-off: ${(r as { abandoned: number }).abandoned} abandoned (视为自动弃保)`,
    source: p?.calendar.cutoff.source,
  }),
  claimSubsidies: (a, r, p) => {
    const x = r as {
      claims: { persons: number; totalFen: number }[];
      receipt: string;
      excludedCount: number;
      sha256?: string;
    };
    const persons = x.claims.reduce((s, c) => s + c.persons, 0);
    const total = x.claims.reduce((s, c) => s + c.totalFen, 0);
    const dueOn = (a[1] as { dueOn: string }).dueOn;
    return {
      kind: 'exchange',
      what: `subsidy claim due ${dueOn}: ${persons} people, ${(total / 100).toFixed(2)} yuan, receipt ${x.receipt}${x.excludedCount ? `, ${x.excludedCount} left out` : ''}`,
      source: p?.calendar.subsidyClaims.find((c) => c.at === dueOn)?.source,
      exchange: { department: 'finance', direction: 'out', rows: persons, sha256: x.sha256 ?? null },
    };
  },
  recordCampaignEvent: (a) => {
    const e = a[1] as { kind: string; detail: Record<string, string | undefined> };
    return e.kind === 'phase'
      ? { kind: 'phase', what: `phase: ${String(e.detail.phase)}` }
      : {
          kind: e.detail.operator ? 'operator' : 'decision',
          what: `${e.kind}${e.detail.department ? ` (${String(e.detail.department)})` : ''}${e.detail.operator ? ` by ${String(e.detail.operator)}` : ''}`,
        };
  },
  applyHouseholdForm: (a, r) => ({
    kind: 'operator',
    what: `附件1 ${(a[1] as { kind: string }).kind}: ${(r as { result: string }).result}`,
  }),
  claimReconciliationMonth: (a, r) => {
    const x = r as { claimed: boolean; by: string };
    const month = (a[1] as { month: string }).month;
    return {
      kind: 'decision',
      what: x.claimed
        ? `month ${month} taken for reconciliation`
        : `month ${month} already reconciled by ${x.by}`,
    };
  },
  fetchDelta: (a, r, p) => {
    const x = a[1] as { department: string; month: string };
    return {
      kind: r ? 'exchange' : 'wait',
      what: `asked ${x.department} for its ${x.month} additions and removals: ${r ? 'received' : 'not sent yet'}`,
      source: p?.calendar.monthlyDelta.source,
      ...(r
        ? { exchange: { department: x.department, direction: 'in', rows: null, sha256: digestOf(r) } }
        : {}),
    };
  },
  importDelta: (a, r) => {
    const x = r as { rows: number; accepted: number; rejected: number; added: number; removed: number };
    const i = a[1] as { department: string; month: string; path?: string; file?: unknown };
    return {
      kind: 'exchange',
      what: `imported the ${i.month} delta of ${i.department}: ${x.rows} rows = ${x.accepted} accepted + ${x.rejected} rejected (${x.added} added, ${x.removed} removed)`,
      exchange: {
        department: i.department,
        direction: 'in',
        rows: x.rows,
        sha256: digestOf(i.file ?? i.path),
      },
    };
  },
  settleMonth: (a, r) => {
    const x = r as { conflicts: number; newlyRegistered: number };
    return {
      kind: 'decision',
      what: `month ${(a[1] as { month: string }).month} settled: ${x.newlyRegistered} newly registered, ${x.conflicts} people added by two departments`,
    };
  },
};

export async function campaignTimeline(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<TimelineEntry[]> {
  return timelineOf(client, await collectRuns(client, workflowId, null, runId));
}

/** Every execution the server's visibility holds under a workflow id (each run, oldest first). */
export async function listExecutions(
  client: Client,
  workflowId: string,
): Promise<{ runId: string; status: string; startTime: Date; closeTime?: Date }[]> {
  const runs: { runId: string; status: string; startTime: Date; closeTime?: Date }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId.replace(/'/g, '')}'` })) {
    runs.push({
      runId: w.runId,
      status: w.status.name,
      startTime: w.startTime,
      ...(w.closeTime ? { closeTime: w.closeTime } : {}),
    });
  }
  return runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
}

export async function timelineOf(client: Client, runs: RunHistory[]): Promise<TimelineEntry[]> {
  const converter = client.options.loadedDataConverter;
  const decode = async (payloads: Payload[] | null | undefined): Promise<unknown[]> => {
    if (!payloads?.length) return [];
    let decoded = payloads;
    for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
    return decoded.map((p) => converter.payloadConverter.fromPayload(p));
  };
  const timeline: TimelineEntry[] = [];
  let policy: Policy | undefined;
  let offsetMs = 0;
  const chinaTime = (iso: string) => chinaMinuteOf(Date.parse(iso) - offsetMs);
  /** An activity's completion, in the domain's words where PHRASES has its type. */
  const completed = (
    base: { workflowId: string; runId: string },
    at: string,
    name: string,
    args: unknown[],
    result: unknown,
  ) => {
    const phrase = byActivity(PHRASES, name)?.(args, result, policy) ?? { kind: 'decision', what: name };
    timeline.push({
      ...base,
      at,
      campaignTime: chinaTime(at),
      kind: phrase.kind,
      what: phrase.what,
      zh: byActivity(PHRASES_ZH, name)?.(args, result, policy) ?? phrase.what,
      ...(phrase.source ? { source: phrase.source } : {}),
      ...(phrase.exchange
        ? { exchange: { ...phrase.exchange, departmentName: deptZh(phrase.exchange.department, policy) } }
        : {}),
      detail: result,
    });
  };
  const failed = (base: { workflowId: string; runId: string }, at: string, name: string | undefined) =>
    timeline.push({
      ...base,
      at,
      campaignTime: chinaTime(at),
      kind: 'decision',
      what: `${name ?? 'an activity'} failed after its retries`,
      zh: `${name ?? '活动'} 重试后仍失败`,
    });
  for (const run of runs) {
    const base = { workflowId: run.workflowId, runId: run.runId };
    const scheduled = new Map<number, { name: string; args: unknown[] }>();
    for (const e of run.history.events ?? []) {
      const at = timeOf(e);
      if (e.workflowExecutionStartedEventAttributes) {
        const [input] = (await decode(e.workflowExecutionStartedEventAttributes.input?.payloads)) as [
          {
            operator?: string;
            policyHash?: string;
            cursor?: number;
            policy?: Policy;
            month?: string;
            rehearsal?: boolean;
            clockOffsetMs?: number;
            reconcileMonthly?: boolean;
          }?,
        ];
        policy = input?.policy ?? policy;
        if (run.workflowType === 'AnnualCampaignWorkflow' && input?.policy) {
          // a rehearsal runs the policy's calendar from the moment it starts (workflows/campaign.ts)
          offsetMs =
            input.clockOffsetMs ??
            (input.rehearsal
              ? Date.parse(at) -
                buildAgenda(input.policy, { withMonthlyDeltas: Boolean(input.reconcileMonthly) })[0]!.at
              : 0);
        }
        const type = run.workflowType;
        timeline.push({
          ...base,
          at,
          campaignTime: chinaTime(at),
          kind: 'run',
          what:
            type === 'MonthlyReconciliationWorkflow'
              ? `monthly reconciliation ${run.workflowId} started${run.parentWorkflowId ? ` by ${run.parentWorkflowId}` : ''}${input?.month ? ` for ${input.month}` : ''}`
              : input?.cursor
                ? `run continued at agenda item ${input.cursor}`
                : `campaign started by ${input?.operator ?? '?'} under policy ${input?.policyHash?.slice(0, 12) ?? '?'}`,
          ...(policy && !input?.cursor && type !== 'MonthlyReconciliationWorkflow'
            ? { source: `${policy.document.file} ${policy.document.title}` }
            : {}),
          zh:
            type === 'MonthlyReconciliationWorkflow'
              ? `月度核对 ${run.workflowId} 开始${run.parentWorkflowId ? `（由 ${run.parentWorkflowId} 发起）` : ''}${input?.month ? `：${input.month}` : ''}`
              : input?.cursor
                ? `新一轮运行，从议程第 ${input.cursor} 项继续`
                : `${input?.operator ?? '?'} 按政策 ${input?.policyHash?.slice(0, 12) ?? '?'} 启动年度参保工作`,
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
        completed(base, at, s.name, s.args, result);
      } else if (e.activityTaskFailedEventAttributes) {
        const s = scheduled.get(num(e.activityTaskFailedEventAttributes.scheduledEventId));
        failed(base, at, s?.name);
      } else if (e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) {
        // a local activity (the short ledger steps, workflows/campaign.ts): its marker keeps the step's type
        // and result, not its input; those steps return what they were asked (the event recorded, the
        // snapshot's key), which stands in for the input the phrases read
        const details = e.markerRecordedEventAttributes.details ?? {};
        const [data] = (await decode(details.data?.payloads)) as [
          { activity_type?: string; activityType?: string }?,
        ];
        const name = data?.activity_type ?? data?.activityType ?? '?';
        if (e.markerRecordedEventAttributes.failure || !details.result) failed(base, at, name);
        else {
          const [result] = await decode(details.result.payloads);
          completed(base, at, name, [undefined, result], result);
        }
      } else if (e.workflowExecutionUpdateAcceptedEventAttributes) {
        const req = e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input;
        const [arg] = (await decode(req?.args?.payloads)) as [
          { operator?: string; department?: string; kind?: string }?,
        ];
        timeline.push({
          ...base,
          at,
          campaignTime: chinaTime(at),
          kind: 'operator',
          what: `operator ${arg?.operator ?? '?'}: ${req?.name ?? 'update'}${arg?.department ? ` for ${arg.department}` : ''}${arg?.kind ? ` (${arg.kind})` : ''}`,
          zh: `经办人 ${arg?.operator ?? '?'}：${req?.name === 'submitRoster' ? '提交名单' : req?.name === 'householdForm' ? '录入附件1' : req?.name === 'retryStep' ? '重试失败步骤' : (req?.name ?? '操作')}${arg?.department ? `（${deptZh(arg.department, policy)}）` : ''}${arg?.kind ? `（${arg.kind}）` : ''}`,
        });
      } else if (e.workflowExecutionSignaledEventAttributes) {
        timeline.push({
          ...base,
          at,
          campaignTime: chinaTime(at),
          kind: 'operator',
          what: `signal ${e.workflowExecutionSignaledEventAttributes.signalName ?? '?'} from ${e.workflowExecutionSignaledEventAttributes.identity ?? '?'}`,
          zh: `收到信号 ${e.workflowExecutionSignaledEventAttributes.signalName ?? '?'}（来自 ${e.workflowExecutionSignaledEventAttributes.identity ?? '?'}）`,
        });
      } else if (e.timerStartedEventAttributes) {
        const seconds = num(e.timerStartedEventAttributes.startToFireTimeout?.seconds);
        timeline.push({
          ...base,
          at,
          campaignTime: chinaTime(at),
          kind: 'wait',
          what: `waiting ${(seconds / 86400).toFixed(1)} days for the next date of the calendar`,
          zh: `等待 ${(seconds / 86400).toFixed(1)} 天，至日程的下一日期`,
        });
      } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
        timeline.push({
          ...base,
          at,
          campaignTime: chinaTime(at),
          kind: 'run',
          what: 'history handed over to a new run (continue-as-new)',
          zh: '历史交接到新一轮运行（continue-as-new）',
        });
      } else if (e.workflowExecutionCompletedEventAttributes) {
        timeline.push({
          ...base,
          at,
          campaignTime: chinaTime(at),
          kind: 'run',
          what: `${run.workflowType} completed`,
          zh: `${run.workflowType === 'MonthlyReconciliationWorkflow' ? '月度核对' : '年度参保工作'}完成`,
        });
      } else if (e.workflowExecutionFailedEventAttributes || e.workflowExecutionTerminatedEventAttributes) {
        timeline.push({
          ...base,
          at,
          campaignTime: chinaTime(at),
          kind: 'run',
          what: `${run.workflowType} ended without completing`,
          zh: `${run.workflowType === 'MonthlyReconciliationWorkflow' ? '月度核对' : '年度参保工作'}未完成即结束`,
        });
      }
    }
  }
  // children interleave with their parent by time; entries at the same instant keep history order
  return timeline
    .map((t, i) => ({ t, i }))
    .sort((a, b) => a.t.at.localeCompare(b.t.at) || a.i - b.i)
    .map((x) => x.t);
}

export function formatTimeline(entries: TimelineEntry[]): string {
  return (
    entries
      .map((e) => {
        const x = e.exchange;
        const exchange = x
          ? ` [${x.direction === 'in' ? '收自' : '发往'}${x.departmentName ?? x.department}${x.rows === null ? '' : `，${x.rows} 行`}${x.sha256 ? `，sha256 ${x.sha256.slice(0, 16)}…` : ''}]`
          : '';
        return `${e.campaignTime}  ${e.zh}${exchange}${e.source ? `\n${' '.repeat(18)}依据：${e.source}` : ''}`;
      })
      .join('\n') + '\n'
  );
}

const KIND_LABELS: Record<TimelineKind, string> = {
  run: '运行',
  phase: '阶段',
  exchange: '数据交换',
  deduction: '批扣',
  decision: '决定',
  operator: '操作',
  wait: '等待',
  report: '进度',
};

/** The timeline as one self-contained HTML page (no scripts, no external resources). */
export function timelineHtml(workflowId: string, entries: TimelineEntry[]): string {
  const counts = new Map<TimelineKind, number>();
  for (const e of entries) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  const rows = entries
    .map((e) => {
      const x = e.exchange;
      return `<tr class="kind-${e.kind}" data-kind="${e.kind}"><td>${escapeHtml(e.campaignTime)}</td><td>${KIND_LABELS[e.kind]}</td><td>${escapeHtml(e.zh)}${e.source ? `<div class="rule">依据：${escapeHtml(e.source)}</div>` : ''}</td><td>${x ? `${x.direction === 'in' ? '收自' : '发往'} ${escapeHtml(x.departmentName ?? x.department)}` : ''}</td><td class="num">${x?.rows ?? ''}</td><td class="digest">${x?.sha256 ? escapeHtml(x.sha256) : ''}</td><td class="run">${escapeHtml(e.workflowId)}<br>${escapeHtml(e.runId.slice(0, 8))}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>审计时间线 ${escapeHtml(workflowId)}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
th{background:#f0f0f0}.num{text-align:right}.digest{font-family:monospace;font-size:11px;word-break:break-all}
.rule{color:#666;font-size:12px;margin-top:2px}.kind-phase td{background:#eef6ff}.kind-operator td{background:#fff6e6}
.run{font-size:11px;color:#666}
</style></head><body>
<h1>审计时间线：${escapeHtml(workflowId)}</h1>
<p id="summary">${entries.length} 条记录：${[...counts].map(([k, n]) => `${KIND_LABELS[k]} ${n}`).join('，')}</p>
<table id="timeline"><thead><tr><th>时间</th><th>类别</th><th>事项</th><th>部门</th><th>行数</th><th>SHA-256</th><th>工作流</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<script type="application/json" id="timeline-data">${JSON.stringify(entries.map(({ detail: _detail, ...e }) => e)).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}

/** Writes each run's raw history as JSON (replayable) and an index with event counts and digests. */
export function exportHistories(runs: RunHistory[], outDir: string) {
  mkdirSync(outDir, { recursive: true });
  const index = runs.map((run) => {
    const json = historyToJSON(run.history);
    const file = `${run.workflowId}--${run.runId}.json`;
    writeFileSync(join(outDir, file), json);
    return {
      file,
      workflowId: run.workflowId,
      runId: run.runId,
      workflowType: run.workflowType,
      parentWorkflowId: run.parentWorkflowId,
      events: run.history.events?.length ?? 0,
      bytes: Buffer.byteLength(json),
      sha256: createHash('sha256').update(json).digest('hex'),
    };
  });
  writeFileSync(join(outDir, 'index.json'), JSON.stringify(index, null, 2));
  return index;
}
