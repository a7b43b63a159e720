/**
 * The documents' Chinese words for the codes the code keeps in English (DOMAIN.md's glossary; the plans in
 * seeds/): one dictionary for every page of the console and every file people read (rejection reports,
 * exports, the trail). A code with no entry is shown as `未知（<code>）` by `zh`, never silently as English
 * prose. Department names come from the policy (domain/departments.ts); these are the other codes.
 */
import { departmentName } from './departments';
import type { Policy } from './policy';

/** 资金来源 of a subsidy claim (domain/policy.ts FundingSource; 000 五(一), the plans' 资助 sections). */
export const FUNDING_SOURCE_NAMES: Record<string, string> = {
  'fiscal-subsidy-for-personal-contribution': '个人缴费财政补助',
  'medical-assistance-fund': '医疗救助资金',
  'rural-revitalization-funds': '乡村振兴部门安排资金',
  'disability-employment-security-fund': '残疾人就业保障基金',
  'certifying-department-funds': '认定部门给予补助',
  'veterans-affairs-funds': '退役军人事务部门资金',
  'health-department-funds': '卫生健康部门资金',
  'special-fiscal-funds': '财政专项资金',
  // an enrollment without a subsidy: the person pays the whole contribution
  personal: '个人全额缴费，无资助',
};

/**
 * 跟进原因 of a follow-up task as the ledger's statements write it (ledger/campaign.ts; the failure classes of
 * domain/engine.ts classifyDeductionFailure): the Chinese the trail and pages show.
 */
export const FOLLOW_UP_REASON_NAMES: Record<string, string> = {
  'deduction failed: personal reason': '扣费失败（个人原因：余额不足或账户异常）',
};

/** The campaign's phases (the plan's calendar: 名单报送 to 资助资金申报). */
export const PHASE_NAMES: Record<string, string> = {
  'roster-submission': '名单报送',
  'changes-and-stops': '变更与停保',
  deduction: '集中扣费',
  'follow-up': '跟进动员',
  'cut-off': '截止',
  'subsidy-claim': '资助资金申报',
  closed: '已结束',
};

/** A department's roster in a campaign. */
export const ROSTER_STATUS_NAMES: Record<string, string> = {
  requested: '已通知报送',
  reminded: '已催报',
  imported: '已导入',
  refused: '文件被拒收',
  held: '待确认',
  escalated: '逾期上报',
};

/** A submitted list (名单) in the ledger: `submissions.status`. */
export const SUBMISSION_STATUS_NAMES: Record<string, string> = {
  current: '有效',
  held: '待确认',
  rejected: '已退回',
  superseded: '已被替代',
};

/** A list row's change (`submission_rows.action`): a roster lists, a monthly delta adds or removes. */
export const LIST_ACTION_NAMES: Record<string, string> = {
  listed: '在册',
  add: '增加',
  remove: '减少',
};

/** A Temporal workflow's execution status, as a clerk reads it. */
export const WORKFLOW_STATUS_NAMES: Record<string, string> = {
  RUNNING: '进行中',
  COMPLETED: '已完成',
  FAILED: '失败',
  CANCELLED: '已取消',
  TERMINATED: '已终止',
  CONTINUED_AS_NEW: '已接续运行',
  TIMED_OUT: '已超时',
  PAUSED: '已暂停',
  UNSPECIFIED: '未知',
};

/** A department's monthly delta in a reconciliation (workflows/reconciliation.ts). */
export const DELTA_STATUS_NAMES: Record<string, string> = {
  imported: '已导入',
  refused: '文件被拒收',
  escalated: '逾期上报',
};

/** The kinds of reconciliation exception (activities/reconciliation.ts: reason codes of rejected rows). */
export const EXCEPTION_KIND_NAMES: Record<string, string> = {
  'remove-without-identity': '减少的人员不在本类别名单中',
  'invalid-id': '身份证号码无效',
  'not-registered-resident': '非本地户籍人员',
  'resident-deceased': '人员已死亡',
  'id-stored-as-number': '身份证号码被存为数字',
  'added-by-two-departments': '两个部门同月增加同一人',
};

