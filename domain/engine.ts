/**
 * The policy engine: pure, deterministic functions over (policy, person, event) that say who pays what,
 * from which fund, from when a person is covered, which years they owe, whether a refund is due and how a
 * failed deduction is handled, each answer with the list of rules (and their sources) that produced it.
 * Workflows, activities and the CLI all call these functions; no city is named here.
 */
import { z } from 'zod';
import {
  addDays,
  addMonths,
  addYears,
  compareDates,
  daysBetween,
  firstOfMonth,
  firstOfNextMonth,
  instantOf,
  isIsoDate,
  dateOfSpec,
  yearOf,
  type IsoDate,
} from './dates';
import { ageOn, checkIdNumber, maskIdNumber } from './id-number';
import { shareOf, type Fen } from './money';
import type { Category, Condition, FundingSource, Policy } from './policy';

const DateField = z.string().refine(isIsoDate, 'a calendar date YYYY-MM-DD');

export const EventKind = z.enum([
  'centralised-payment',
  'mid-year-enrollment',
  'newborn-enrollment',
  'special-enrollment',
  'difficulty-registration',
  'refund-request',
  'identity-ended',
]);
export type EventKind = z.infer<typeof EventKind>;

export const PersonInput = z.object({
  idNumber: z.string().min(1),
  birthDate: DateField.optional(),
  categories: z.array(z.string().min(1)).default([]),
  age: z.number().int().min(0).max(150).optional(),
  disabilityGrade: z.number().int().min(1).max(4).optional(),
  lowIncomeFamily: z.boolean().optional(),
  /** 本市户籍: household registration in the jurisdiction. Not given: taken as local (see conditionHolds). */
  localHukou: z.boolean().optional(),
  /** Currently insured in employee basic medical insurance (职工医保). */
  employeeInsured: z.boolean().optional(),
  /** Has shown proof that the employee insurance stopped (职工医保停保相关凭证, 000 五(四)(3)). */
  employeeInsuranceStopProof: z.boolean().optional(),
  /** Was in any basic medical insurance earlier in the calendar year of the event (003 二(二)2). */
  basicInsuredThisYear: z.boolean().optional(),
  /** The name on record; '' means missing (001 三(三) 无身份信息). */
  name: z.string().optional(),
  /** The identity information on record: complete, missing or wrong (001 三(三)). Default complete. */
  identityInformation: z.enum(['complete', 'missing', 'wrong']).optional(),
});
export type PersonInput = z.input<typeof PersonInput>;

export const EventInput = z.object({
  kind: EventKind,
  /** The payment, registration, request or end date, as the kind says. */
  date: DateField,
  reason: z.string().min(1).optional(),
  /** The day employee insurance stopped (its last covered day). */
  lapseDate: DateField.optional(),
  /** For a refund request: when the person's benefits start(ed); default the benefit year's start. */
  benefitStart: DateField.optional(),
  /**
   * For a refund request: the day the death, the duplicate payment, the move to employee insurance or
   * the duplicate enrollment happened. The plans key the refund on it, not on the application (000 五(七)).
   */
  occurredOn: DateField.optional(),
  /** For a refund request: what the person paid, in fen; default this year's personal share. */
  paidFen: z.number().int().min(0).optional(),
});
export type EventInput = z.input<typeof EventInput>;

export const ExplainInput = z.object({
  jurisdiction: z.string().min(1),
  year: z.number().int(),
  person: PersonInput,
  event: EventInput,
});
export type ExplainInput = z.input<typeof ExplainInput>;

export interface RuleRef {
  id: string;
  source: string;
  says: string;
}

export interface Contribution {
  totalFen: Fen;
  personalFen: Fen;
  subsidyFen: Fen;
  fundingSource: FundingSource;
  /** 先缴后补: the person pays the whole contribution now and is reimbursed later. */
  reimbursedLater?: { by: string; basis: string; amountFen: Fen | null };
}

export interface HeldCategory {
  id: string;
  name: string;
  department: string;
  eligible: boolean;
  why?: string;
}

/** A date by which the person must act, and whether the event missed it. */
export interface PersonDeadline {
  name: 'change-or-stop' | 'new-enrollment' | 'personal-share';
  date: IsoDate;
  says: string;
  source: string;
  /** Only for a payment event: paid after this date. */
  missed?: boolean;
}

export interface RefundAnswer {
  /** True only when the decision is 'refund'. */
  eligible: boolean;
  decision: 'refund' | 'no-refund' | 'no-rule-stated';
  reason: string;
  /** What is returned to the person, in fen: the personal contribution paid; 0 when nothing; null when no rule. */
  amountFen: Fen | null;
  /** The dates the decision was judged on. */
  judgedOn: { occurredOn: IsoDate; benefitStart: IsoDate; requestedOn: IsoDate };
}

