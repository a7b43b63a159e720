/**
 * 附件1 cases entered by a town's service center: a new enrollment, a change (of bank account) or a stop
 * with its reason. Stops and changes are accepted until the change deadline, new enrollments until the
 * new-enrollment deadline (000 五(三)(四)); the workflow's Update validator enforces the dates, this
 * module the registry's side. The person's share comes from the same engine that explains it.
 */
import type pg from 'pg';
import { z } from 'zod';
import { explain } from '../domain/engine';
import type { Policy } from '../domain/policy';
import { inTransaction } from './transaction';

/**
 * One write of an enrollment, in a transaction of its own, so the status history (migration 0025) records
 * the activity that applied the form as the change's maker.
 */
const writeEnrollment = (pool: pg.Pool, sql: string, params: unknown[]) =>
  inTransaction(pool, (client) => client.query(sql, params));

export const HouseholdForm = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('new'),
    idNumber: z.string().min(15),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  }),
  z.object({
    kind: z.literal('stop'),
    idNumber: z.string().min(15),
    reason: z.string().min(1, 'a stop needs its reason (附件1 填表说明2)'),
    date: z.string(),
  }),
  z.object({
    kind: z.literal('change-bank-account'),
    idNumber: z.string().min(15),
    bankAccount: z.string().regex(/^\d{12,25}$/, 'a bank account is 12 to 25 digits'),
    bankName: z.string().min(1),
    date: z.string(),
  }),
]);
export type HouseholdForm = z.infer<typeof HouseholdForm>;

export interface FormOutcome {
  accepted: boolean;
  /** What the form did, in the operators' words; or why it was refused. */
  result: string;
}

export async function applyHouseholdForm(
  pool: pg.Pool,
  policy: Policy,
  raw: HouseholdForm,
): Promise<FormOutcome> {
  const form = HouseholdForm.parse(raw);
  const person = await pool.query<{
    id: string;
    household_id: string | null;
    employee_insured: boolean;
    deceased_on: string | null;
  }>(
    `SELECT id, household_id, employee_insured, deceased_on FROM residents WHERE jurisdiction = $1 AND id_number = $2`,
    [policy.jurisdiction, form.idNumber],
  );
  const p = person.rows[0];
  if (!p) return { accepted: false, result: 'no registered resident has this ID number' };
  const enrollment = await pool.query<{ id: string; status: string }>(
    `SELECT id, status::text FROM enrollments WHERE resident_id = $1 AND campaign_year = $2`,
    [p.id, policy.year],
  );
  const current = enrollment.rows[0];
  switch (form.kind) {
    case 'stop': {
      if (current && ['paid', 'refunded'].includes(current.status)) {
        return {
          accepted: false,
          result: `already ${current.status} for ${policy.year}: a stop after payment is a refund application (000 五(七))`,
        };
      }
      if (current?.status === 'stopped') return { accepted: true, result: 'already stopped' };
      if (current) {
        // a failed enrollment's failure class goes with the failure (the table's CHECK): a stop after a failed
        // deduction is allowed (failed -> stopped) and failed on that CHECK before
        await writeEnrollment(
          pool,
          `UPDATE enrollments SET status = 'stopped', failure_class = NULL, stop_reason = $2 WHERE id = $1`,
          [current.id, form.reason],
        );
      } else {
        await writeEnrollment(
          pool,
          `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, status, total_fen, personal_fen, subsidy_fen, funding_source, stop_reason)
           VALUES ($1, $2, $3, 'stopped', $4, 0, 0, 'personal', $5) ON CONFLICT (campaign_year, resident_id) DO NOTHING`,
          [policy.jurisdiction, policy.year, p.id, policy.contribution.personalFen, form.reason],
        );
      }
      return {
        accepted: true,
        result: `stopped for ${policy.year}: ${form.reason}; not sent to the tax bureau`,
      };
    }
    case 'change-bank-account': {
      if (!p.household_id) return { accepted: false, result: 'the resident belongs to no household' };
      await pool.query(`UPDATE households SET bank_account = $2, bank_name = $3 WHERE id = $1`, [
        p.household_id,
        form.bankAccount,
        form.bankName,
      ]);
      return { accepted: true, result: 'the household’s withholding account is changed for every member' };
    }
    case 'new': {
      if (p.employee_insured)
        return {
          accepted: false,
          result: 'in employee insurance: cannot also enroll as a resident (000 五(四)(3))',
        };
      if (p.deceased_on) return { accepted: false, result: 'recorded as deceased' };
      if (current && current.status !== 'stopped')
        return { accepted: true, result: `already enrolled for ${policy.year} (${current.status})` };
      const categories = await pool.query<{ category: string }>(
        `SELECT category FROM identities WHERE resident_id = $1 AND valid_from <= $2::date AND (valid_to IS NULL OR valid_to >= $2::date) ORDER BY id`,
        [p.id, form.date],
      );
      const answer = explain(policy, {
        jurisdiction: policy.jurisdiction,
        year: policy.year,
        person: { idNumber: form.idNumber, categories: categories.rows.map((c) => c.category) },
        event: { kind: 'centralised-payment', date: form.date },
      });
      const c = answer.contribution;
      const status = c.personalFen === 0 ? 'paid' : 'registered';
      if (current) {
        await writeEnrollment(
          pool,
          `UPDATE enrollments SET status = 'registered', stop_reason = NULL, category = $2, total_fen = $3, personal_fen = $4, subsidy_fen = $5, funding_source = $6 WHERE id = $1`,
          [current.id, answer.effectiveCategory, c.totalFen, c.personalFen, c.subsidyFen, c.fundingSource],
        );
      } else {
        await writeEnrollment(
          pool,
          `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, status, category, total_fen, personal_fen, subsidy_fen, funding_source, benefit_start)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            policy.jurisdiction,
            policy.year,
            p.id,
            status,
            answer.effectiveCategory,
            c.totalFen,
            c.personalFen,
            c.subsidyFen,
            c.fundingSource,
            status === 'paid' ? answer.benefitStart : null,
          ],
        );
      }
      return {
        accepted: true,
        result: `registered for ${policy.year}: personal share ${c.personalFen / 100} yuan, levied in the next deduction round`,
      };
    }
  }
}
