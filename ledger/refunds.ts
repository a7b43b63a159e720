/**
 * The refund path (退费): an operator records a person's refund application; the policy engine decides it
 * under the campaign's policy snapshot (domain/engine.ts `refundFor`: 000 五(七), 001 六(二), 003 附件1 教育部门),
 * the ledger keeps the decision with the plan's sentence it followed, and an approved refund's data (退费数据)
 * goes to the tax bureau as a file through the exchange store and the exchange log, in the same transaction
 * that moves the enrollment from 'paid' to 'refunded' (migration 0025: refund_requests, its status machine
 * requested → approved → sent | requested → refused, and the enrollment status history).
 *
 * Scope: the ledger's 'refunded' means the insurance center decided the refund and handed the tax bureau the
 * refund data; the bureau's own payout confirmation is not modelled (no department in the rehearsal answers
 * it), and the fiscal subsidy part of a subsidised person is not returned to finance by this path: only what
 * the person paid by deduction is refunded, as the plans say (个人缴费).
 */
import type pg from 'pg';
import { z } from 'zod';
import { chinaDateOf, isIsoDate, type IsoDate } from '../domain/dates';
import { refundFor, type RefundAnswer, type RuleRef } from '../domain/engine';
import { maskIdNumber } from '../domain/id-number';
import { PolicySchema, WorkingDayCalendar, type Policy } from '../domain/policy';
import { inTransaction } from './transaction';
import { NotFoundError, RefusedError } from '../domain/failures';
import { sha256Hex, storeExchangeFile } from '../lists/import-list';

/** The refund reasons the plans name (policy `refunds.beforeBenefitStart`); the engine says which a plan honours. */
export const RefundReason = z.enum([
  'death',
  'duplicate-payment',
  'joined-employee-insurance',
  'duplicate-enrollment-elsewhere',
]);
export type RefundReason = z.infer<typeof RefundReason>;

/** The documents' words for the reasons, for operators' and auditors' Chinese output. */
export const REFUND_REASON_NAMES: Record<string, string> = {
  death: '死亡',
  'duplicate-payment': '重复缴费',
  'joined-employee-insurance': '参加职工医保',
  'duplicate-enrollment-elsewhere': '在其他统筹地区重复参加居民医保',
};

const DateString = z.string().refine(isIsoDate, 'a calendar date YYYY-MM-DD');

export const RefundRequestInput = z.object({
  jurisdiction: z.string().min(1),
  year: z.number().int(),
  /** The person's full national ID number (never logged, never in an error message). */
  idNumber: z
    .string()
    .trim()
    .min(1)
    .transform((s) => s.toUpperCase()),
  reason: RefundReason,
  /** The day the death, duplicate payment or move to employee insurance happened (China date). */
  occurredOn: DateString,
  /** The operator's key for this application (e.g. its form number): the same key records it once. */
  requestKey: z.string().regex(/^[A-Za-z0-9._:-]{1,80}$/, 'letters, digits and . _ : - (at most 80)'),
  /** The day of the application, China date; default today. */
  requestedOn: DateString.optional(),
});
export type RefundRequestInput = z.input<typeof RefundRequestInput>;

export interface RefundOutcome {
  requestId: number;
  requestKey: string;
  status: 'approved' | 'refused' | 'sent';
  reason: string;
  decision: RefundAnswer['decision'];
  /** Returned to the person, fen; null when the plan states no rule. */
  amountFen: number | null;
  /** What the person paid by deduction, fen. */
  paidFen: number;
  benefitStart: IsoDate;
  occurredOn: IsoDate;
  rule: RuleRef;
  policyHash: string;
  /** The refund data file sent to the tax bureau (approved refunds only). */
  refundFile: { fileName: string; sha256: string; exchangeSeq: number } | null;
  /** True when the request key was already recorded: nothing was done again. */
  replayed: boolean;
}

/**
 * The policy snapshot a campaign ran under: by hash, or the jurisdiction-year's (a real year's before a
 * drill's, the latest stored). Null when the ledger holds none or it no longer parses.
 */
export async function campaignPolicy(
  pool: pg.Pool | pg.PoolClient,
  which: { hash: string } | { jurisdiction: string; year: number },
): Promise<{ policy: Policy; hash: string } | null> {
  const r =
    'hash' in which
      ? await pool.query<{ policy_hash: string; policy: unknown }>(
          `SELECT policy_hash, policy FROM campaign_policies WHERE policy_hash = $1`,
          [which.hash],
        )
      : await pool.query<{ policy_hash: string; policy: unknown }>(
          `SELECT policy_hash, policy FROM campaign_policies WHERE jurisdiction = $1 AND year = $2
           ORDER BY coalesce((policy->>'drill')::boolean, false), stored_at DESC LIMIT 1`,
          [which.jurisdiction, which.year],
        );
  const row = r.rows[0];
  if (!row) return null;
  const parsed = PolicySchema.safeParse(row.policy);
  const days = WorkingDayCalendar.safeParse((row.policy as { workingDays?: unknown }).workingDays);
  return parsed.success && days.success
    ? { policy: { ...parsed.data, workingDays: days.data }, hash: row.policy_hash }
    : null;
}

