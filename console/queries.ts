/**
 * What the console reads from the ledger, on the logged-in person's own connection: grants and row-level
 * security decide what comes back. Tables an auditor may not read (residents, households) are never named
 * here; towns, villages, follow-up tasks and the masked `audit.*` views are.
 */
import type pg from 'pg';
import { PolicySchema, WorkingDayCalendar, type Policy } from '../domain/policy';

export interface CampaignRow {
  jurisdiction: string;
  year: number;
  drill: boolean;
  policyHash: string;
  policy: Policy | null;
  storedAt: Date;
}

/** Every campaign whose policy the ledger holds (the latest snapshot of each jurisdiction, year and drill). */
export async function campaigns(pool: pg.Pool): Promise<CampaignRow[]> {
  const r = await pool.query<{
    jurisdiction: string;
    year: number;
    drill: boolean;
    policy_hash: string;
    policy: unknown;
    stored_at: Date;
  }>(
    `SELECT DISTINCT ON (jurisdiction, year, drill) jurisdiction, year, drill, policy_hash, policy, stored_at
     FROM (SELECT *, coalesce((policy->>'drill')::boolean, false) AS drill FROM campaign_policies) p
     ORDER BY jurisdiction, year DESC, drill, stored_at DESC`,
  );
  return r.rows.map((row) => ({
    jurisdiction: row.jurisdiction,
    year: row.year,
    drill: row.drill,
    policyHash: row.policy_hash,
    policy: parsePolicy(row.policy),
    storedAt: row.stored_at,
  }));
}

/** A stored policy snapshot as a Policy, or null when it no longer parses under today's schema. */
export function parsePolicy(stored: unknown): Policy | null {
  const parsed = PolicySchema.safeParse(stored);
  const days = WorkingDayCalendar.safeParse((stored as { workingDays?: unknown } | null)?.workingDays);
  return parsed.success && days.success ? { ...parsed.data, workingDays: days.data } : null;
}

export interface RoundRow {
  round: number;
  kind: string;
  lines: number;
  totalFen: number;
  paid: number;
  personal: number;
  systemic: number;
  pending: number;
  createdAt: Date;
}

/** The deduction rounds of a campaign year, with their results (counts only). */
export async function deductionRounds(
  pool: pg.Pool,
  jurisdiction: string,
  year: number,
): Promise<RoundRow[]> {
  const r = await pool.query<{
    round: number;
    kind: string;
    line_count: number;
    total_fen: string;
    paid: number;
    personal: number;
    systemic: number;
    results: number;
    created_at: Date;
  }>(
    `SELECT b.round, b.kind, b.line_count, b.total_fen, b.created_at,
            count(*) FILTER (WHERE d.outcome = 'success')::int AS paid,
            count(*) FILTER (WHERE d.failure_class = 'personal')::int AS personal,
            count(*) FILTER (WHERE d.failure_class = 'systemic')::int AS systemic,
            count(d.batch_id)::int AS results
     FROM levy_batches b LEFT JOIN deduction_results d ON d.batch_id = b.id
     WHERE b.jurisdiction = $1 AND b.campaign_year = $2
     GROUP BY b.id ORDER BY b.round`,
    [jurisdiction, year],
  );
  return r.rows.map((b) => ({
    round: b.round,
    kind: b.kind,
    lines: b.line_count,
    totalFen: Number(b.total_fen),
    paid: b.paid,
    personal: b.personal,
    systemic: b.systemic,
    pending: b.line_count - b.results,
    createdAt: b.created_at,
  }));
}

export interface FollowUpRow {
  town: string;
  village: string;
  open: number;
  paid: number;
  abandoned: number;
  stopped: number;
}

/** Follow-up tasks (扣费失败后的跟进) by town and village: open, and closed by outcome. */
export async function followUpsByVillage(
  pool: pg.Pool,
  jurisdiction: string,
  year: number,
): Promise<FollowUpRow[]> {
  const r = await pool.query<{
    town: string;
    village: string | null;
    open: number;
    paid: number;
    abandoned: number;
    stopped: number;
  }>(
    `SELECT t.name AS town, v.name AS village,
            count(*) FILTER (WHERE f.closed_at IS NULL)::int AS open,
            count(*) FILTER (WHERE f.outcome = 'paid')::int AS paid,
            count(*) FILTER (WHERE f.outcome = 'abandoned')::int AS abandoned,
            count(*) FILTER (WHERE f.outcome = 'stopped')::int AS stopped
     FROM follow_up_tasks f JOIN enrollments e ON e.id = f.enrollment_id
     JOIN towns t ON t.id = f.town_id LEFT JOIN villages v ON v.id = f.village_id
     WHERE t.jurisdiction = $1 AND e.campaign_year = $2
     GROUP BY t.name, v.name ORDER BY t.name, v.name`,
    [jurisdiction, year],
  );
  return r.rows.map((x) => ({ ...x, village: x.village ?? '（未分村）' }));
}