export interface Explanation {
  jurisdiction: string;
  year: number;
  person: { idNumber: string; birthDate: IsoDate; sex: 'male' | 'female'; ageOnEvent: number };
  event: { kind: EventKind; date: IsoDate; reason?: string };
  heldCategories: HeldCategory[];
  effectiveCategory: string | null;
  effectiveCategoryName: string | null;
  contribution: Contribution;
  /** Whether the tax bureau is sent a levy for this person (a personal share to deduct). */
  levied: boolean;
  benefitStart: IsoDate | null;
  /** Meishan's employee-insurance lapse: benefits also cover the gap from this day. */
  gapCoveredFrom?: IsoDate;
  contributionYears: number[];
  /**
   * Each contribution year with the person's personal amount in fen (null where the plan does not state
   * that year's standard): a newborn whose benefits cross the year boundary pays both (000 五(六)2).
   */
  contributionsDue: { year: number; personalFen: Fen | null; source: string }[];
  /**
   * Cover before the benefit year that this year's contribution does not buy (003 二(二) 按年度缴费): the
   * previous year's, a separate payment.
   */
  priorYearCover?: { year: number; from: IsoDate; to: IsoDate; says: string };
  /** False when the plan refuses this enrollment (the reasons are in `refusals`). */
  enrollable: boolean;
  refusals: RuleRef[];
  /** The person's deadlines under the plan. */
  deadlines: PersonDeadline[];
  /** Why a subsidy claim would leave the person out (001 三(三)); empty when none. */
  claimExclusions: RuleRef[];
  refund?: RefundAnswer;
  subsidyEndsFrom?: IsoDate;
  rules: RuleRef[];
}

/** Input that is well-formed but contradicts the policy: names the field at fault. */
export class ExplainError extends Error {
  override name = 'ExplainError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface PersonFacts {
  birthDate: IsoDate;
  age: number;
  disabilityGrade?: number;
  lowIncomeFamily?: boolean;
  localHukou?: boolean;
}

function conditionHolds(condition: Condition, facts: PersonFacts): { holds: boolean; why: string } {
  switch (condition.kind) {
    case 'age': {
      const ok =
        (condition.min === undefined || facts.age >= condition.min) &&
        (condition.max === undefined || facts.age <= condition.max);
      const range =
        condition.min !== undefined && condition.max !== undefined
          ? `${condition.min}..${condition.max}`
          : condition.min !== undefined
            ? `${condition.min} or older`
            : `${condition.max} or younger`;
      return { holds: ok, why: `age ${facts.age} ${ok ? 'is' : 'is not'} ${range}` };
    }
    case 'disability-grade': {
      if (facts.disabilityGrade === undefined) return { holds: false, why: 'no disability grade given' };
      const ok = condition.grades.includes(facts.disabilityGrade);
      return {
        holds: ok,
        why: `disability grade ${facts.disabilityGrade} ${ok ? 'is' : 'is not'} ${condition.grades.join('/')}`,
      };
    }
    case 'low-income-family':
      return facts.lowIncomeFamily
        ? { holds: true, why: 'member of a certified low-income family' }
        : { holds: false, why: 'not shown to be in a certified low-income family' };
    case 'local-hukou':
      // A category's list comes from a department of the jurisdiction, which certifies its own residents:
      // unless the input says otherwise, a listed person is taken as locally registered.
      return facts.localHukou === false
        ? { holds: false, why: 'household registration (户籍) is not local' }
        : {
            holds: true,
            why: facts.localHukou
              ? 'local household registration (本市户籍)'
              : 'hukou not given: taken as local',
          };
    case 'any-of': {
      const results = condition.conditions.map((c) => conditionHolds(c, facts));
      const met = results.find((r) => r.holds);
      return met ?? { holds: false, why: results.map((r) => r.why).join('; ') };
    }
  }
}

export interface CategoryDecision {
  held: HeldCategory[];
  effective: Category | undefined;
  rules: RuleRef[];
}

/** Which of the person's categories apply on `on`, and which one wins under the policy's precedence. */
export function effectiveCategory(
  policy: Policy,
  categoryIds: readonly string[],
  facts: PersonFacts,
  field = 'person.categories',
): CategoryDecision {
  const rules: RuleRef[] = [];
  const held: HeldCategory[] = [];
  const eligible: Category[] = [];
  categoryIds.forEach((id, index) => {
    const category = policy.categories.find((c) => c.id === id);
    if (!category) {
      throw new ExplainError(
        `${field}[${index}]`,
        `${id} is not a category of ${policy.jurisdiction} ${policy.year} (known: ${policy.categories.map((c) => c.id).join(', ')})`,
      );
    }
    const failed = category.conditions.map((c) => conditionHolds(c, facts)).find((r) => !r.holds);
    held.push({
      id: category.id,
      name: category.name,
      department: category.department,
      eligible: !failed,
      ...(failed ? { why: failed.why } : {}),
    });
    rules.push({
      id: `category.${category.id}`,
      source: category.source,
      says: failed
        ? `${category.name}: condition not met (${failed.why})`
        : `${category.name}: certified by ${category.department}, subsidy ${category.subsidyShareBp / 100}% from ${category.fundingSource}`,
    });
    if (!failed) eligible.push(category);
  });
  if (eligible.length === 0) return { held, effective: undefined, rules };
  let effective: Category;
  const p = policy.precedence;
  if (p.kind === 'later-import-wins') {
    effective = eligible.reduce((a, b) => (p.order.indexOf(b.id) > p.order.indexOf(a.id) ? b : a));
  } else {
    const docIndex = (c: Category) => policy.categories.indexOf(c);
    effective = eligible.reduce((a, b) =>
      b.subsidyShareBp > a.subsidyShareBp ||
      (b.subsidyShareBp === a.subsidyShareBp && docIndex(b) < docIndex(a))
        ? b
        : a,
    );
  }
  if (eligible.length > 1) {
    rules.push({
      id: 'precedence',
      source: p.source,
      says: `${eligible.map((c) => c.id).join(', ')} all apply; ${effective.id} wins (${p.kind})`,
    });
  }
  return { held, effective, rules };
}

