/**
 * `audit person`: one person's whole story for a campaign year, in the documents' words, each entry with its
 * date and its proof, cross-checked:
 * - the ledger's facts come from `audit.person_facts` (migration 0014): the database masks the ID number for
 *   every reader who is not an operator, and bank accounts and phones for everyone;
 * - every amount is recomputed with the policy engine (domain/engine.ts `contributionFor`) under the policy
 *   snapshot the campaign ran with, and compared with the enrollment, each levy line and each claim line;
 * - every file that named the person or carried their levy, result or claim is checked against the exchange
 *   log (its entry's chain link, its digest, the stored file: audit/verify.ts `verifyEntries`);
 * - given a Temporal client, each file is matched to the workflow run that exchanged it (by digest).
 * A mismatch is shown on its entry and counted; the command exits 1 when there is any.
 */
import { FOLLOW_UP_REASON_NAMES, FUNDING_SOURCE_NAMES, SUBMISSION_STATUS_NAMES, zh } from '../domain/words';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { verifyEntries } from './verify';
import { chinaDateOf } from '../domain/dates';
import { departmentName } from '../domain/departments';
import { contributionFor, refundFor } from '../domain/engine';
import type { Policy } from '../domain/policy';
import { campaignPolicy, REFUND_REASON_NAMES } from '../ledger/refunds';
import { escapeHtml } from '../documents/html';
import { campaignTimeline } from './history';

/** What the database returns for one person (audit.person_facts). */
interface Facts {
  fullNumbers: boolean;
  resident: {
    residentId: number;
    idNumber: string;
    name: string;
    sex: 'M' | 'F';
    birthDate: string;
    residency: string;
    employeeInsured: boolean;
    deceasedOn: string | null;
    town: string;
    village: string | null;
    phone: string | null;
    householdNo: string | null;
    bankName: string | null;
    bankAccount: string | null;
  } | null;
  lists: {
    submissionId: number;
    department: string;
    kind: 'roster' | 'delta';
    period: string;
    fileName: string;
    sha256: string;
    status: string;
    receivedAt: string;
    receivedBy: string;
    effectiveOn: string;
    rowNo: number;
    accepted: boolean;
    category: string | null;
    action: string;
    reasonCode: string | null;
    field: string | null;
    reason: string | null;
    exchange: { seq: number; entryDigest: string; loggedAt: string; stored: boolean } | null;
  }[];
  identities: {
    category: string;
    department: string;
    validFrom: string;
    validTo: string | null;
    openedBy: number;
    closedBy: number | null;
  }[];
  enrollments: {
    enrollmentId: number;
    status: string;
    failureClass: string | null;
    category: string | null;
    totalFen: number;
    personalFen: number;
    subsidyFen: number;
    fundingSource: string;
    benefitStart: string | null;
    stopReason: string | null;
    statusChangedAt: string;
  }[];
  levies: {
    batchId: number;
    round: number;
    createdAt: string;
    amountFen: number;
    outcome: 'success' | 'failure' | null;
    failureCode: string | null;
    failureClass: string | null;
    recordedAt: string | null;
    levyFile: LoggedFile | null;
    resultFile: LoggedFile | null;
  }[];
  followUps: { reason: string; openedAt: string; closedAt: string | null; outcome: string | null }[];
  claims: {
    fundingSource: string;
    department: string;
    dueOn: string;
    amountFen: number;
    receipt: string | null;
    submittedAt: string | null;
    claimFile: LoggedFile | null;
  }[];
}

interface LoggedFile {
  seq: number;
  sha256: string;
  fileName: string;
  loggedAt: string;
  stored: boolean;
}

/** What the database returns for the person's status changes and refunds (audit.person_history, 0025). */
interface History {
  statusHistory: {
    /** The statement that made the change (enrollment_status_changes.id); the history's order. */
    changeId: number;
    enrollmentId: number;
    from: string | null;
    to: string;
    changedAt: string;
    cause: string;
    /** The move's own cause (enrollment_status_cause), to check a stored cause against. */
    expectedCause: string;
    madeBy: MadeBy | null;
    allowed: boolean;
    current: string;
  }[];
  refunds: {
    id: number;
    requestKey: string;
    enrollmentId: number;
    batchId: number | null;
    reason: string;
    occurredOn: string;
    requestedOn: string;
    benefitStart: string | null;
    paidFen: number;
    status: 'requested' | 'approved' | 'refused' | 'sent';
    policyHash: string | null;
    decision: 'refund' | 'no-refund' | 'no-rule-stated' | null;
    ruleId: string | null;
    ruleSource: string | null;
    says: string | null;
    amountFen: number | null;
    requestedBy: string;
    requestedAt: string;
    decidedAt: string | null;
    /** The deducted amount of the payment the request names (its successful levy line), fen. */
    paymentFen: number | null;
    refundFile: LoggedFile | null;
  }[];
}

