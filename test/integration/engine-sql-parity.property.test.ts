/**
 * One rule in one place, checked by property: for many random persons and dates under each of the three
 * plans, the set-based SQL path (ledger/campaign.ts and the registry import, on a real
 * PostgreSQL) decides what the engine (domain/engine.ts) explains for the same person on the same day:
 * category, shares and fund; benefit start and contribution year of every payment, inside the collection
 * period and after it (000 五(六) the 1st of the next month; 003 二(二)2 the 4th month counting the payment
 * month); the day a removed identity stops counting (000 五(一)). The event kinds the SQL path has no
 * statement for (newborns, special enrollees, refunds) are checked against the plan sentences they encode.
 */
import { mkdtempSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taxCsvFormat } from '../../departments/formats';
import { applyDeductionResults, createLevyBatch, openEnrollments } from '../../ledger/campaign';
import { importDepartmentList } from '../../lists/import-list';
import { addDays, dateOfSpec, daysBetween, maxDate, type IsoDate } from '../../domain/dates';
import {
  benefitStartOfPayment,
  explain,
  identityClosesOn,
  type EventInput,
  type Explanation,
} from '../../domain/engine';
import { makeIdNumber } from '../../domain/id-number';
import type { Policy } from '../../domain/policy';
import { seedPolicy } from '../../seeds';
import { createTestDatabase, type TestDatabase } from '../support/database';

const POLICIES = (['kaiping', 'heshan', 'meishan'] as const).map((j) => seedPolicy(j, 2024));
const RUNS = 8;

/** A random date from `from` to `to` inclusive. */
const dateBetween = (from: IsoDate, to: IsoDate) =>
  fc.integer({ min: 0, max: daysBetween(from, to) }).map((n) => addDays(from, n));

interface Identity {
  category: string;
  validFrom: IsoDate;
  validTo: IsoDate | null;
}
interface Person {
  birthDate: IsoDate;
  disabilityGrade: number | null;
  localHukou: boolean;
  identities: Identity[];
}

function personArb(policy: Policy, around: IsoDate): fc.Arbitrary<Person> {
  const identity = fc
    .record({
      category: fc.constantFrom(...policy.categories.map((c) => c.id)),
      validFrom: dateBetween(addDays(around, -120), addDays(around, 150)),
      length: fc.option(fc.integer({ min: 0, max: 300 }), { nil: null }),
    })
    .map((r): Identity => ({
      category: r.category,
      validFrom: r.validFrom,
      validTo: r.length === null ? null : addDays(r.validFrom, r.length),
    }));
  return fc.record({
    // ages around every threshold the plans name (17/18 for minors, 60 for the elderly)
    birthDate: dateBetween('1930-01-01', '2023-06-30'),
    disabilityGrade: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
    localHukou: fc.boolean(),
    identities: fc.uniqueArray(identity, { maxLength: 3, selector: (i) => i.category }),
  });
}

/** The person's categories held on `on`, as the SQL joins them. */
const heldOn = (p: Person, on: IsoDate) =>
  p.identities
    .filter((i) => i.validFrom <= on && (i.validTo === null || i.validTo >= on))
    .map((i) => i.category);

function answer(policy: Policy, p: Person, idNumber: string, on: IsoDate, event: EventInput): Explanation {
  return explain(policy, {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    person: {
      idNumber,
      categories: heldOn(p, on),
      localHukou: p.localHukou,
      ...(p.disabilityGrade !== null ? { disabilityGrade: p.disabilityGrade } : {}),
    },
    event,
  });
}