/** What the person pays, what the subsidy pays, and from which fund. */
export function contributionFor(
  policy: Policy,
  category: Category | undefined,
): { contribution: Contribution; rules: RuleRef[] } {
  const total = policy.contribution.personalFen;
  const rules: RuleRef[] = [
    {
      id: 'contribution.standard',
      source: policy.contribution.source,
      says: `contribution ${total / 100} yuan per person per year`,
    },
  ];
  if (!category) {
    return {
      contribution: { totalFen: total, personalFen: total, subsidyFen: 0, fundingSource: 'personal' },
      rules,
    };
  }
  if (category.paysFirstSubsidisedLater) {
    rules.push({
      id: 'contribution.pays-first',
      source: category.source,
      says: `先缴后补: pays ${total / 100} yuan first, reimbursed later by ${category.department} (${category.paysFirstSubsidisedLater.basis})`,
    });
    return {
      contribution: {
        totalFen: total,
        personalFen: total,
        subsidyFen: 0,
        fundingSource: category.fundingSource,
        reimbursedLater: {
          by: category.department,
          basis: category.paysFirstSubsidisedLater.basis,
          amountFen: category.paysFirstSubsidisedLater.reimbursementFen,
        },
      },
      rules,
    };
  }
  const subsidy = shareOf(total, category.subsidyShareBp);
  rules.push({
    id: `contribution.subsidy.${category.subsidyShareBp}`,
    source: category.source,
    says: `subsidy ${subsidy / 100} yuan (${category.subsidyShareBp / 100}%) from ${category.fundingSource}; personal share ${(total - subsidy) / 100} yuan`,
  });
  return {
    contribution: {
      totalFen: total,
      personalFen: total - subsidy,
      subsidyFen: subsidy,
      fundingSource: category.fundingSource,
    },
    rules,
  };
}

function inCentralisedPeriod(policy: Policy, date: IsoDate): boolean {
  const from = dateOfSpec(policy.calendar.centralisedPeriod.from);
  const to = dateOfSpec(policy.calendar.centralisedPeriod.to);
  return date >= from && date <= to;
}

function midYearStart(policy: Policy, date: IsoDate): { start: IsoDate; rule: RuleRef } {
  const m = policy.benefitStart.midYear;
  if (m.kind === 'first-of-month-after-payment') {
    return {
      start: firstOfNextMonth(date),
      rule: {
        id: 'benefit.mid-year',
        source: m.source,
        says: 'benefits from the 1st of the month after payment',
      },
    };
  }
  return {
    start: addMonths(firstOfMonth(date), m.n - 1),
    rule: {
      id: 'benefit.mid-year',
      source: m.source,
      says: `benefits from month ${m.n} counting the payment month`,
    },
  };
}

/**
 * The benefit start a payment on `paidOn` (a China date, not before the collection period opens) buys for
 * the campaign year: the benefit year's start inside the centralised period (000 附件1 备注1, 003 二(二)1),
 * else the policy's mid-year rule (the 1st of the next month, 000 五(六); the 4th month counting the
 * payment month, 003 二(二)2). The engine's answer and the ledger's SQL both take it from here.
 */
export function benefitStartOfPayment(policy: Policy, paidOn: IsoDate): IsoDate {
  return inCentralisedPeriod(policy, paidOn)
    ? policy.calendar.benefitYearStart.date
    : midYearStart(policy, paidOn).start;
}

/**
 * The benefit start of a difficulty resident registered (identity marked) on `registeredOn`: that day
 * (000 五(一) 先登记参保、后补助缴费), or the benefit year's start when registered before it (003 三(三)1-2).
 */
export function difficultyBenefitStart(policy: Policy, registeredOn: IsoDate): IsoDate {
  const yearStart = policy.calendar.benefitYearStart.date;
  return policy.benefitStart.difficultyRegistration.rule === 'registration-day' || registeredOn >= yearStart
    ? registeredOn
    : yearStart;
}

/**
 * The last day an identity ended on `endedOn` (removed from a department's list) still counts: the
 * subsidised standard stops from the 1st of the next month (000 五(一), 001 七(三)), so the identity holds
 * to the end of its month. A plan without a rule (003) is read the same way: the departments' lists
 * report whole months (monthly additions and removals). The registry import closes identities with it.
 */