/** Who made a status change: an activity of a workflow run, or an operator's command. */
type MadeBy =
  | { workflowId: string; runId: string; activityType: string; activityId: string; attempt: number }
  | { login: string; command: string; requestKey?: string; refundRequestId?: number };

/** One entry of the trail: what happened, when, the proof, and whether the cross-checks hold. */
export interface TrailEntry {
  /** China date YYYY-MM-DD. */
  date: string;
  /** The documents' word for the kind of entry: 户籍, 名单, 身份标识, 参保, 应征数据, 扣费成功, 扣费失败, 跟进, 弃保, 退费, 财政补助. */
  kind: string;
  /** What happened, in Chinese. */
  what: string;
  /** The plan's rule that decided it, quoted from the policy the campaign ran with. */
  rule?: string;
  /** The evidence: file, row, digest, exchange-log entry, workflow run. */
  proof: {
    file?: string;
    row?: number;
    sha256?: string;
    exchangeSeq?: number;
    submissionId?: number;
    workflow?: {
      workflowId: string;
      runId: string;
      at: string;
      /** The activity that made the change (type and id), from the ledger's status history. */
      activity?: string;
      activityId?: string;
      /** The history event that scheduled that activity, when the run's history was read. */
      eventId?: number;
    };
    /** An operator's command that made the change (login, command, request key). */
    operator?: { login: string; command: string; requestKey?: string };
  };
  /** Cross-checks of this entry; `ok: false` is a mismatch. */
  checks: { what: string; ok: boolean; detail?: string }[];
}

export interface PersonTrail {
  jurisdiction: string;
  year: number;
  /** Whether this reader saw the full ID number (operators) or a masked one (everyone else). */
  fullNumbers: boolean;
  person: NonNullable<Facts['resident']>;
  policyHash: string | null;
  entries: TrailEntry[];
  mismatches: number;
  /** Whether the workflow histories were consulted (a Temporal client was given and answered). */
  historyConsulted: boolean;
}

export class PersonNotFound extends Error {
  override name = 'PersonNotFound';
}

const STATUS_NAMES: Record<string, string> = {
  registered: '已登记参保',
  levied: '已发送应征数据',
  paid: '已缴费（参保）',
  failed: '扣费失败',
  abandoned: '弃保',
  stopped: '停保',
  refunded: '已退费',
};
const yuan = (fen: number) => (fen / 100).toFixed(2);
const chinaDate = (iso: string | null | undefined) => (iso ? chinaDateOf(Date.parse(iso)) : '');
const day = (d: string | null) => (d ? d.slice(0, 10) : '');

/**
 * The trail of one person (by full ID number) for the campaign `year` of `jurisdiction`. The reader's
 * database role decides what is masked. `client` (optional) links files to the workflow runs that
 * exchanged them (`campaign-<jurisdiction>-<year>`, and its drill). Throws PersonNotFound.
 */
