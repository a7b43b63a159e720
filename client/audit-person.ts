/**
 * `audit person`: one person's whole story for a campaign year, in the documents' words, each entry with its
 * date and its proof, cross-checked:
 * - the ledger's facts come from `audit.person_facts` (migration 0014): the database masks the ID number for
 *   every reader who is not an operator, and bank accounts and phones for everyone;
 * - every amount is recomputed with the policy engine (domain/engine.ts `contributionFor`) under the policy
 *   snapshot the campaign ran with, and compared with the enrollment, each levy line and each claim line;
 * - every file that named the person or carried their levy, result or claim is checked against the exchange
 *   log (its entry's chain link, its digest, the stored file: activities/audit/verify.ts `verifyEntries`);
 * - given a Temporal client, each file is matched to the workflow run that exchanged it (by digest).
 * A mismatch is shown on its entry and counted; the command exits 1 when there is any.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { verifyEntries } from '../activities/audit/verify';
import { chinaDateOf } from '../domain/dates';
import { departmentName } from '../domain/departments';
import { contributionFor } from '../domain/engine';
import { PolicySchema, WorkingDayCalendar, type Policy } from '../domain/policy';
import { escapeHtml } from '../reports/html';
import { campaignTimeline } from './audit-history';

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
    workflow?: { workflowId: string; runId: string; at: string };
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

/** The policy snapshot a campaign of that jurisdiction and year ran under (the latest stored, a drill's last). */
async function policyOf(
  pool: pg.Pool,
  jurisdiction: string,
  year: number,
): Promise<{ policy: Policy; hash: string } | null> {
  const r = await pool.query<{ policy_hash: string; policy: unknown }>(
    `SELECT policy_hash, policy FROM campaign_policies WHERE jurisdiction = $1 AND year = $2
     ORDER BY coalesce((policy->>'drill')::boolean, false), stored_at DESC LIMIT 1`,
    [jurisdiction, year],
  );
  const row = r.rows[0];
  if (!row) return null;
  const parsed = PolicySchema.safeParse(row.policy);
  const days = WorkingDayCalendar.safeParse((row.policy as { workingDays?: unknown }).workingDays);
  return parsed.success && days.success
    ? { policy: { ...parsed.data, workingDays: days.data }, hash: row.policy_hash }
    : null;
}

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
  if (!facts.resident)
    throw new PersonNotFound(`no registered resident of ${input.jurisdiction} has that ID number`);
  const snapshot = await policyOf(pool, input.jurisdiction, input.year);
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
      what: `${dept(l.department)}报送${kindWord}《${l.fileName}》第 ${l.rowNo} 行：${verdict}；文件状态 ${l.status}，经办 ${l.receivedBy}`,
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
              detail: `政策：合计 ${yuan(expected.totalFen)} 元，个人 ${yuan(expected.personalFen)}，资助 ${yuan(expected.subsidyFen)}（${expected.fundingSource}）；台账：合计 ${yuan(e.totalFen)}，个人 ${yuan(e.personalFen)}，资助 ${yuan(e.subsidyFen)}（${e.fundingSource}）`,
            }),
      });
    } else checks.push({ what: '按政策重算应缴金额', ok: false, detail: '台账中没有该年度的政策快照' });
    entries.push({
      date: chinaDate(e.statusChangedAt),
      kind: e.subsidyFen > 0 ? '资助参保' : '参保',
      what: `${input.year} 年度参保：${STATUS_NAMES[e.status] ?? e.status}${e.failureClass ? `（${e.failureClass === 'personal' ? '个人原因' : '系统原因'}）` : ''}；个人缴费 ${yuan(e.personalFen)} 元，资助 ${yuan(e.subsidyFen)} 元（${e.fundingSource}），合计 ${yuan(e.totalFen)} 元${e.category ? `，类别 ${e.category}` : ''}${e.benefitStart ? `，待遇自 ${day(e.benefitStart)}` : ''}${e.stopReason ? `，停保原因 ${e.stopReason}` : ''}`,
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
    if (e.status === 'refunded')
      entries.push({
        date: chinaDate(e.statusChangedAt),
        kind: '退费',
        what: `已退费 ${yuan(e.personalFen)} 元`,
        ...(policy ? { rule: policy.refunds.source } : {}),
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
      what: `转镇村跟进：${f.reason}${f.closedAt ? `；${chinaDate(f.closedAt)} 结束：${f.outcome === 'paid' ? '已缴费' : f.outcome === 'abandoned' ? '弃保' : '停保'}` : '；跟进中'}`,
      proof: {},
      checks: [],
    });
  }

  for (const c of facts.claims) {
    const subsidyOf = facts.enrollments[0]?.subsidyFen;
    entries.push({
      date: c.dueOn.slice(0, 10),
      kind: '财政补助',
      what: `向财政局申请个人缴费财政补助 ${yuan(c.amountFen)} 元（${c.fundingSource}，${dept(c.department)}）${c.receipt ? `，回执 ${c.receipt}` : '，未回执'}`,
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
      ],
    });
  }

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
      if (w) e.proof.workflow = w;
    }
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
      e.proof.workflow ? `工作流 ${e.proof.workflow.workflowId} / ${e.proof.workflow.runId.slice(0, 8)}` : '',
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