export function identityClosesOn(policy: Policy, endedOn: IsoDate): IsoDate {
  const from = policy.identityChange?.loseSubsidyFrom ?? 'first-of-next-month';
  switch (from) {
    case 'first-of-next-month':
      return addDays(firstOfNextMonth(endedOn), -1);
  }
}

interface BenefitAnswer {
  benefitStart: IsoDate | null;
  gapCoveredFrom?: IsoDate;
  priorYearCover?: Explanation['priorYearCover'];
  contributionYears: number[];
  rules: RuleRef[];
}

/**
 * 按年度缴费 (003 二(二)): where the policy says contributions are annual, this year's contribution buys
 * cover from the benefit year's start at the earliest. A start the rules put earlier (a special enrollee
 * or a newborn paying inside the collection period) moves to the benefit year; the days before are the
 * previous year's cover, a separate payment (003 二(三) 2023年所属期缴费…特推后再行缴费).
 */
function benefitFor(policy: Policy, event: z.infer<typeof EventInput>, birthDate: IsoDate): BenefitAnswer {
  const answer = rawBenefitFor(policy, event, birthDate);
  const annual = policy.annualContribution;
  const yearStart = policy.calendar.benefitYearStart.date;
  if (!annual || answer.benefitStart === null || answer.benefitStart >= yearStart) return answer;
  if (answer.contributionYears.some((y) => y < policy.year)) return answer;
  const to = addDays(yearStart, -1);
  const says = `this year's contribution covers ${policy.year} only: benefits from ${yearStart}; cover from ${answer.benefitStart} to ${to} is the ${policy.year - 1} year's, a separate payment`;
  return {
    ...answer,
    benefitStart: yearStart,
    priorYearCover: { year: policy.year - 1, from: answer.benefitStart, to, says },
    rules: [...answer.rules, { id: 'benefit.annual-contribution', source: annual.source, says }],
  };
}