interface StoredRequest {
  id: string;
  request_key: string;
  enrollment_id: string;
  reason: string;
  occurred_on: string;
  status: RefundOutcome['status'] | 'requested';
  decision: RefundAnswer['decision'];
  amount_fen: number | null;
  paid_fen: number;
  benefit_start: string;
  rule_id: string;
  rule_source: string;
  says: string;
  policy_hash: string;
  exchange_seq: string | null;
  file_name: string | null;
  sha256: string | null;
}

const STORED = `SELECT r.id, r.request_key, r.enrollment_id, r.reason, r.occurred_on::text, r.status, r.decision,
       r.amount_fen, r.paid_fen, r.benefit_start::text, r.rule_id, r.rule_source, r.says, r.policy_hash,
       r.exchange_seq, x.file_name, x.sha256
  FROM refund_requests r LEFT JOIN exchange_log x ON x.seq = r.exchange_seq`;

function outcomeOf(r: StoredRequest, replayed: boolean): RefundOutcome {
  if (r.status === 'requested') throw new Error(`refund request ${r.id} was never decided`);
  return {
    requestId: Number(r.id),
    requestKey: r.request_key,
    status: r.status,
    reason: r.reason,
    decision: r.decision,
    amountFen: r.amount_fen,
    paidFen: r.paid_fen,
    benefitStart: r.benefit_start,
    occurredOn: r.occurred_on,
    rule: { id: r.rule_id, source: r.rule_source, says: r.says },
    policyHash: r.policy_hash,
    refundFile:
      r.exchange_seq && r.file_name && r.sha256
        ? { fileName: r.file_name, sha256: r.sha256, exchangeSeq: Number(r.exchange_seq) }
        : null,
    replayed,
  };
}

/**
 * Records and decides one refund application (000 五(七), 001 六(二); Meishan: 003 附件1 教育部门 only):
 * - the person's enrollment for `year` must be 'paid' by a successful deduction (what the person paid, fen,
 *   is that levy line's amount); the row is locked, so two applications for one payment are decided one
 *   after the other, and the second finds it refunded;
 * - the engine judges it on `occurredOn` against the enrollment's benefit start, under the campaign's
 *   policy snapshot; the decision, the amount (fen) and the rule's id, source and words are kept;
 * - an approved refund writes the refund data (CSV: request key, enrollment id, ID number, amount in fen,
 *   reason, occurred on) to the exchange store, logs it (out, tax, kind 'refund-data') and moves the
 *   enrollment to 'refunded' (its status history names the rule and the operator's request);
 * - the same `requestKey` again returns what was recorded (`replayed`), and is refused if it names another
 *   person, reason or day.
 * Throws ZodError on bad input, NotFoundError (no such person, enrollment or policy snapshot; the ID
 * masked), RefusedError (not paid by the person, already refunded, key reused).
 */
