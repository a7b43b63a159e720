/**
 * Held rosters for the operator's decision (`lists held`): what each would close, and who. ID numbers are
 * masked (440783********0024); the operator recognises people by name, category and the masked number.
 */
import type pg from 'pg';

export interface HeldRoster {
  submissionId: number;
  jurisdiction: string;
  department: string;
  period: string;
  fileName: string;
  receivedBy: string;
  receivedAt: Date;
  wouldClose: number;
  openBefore: number;
  /** people it would open (null: held before the count was kept) */
  wouldOpen: number | null;
}

/**
 * Every roster held for a decision, oldest first, with what it would do as last counted (when held, or
 * recounted by a confirmation the ledger had changed under: decideHeldRoster applies a roster only when
 * its count now equals these figures).
 */
export async function heldRosters(pool: pg.Pool, jurisdiction?: string): Promise<HeldRoster[]> {
  const r = await pool.query<{
    id: string;
    jurisdiction: string;
    department: string;
    period: string;
    file_name: string;
    received_by: string;
    received_at: Date;
    would_close: number;
    open_before: number;
    would_open: number | null;
  }>(
    `SELECT id, jurisdiction, department, period, file_name, received_by, received_at, would_close, open_before, would_open
     FROM submissions WHERE status = 'held' AND ($1::text IS NULL OR jurisdiction = $1) ORDER BY id`,
    [jurisdiction ?? null],
  );
  return r.rows.map((s) => ({
    submissionId: Number(s.id),
    jurisdiction: s.jurisdiction,
    department: s.department,
    period: s.period,
    fileName: s.file_name,
    receivedBy: s.received_by,
    receivedAt: s.received_at,
    wouldClose: s.would_close,
    openBefore: s.open_before,
    wouldOpen: s.would_open,
  }));
}

/**
 * The people a held roster would close: the department's open identities its rows do not list again.
 * Returns `{ idNumber (masked), name, category, openedOn }[]`, at most `limit` of them, by name.
 */
export async function wouldBeClosed(
  pool: pg.Pool,
  submissionId: number,
  limit = 1000,
): Promise<{ idNumber: string; name: string; category: string; openedOn: string }[]> {
  const r = await pool.query<{ id_number: string; name: string; category: string; opened_on: string }>(
    // a function of the schema's owner: it matches on the full numbers and returns them masked, so an auditor
    // (who reads no full number) may call it too
    `SELECT id_number, name, category, opened_on FROM audit.held_roster_would_close($1, $2)`,
    [submissionId, limit],
  );
  return r.rows.map((x) => ({
    idNumber: x.id_number,
    name: x.name,
    category: x.category,
    openedOn: x.opened_on,
  }));
}