function rawBenefitFor(policy: Policy, event: z.infer<typeof EventInput>, birthDate: IsoDate): BenefitAnswer {
  const b = policy.benefitStart;
  const yearStart = policy.calendar.benefitYearStart.date;
  const date = event.date;
  const years = [policy.year];
  const periodFrom = dateOfSpec(policy.calendar.centralisedPeriod.from);

  const centralised = (says: string): BenefitAnswer => ({
    benefitStart: yearStart,
    contributionYears: years,
    rules: [{ id: 'benefit.centralised', source: b.centralised.source, says }],
  });

  switch (event.kind) {
    case 'centralised-payment': {
      if (date < periodFrom) {
        throw new ExplainError(
          'event.date',
          `${date} is before the centralised period, which opens ${periodFrom}`,
        );
      }
      if (inCentralisedPeriod(policy, date))
        return centralised(
          `paid in the centralised period: benefits from ${benefitStartOfPayment(policy, date)}`,
        );
      const mid = midYearStart(policy, date);
      return {
        benefitStart: benefitStartOfPayment(policy, date),
        contributionYears: years,
        rules: [
          {
            id: 'event.after-centralised-period',
            source: policy.calendar.centralisedPeriod.source,
            says: `${date} is after the centralised period: a mid-year enrollment`,
          },
          mid.rule,
        ],
      };
    }
    case 'mid-year-enrollment': {
      if (inCentralisedPeriod(policy, date)) {
        return centralised(`${date} is inside the centralised period: benefits from ${yearStart}`);
      }
      const lapse = b.employeeInsuranceLapse;
      if (event.reason === 'employee-insurance-lapse') {
        if (!event.lapseDate)
          throw new ExplainError('event.lapseDate', 'required when the reason is employee-insurance-lapse');
        if (lapse && date <= addMonths(event.lapseDate, lapse.withinMonths)) {
          const gap = addDays(event.lapseDate, 1);
          return {
            benefitStart: date,
            ...(lapse.gapCovered ? { gapCoveredFrom: gap } : {}),
            contributionYears: years,
            rules: [
              {
                id: 'benefit.employee-insurance-lapse',
                source: lapse.source,
                says: `joined within ${lapse.withinMonths} months of leaving employee insurance: benefits from the payment day, the gap from ${gap} covered`,
              },
            ],
          };
        }
        const mid = midYearStart(policy, date);
        return {
          benefitStart: mid.start,
          contributionYears: years,
          rules: [
            lapse
              ? {
                  id: 'benefit.employee-insurance-lapse',
                  source: lapse.source,
                  says: `more than ${lapse.withinMonths} months after leaving employee insurance: the ordinary mid-year rule`,
                }
              : {
                  id: 'benefit.employee-insurance-lapse',
                  source: b.midYear.source,
                  says: 'the plan has no rule for leaving employee insurance: the ordinary mid-year rule',
                },
            mid.rule,
          ],
        };
      }
      const mid = midYearStart(policy, date);
      return { benefitStart: mid.start, contributionYears: years, rules: [mid.rule] };
    }
    case 'special-enrollment': {
      const special = b.special;
      if (!special)
        throw new ExplainError(
          'event.kind',
          `${policy.jurisdiction} ${policy.year} has no special-enrollment rule`,
        );
      if (!event.reason || !special.reasons.includes(event.reason)) {
        throw new ExplainError('event.reason', `must be one of ${special.reasons.join(', ')}`);
      }
      if (special.benefitStart === 'day-after-payment') {
        return {
          benefitStart: addDays(date, 1),
          contributionYears: years,
          rules: [
            {
              id: 'benefit.special',
              source: special.source,
              says: `${event.reason}: may enroll at any time, benefits from the day after payment`,
            },
          ],
        };
      }
      const mid = midYearStart(policy, date);
      return {
        benefitStart: inCentralisedPeriod(policy, date) ? yearStart : mid.start,
        contributionYears: years,
        rules: [
          {
            id: 'benefit.special',
            source: special.source,
            says: `${event.reason}: enrolls as a mid-year enrollee`,
          },
          mid.rule,
        ],
      };
    }
    case 'newborn-enrollment': {
      const n = b.newborn;
      if (yearOf(birthDate) > policy.year) {
        throw new ExplainError(
          'person.birthDate',
          `born ${birthDate}, after the ${policy.year} benefit year: a later year's policy applies`,
        );
      }
      if (n.kind === 'months-from-first-of-next-month') {
        if (date < birthDate) {
          if (n.preEnrollmentFromPregnancyWeek === undefined)
            throw new ExplainError('event.date', 'payment before birth');
          return {
            benefitStart: birthDate,
            contributionYears: n.crossYearPaysBothYears ? range(yearOf(birthDate), policy.year) : years,
            rules: [
              {
                id: 'benefit.newborn.pre-enrollment',
                source: n.source,
                says: `pre-enrolled from week ${n.preEnrollmentFromPregnancyWeek} of pregnancy: covered from birth`,
              },
            ],
          };
        }
        const windowStart = firstOfNextMonth(birthDate);
        const windowEnd = addDays(addMonths(windowStart, n.months), -1);
        if (date <= windowEnd) {
          const contributionYears = n.crossYearPaysBothYears ? range(yearOf(birthDate), policy.year) : years;
          const rules: RuleRef[] = [
            {
              id: 'benefit.newborn.within-window',
              source: n.source,
              says: `paid by ${windowEnd}, within ${n.months} months from ${windowStart}: covered from birth ${birthDate}`,
            },
          ];
          if (contributionYears.length > 1) {
            rules.push({
              id: 'benefit.newborn.cross-year',
              source: n.source,
              says: `benefits from ${birthDate} span ${contributionYears.join(' and ')}: both years are paid`,
            });
          }
          return { benefitStart: birthDate, contributionYears, rules };
        }
        return {
          benefitStart: inCentralisedPeriod(policy, date) ? yearStart : firstOfNextMonth(date),
          contributionYears: years,
          rules: [
            {
              id: 'benefit.newborn.after-window',
              source: n.source,
              says: `paid after ${windowEnd}: benefits from the 1st of the month after payment`,
            },
          ],
        };
      }
      const days = daysBetween(birthDate, date);
      if (days < 0)
        throw new ExplainError(
          'event.date',
          `payment ${date} before birth ${birthDate}: the plan has no pre-enrollment`,
        );
      // the last day inside the window: birth + N days, or birth + N - 1 when the birth day is day 1
      const lastInWindow = addDays(birthDate, n.dayOneIs === 'birth-day' ? n.days - 1 : n.days);
      if (date <= lastInWindow) {
        return {
          benefitStart: birthDate,
          contributionYears: years,
          rules: [
            {
              id: 'benefit.newborn.within-window',
              source: n.source,
              says: `paid on ${date}, by ${lastInWindow} (day ${n.days} counted from the ${n.dayOneIs === 'birth-day' ? 'birth day as day 1' : 'day after birth'}): covered from birth ${birthDate}`,
            },
          ],
        };
      }
      if (date < addYears(birthDate, n.withinYears)) {
        return {
          benefitStart: addDays(date, 1),
          contributionYears: years,
          rules: [
            {
              id: 'benefit.newborn.after-window',
              source: n.source,
              says: `paid on ${date}, after day ${n.days} (${lastInWindow}) and within ${n.withinYears} year of birth: benefits from the day after payment`,
            },
          ],
        };
      }
      const mid = midYearStart(policy, date);
      return {
        benefitStart: mid.start,
        contributionYears: years,
        rules: [
          {
            id: 'benefit.newborn.over-a-year',
            source: n.source,
            says: `more than ${n.withinYears} year after birth: no newborn rule applies`,
          },
          mid.rule,
        ],
      };
    }
    case 'difficulty-registration': {
      const d = b.difficultyRegistration;
      const start = difficultyBenefitStart(policy, date);
      return {
        benefitStart: start,
        contributionYears: years,
        rules: [
          {
            id: 'benefit.difficulty-registration',
            source: d.source,
            says:
              d.rule === 'registration-day'
                ? `register first, subsidy later: benefits from the registration and identity marking on ${date}`
                : date < yearStart
                  ? `registered before the benefit year: benefits from ${yearStart}`
                  : `registered within the benefit year: covered from ${date}`,
          },
        ],
      };
    }
    case 'refund-request':
    case 'identity-ended':
      return { benefitStart: null, contributionYears: [], rules: [] };
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let y = from; y <= to; y += 1) out.push(y);
  return out;
}