export async function requestRefund(
  pool: pg.Pool,
  exchangeDir: string,
  input: RefundRequestInput,
): Promise<RefundOutcome> {
  const req = RefundRequestInput.parse(input);
  const masked = maskIdNumber(req.idNumber);
  return inTransaction(pool, async (client) => {
    const found = await client.query<{
      enrollment_id: string;
      status: string;
      benefit_start: string | null;
      batch_id: string | null;
      paid_fen: number | null;
    }>(
      `SELECT e.id AS enrollment_id, e.status, e.benefit_start::text, d.batch_id, l.amount_fen AS paid_fen
       FROM residents p JOIN enrollments e ON e.resident_id = p.id AND e.campaign_year = $3
       LEFT JOIN deduction_results d ON d.enrollment_id = e.id AND d.outcome = 'success'
       LEFT JOIN levy_lines l ON l.batch_id = d.batch_id AND l.enrollment_id = d.enrollment_id
       WHERE p.jurisdiction = $1 AND p.id_number = $2
       FOR UPDATE OF e`,
      [req.jurisdiction, req.idNumber, req.year],
    );
    const e = found.rows[0];
    if (!e) throw new NotFoundError(`${masked} has no ${req.year} enrollment in ${req.jurisdiction}`);

    const earlier = await client.query<StoredRequest>(
      `${STORED} WHERE r.jurisdiction = $1 AND r.request_key = $2`,
      [req.jurisdiction, req.requestKey],
    );
    const before = earlier.rows[0];
    if (before) {
      if (
        before.enrollment_id !== e.enrollment_id ||
        before.reason !== req.reason ||
        before.occurred_on !== req.occurredOn
      )
        throw new RefusedError(
          `request key ${req.requestKey} was already used for another application (request #${before.id}): give this one its own key`,
        );
      return outcomeOf(before, true);
    }

    if (e.status === 'refunded') {
      const done = await client.query<{ request_key: string }>(
        `SELECT request_key FROM refund_requests WHERE enrollment_id = $1 AND status IN ('approved', 'sent')`,
        [e.enrollment_id],
      );
      throw new RefusedError(
        `${masked} was already refunded for ${req.year}${done.rows[0] ? ` (request ${done.rows[0].request_key})` : ''}: never two refunds for one payment`,
      );
    }
    if (e.status !== 'paid')
      throw new RefusedError(
        `${masked} is ${e.status} for ${req.year}, not paid: there is no contribution to refund (a stop before payment is a household form)`,
      );
    if (!e.batch_id || !e.paid_fen)
      throw new RefusedError(
        `${masked} paid nothing by deduction for ${req.year} (a fully subsidised enrollment): there is no personal contribution to refund`,
      );

    const snapshot = await campaignPolicy(client, { jurisdiction: req.jurisdiction, year: req.year });
    if (!snapshot)
      throw new NotFoundError(`the ledger holds no policy snapshot for ${req.jurisdiction} ${req.year}`);
    const benefitStart = e.benefit_start ?? snapshot.policy.calendar.benefitYearStart.date;
    const requestedOn = req.requestedOn ?? chinaDateOf(Date.now());
    const { refund, rule } = refundFor(
      snapshot.policy,
      req.reason,
      { occurredOn: req.occurredOn, requestedOn, benefitStart },
      e.paid_fen,
    );

    const inserted = await client.query<{ id: string }>(
      `INSERT INTO refund_requests (jurisdiction, campaign_year, request_key, enrollment_id, batch_id, reason,
         occurred_on, requested_on, benefit_start, paid_fen, policy_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
      [
        req.jurisdiction,
        req.year,
        req.requestKey,
        e.enrollment_id,
        e.batch_id,
        req.reason,
        req.occurredOn,
        requestedOn,
        benefitStart,
        e.paid_fen,
        snapshot.hash,
      ],
    );
    const id = inserted.rows[0]!.id;
    await client.query(
      `UPDATE refund_requests SET status = $2, decision = $3, amount_fen = $4, rule_id = $5, rule_source = $6,
         says = $7, decided_at = now() WHERE id = $1`,
      [
        id,
        refund.eligible ? 'approved' : 'refused',
        refund.decision,
        refund.amountFen,
        rule.id,
        rule.source,
        rule.says,
      ],
    );

    if (refund.eligible) {
      const fileName = `refund-${req.jurisdiction}-${req.requestKey}.csv`;
      const bytes = Buffer.from(
        `request_key,enrollment_id,id_number,amount_fen,reason,occurred_on\n${req.requestKey},${e.enrollment_id},${req.idNumber},${refund.amountFen},${req.reason},${req.occurredOn}\n`,
        'utf8',
      );
      const sha256 = sha256Hex(bytes);
      const storedAt = storeExchangeFile(exchangeDir, bytes, sha256);
      const logged = await client.query<{ seq: string }>(
        `INSERT INTO exchange_log (jurisdiction, direction, department, kind, period, file_name, row_count, byte_size, sha256, stored_at)
         VALUES ($1, 'out', 'tax', 'refund-data', $2, $3, 1, $4, $5, $6) RETURNING seq`,
        [req.jurisdiction, `refund-${id}`, fileName, bytes.length, sha256, storedAt],
      );
      // the status history names the rule and this request as the change's cause and maker
      await client.query(
        `SELECT set_config('medins.cause', $1, true),
                set_config('medins.made_by', jsonb_build_object('login', session_user, 'command', 'refund request',
                  'requestKey', $2::text, 'refundRequestId', $3::bigint)::text, true)`,
        [rule.id, req.requestKey, id],
      );
      const moved = await client.query(
        `UPDATE enrollments SET status = 'refunded' WHERE id = $1 AND status = 'paid'`,
        [e.enrollment_id],
      );
      if (moved.rowCount !== 1) throw new Error(`enrollment ${e.enrollment_id} left 'paid' while locked`);
      await client.query(`SELECT set_config('medins.cause', '', true)`);
      await client.query(`UPDATE refund_requests SET status = 'sent', exchange_seq = $2 WHERE id = $1`, [
        id,
        logged.rows[0]!.seq,
      ]);
    }
    const stored = await client.query<StoredRequest>(`${STORED} WHERE r.id = $1`, [id]);
    return outcomeOf(stored.rows[0]!, false);
  });
}