/** The Chinese word for `code` in `names`; an unknown code as 未知（code）. Pure. */
export function zh(names: Record<string, string>, code: string | null | undefined): string {
  if (code === null || code === undefined || code === '') return '';
  return names[code] ?? `未知（${code}）`;
}

/**
 * A month's reconciliation result (`reconciliations.summary`: `{ departments, exceptions, newlyRegistered,
 * conflicts }`) in one Chinese line, e.g. `民政局 逾期上报；残联 已导入 12 行（增加 2，减少 1）；异常 非本地户籍人员 3 条；
 * 新登记资助对象 0 人`. Unknown keys are left out (they are the ledger's, not the clerk's). Pure.
 */
export function reconciliationSummaryText(
  summary: Record<string, unknown>,
  policy?: Pick<Policy, 'departments'>,
): string {
  const parts: string[] = [];
  const departments = (summary.departments ?? {}) as Record<
    string,
    { status?: string; rows?: number; added?: number; removed?: number; rejected?: number }
  >;
  for (const [id, d] of Object.entries(departments)) {
    let text = `${departmentName(id, policy)} ${zh(DELTA_STATUS_NAMES, d.status)}`;
    if (d.status === 'imported' && d.rows !== undefined)
      text += ` ${d.rows} 行（增加 ${d.added ?? 0}，减少 ${d.removed ?? 0}，拒收 ${d.rejected ?? 0}）`;
    parts.push(text);
  }
  const exceptions = Object.entries((summary.exceptions ?? {}) as Record<string, number>);
  parts.push(
    exceptions.length
      ? `异常 ${exceptions.map(([k, v]) => `${zh(EXCEPTION_KIND_NAMES, k)} ${v} 条`).join('、')}`
      : '无异常',
  );
  if (typeof summary.conflicts === 'number') parts.push(`部门冲突 ${summary.conflicts} 条`);
  if (typeof summary.newlyRegistered === 'number') parts.push(`新登记资助对象 ${summary.newlyRegistered} 人`);
  return parts.join('；');
}

/**
 * What a coverage snapshot is, for a filed report's 数据时点 line: the cut-off's count or a weekly report's
 * (000 六(四)); the snapshot's internal key (`progress-2026-11-30T14:28:36.704Z`) is never printed. Pure.
 */
export function snapshotLabel(key: string): string {
  return key === 'cutoff' ? '截止日统计' : '周报统计';
}

/**
 * A reconciliation exception's detail (`reconciliation_exceptions.detail`) in Chinese: the department and
 * the row of its delta with the reason, or the departments and categories of a person added by two. Pure.
 */
export function exceptionDetailText(
  detail: Record<string, unknown> | null | undefined,
  policy?: Pick<Policy, 'departments'>,
): string {
  if (!detail) return '';
  const parts: string[] = [];
  if (typeof detail.department === 'string') parts.push(departmentName(detail.department, policy));
  if (Array.isArray(detail.departments))
    parts.push(detail.departments.map((d) => departmentName(String(d), policy)).join('、'));
  if (typeof detail.row === 'number') parts.push(`第 ${detail.row} 行`);
  if (Array.isArray(detail.categories)) parts.push(`类别 ${detail.categories.map(String).join('、')}`);
  if (typeof detail.reason === 'string') parts.push(reasonText(detail.reason));
  return parts.join('，');
}

/**
 * A row's rejection or skip reason as the clerk reads it: the Chinese sentence without the English gloss in
 * parentheses that older imports and the register's matching (migration 0021) stored after it, e.g.
 * `户籍登记中无此人 (no registered resident …)` → `户籍登记中无此人`. Pure.
 */
export function reasonText(reason: string | null | undefined): string {
  if (!reason) return '';
  const bare = reason.replace(/\s*\([^()\u3400-\u9fff]*\)\s*$/u, '');
  return bare || reason;
}