/**
 * Whether a paid contribution is refunded on application (000 五(七), 001 六(二)): judged on the day the
 * death, duplicate payment, move to employee insurance or duplicate enrollment happened (`occurredOn`),
 * against the person's benefit start; the application may come later. `paidFen` is what the person paid
 * (fen), returned in full when the decision is 'refund'. A plan that states no rule for the case is
 * answered 'no-rule-stated', never 'no-refund'. Throws ExplainError without a reason.
 */
export function refundFor(
  policy: Policy,
  reason: string | undefined,
  dates: { occurredOn: IsoDate; requestedOn: IsoDate; benefitStart: IsoDate },
  paidFen: Fen,
): { refund: RefundAnswer; rule: RuleRef } {
  const r = policy.refunds;
  if (!reason)
    throw new ExplainError(
      'event.reason',
      `a refund request needs a reason (${r.beforeBenefitStart.join(', ')})`,
    );
  const { occurredOn, benefitStart } = dates;
  const answer = (
    decision: RefundAnswer['decision'],
    says: string,
    id: string,
  ): { refund: RefundAnswer; rule: RuleRef } => ({
    refund: {
      eligible: decision === 'refund',
      decision,
      reason: says,
      amountFen: decision === 'refund' ? paidFen : decision === 'no-refund' ? 0 : null,
      judgedOn: dates,
    },
    rule: { id, source: r.source, says },
  });
  if (compareDates(occurredOn, benefitStart) >= 0) {
    return r.afterBenefitStart === 'no-refund'
      ? answer(
          'no-refund',
          `${reason} on ${occurredOn}, after the benefit period began ${benefitStart}: the personal contribution is not returned`,
          'refund.after-benefit-start',
        )
      : answer(
          'no-rule-stated',
          `${reason} on ${occurredOn}, after the benefit period began ${benefitStart}: the plan states no refund rule for this case`,
          'refund.after-benefit-start',
        );
  }
  if (!(r.beforeBenefitStart as string[]).includes(reason)) {
    return r.otherReasons === 'no-rule-stated'
      ? answer(
          'no-rule-stated',
          `${reason}: the plan states no refund rule for it (it names only ${r.beforeBenefitStart.join(', ')})${r.note ? `. ${r.note}` : ''}`,
          'refund.reason',
        )
      : answer(
          'no-refund',
          `${reason} is not a refund reason of this plan (${r.beforeBenefitStart.join(', ')})${r.note ? `. ${r.note}` : ''}`,
          'refund.reason',
        );
  }
  return answer(
    'refund',
    `${reason} on ${occurredOn}, before the benefit period (${benefitStart}): ${paidFen / 100} yuan refunded on application, ending the enrollment`,
    'refund.before-benefit-start',
  );
}

/**
 * The person's deadlines: changes and stops (000 五(三)(四) 10-07), new enrollment and payment (000 12-31,
 * 001 11-30, 003 02-29), and the personal share of the partly subsidised (003 三(三)3(2) 12-20). For a
 * payment, `missed` says whether it came after the date.
 */
export function deadlinesFor(
  policy: Policy,
  contribution: Contribution,
  event: { kind: EventKind; date: IsoDate },
): PersonDeadline[] {
  const c = policy.calendar;
  const isPayment = event.kind === 'centralised-payment';
  const out: PersonDeadline[] = [
    {
      name: 'change-or-stop',
      date: dateOfSpec(c.changeStopDeadline.at),
      says: `changes and stops of enrollment by ${dateOfSpec(c.changeStopDeadline.at)}`,
      source: c.changeStopDeadline.source,
    },
    {
      name: 'new-enrollment',
      date: dateOfSpec(c.newEnrollmentDeadline.at),
      says: `new enrollment and payment by ${dateOfSpec(c.newEnrollmentDeadline.at)}`,
      source: c.newEnrollmentDeadline.source,
      ...(isPayment ? { missed: event.date > dateOfSpec(c.newEnrollmentDeadline.at) } : {}),
    },
  ];
  const partial = c.partialPaymentDeadline;
  const hasShare = contribution.personalFen > 0 && !contribution.reimbursedLater;
  const applies =
    partial &&
    hasShare &&
    (partial.appliesTo === 'everyone-with-a-personal-share' || contribution.subsidyFen > 0);
  if (partial && applies) {
    const date = dateOfSpec(partial.at);
    out.push({
      name: 'personal-share',
      date,
      says: `the personal share of ${contribution.personalFen / 100} yuan by ${date}`,
      source: partial.source,
      ...(isPayment ? { missed: event.date > date } : {}),
    });
  }
  return out;
}