export async function personTrail(
  pool: pg.Pool,
  input: { idNumber: string; jurisdiction: string; year: number; client?: Client },
): Promise<PersonTrail> {
  const r = await pool.query<{ facts: Facts }>(`SELECT audit.person_facts($1, $2, $3) AS facts`, [
    input.idNumber.trim().toUpperCase(),
    input.jurisdiction,
    input.year,
  ]);
  const facts = r.rows[0]!.facts;
  const h = await pool.query<{ history: History }>(`SELECT audit.person_history($1, $2, $3) AS history`, [
    input.idNumber.trim().toUpperCase(),
    input.jurisdiction,
    input.year,
  ]);
  const history = h.rows[0]!.history;
  if (!facts.resident)
    throw new PersonNotFound(`no registered resident of ${input.jurisdiction} has that ID number`);
  const snapshot = await campaignPolicy(pool, { jurisdiction: input.jurisdiction, year: input.year });
  const policy = snapshot?.policy;
  const dept = (d: string) => departmentName(d, policy);
  const entries: TrailEntry[] = [];
  const p = facts.resident;

  entries.push({
    date: day(p.birthDate),
    kind: '户籍',
    what: `${p.name}（${p.idNumber}），${p.sex === 'M' ? '男' : '女'}，${p.town}${p.village ? p.village : ''}，${p.residency === 'hukou' ? '户籍人口' : '持居住证'}${p.employeeInsured ? '，已参加职工医保' : ''}${p.deceasedOn ? `，${p.deceasedOn} 死亡` : ''}；户号 ${p.householdNo ?? '—'}，扣款账户 ${p.bankName ?? ''} ${p.bankAccount ?? '—'}`,
    proof: {},
    checks: [],
  });

  for (const l of facts.lists) {
    const kindWord = l.kind === 'roster' ? '花名册' : `${l.period} 月度增减名单`;
    const verdict = l.accepted
      ? `接受（类别 ${l.category ?? '—'}${l.kind === 'delta' ? `，${l.action === 'remove' ? '减员' : '新增'}` : ''}）`
      : `拒收：${l.field ?? ''} ${l.reason ?? l.reasonCode ?? ''}`;
    entries.push({
      date: chinaDate(l.receivedAt),
      kind: '名单',
      what: `${dept(l.department)}报送${kindWord}《${l.fileName}》第 ${l.rowNo} 行：${verdict}；文件状态 ${zh(SUBMISSION_STATUS_NAMES, l.status)}，经办 ${l.receivedBy}`,
      proof: {
        file: l.fileName,
        row: l.rowNo,
        sha256: l.sha256,
        submissionId: l.submissionId,
        ...(l.exchange ? { exchangeSeq: l.exchange.seq } : {}),
      },
      checks: l.exchange ? [] : [{ what: '交换日志', ok: false, detail: '此文件不在交换日志中' }],
    });
  }

  for (const i of facts.identities) {
    entries.push({
      date: day(i.validFrom),
      kind: '身份标识',
      what: `类别 ${i.category}（${dept(i.department)}认定）自 ${day(i.validFrom)} 起${i.validTo ? `，至 ${day(i.validTo)} 止（名单 #${i.closedBy}）` : '，至今有效'}；由名单 #${i.openedBy} 标识`,
      ...(policy?.identityChange && i.validTo ? { rule: policy.identityChange.source } : {}),
      proof: { submissionId: i.openedBy },
      checks: [],
    });
  }

  for (const e of facts.enrollments) {
    // the status in the documents' words: levied (已发送应征数据) while a levy line awaits its result, as the
    // history's `current` says (migration 0075: the status column keeps registered or failed until the result)
    const status = history.statusHistory.find((s) => s.enrollmentId === e.enrollmentId)?.current ?? e.status;
    const failureClass = status === 'levied' ? null : e.failureClass;
    const category = policy?.categories.find((c) => c.id === e.category);
    const checks: TrailEntry['checks'] = [];
    let rule: string | undefined;
    if (policy) {
      const expected = contributionFor(policy, category).contribution;
      rule = category?.source ?? policy.contribution.source;
      const same =
        expected.totalFen === e.totalFen &&
        expected.personalFen === e.personalFen &&
        expected.subsidyFen === e.subsidyFen &&
        expected.fundingSource === e.fundingSource;
      checks.push({
        what: '按政策重算应缴金额',
        ok: same,
        ...(same
          ? {}
          : {
              detail: `政策：合计 ${yuan(expected.totalFen)} 元，个人 ${yuan(expected.personalFen)}，资助 ${yuan(expected.subsidyFen)}（${zh(FUNDING_SOURCE_NAMES, expected.fundingSource)}）；台账：合计 ${yuan(e.totalFen)}，个人 ${yuan(e.personalFen)}，资助 ${yuan(e.subsidyFen)}（${zh(FUNDING_SOURCE_NAMES, e.fundingSource)}）`,
            }),
      });
    } else checks.push({ what: '按政策重算应缴金额', ok: false, detail: '台账中没有该年度的政策快照' });
    entries.push({
      date: chinaDate(e.statusChangedAt),
      kind: e.subsidyFen > 0 ? '资助参保' : '参保',
      what: `${input.year} 年度参保：${STATUS_NAMES[status] ?? status}${failureClass ? `（${failureClass === 'personal' ? '个人原因' : '系统原因'}）` : ''}；个人缴费 ${yuan(e.personalFen)} 元，资助 ${yuan(e.subsidyFen)} 元（${zh(FUNDING_SOURCE_NAMES, e.fundingSource)}），合计 ${yuan(e.totalFen)} 元${e.category ? `，类别 ${e.category}` : ''}${e.benefitStart ? `，待遇自 ${day(e.benefitStart)}` : ''}${e.stopReason ? `，停保原因 ${e.stopReason}` : ''}`,
      ...(rule ? { rule } : {}),
      proof: {},
      checks,
    });
    if (e.status === 'abandoned')
      entries.push({
        date: chinaDate(e.statusChangedAt),
        kind: '弃保',
        what: '截止日仍因个人原因扣费失败，视为自动弃保',
        ...(policy ? { rule: policy.deductionFailures.source } : {}),
        proof: {},
        checks: [],
      });
  }

  const personalOf = facts.enrollments[0]?.personalFen;
  for (const l of facts.levies) {
    entries.push({
      date: chinaDate(l.createdAt),
      kind: '应征数据',
      what: `第 ${l.round} 轮批量扣费：应缴 ${yuan(l.amountFen)} 元，应征数据《${l.levyFile?.fileName ?? '—'}》发送税务局`,
      ...(policy ? { rule: policy.calendar.firstBatchDeduction.source } : {}),
      proof: {
        ...(l.levyFile
          ? { file: l.levyFile.fileName, sha256: l.levyFile.sha256, exchangeSeq: l.levyFile.seq }
          : {}),
      },
      checks: [
        {
          what: '应征金额等于个人缴费部分',
          ok: personalOf === undefined || l.amountFen === personalOf,
          ...(personalOf !== undefined && l.amountFen !== personalOf
            ? { detail: `应征 ${yuan(l.amountFen)} 元，台账个人缴费 ${yuan(personalOf)} 元` }
            : {}),
        },
        ...(l.levyFile ? [] : [{ what: '交换日志', ok: false, detail: '应征数据文件不在交换日志中' }]),
      ],
    });
    if (l.outcome)
      entries.push({
        date: chinaDate(l.recordedAt),
        kind: l.outcome === 'success' ? '扣费成功' : '扣费失败',
        what:
          l.outcome === 'success'
            ? `第 ${l.round} 轮扣费成功 ${yuan(l.amountFen)} 元`
            : `第 ${l.round} 轮扣费失败：代码 ${l.failureCode}（${l.failureClass === 'personal' ? '个人原因：转村居跟进' : '系统原因：下一轮重新发送'}）`,
        ...(policy && l.outcome === 'failure' ? { rule: policy.deductionFailures.source } : {}),
        proof: {
          ...(l.resultFile
            ? { file: l.resultFile.fileName, sha256: l.resultFile.sha256, exchangeSeq: l.resultFile.seq }
            : {}),
        },
        checks: l.resultFile ? [] : [{ what: '交换日志', ok: false, detail: '扣费结果文件不在交换日志中' }],
      });
  }

  for (const f of facts.followUps) {
    entries.push({
      date: chinaDate(f.openedAt),
      kind: '跟进',
      what: `转镇村跟进：${FOLLOW_UP_REASON_NAMES[f.reason] ?? f.reason}${f.closedAt ? `；${chinaDate(f.closedAt)} 结束：${f.outcome === 'paid' ? '已缴费' : f.outcome === 'abandoned' ? '弃保' : '停保'}` : '；跟进中'}`,
      proof: {},
      checks: [],
    });
  }

  for (const c of facts.claims) {
    const subsidyOf = facts.enrollments[0]?.subsidyFen;
    // the claim rests on the person's 身份标识 (000 五(一): the claim is made on the verified list): one of the
    // enrollment's category, not ended before it began, must be in the ledger
    const claimedCategory = facts.enrollments[0]?.category ?? null;
    const justified =
      claimedCategory === null ||
      facts.identities.some(
        (i) => i.category === claimedCategory && (i.validTo === null || day(i.validTo) >= day(i.validFrom)),
      );
    entries.push({
      date: c.dueOn.slice(0, 10),
      kind: '财政补助',
      what: `向财政局申请个人缴费财政补助 ${yuan(c.amountFen)} 元（${zh(FUNDING_SOURCE_NAMES, c.fundingSource)}，${dept(c.department)}）${c.receipt ? `，回执 ${c.receipt}` : '，未回执'}`,
      ...(policy ? { rule: policy.calendar.subsidyClaims[0]?.source } : {}),
      proof: {
        ...(c.claimFile
          ? { file: c.claimFile.fileName, sha256: c.claimFile.sha256, exchangeSeq: c.claimFile.seq }
          : {}),
      },
      checks: [
        {
          what: '申请金额等于资助部分',
          ok: subsidyOf === undefined || subsidyOf === c.amountFen,
          ...(subsidyOf !== undefined && subsidyOf !== c.amountFen
            ? { detail: `申请 ${yuan(c.amountFen)} 元，台账资助 ${yuan(subsidyOf)} 元` }
            : {}),
        },
        {
          what: '申请补助所依据的身份标识在台账中',
          ok: justified,
          ...(justified
            ? {}
            : {
                detail: `资助类别 ${claimedCategory} 没有有效的身份标识（台账中缺失或已被删除）`,
              }),
        },
      ],
    });
  }

  entries.push(...statusChangeEntries(history, facts, policy));
  entries.push(...(await refundEntries(pool, history, facts)));

  // every file: its exchange-log entry links and holds, and the stored file still has its digest
  const seqs = [
    ...new Set(entries.map((e) => e.proof.exchangeSeq).filter((s): s is number => s !== undefined)),
  ];
  const verified = await verifyEntries(pool, seqs);
  for (const e of entries) {
    if (e.proof.exchangeSeq === undefined) continue;
    const v = verified.get(e.proof.exchangeSeq);
    e.checks.push(
      v
        ? { what: `交换日志 #${v.seq}`, ok: v.ok, ...(v.problem ? { detail: v.problem } : {}) }
        : { what: `交换日志 #${e.proof.exchangeSeq}`, ok: false, detail: '条目不存在' },
    );
  }

  // the workflow run that exchanged each file (by digest)
  let historyConsulted = false;
  if (input.client) {
    const bySha = new Map<string, { workflowId: string; runId: string; at: string }>();
    for (const id of [
      `campaign-${input.jurisdiction}-${input.year}`,
      `campaign-${input.jurisdiction}-${input.year}-drill`,
    ]) {
      try {
        for (const t of await campaignTimeline(input.client, id)) {
          const sha = t.exchange?.sha256;
          if (sha && !bySha.has(sha)) bySha.set(sha, { workflowId: t.workflowId, runId: t.runId, at: t.at });
        }
        historyConsulted = true;
      } catch {
        // no such campaign on this server
      }
    }
    for (const e of entries) {
      const w = e.proof.sha256 ? bySha.get(e.proof.sha256) : undefined;
      if (w && !e.proof.workflow) e.proof.workflow = w;
    }
    await matchHistoryEvents(input.client, entries);
  }

  entries.sort((a, b) => a.date.localeCompare(b.date));
  return {
    jurisdiction: input.jurisdiction,
    year: input.year,
    fullNumbers: facts.fullNumbers,
    person: p,
    policyHash: snapshot?.hash ?? null,
    entries,
    mismatches: entries.reduce((n, e) => n + e.checks.filter((c) => !c.ok).length, 0),
    historyConsulted,
  };
}