export interface ReconciliationRow {
  month: string;
  workflowId: string;
  startedAt: Date;
  finishedAt: Date | null;
  summary: Record<string, unknown> | null;
}

export async function reconciliations(pool: pg.Pool, jurisdiction: string): Promise<ReconciliationRow[]> {
  const r = await pool.query<{
    month: string;
    workflow_id: string;
    started_at: Date;
    finished_at: Date | null;
    summary: Record<string, unknown> | null;
  }>(
    `SELECT month, workflow_id, started_at, finished_at, summary FROM reconciliations
     WHERE jurisdiction = $1 ORDER BY month DESC`,
    [jurisdiction],
  );
  return r.rows.map((x) => ({
    month: x.month,
    workflowId: x.workflow_id,
    startedAt: x.started_at,
    finishedAt: x.finished_at,
    summary: x.summary,
  }));
}

/** An operator's decision on a reconciliation exception (migration 0036), as the console names it. */
export const EXCEPTION_DECISIONS = {
  corrected: '已更正',
  'no-action': '无需处理',
  referred: '转部门核实',
} as const;
export type ExceptionDecision = keyof typeof EXCEPTION_DECISIONS;

export interface ExceptionRow {
  id: number;
  month: string;
  kind: string;
  idNumber: string | null;
  detail: unknown;
  /** The latest decision (a later one supersedes), or null while the exception waits in the queue. */
  decision: { decision: ExceptionDecision; reason: string; decidedBy: string; decidedAt: Date } | null;
  /** How many decisions were recorded on it in all (earlier ones are kept). */
  decisions: number;
}

/**
 * The exceptions queue of `jurisdiction` (newest month first, at most 500), ID numbers masked for every reader
 * (the audit view), each with its latest decision. Operators read the decisions' reasons as written; auditors
 * through audit.reconciliation_exception_decisions, where an ID number typed into a reason is masked.
 */
export async function reconciliationExceptions(
  pool: pg.Pool,
  jurisdiction: string,
  role: 'operator' | 'auditor',
): Promise<ExceptionRow[]> {
  const decisions =
    role === 'operator' ? 'reconciliation_exception_decisions' : 'audit.reconciliation_exception_decisions';
  const r = await pool.query<{
    id: string;
    month: string;
    kind: string;
    id_number: string | null;
    detail: unknown;
    decision: ExceptionDecision | null;
    reason: string | null;
    decided_by: string | null;
    decided_at: Date | null;
    decisions: number;
  }>(
    `SELECT x.id, x.month, x.kind, x.id_number, x.detail, d.decision, d.reason, d.decided_by, d.decided_at,
            (SELECT count(*)::int FROM ${decisions} c WHERE c.exception_id = x.id) AS decisions
     FROM audit.reconciliation_exceptions x
     LEFT JOIN LATERAL (SELECT decision, reason, decided_by, decided_at FROM ${decisions} d
                        WHERE d.exception_id = x.id ORDER BY d.id DESC LIMIT 1) d ON true
     WHERE x.jurisdiction = $1 ORDER BY x.month DESC, x.id LIMIT 500`,
    [jurisdiction],
  );
  return r.rows.map((x) => ({
    id: Number(x.id),
    month: x.month,
    kind: x.kind,
    idNumber: x.id_number,
    detail: x.detail,
    decision:
      x.decision && x.reason !== null && x.decided_by && x.decided_at
        ? { decision: x.decision, reason: x.reason, decidedBy: x.decided_by, decidedAt: x.decided_at }
        : null,
    decisions: x.decisions,
  }));
}

/**
 * Records an operator's decision on exception `exceptionId` under the pool's own login (the database sets who
 * and when). Returns false for an exception that does not exist. Throws PostgreSQL's error for a login that
 * may not decide (auditors, departments: permission denied) or a reason under 2 or over 500 characters.
 */
export async function decideException(
  pool: pg.Pool,
  exceptionId: number,
  decision: ExceptionDecision,
  reason: string,
): Promise<boolean> {
  try {
    await pool.query(
      `INSERT INTO reconciliation_exception_decisions (exception_id, decision, reason, decided_by, decided_at)
       VALUES ($1, $2, $3, session_user, now())`,
      [exceptionId, decision, reason],
    );
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === '23503') return false;
    throw error;
  }
}