describe('the engine and the SQL path agree for random persons and dates (fast-check, all three plans)', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'medins-parity-'));
    for (const p of POLICIES) {
      await db.pool.query(`INSERT INTO jurisdictions (code, name, province) VALUES ($1, $2, $3)`, [
        p.jurisdiction,
        p.name,
        p.province,
      ]);
      await db.pool.query(`INSERT INTO towns (jurisdiction, name) VALUES ($1, '测试镇')`, [p.jurisdiction]);
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  const reset = () =>
    db.pool.query(
      `TRUNCATE deduction_results, levy_lines, levy_batches, follow_up_tasks, enrollments, identities,
                submission_rows, submissions, residents RESTART IDENTITY CASCADE`,
    );

  /** Residents (each a payer last year, so renewed), their identities, under one submission. */
  async function load(policy: Policy, persons: Person[]): Promise<string[]> {
    const town = await db.pool.query<{ id: number }>(`SELECT id FROM towns WHERE jurisdiction = $1`, [
      policy.jurisdiction,
    ]);
    const ids = persons.map((p, i) => makeIdNumber(policy.regionCodes[0]!, p.birthDate, i + 1));
    await db.pool.query(
      `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id, residency, disability_grade)
       SELECT $1, id, '张三', 'M', b::date, $2, CASE WHEN h THEN 'hukou' ELSE 'residence-permit' END, g
       FROM unnest($3::text[], $4::text[], $5::boolean[], $6::int[]) AS t(id, b, h, g)`,
      [
        policy.jurisdiction,
        town.rows[0]!.id,
        ids,
        persons.map((p) => p.birthDate),
        persons.map((p) => p.localHukou),
        persons.map((p) => p.disabilityGrade),
      ],
    );
    await db.pool.query(
      `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, status, total_fen, personal_fen, subsidy_fen, funding_source)
       SELECT $1, $2::int - 1, id, 'paid', 0, 0, 0, 'prior-year-status' FROM residents WHERE jurisdiction = $1`,
      [policy.jurisdiction, policy.year],
    );
    const sub = await db.pool.query<{ id: string }>(
      `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by)
       VALUES ($1, $2, 'roster', '2023-08', '2023-08-31', 'property.csv', repeat('0', 64), 0, 'csv', 'utf-8', 'property-test')
       RETURNING id`,
      [policy.jurisdiction, policy.departments[0]!.id],
    );
    const rows = persons.flatMap((p, i) => p.identities.map((k) => ({ ...k, id: ids[i]! })));
    await db.pool.query(
      `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, valid_to, opened_by_submission, closed_by_submission)
       SELECT $1, r.id, t.category, 'any', t.valid_from::date, t.valid_to::date, $2, CASE WHEN t.valid_to IS NOT NULL THEN $2::bigint END
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS t(id_number, category, valid_from, valid_to)
       JOIN residents r ON r.id_number = t.id_number`,
      [
        policy.jurisdiction,
        sub.rows[0]!.id,
        rows.map((r) => r.id),
        rows.map((r) => r.category),
        rows.map((r) => r.validFrom),
        rows.map((r) => r.validTo),
      ],
    );
    return ids;
  }

  async function enrollmentsOf(policy: Policy) {
    return (
      await db.pool.query<{
        id: string;
        id_number: string;
        status: string;
        category: string | null;
        personal_fen: number;
        subsidy_fen: number;
        funding_source: string;
        benefit_start: string | null;
        campaign_year: number;
      }>(
        // the status in the documents' words: levied while a levy line awaits its result (migration 0075)
        `SELECT e.id, p.id_number, enrollment_status_shown(e.id, e.status, e.status_changed_at)::text AS status, e.category, e.personal_fen, e.subsidy_fen, e.funding_source,
                e.benefit_start::text, e.campaign_year
         FROM enrollments e JOIN residents p ON p.id = e.resident_id
         WHERE e.jurisdiction = $1 AND e.campaign_year = $2 ORDER BY p.id`,
        [policy.jurisdiction, policy.year],
      )
    ).rows;
  }

  it.each(POLICIES.map((p) => [p.jurisdiction, p] as const))(
    '%s: category, shares and fund at registration and at the levy, and the benefit start and contribution year each payment date buys, are the engine’s',
    async (_, policy) => {
      const c = policy.calendar;
      const periodFrom = dateOfSpec(c.centralisedPeriod.from);
      const rosterAsOf = dateOfSpec(c.rosterAsOf.at);
      const scenario = fc
        .record({
          asOf: dateBetween(addDays(rosterAsOf, -30), dateOfSpec(c.cutoff.at)),
          levyAfter: fc.integer({ min: 0, max: 150 }),
          // inside the collection period and up to eleven months after it
          paidOn: dateBetween(periodFrom, addDays(dateOfSpec(c.centralisedPeriod.to), 330)),
        })
        .chain((d) =>
          fc.record({
            asOf: fc.constant(d.asOf),
            levyOn: fc.constant(addDays(d.asOf, d.levyAfter)),
            paidOn: fc.constant(d.paidOn),
            persons: fc.array(personArb(policy, d.asOf), { minLength: 1, maxLength: 8 }),
          }),
        );
      await fc.assert(
        fc.asyncProperty(scenario, async ({ asOf, levyOn, paidOn, persons }) => {
          await reset();
          const ids = await load(policy, persons);
          const byId = new Map(ids.map((id, i) => [id, persons[i]!]));

          // registration: openEnrollments on asOf (先登记参保) against the engine on asOf
          await openEnrollments(db.pool, policy, asOf);
          const opened = await enrollmentsOf(policy);
          expect(opened).toHaveLength(persons.length);
          for (const e of opened) {
            const p = byId.get(e.id_number)!;
            const engine = answer(policy, p, e.id_number, asOf, {
              kind: 'difficulty-registration',
              date: asOf,
            });
            expect([e.category, e.personal_fen, e.subsidy_fen, e.funding_source]).toEqual([
              engine.effectiveCategory,
              engine.contribution.personalFen,
              engine.contribution.subsidyFen,
              engine.contribution.fundingSource,
            ]);
            if (e.personal_fen === 0) expect(e.benefit_start).toBe(engine.benefitStart);
          }

          // the levy re-decides unpaid shares on its own date
          const batch = await createLevyBatch(db.pool, policy, 1, levyOn);
          const levied = await enrollmentsOf(policy);
          for (const e of levied) {
            const before = opened.find((o) => o.id === e.id)!;
            if (before.status === 'paid') continue;
            const p = byId.get(e.id_number)!;
            const engine = answer(policy, p, e.id_number, levyOn, {
              kind: 'difficulty-registration',
              date: levyOn,
            });
            expect([e.category, e.personal_fen, e.subsidy_fen, e.funding_source]).toEqual([
              engine.effectiveCategory,
              engine.contribution.personalFen,
              engine.contribution.subsidyFen,
              engine.contribution.fundingSource,
            ]);
            if (e.status === 'paid') expect(e.benefit_start).toBe(engine.benefitStart);
            else expect(e.status).toBe('levied');
          }

          // every levied person pays on paidOn: the benefit start and year the ledger writes are the engine's
          const lines = levied.filter((e) => e.status === 'levied');
          expect(lines).toHaveLength(batch.lines);
          if (lines.length === 0) return;
          const file = join(dir, `results-${policy.jurisdiction}.csv`);
          writeFileSync(
            file,
            `enrollment_id,outcome,failure_code\n${lines.map((l) => `${l.id},success,`).join('\n')}\n`,
          );
          await applyDeductionResults(db.pool, policy, batch.batchId, taxCsvFormat.readResults(file), paidOn);
          const paid = await enrollmentsOf(policy);
          for (const l of lines) {
            const e = paid.find((x) => x.id === l.id)!;
            const p = byId.get(e.id_number)!;
            const payment = answer(policy, p, e.id_number, levyOn, {
              kind: 'centralised-payment',
              date: paidOn,
            });
            expect(e.status).toBe('paid');
            expect(e.benefit_start).toBe(payment.benefitStart);
            expect(payment.contributionYears).toEqual([e.campaign_year]);
            // a payment outside the collection period is a mid-year enrollment (000 五(六), 003 二(二)2)
            const midYear = answer(policy, p, e.id_number, levyOn, {
              kind: 'mid-year-enrollment',
              date: paidOn,
            });
            expect(e.benefit_start).toBe(midYear.benefitStart);
            expect(midYear.contributionYears).toEqual([e.campaign_year]);
          }
        }),
        { numRuns: RUNS, seed: 19 },
      );
    },
  );

  it.each(POLICIES.map((p) => [p.jurisdiction, p] as const))(
    '%s: a department’s removal closes the identity on the day before the engine says the subsidised standard ends',
    async (_, policy) => {
      const c = policy.calendar;
      const rosterAsOf = dateOfSpec(c.rosterAsOf.at);
      const scenario = fc.record({
        birthDate: dateBetween('1930-01-01', '2005-12-31'),
        category: fc.constantFrom(
          ...policy.categories.filter((k) => k.conditions.length <= 1).map((k) => k.id),
        ),
        listedOn: dateBetween(rosterAsOf, addDays(rosterAsOf, 60)),
        removedAfter: fc.integer({ min: 1, max: 300 }),
      });
      const exchangeDir = join(dir, 'exchange');
      await fc.assert(
        fc.asyncProperty(scenario, async ({ birthDate, category, listedOn, removedAfter }) => {
          await reset();
          const person: Person = { birthDate, disabilityGrade: null, localHukou: true, identities: [] };
          const [id] = await load(policy, [person]);
          const department = policy.categories.find((k) => k.id === category)!.department;
          const removedOn = addDays(listedOn, removedAfter);
          const header = '序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别';
          await importDepartmentList(
            { pool: db.pool, policy, exchangeDir },
            {
              jurisdiction: policy.jurisdiction,
              department,
              kind: 'roster',
              period: listedOn,
              effectiveOn: listedOn,
              fileName: 'roster.csv',
              receivedBy: 'property-test',
            },
            Buffer.from(`${header}\r\n1,张三,男,${id},,,${category}\r\n`, 'utf8'),
          );
          await importDepartmentList(
            { pool: db.pool, policy, exchangeDir },
            {
              jurisdiction: policy.jurisdiction,
              department,
              kind: 'delta',
              period: removedOn.slice(0, 7),
              effectiveOn: removedOn,
              fileName: 'delta.csv',
              receivedBy: 'property-test',
            },
            Buffer.from(`${header},变动类型\r\n1,张三,男,${id},,,${category},减员\r\n`, 'utf8'),
          );
          const row = await db.pool.query<{ valid_from: string; valid_to: string | null }>(
            `SELECT valid_from::text, valid_to::text FROM identities WHERE category = $1`,
            [category],
          );
          expect(row.rows).toHaveLength(1);
          const validTo = row.rows[0]!.valid_to!;
          expect(validTo).toBe(maxDate(identityClosesOn(policy, removedOn), addDays(listedOn, -1)));
          const ended = explain(policy, {
            jurisdiction: policy.jurisdiction,
            year: policy.year,
            person: { idNumber: id!, categories: [category] },
            event: { kind: 'identity-ended', date: removedOn },
          });
          // where the plan states when the standard ends (000 五(一), 001 七(三)), the identity holds to the day before
          if (policy.identityChange) expect(addDays(validTo, 1)).toBe(ended.subsidyEndsFrom);
          else expect(ended.subsidyEndsFrom).toBeUndefined();
        }),
        { numRuns: 4, seed: 19 },
      );
    },
  );

  describe.each(POLICIES.map((p) => [p.jurisdiction, p] as const))(
    '%s: the event kinds with no SQL statement answer as their sentences say',
    (_, policy) => {
      const yearStart = policy.calendar.benefitYearStart.date;
      const periodFrom = dateOfSpec(policy.calendar.centralisedPeriod.from);
      const id = (birth: IsoDate) => makeIdNumber(policy.regionCodes[0]!, birth, 7);
      const run = (birth: IsoDate, event: EventInput) =>
        explain(policy, {
          jurisdiction: policy.jurisdiction,
          year: policy.year,
          person: { idNumber: id(birth) },
          event,
        });

      it('a special enrollee (new arrival, released prisoner…) is covered as the plan says, never by this year’s payment before the benefit year where contributions are annual', () => {
        const special = policy.benefitStart.special!;
        fc.assert(
          fc.property(
            dateBetween(periodFrom, '2024-12-31'),
            fc.constantFrom(...special.reasons),
            (paidOn, reason) => {
              const e = run('1980-01-01', { kind: 'special-enrollment', date: paidOn, reason });
              const expected =
                special.benefitStart === 'as-mid-year' // 000 五(六)3 按中途参保: as a payment that day
                  ? benefitStartOfPayment(policy, paidOn)
                  : policy.annualContribution // 003 二(二)3 缴费次日, 二(二) 按年度缴费
                    ? maxDate(addDays(paidOn, 1), yearStart)
                    : addDays(paidOn, 1);
              expect(e.benefitStart).toBe(expected);
              expect(e.contributionYears).toEqual([policy.year]);
            },
          ),
          { numRuns: 200, seed: 19 },
        );
      });

      it('a newborn is never covered before birth, each contribution year has its amount, and this year’s payment buys no earlier cover unless the plan makes it pay both years', () => {
        fc.assert(
          fc.property(
            dateBetween('2023-01-01', '2024-12-31'),
            fc.integer({ min: 0, max: 400 }),
            (birth, after) => {
              const paidOn = maxDate(addDays(birth, after), periodFrom);
              const e = run(birth, { kind: 'newborn-enrollment', date: paidOn });
              expect(e.benefitStart! >= birth).toBe(true);
              expect(e.contributionsDue.map((d) => d.year)).toEqual(e.contributionYears);
              expect(e.contributionsDue.at(-1)).toMatchObject({
                year: policy.year,
                personalFen: policy.contribution.personalFen,
              });
              if (e.benefitStart! < yearStart) expect(e.contributionYears[0]).toBeLessThan(policy.year);
              if (policy.annualContribution) expect(e.benefitStart! >= yearStart).toBe(true);
            },
          ),
          { numRuns: 200, seed: 19 },
        );
      });

      it('a refund is decided on the day the event happened against the benefit start, never on the application day', () => {
        const reasons = [
          'death',
          'duplicate-payment',
          'joined-employee-insurance',
          'duplicate-enrollment-elsewhere',
        ];
        fc.assert(
          fc.property(
            dateBetween('2023-09-01', '2024-12-31'),
            fc.integer({ min: 0, max: 200 }),
            fc.constantFrom(...reasons),
            (occurredOn, lag, reason) => {
              const e = run('1980-01-01', {
                kind: 'refund-request',
                date: addDays(occurredOn, lag),
                occurredOn,
                reason,
              });
              const r = e.refund!;
              const listed = (policy.refunds.beforeBenefitStart as string[]).includes(reason);
              const before = occurredOn < yearStart;
              const expected = before
                ? listed
                  ? 'refund'
                  : policy.refunds.otherReasons === 'no-rule-stated'
                    ? 'no-rule-stated'
                    : 'no-refund'
                : policy.refunds.afterBenefitStart === 'no-refund'
                  ? 'no-refund'
                  : 'no-rule-stated';
              expect(r.decision).toBe(expected);
              expect(r.amountFen).toBe(
                expected === 'refund' ? policy.contribution.personalFen : expected === 'no-refund' ? 0 : null,
              );
              expect(r.judgedOn.occurredOn).toBe(occurredOn);
            },
          ),
          { numRuns: 200, seed: 19 },
        );
      });
    },
  );
});