/** Why the plan refuses this person's enrollment by this event (insurance status, 000 五(四)(3), 003 二(二)2). */
function refusalsFor(
  policy: Policy,
  person: z.infer<typeof PersonInput>,
  event: z.infer<typeof EventInput>,
): { refusals: RuleRef[]; notes: RuleRef[] } {
  const refusals: RuleRef[] = [];
  const notes: RuleRef[] = [];
  const enrolling = [
    'centralised-payment',
    'mid-year-enrollment',
    'newborn-enrollment',
    'special-enrollment',
    'difficulty-registration',
  ].includes(event.kind);
  if (!enrolling) return { refusals, notes };
  const k = policy.enrollmentConditions;
  if (k.employeeInsuredNeedsProofOfStop && person.employeeInsured) {
    if (person.employeeInsuranceStopProof) {
      notes.push({
        id: 'enrollment.employee-insured',
        source: k.employeeInsuredNeedsProofOfStop.source,
        says: 'proof that the employee insurance stopped is shown: may enroll',
      });
    } else {
      refusals.push({
        id: 'enrollment.employee-insured',
        source: k.employeeInsuredNeedsProofOfStop.source,
        says: 'in employee insurance: cannot also enroll without proof that it stopped (职工医保停保相关凭证)',
      });
    }
  }
  const midYear = k.midYearOnlyIfNoBasicInsuranceThisYear;
  const lapse = event.kind === 'mid-year-enrollment' && event.reason === 'employee-insurance-lapse';
  if (midYear && event.kind === 'mid-year-enrollment' && !lapse && !inCentralisedPeriod(policy, event.date)) {
    if (person.basicInsuredThisYear) {
      refusals.push({
        id: 'enrollment.mid-year.insured-this-year',
        source: midYear.source,
        says: `already in basic medical insurance in ${event.date.slice(0, 4)}: only a person in none may enroll outside the collection period`,
      });
    } else {
      notes.push({
        id: 'enrollment.mid-year.insured-this-year',
        source: midYear.source,
        says:
          person.basicInsuredThisYear === false
            ? `in no basic medical insurance in ${event.date.slice(0, 4)}: may enroll outside the collection period`
            : `insurance status this year not given: taken as in none (当年度未参加过任何基本医保)`,
      });
    }
  }
  return { refusals, notes };
}

/** Why a subsidy claim would leave the person out (001 三(三) 无身份信息或身份信息错误). */
function claimExclusionsFor(policy: Policy, person: z.infer<typeof PersonInput>): RuleRef[] {
  const rule = policy.claimExcludesInvalidIdentity;
  if (!rule) return [];
  const missing = person.identityInformation === 'missing' || person.name?.trim() === '';
  const wrong = person.identityInformation === 'wrong';
  if (!missing && !wrong) return [];
  return [
    {
      id: 'claim.identity-information-invalid',
      source: rule.source,
      says: `identity information ${missing ? 'missing' : 'wrong'}: no central fiscal subsidy (中央财政补助资金) is claimed for this person, nor is the person in the subsidy claim`,
    },
  ];
}

export type FailureClass = 'personal' | 'systemic';

/**
 * How a failed deduction is handled: personal reasons (insufficient balance, abnormal account) go to the
 * town for follow-up and, at the cut-off, become what the policy says; anything not caused by the person
 * is systemic and is re-sent automatically.
 */
export function classifyDeductionFailure(
  policy: Policy,
  code: string,
): { class: FailureClass; outcome: string; rule: RuleRef } {
  const f = policy.deductionFailures;
  if (f.personal.includes(code)) {
    const outcome =
      f.personalAtCutoff === 'abandoned'
        ? 'follow-up by town and village; abandoned (视为自动弃保) if still unpaid at the cut-off'
        : 'follow-up by town and village; kept on the not-enrolled ledgers after the cut-off';
    return {
      class: 'personal',
      outcome,
      rule: {
        id: 'deduction-failure.personal',
        source: f.source,
        says: `${code} is caused by the person: ${outcome}`,
      },
    };
  }
  return {
    class: 'systemic',
    outcome: 're-sent to the tax bureau automatically',
    rule: {
      id: 'deduction-failure.systemic',
      source: f.source,
      says: `${code} is not caused by the person: re-sent for deduction`,
    },
  };
}