/** The trail as text, in Chinese: one line per entry, its proof and checks indented below it. */
export function formatTrail(t: PersonTrail): string {
  const lines = [
    `个人审计轨迹：${t.person.name}（${t.person.idNumber}），${t.jurisdiction} ${t.year} 年度${t.policyHash ? `，政策快照 ${t.policyHash.slice(0, 12)}` : ''}`,
  ];
  for (const e of t.entries) {
    lines.push(`${e.date}  【${e.kind}】${e.what}`);
    if (e.rule) lines.push(`            依据：${e.rule}`);
    const proof = [
      e.proof.file ? `文件《${e.proof.file}》` : '',
      e.proof.row ? `第 ${e.proof.row} 行` : '',
      e.proof.sha256 ? `sha256 ${e.proof.sha256.slice(0, 16)}…` : '',
      e.proof.exchangeSeq !== undefined ? `交换日志 #${e.proof.exchangeSeq}` : '',
      e.proof.workflow
        ? `工作流 ${e.proof.workflow.workflowId} / ${e.proof.workflow.runId.slice(0, 8)}${e.proof.workflow.activity ? `，活动 ${e.proof.workflow.activity}${e.proof.workflow.eventId ? `（事件 #${e.proof.workflow.eventId}）` : ''}` : ''}`
        : '',
      e.proof.operator
        ? `经办 ${e.proof.operator.login}（${e.proof.operator.command}${e.proof.operator.requestKey ? ` ${e.proof.operator.requestKey}` : ''}）`
        : '',
    ].filter(Boolean);
    if (proof.length) lines.push(`            凭证：${proof.join('，')}`);
    for (const c of e.checks)
      lines.push(
        `            核对：${c.what} ${c.ok ? '✓ 一致' : `✗ 不一致${c.detail ? `：${c.detail}` : ''}`}`,
      );
  }
  lines.push(
    t.mismatches
      ? `核对结果：${t.mismatches} 处不一致`
      : `核对结果：全部一致${t.historyConsulted ? '（已对照工作流历史）' : '（未对照工作流历史）'}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The trail as one HTML page (Chinese), mismatches marked. */
export function trailHtml(t: PersonTrail): string {
  const rows = t.entries
    .map(
      (e) =>
        `<tr class="${e.checks.some((c) => !c.ok) ? 'mismatch' : ''}"><td>${escapeHtml(e.date)}</td><td>${escapeHtml(e.kind)}</td><td>${escapeHtml(e.what)}${e.rule ? `<div class="rule">依据：${escapeHtml(e.rule)}</div>` : ''}</td><td>${escapeHtml(
          [
            e.proof.file,
            e.proof.row ? `第${e.proof.row}行` : '',
            e.proof.sha256,
            e.proof.exchangeSeq !== undefined ? `#${e.proof.exchangeSeq}` : '',
          ]
            .filter(Boolean)
            .join(' '),
        )}</td><td>${e.checks.map((c) => `${c.ok ? '✓' : '✗'} ${escapeHtml(c.what)}${c.detail ? `：${escapeHtml(c.detail)}` : ''}`).join('<br>')}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>个人审计轨迹 ${escapeHtml(t.person.name)}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px;vertical-align:top}.mismatch{background:#fdd}.rule{color:#555;font-size:90%}</style></head>
<body><h1>个人审计轨迹：${escapeHtml(t.person.name)}（${escapeHtml(t.person.idNumber)}）</h1>
<p>${escapeHtml(t.jurisdiction)} ${t.year} 年度；核对：${t.mismatches ? `${t.mismatches} 处不一致` : '全部一致'}</p>
<table><thead><tr><th>日期</th><th>事项</th><th>内容</th><th>凭证</th><th>核对</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}

/** The documents' words for the causes the status history records (migration 0025). */
const CAUSE_NAMES: Record<string, string> = {
  registration: '登记参保',
  'registration.subsidised': '资助对象先登记参保，个人缴费为零',
  'levy.sent': '应征数据发送税务局',
  'deduction.success': '扣费成功',
  'deduction.failure': '扣费失败',
  'cutoff.abandoned': '截止日仍扣费失败，视为弃保',
  'household.stop': '办理停保',
  'household.re-enrollment': '重新登记参保',
  'refund.before-benefit-start': '待遇享受期前依申请退费',
  'before-history': '状态历史启用前已有的状态',
};

/** The plan's sentence behind a status change's cause, quoted from the policy the campaign ran with. */
function causeRule(policy: Policy | undefined, cause: string, category: string | null): string | undefined {
  if (!policy) return undefined;
  const held = policy.categories.find((c) => c.id === category);
  if (cause === 'registration') return held?.source ?? policy.contribution.source;
  if (cause === 'registration.subsidised')
    return held?.source ?? policy.benefitStart.difficultyRegistration.source;
  if (cause === 'levy.sent') return policy.calendar.firstBatchDeduction.source;
  if (cause === 'deduction.success') return policy.benefitStart.centralised.source;
  if (cause === 'deduction.failure' || cause === 'cutoff.abandoned') return policy.deductionFailures.source;
  if (cause.startsWith('household.')) return policy.calendar.changeStopDeadline.source;
  if (cause.startsWith('refund')) return policy.refunds.source;
  return undefined;
}

/**
 * One entry per status change of the person's enrollment, in the order the ledger made them, each with its
 * cause, the plan's rule, and the activity or command that made it. Checked: each change starts from the
 * status the one before left, is a move the status machine allows, names the cause its move implies, and the
 * last leaves the enrollment as the ledger holds it.
 */
function statusChangeEntries(history: History, facts: Facts, policy: Policy | undefined): TrailEntry[] {
  const out: TrailEntry[] = [];
  const byEnrollment = new Map<number, History['statusHistory']>();
  for (const s of history.statusHistory)
    byEnrollment.set(s.enrollmentId, [...(byEnrollment.get(s.enrollmentId) ?? []), s]);
  for (const [enrollmentId, changes] of byEnrollment) {
    const category = facts.enrollments.find((e) => e.enrollmentId === enrollmentId)?.category ?? null;
    changes.forEach((s, i) => {
      const checks: TrailEntry['checks'] = [];
      const previous = i === 0 ? null : changes[i - 1]!.to;
      const linked = s.from === previous;
      const causeFits =
        s.cause === s.expectedCause ||
        (s.cause === 'before-history' && s.from === null) ||
        (s.to === 'refunded' && s.cause.startsWith('refund.'));
      const last = i === changes.length - 1;
      const ok = linked && s.allowed && causeFits && (!last || s.to === s.current);
      checks.push({
        what: '状态变更前后相接',
        ok,
        ...(ok
          ? {}
          : {
              detail: [
                linked
                  ? ''
                  : `变更前状态应为 ${previous ? (STATUS_NAMES[previous] ?? previous) : '（新建）'}，记录为 ${s.from ? (STATUS_NAMES[s.from] ?? s.from) : '（新建）'}`,
                s.allowed ? '' : `状态机不允许 ${s.from} → ${s.to}`,
                causeFits
                  ? ''
                  : `原因 ${s.cause} 与变更 ${s.from ?? '（新建）'} → ${s.to} 不符（应为 ${s.expectedCause}）`,
                !last || s.to === s.current
                  ? ''
                  : `最后一次变更为 ${STATUS_NAMES[s.to] ?? s.to}，台账现为 ${STATUS_NAMES[s.current] ?? s.current}`,
              ]
                .filter(Boolean)
                .join('；'),
            }),
      });
      const rule = causeRule(policy, s.cause, category);
      const m = s.madeBy;
      out.push({
        date: chinaDate(s.changedAt),
        kind: '状态变更',
        what: `参保状态：${s.from ? (STATUS_NAMES[s.from] ?? s.from) : '（新建）'} → ${STATUS_NAMES[s.to] ?? s.to}；原因：${CAUSE_NAMES[s.cause] ?? s.cause}${m && 'activityType' in m ? `；由活动 ${m.activityType}（第 ${m.attempt} 次尝试）写入` : m && 'login' in m ? `；由 ${m.login} 执行 ${m.command} 写入` : '；写入者未记录'}`,
        ...(rule ? { rule } : {}),
        proof: {
          ...(m && 'activityType' in m
            ? {
                workflow: {
                  workflowId: m.workflowId,
                  runId: m.runId,
                  at: s.changedAt,
                  activity: m.activityType,
                  activityId: m.activityId,
                },
              }
            : {}),
          ...(m && 'login' in m
            ? {
                operator: {
                  login: m.login,
                  command: m.command,
                  ...(m.requestKey ? { requestKey: m.requestKey } : {}),
                },
              }
            : {}),
        },
        checks,
      });
    });
  }
  return out;
}

/**
 * One entry per refund application: the decision, the amount (fen shown as yuan), the dates it was judged
 * on and the plan's sentence, with the refund data file sent to the tax bureau. Checked against the engine
 * (refundFor under the policy snapshot the decision names) and against the payment the request refunds.
 */
async function refundEntries(pool: pg.Pool, history: History, facts: Facts): Promise<TrailEntry[]> {
  const out: TrailEntry[] = [];
  for (const r of history.refunds) {
    const checks: TrailEntry['checks'] = [];
    const snapshot = r.policyHash ? await campaignPolicy(pool, { hash: r.policyHash }) : null;
    if (!snapshot)
      checks.push({ what: '按政策重算退费', ok: false, detail: '台账中没有该决定所依据的政策快照' });
    else if (r.decision) {
      const { refund, rule } = refundFor(
        snapshot.policy,
        r.reason,
        {
          occurredOn: r.occurredOn,
          requestedOn: r.requestedOn,
          benefitStart: r.benefitStart ?? snapshot.policy.calendar.benefitYearStart.date,
        },
        r.paidFen,
      );
      const same =
        refund.decision === r.decision && refund.amountFen === r.amountFen && rule.source === r.ruleSource;
      checks.push({
        what: '按政策重算退费',
        ok: same,
        ...(same
          ? {}
          : {
              detail: `政策：${refund.decision}，${refund.amountFen === null ? '未规定' : `${yuan(refund.amountFen)} 元`}；台账：${r.decision}，${r.amountFen === null ? '未规定' : `${yuan(r.amountFen)} 元`}`,
            }),
      });
    }
    const enrollment = facts.enrollments.find((e) => e.enrollmentId === r.enrollmentId);
    const paidOk = r.paymentFen === r.paidFen && (r.decision !== 'refund' || r.amountFen === r.paymentFen);
    checks.push({
      what: '退费金额等于扣费成功的个人缴费',
      ok: paidOk,
      ...(paidOk
        ? {}
        : {
            detail: `扣费成功 ${r.paymentFen === null ? '无' : `${yuan(r.paymentFen)} 元`}，申请记为已缴 ${yuan(r.paidFen)} 元，退费 ${r.amountFen === null ? '—' : `${yuan(r.amountFen)} 元`}`,
          }),
    });
    const startOk = !enrollment || (enrollment.benefitStart?.slice(0, 10) ?? null) === r.benefitStart;
    checks.push({
      what: '判断所依据的待遇享受期起始日等于台账',
      ok: startOk,
      ...(startOk
        ? {}
        : { detail: `申请记为 ${r.benefitStart}，台账为 ${day(enrollment?.benefitStart ?? null)}` }),
    });
    if (r.decision === 'refund' && !r.refundFile)
      checks.push({ what: '交换日志', ok: false, detail: '退费数据文件不在交换日志中' });
    const verdict =
      r.decision === 'refund'
        ? `准予退费 ${yuan(r.amountFen ?? 0)} 元${r.refundFile ? `，退费数据《${r.refundFile.fileName}》发送税务局` : ''}`
        : r.decision === 'no-refund'
          ? '不予退费'
          : r.decision === 'no-rule-stated'
            ? '政策未规定此情形，未退费'
            : '待决定';
    out.push({
      date: chinaDate(r.decidedAt ?? r.requestedAt),
      kind: r.decision === 'refund' ? '退费' : '退费申请',
      what: `退费申请 ${r.requestKey}（${r.requestedBy} 于 ${r.requestedOn} 受理）：事由 ${REFUND_REASON_NAMES[r.reason] ?? r.reason}，发生于 ${r.occurredOn}，待遇享受期自 ${r.benefitStart ?? '—'}，个人已缴 ${yuan(r.paidFen)} 元；${verdict}`,
      ...(r.ruleSource ? { rule: r.ruleSource } : {}),
      proof: {
        ...(r.refundFile
          ? { file: r.refundFile.fileName, sha256: r.refundFile.sha256, exchangeSeq: r.refundFile.seq }
          : {}),
        operator: { login: r.requestedBy, command: 'refund request', requestKey: r.requestKey },
      },
      checks,
    });
  }
  return out;
}

/**
 * For each entry made by an activity (the ledger's status history names its run and activity id), the event
 * of that run's history that scheduled it; checked: the run's history holds that activity, of that type.
 * A run the server no longer holds is left unchecked (the entry keeps the run and activity the ledger names).
 */
async function matchHistoryEvents(client: Client, entries: TrailEntry[]): Promise<void> {
  const runs = new Map<string, Map<string, { eventId: number; type: string }> | null>();
  for (const e of entries) {
    const w = e.proof.workflow;
    if (!w?.activityId) continue;
    const key = `${w.workflowId}/${w.runId}`;
    if (!runs.has(key)) {
      try {
        const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
        const scheduled = new Map<string, { eventId: number; type: string }>();
        for (const ev of history.events ?? []) {
          const a = ev.activityTaskScheduledEventAttributes;
          if (a?.activityId)
            scheduled.set(a.activityId, {
              eventId: Number(String(ev.eventId)),
              type: a.activityType?.name ?? '',
            });
        }
        runs.set(key, scheduled);
      } catch {
        runs.set(key, null);
      }
    }
    const scheduled = runs.get(key);
    if (!scheduled) continue;
    const found = scheduled.get(w.activityId);
    if (found) w.eventId = found.eventId;
    const ok = !!found && found.type === w.activity;
    e.checks.push({
      what: '工作流历史中有此活动',
      ok,
      ...(ok
        ? {}
        : {
            detail: found
              ? `事件 #${found.eventId} 是 ${found.type}，台账记为 ${w.activity}`
              : `运行 ${w.runId.slice(0, 8)} 的历史中没有活动 ${w.activityId}`,
          }),
    });
  }
}
