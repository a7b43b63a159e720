/**
 * Monthly reconciliation of the difficulty lists (000 五(一), 001 七(三), 003 附件1): each certifying
 * department's additions and removals of last month, imported through the registry's validated import,
 * applied (additions registered as subsidised from the registration day; removals end the subsidised
 * standard from the next month, nothing refunded or collected back), and conflicts listed for operators.
 */
import type pg from 'pg';
import type { Policy } from '../domain/policy';
import { openEnrollments } from '../ledger/campaign';
import type { DepartmentPorts } from '../departments/ports';
import { importDepartmentList, sha256Hex, storeExchangeFile } from '../lists/import-list';
import { readStoredFile, storedFileRef, type StoredFileRef } from '../ledger/exchange-store';

export interface ReconcileDeps {
  pool: pg.Pool;
  ports: DepartmentPorts;
  exchangeDir: string;
  policyOf: (ref: { jurisdiction: string; year: number; policyHash: string }) => Promise<Policy>;
}

type Ref = { jurisdiction: string; year: number; policyHash: string };

export function createReconciliationActivities(deps: ReconcileDeps) {
  const { pool } = deps;
  return {
    /** Claims the month for this workflow: a month is reconciled once, whatever fires its schedule. */
    async claimReconciliationMonth(
      ref: Ref,
      input: { month: string; workflowId: string },
    ): Promise<{ claimed: boolean; by: string }> {
      await pool.query(
        `INSERT INTO reconciliations (jurisdiction, month, workflow_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [ref.jurisdiction, input.month, input.workflowId],
      );
      const r = await pool.query<{ workflow_id: string; finished_at: Date | null }>(
        `SELECT workflow_id, finished_at FROM reconciliations WHERE jurisdiction = $1 AND month = $2`,
        [ref.jurisdiction, input.month],
      );
      const row = r.rows[0]!;
      return { claimed: row.workflow_id === input.workflowId, by: row.workflow_id };
    },

    /** The department's delta for the month, kept in the exchange store (by digest), or null if not sent. */
    async fetchDelta(ref: Ref, input: { department: string; month: string }): Promise<StoredFileRef | null> {
      const file = await deps.ports.certifying.fetchDelta(ref.jurisdiction, input.department, input.month);
      if (!file) return null;
      const sha256 = sha256Hex(file.bytes);
      storeExchangeFile(deps.exchangeDir, file.bytes, sha256);
      return { sha256, fileName: file.fileName };
    },

    async importDelta(
      ref: Ref,
      input: {
        department: string;
        month: string;
        /** The stored delta (a digest; older histories pass `<store path>#<name>`). */
        file?: StoredFileRef | string;
        path?: string;
        effectiveOn: string;
      },
    ) {
      const policy = await deps.policyOf(ref);
      const stored = storedFileRef(deps.exchangeDir, input.file ?? input.path ?? '');
      const bytes = await readStoredFile(pool, deps.exchangeDir, stored);
      const r = await importDepartmentList(
        { pool, policy, exchangeDir: deps.exchangeDir },
        {
          jurisdiction: ref.jurisdiction,
          department: input.department,
          kind: 'delta',
          period: input.month,
          effectiveOn: input.effectiveOn,
          fileName: stored.fileName,
          receivedBy: `adapter:${input.department}`,
        },
        bytes,
      );
      const actions = await pool.query<{ action: string; n: number }>(
        `SELECT action, count(*)::int AS n FROM submission_rows WHERE submission_id = $1 AND accepted GROUP BY action`,
        [r.submissionId],
      );
      // rejected rows an operator must look at: removals of people never listed, bad IDs, the deceased
      await pool.query(
        `INSERT INTO reconciliation_exceptions (jurisdiction, month, kind, id_number, detail)
         SELECT $1, $2, reason_code, id_number, jsonb_build_object('department', $3::text, 'row', row_no, 'reason', reason)
         FROM submission_rows WHERE submission_id = $4 AND NOT accepted
           AND reason_code IN ('remove-without-identity', 'invalid-id', 'not-registered-resident', 'resident-deceased', 'id-stored-as-number')
         ON CONFLICT DO NOTHING`,
        [ref.jurisdiction, input.month, input.department, r.submissionId],
      );
      const count = (a: string) => actions.rows.find((x) => x.action === a)?.n ?? 0;
      return {
        rows: r.rowsRead,
        accepted: r.rowsAccepted,
        rejected: r.rowsRejected,
        added: count('add'),
        removed: count('remove'),
        alreadyImported: r.alreadyImported,
      };
    },

    /**
     * After every department's delta: a person added by two departments this month is a conflict (decided
     * by the policy's precedence, and recorded); the additions are registered as subsidised from the
     * registration day. A person already enrolled and paid keeps the year as it is.
     */
    async settleMonth(
      ref: Ref,
      input: { month: string; effectiveOn: string; summary: Record<string, unknown> },
    ) {
      const policy = await deps.policyOf(ref);
      const conflicts = await pool.query(
        `INSERT INTO reconciliation_exceptions (jurisdiction, month, kind, id_number, detail)
         SELECT $1, $2, 'added-by-two-departments', r.id_number,
                jsonb_build_object('departments', array_agg(DISTINCT s.department), 'categories', array_agg(DISTINCT r.category), 'precedence', $3::text)
         FROM submission_rows r JOIN submissions s ON s.id = r.submission_id
         WHERE s.jurisdiction = $1 AND s.kind = 'delta' AND s.period = $2 AND s.status = 'current' AND r.accepted AND r.action = 'add'
         GROUP BY r.id_number HAVING count(DISTINCT s.department) > 1
         ON CONFLICT DO NOTHING`,
        [ref.jurisdiction, input.month, policy.precedence.kind],
      );
      // a drill holding the year refuses the real year's rows (the ledger's MD001): a refusal, never retried
      const registered = await openEnrollments(pool, policy, input.effectiveOn);
      const exceptions = await pool.query<{ kind: string; n: number }>(
        `SELECT kind, count(*)::int AS n FROM reconciliation_exceptions WHERE jurisdiction = $1 AND month = $2 GROUP BY kind ORDER BY kind`,
        [ref.jurisdiction, input.month],
      );
      const summary = {
        ...input.summary,
        newlyRegistered: registered.subsidisedRegistered,
        exceptions: Object.fromEntries(exceptions.rows.map((e) => [e.kind, e.n])),
      };
      await pool.query(
        `UPDATE reconciliations SET finished_at = now(), summary = $3 WHERE jurisdiction = $1 AND month = $2`,
        [ref.jurisdiction, input.month, JSON.stringify(summary)],
      );
      return { conflicts: conflicts.rowCount ?? 0, newlyRegistered: registered.subsidisedRegistered };
    },
  };
}