/** Everything the engine says about one person and one event, with the rules behind it. */
export function explain(policy: Policy, rawInput: ExplainInput): Explanation {
  const input = ExplainInput.parse(rawInput);
  if (input.jurisdiction !== policy.jurisdiction || input.year !== policy.year) {
    throw new ExplainError(
      'jurisdiction',
      `the input is for ${input.jurisdiction} ${input.year}, the policy is ${policy.jurisdiction} ${policy.year}`,
    );
  }
  const { person, event } = input;
  const id = checkIdNumber(person.idNumber);
  if (!id.ok) throw new ExplainError('person.idNumber', id.message);
  if (person.birthDate && person.birthDate !== id.birthDate) {
    throw new ExplainError(
      'person.birthDate',
      `${person.birthDate} differs from the birth date ${id.birthDate} in the ID number`,
    );
  }
  const birthDate = id.birthDate;
  // An ID number names a person born on its birth date: an event before it is impossible, except a
  // newborn's pre-enrollment from pregnancy where the plan allows one (000 五(六)1).
  const preEnrollment =
    event.kind === 'newborn-enrollment' &&
    policy.benefitStart.newborn.kind === 'months-from-first-of-next-month' &&
    policy.benefitStart.newborn.preEnrollmentFromPregnancyWeek !== undefined;
  const datesJudged = [event.date, ...(event.occurredOn ? [event.occurredOn] : [])];
  const early = datesJudged.find((d) => d < birthDate);
  if (early && !(preEnrollment && early === event.date)) {
    throw new ExplainError(
      'person.idNumber',
      `the birth date ${birthDate} in the ID number is after the event date ${early}`,
    );
  }
  const age = person.age ?? Math.max(0, ageOn(birthDate, event.date));
  const facts: PersonFacts = {
    birthDate,
    age,
    ...(person.disabilityGrade !== undefined ? { disabilityGrade: person.disabilityGrade } : {}),
    ...(person.lowIncomeFamily !== undefined ? { lowIncomeFamily: person.lowIncomeFamily } : {}),
    ...(person.localHukou !== undefined ? { localHukou: person.localHukou } : {}),
  };
  const decision = effectiveCategory(policy, person.categories, facts);
  const { contribution, rules: contributionRules } = contributionFor(policy, decision.effective);
  const { refusals, notes } = refusalsFor(policy, person, event);
  const enrollable = refusals.length === 0;
  const benefit: BenefitAnswer = enrollable
    ? benefitFor(policy, event, birthDate)
    : { benefitStart: null, contributionYears: [], rules: [] };
  const rules = [...decision.rules, ...contributionRules, ...notes, ...refusals, ...benefit.rules];
  const contributionsDue = benefit.contributionYears.map((year) => {
    if (year === policy.year)
      return { year, personalFen: contribution.personalFen, source: policy.contribution.source };
    const earlier = policy.contribution.previousYears.find((p) => p.year === year);
    return earlier
      ? { year, personalFen: earlier.personalFen, source: earlier.source }
      : {
          year,
          personalFen: null,
          source: `${policy.contribution.source} (the ${year} standard is not stated in this plan)`,
        };
  });
  const claimExclusions = claimExclusionsFor(policy, person);
  rules.push(...claimExclusions);

  const explanation: Explanation = {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    person: { idNumber: maskIdNumber(id.idNumber), birthDate, sex: id.sex, ageOnEvent: age },
    event: { kind: event.kind, date: event.date, ...(event.reason ? { reason: event.reason } : {}) },
    heldCategories: decision.held,
    effectiveCategory: decision.effective?.id ?? null,
    effectiveCategoryName: decision.effective?.name ?? null,
    contribution,
    levied: enrollable && contribution.personalFen > 0,
    benefitStart: benefit.benefitStart,
    ...(benefit.gapCoveredFrom ? { gapCoveredFrom: benefit.gapCoveredFrom } : {}),
    contributionYears: benefit.contributionYears,
    contributionsDue,
    ...(benefit.priorYearCover ? { priorYearCover: benefit.priorYearCover } : {}),
    enrollable,
    refusals,
    deadlines: deadlinesFor(policy, contribution, event),
    claimExclusions,
    rules,
  };

  if (event.kind === 'refund-request') {
    if (!event.occurredOn) {
      throw new ExplainError(
        'event.occurredOn',
        'a refund is judged on the day the death, duplicate payment, move to employee insurance or duplicate enrollment happened: give it',
      );
    }
    const { refund, rule } = refundFor(
      policy,
      event.reason,
      {
        occurredOn: event.occurredOn,
        requestedOn: event.date,
        benefitStart: event.benefitStart ?? policy.calendar.benefitYearStart.date,
      },
      event.paidFen ?? contribution.personalFen,
    );
    explanation.refund = refund;
    rules.push(rule);
  }
  if (event.kind === 'identity-ended') {
    const change = policy.identityChange;
    if (change) {
      explanation.subsidyEndsFrom = addDays(identityClosesOn(policy, event.date), 1);
      rules.push({
        id: 'identity.ended',
        source: change.source,
        says: `no longer certified on ${event.date}: the subsidised standard ends from ${explanation.subsidyEndsFrom}; nothing refunded or collected back within the year`,
      });
    } else {
      rules.push({
        id: 'identity.ended',
        source: policy.document.file,
        says: 'the plan sets no rule for an identity ending within the year',
      });
    }
  }
  return explanation;
}

/** Whether an instant lies in the centralised period (used by the campaign to label events). */
export function isWithinCentralisedPeriod(policy: Policy, epochMs: number): boolean {
  return (
    epochMs >= instantOf(policy.calendar.centralisedPeriod.from, 'start') &&
    epochMs < instantOf(policy.calendar.centralisedPeriod.to, 'end')
  );
}
