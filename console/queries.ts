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

export interface SubmissionRow {
  id: number;
  jurisdiction: string;
  department: string;
  kind: string;
  period: string;
  fileName: string;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  rowsSkipped: number;
  status: string;
  receivedBy: string;
  receivedAt: Date;
}

/** The lists received, newest first (a department's login sees its own only: row-level security). */
export async function submissions(pool: pg.Pool, limit = 200): Promise<SubmissionRow[]> {
  const r = await pool.query<{
    id: string;
    jurisdiction: string;
    department: string;
    kind: string;
    period: string;
    file_name: string;
    rows_read: number;
    rows_accepted: number;
    rows_rejected: number;
    rows_skipped: number;
    status: string;
    received_by: string;
    received_at: Date;
  }>(
    `SELECT id, jurisdiction, department, kind, period, file_name, rows_read, rows_accepted, rows_rejected,
            rows_skipped, status, received_by, received_at
     FROM submissions ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return r.rows.map((s) => ({
    id: Number(s.id),
    jurisdiction: s.jurisdiction,
    department: s.department,
    kind: s.kind,
    period: s.period,
    fileName: s.file_name,
    rowsRead: s.rows_read,
    rowsAccepted: s.rows_accepted,
    rowsRejected: s.rows_rejected,
    rowsSkipped: s.rows_skipped,
    status: s.status,
    receivedBy: s.received_by,
    receivedAt: s.received_at,
  }));
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

/** The exceptions queue, ID numbers masked for every reader (the audit view). */
export async function reconciliationExceptions(
  pool: pg.Pool,
  jurisdiction: string,
): Promise<{ id: number; month: string; kind: string; idNumber: string | null; detail: unknown }[]> {
  const r = await pool.query<{
    id: string;
    month: string;
    kind: string;
    id_number: string | null;
    detail: unknown;
  }>(
    `SELECT id, month, kind, id_number, detail FROM audit.reconciliation_exceptions
     WHERE jurisdiction = $1 ORDER BY month DESC, id LIMIT 500`,
    [jurisdiction],
  );
  return r.rows.map((x) => ({
    id: Number(x.id),
    month: x.month,
    kind: x.kind,
    idNumber: x.id_number,
    detail: x.detail,
  }));
}
