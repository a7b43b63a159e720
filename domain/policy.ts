/**
 * A jurisdiction-year policy: every rule of an official plan as data. Each field that encodes a rule
 * carries `source`, the document and section it comes from ("000 五(一)" = file 000, section 五(一)).
 * Where a plan leaves something open and the policy had to choose, the source says so in words.
 *
 * One engine reads every policy: nothing in the code is named after a city.
 */
import { z } from 'zod';
import { dateOfSpec, instantOf, isInstantSpec, isIsoDate, yearOf } from './dates';

const Source = z.string().min(3, 'every rule cites its document and section');
const IsoDateSchema = z.string().refine(isIsoDate, 'a calendar date YYYY-MM-DD');
/** A calendar point: a date (that day in China) or a full ISO date-time (drill policies). */
const InstantSpec = z.string().refine(isInstantSpec, 'a date YYYY-MM-DD or an ISO date-time with offset');

export const Dated = z.object({ at: InstantSpec, source: Source });
export type Dated = z.infer<typeof Dated>;

export const DepartmentId = z.enum([
  'civil-affairs',
  'rural-revitalization',
  'disabled-persons-federation',
  'veterans-affairs',
  'health',
  'natural-resources',
]);
export type DepartmentId = z.infer<typeof DepartmentId>;

export const FundingSource = z.enum([
  /** 个人缴费财政补助金, claimed from finance by the insurance center (000 五(一)). */
  'fiscal-subsidy-for-personal-contribution',
  /** 医疗救助资金 */
  'medical-assistance-fund',
  /** 乡村振兴部门安排资金 */
  'rural-revitalization-funds',
  /** 残疾人就业保障基金 */
  'disability-employment-security-fund',
  /** 核定部门给予补助 (Heshan 困境儿童) */
  'certifying-department-funds',
  /** 退役军人事务部门 */
  'veterans-affairs-funds',
  /** 卫生健康部门 */
  'health-department-funds',
  /** 财政专项资金, applied for by the county department (Meishan) */
  'special-fiscal-funds',
  /** 个人缴费: no subsidy */
  'personal',
]);
export type FundingSource = z.infer<typeof FundingSource>;

export type Condition =
  | { kind: 'age'; min?: number; max?: number }
  | { kind: 'disability-grade'; grades: number[] }
  | { kind: 'low-income-family' }
  | { kind: 'local-hukou' }
  | { kind: 'any-of'; conditions: Condition[] };

/** A condition on the person for a category's subsidy to apply. */
const Condition: z.ZodType<Condition> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    /** age in whole years on the event date: min <= age <= max */
    z.object({ kind: z.literal('age'), min: z.number().int().optional(), max: z.number().int().optional() }),
    z.object({ kind: z.literal('disability-grade'), grades: z.array(z.number().int().min(1).max(4)).min(1) }),
    z.object({ kind: z.literal('low-income-family') }),
    /** 本市户籍: the person's household registration is in the jurisdiction (000 二, 001 二). */
    z.object({ kind: z.literal('local-hukou') }),
    z.object({ kind: z.literal('any-of'), conditions: z.array(Condition).min(1) }),
  ]),
);

export const Category = z.object({
  /** The document's own identifier: Jiangmen ordinals "1".."11", Meishan identity codes "2303". */
  id: z.string().min(1),
  name: z.string().min(1),
  /** The group the category belongs to (Meishan's veterans' codes share one tier). */
  group: z.string().optional(),
  department: DepartmentId,
  /** Share of the contribution paid by the subsidy, in basis points (10000 = full, 7500, 2500). */
  subsidyShareBp: z.number().int().min(0).max(10000),
  fundingSource: FundingSource,
  /** All must hold for the subsidy to apply (age is taken on the event date). */
  conditions: z.array(Condition).default([]),
  /** 先缴后补: the person pays the whole contribution, the department reimburses later. */
  paysFirstSubsidisedLater: z
    .object({ basis: z.string().min(1), reimbursementFen: z.number().int().nullable() })
    .optional(),
  source: Source,
});
export type Category = z.infer<typeof Category>;

const ProgressCadence = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('weekly'),
    weekday: z.number().int().min(1).max(7),
    from: IsoDateSchema,
    until: IsoDateSchema,
    holidayShift: z.enum(['none', 'next-working-day']),
    source: Source,
  }),
  z.object({
    kind: z.literal('days-of-month'),
    days: z.array(z.number().int().min(1).max(28)).min(1),
    from: IsoDateSchema,
    until: IsoDateSchema,
    holidayShift: z.enum(['none', 'next-working-day']),
    source: Source,
  }),
  /** Drill policies: every N minutes between two instants. */
  z.object({
    kind: z.literal('every-minutes'),
    minutes: z.number().positive(),
    from: InstantSpec,
    until: InstantSpec,
    source: Source,
  }),
]);
export type ProgressCadence = z.infer<typeof ProgressCadence>;

const Newborn = z.discriminatedUnion('kind', [
  /** Paid within N months counted from the 1st of the month after birth: covered from birth. */
  z.object({
    kind: z.literal('months-from-first-of-next-month'),
    months: z.number().int().min(1),
    otherwise: z.literal('first-of-month-after-payment'),
    crossYearPaysBothYears: z.boolean(),
    preEnrollmentFromPregnancyWeek: z.number().int().optional(),
    source: Source,
  }),
  /** Paid within N days of birth (inclusive): covered from birth; later, within a year: the next day. */
  z.object({
    kind: z.literal('days-from-birth'),
    days: z.number().int().min(1),
    /**
     * How the days are counted: 'day-after-birth' makes birth + N days the last day inside the window;
     * 'birth-day' counts the day of birth as day 1 (birth + N - 1 is the last).
     */
    dayOneIs: z.enum(['day-after-birth', 'birth-day']).default('day-after-birth'),
    otherwise: z.literal('day-after-payment'),
    withinYears: z.number().int().min(1),
    source: Source,
  }),
]);

const MidYear = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('first-of-month-after-payment'), source: Source }),
  /** Benefits from the Nth month, counting the payment month as the first. */
  z.object({
    kind: z.literal('nth-month-counting-payment-month'),
    n: z.number().int().min(1),
    source: Source,
  }),
]);

const SpecialEnrollment = z.object({
  reasons: z.array(z.string().min(1)).min(1),
  benefitStart: z.enum(['day-after-payment', 'as-mid-year']),
  source: Source,
});

export const PolicySchema = z
  .object({
    jurisdiction: z.string().regex(/^[a-z][a-z0-9-]*$/),
    name: z.string().min(1),
    province: z.string().min(1),
    year: z.number().int().min(2000).max(2100),
    /** A drill policy runs the same code on a compressed calendar; it is never a real campaign. */
    drill: z.boolean().default(false),
    document: z.object({
      file: z.string(),
      title: z.string(),
      reference: z.string().optional(),
      issued: IsoDateSchema.optional(),
    }),
    /** Region codes (GB/T 2260, first 6 digits of ID numbers) of the jurisdiction's districts. */
    regionCodes: z.array(z.string().regex(/^\d{6}$/)).min(1),
    contribution: z.object({
      personalFen: z.number().int().positive(),
      source: Source,
      /**
       * Earlier years' standards, for a person who must pay an earlier year as well (a newborn whose
       * benefits cross the year boundary). A year not listed is answered "amount not stated in this plan".
       */
      previousYears: z
        .array(z.object({ year: z.number().int(), personalFen: z.number().int().positive(), source: Source }))
        .default([]),
    }),
    /**
     * 按年度缴费: this year's contribution buys cover from the benefit year's start at the earliest; cover
     * before it is the previous year's, a separate payment. Absent where the plan lets a payment in the
     * collection period cover the days before the benefit year (Jiangmen's newborns pay both years instead).
     */
    annualContribution: z.object({ source: Source }).optional(),
    /** Who may enroll at all: conditions on the person's insurance status. */
    enrollmentConditions: z
      .object({
        /** A person in employee insurance cannot also enroll, unless they show it has stopped. */
        employeeInsuredNeedsProofOfStop: z.object({ source: Source }).optional(),
        /** Outside the collection period only a person in no basic insurance this calendar year may enroll. */
        midYearOnlyIfNoBasicInsuranceThisYear: z.object({ source: Source }).optional(),
      })
      .default({}),
    coverageGoal: z.union([
      z.object({ kind: z.literal('coverage-rate'), percent: z.number().min(0).max(100), source: Source }),
      z.object({ kind: z.literal('not-below-last-year'), source: Source }),
    ]),
    departments: z.array(z.object({ id: DepartmentId, name: z.string().min(1), source: Source })).min(1),
    categories: z.array(Category).min(1),
    precedence: z.discriminatedUnion('kind', [
      /** The identity imported last wins; `order` is the import order. */
      z.object({ kind: z.literal('later-import-wins'), order: z.array(z.string()).min(1), source: Source }),
      /** The largest subsidy wins; ties go to the earlier category in the document's order. */
      z.object({ kind: z.literal('most-favourable-then-document-order'), source: Source }),
    ]),
    calendar: z.object({
      rosterAsOf: Dated,
      rosterDeadline: Dated,
      changeStopDeadline: Dated,
      newEnrollmentDeadline: Dated,
      centralisedPeriod: z.object({ from: InstantSpec, to: InstantSpec, source: Source }),
      firstBatchDeduction: Dated,
      reDeduction: z.object({ everyMinutes: z.number().positive(), source: Source }),
      /** Partly subsidised people (or everyone with a personal share) pay it by this date (Meishan 12-20). */
      partialPaymentDeadline: Dated.extend({
        appliesTo: z
          .enum(['partly-subsidised', 'everyone-with-a-personal-share'])
          .default('partly-subsidised'),
      }).optional(),
      cutoff: Dated,
      benefitYearStart: z.object({ date: IsoDateSchema, source: Source }),
      subsidyClaims: z
        .array(z.object({ fundingSources: z.array(FundingSource).min(1), at: InstantSpec, source: Source }))
        .min(1),
      monthlyDelta: z.object({ day: z.number().int().min(1).max(28), source: Source }),
      progressReports: ProgressCadence,
    }),
    benefitStart: z.object({
      centralised: z.object({ source: Source }),
      difficultyRegistration: z.object({
        rule: z.enum(['registration-day', 'benefit-year-start-or-registration-day']),
        source: Source,
      }),
      midYear: MidYear,
      employeeInsuranceLapse: z
        .object({ withinMonths: z.number().int().positive(), gapCovered: z.boolean(), source: Source })
        .optional(),
      special: SpecialEnrollment.optional(),
      newborn: Newborn,
    }),
    /** Absent where the plan says nothing about identity changes within the year. */
    identityChange: z
      .object({
        noRefundNoBackCollection: z.boolean(),
        loseSubsidyFrom: z.literal('first-of-next-month'),
        source: Source,
      })
      .optional(),
    /** Dated milestones the plan names that drive no step of their own (reported on the timeline). */
    milestones: z.array(z.object({ name: z.string().min(1), at: InstantSpec, source: Source })).default([]),
    refunds: z.object({
      beforeBenefitStart: z.array(
        z.enum(['death', 'duplicate-payment', 'joined-employee-insurance', 'duplicate-enrollment-elsewhere']),
      ),
      /** Absent: the plan states no rule once the benefit period has begun. */
      afterBenefitStart: z.literal('no-refund').optional(),
      /** A reason not in `beforeBenefitStart`: the plan's list is complete, or the plan states no rule. */
      otherReasons: z.enum(['not-refunded', 'no-rule-stated']).default('not-refunded'),
      note: z.string().optional(),
      source: Source,
    }),
    deductionFailures: z.object({
      personal: z.array(z.string().min(1)).min(1),
      /** What a personal failure left at the cut-off becomes. */
      personalAtCutoff: z.enum(['abandoned', 'unenrolled-follow-up']),
      systemic: z.literal('resend-automatically'),
      source: Source,
    }),
    /** No central subsidy claim for a person whose identity information is missing or wrong. */
    claimExcludesInvalidIdentity: z.object({ source: Source }).optional(),
    /**
     * Each town's enrollment target for the year (e.g. Kaiping's 附件3 column (4)), part of the snapshot a
     * campaign runs under and so of its hash; progress is measured against these, never against a file
     * read when the worker was deployed. Absent: the plan sets no town targets.
     */
    targets: z
      .object({
        source: z.string().min(3),
        towns: z.array(z.object({ town: z.string().min(1), target: z.number().int().min(0).nullable() })),
      })
      .optional(),
    /**
     * The public-holiday calendar(s) used for "next working day" (ids in seeds/calendars/, one State
     * Council notice a year): together they must cover every year the policy's calendar names.
     */
    holidayCalendar: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /**
     * Roster safety (not a rule of the plans: a guard of this system). A roster is a department's whole list,
     * so one that would close more than `maxCloseShare` of the department's open identities, or more than
     * `maxClose` people, is held until an operator confirms it; one closing `neverHoldAtOrBelow` people or
     * fewer is never held. Opening is guarded too: a roster that would open more than `maxOpen` people and
     * more than `maxOpenGrowth` times the department's open identities (when it has any) is held (a file
     * of every resident sent as one category). Absent: ROSTER_SAFETY_DEFAULT.
     */
    rosterSafety: z
      .object({
        maxCloseShare: z.number().min(0).max(1),
        maxClose: z.number().int().min(0),
        neverHoldAtOrBelow: z.number().int().min(0),
        maxOpen: z.number().int().min(0).optional(),
        maxOpenGrowth: z.number().min(0).optional(),
      })
      .optional(),
  })
  .superRefine((p, ctx) => {
    const ids = new Set<string>();
    for (const [i, c] of p.categories.entries()) {
      if (ids.has(c.id))
        ctx.addIssue({
          code: 'custom',
          path: ['categories', i, 'id'],
          message: `category ${c.id} appears twice`,
        });
      ids.add(c.id);
      if (!p.departments.some((d) => d.id === c.department)) {
        ctx.addIssue({
          code: 'custom',
          path: ['categories', i, 'department'],
          message: `department ${c.department} is not listed in departments`,
        });
      }
    }
    if (p.precedence.kind === 'later-import-wins') {
      for (const id of ids) {
        if (!p.precedence.order.includes(id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['precedence', 'order'],
            message: `category ${id} has no place in the import order`,
          });
        }
      }
    }
    // The calendar must run forwards: each of these pairs is (earlier, later).
    const c = p.calendar;
    const pairs: [string, string, string, string][] = [
      ['rosterAsOf', c.rosterAsOf.at, 'rosterDeadline', c.rosterDeadline.at],
      ['centralisedPeriod.from', c.centralisedPeriod.from, 'centralisedPeriod.to', c.centralisedPeriod.to],
      ['rosterDeadline', c.rosterDeadline.at, 'firstBatchDeduction', c.firstBatchDeduction.at],
      ['changeStopDeadline', c.changeStopDeadline.at, 'firstBatchDeduction', c.firstBatchDeduction.at],
      ['firstBatchDeduction', c.firstBatchDeduction.at, 'cutoff', c.cutoff.at],
      ['newEnrollmentDeadline', c.newEnrollmentDeadline.at, 'cutoff', c.cutoff.at],
      ...c.subsidyClaims.map((s, i): [string, string, string, string] => [
        'firstBatchDeduction',
        c.firstBatchDeduction.at,
        `subsidyClaims.${i}`,
        s.at,
      ]),
    ];
    if (c.partialPaymentDeadline)
      pairs.push([
        'firstBatchDeduction',
        c.firstBatchDeduction.at,
        'partialPaymentDeadline',
        c.partialPaymentDeadline.at,
      ]);
    for (const [a, av, b, bv] of pairs) {
      if (instantOf(av, 'start') > instantOf(bv, 'start')) {
        ctx.addIssue({
          code: 'custom',
          path: ['calendar', ...b.split('.')],
          message: `calendar out of order: ${a} (${av}) must not be after ${b} (${bv})`,
        });
      }
    }
  });

export const WorkingDayCalendar = z.object({
  id: z.string().min(1),
  title: z.string().min(1),
  source: Source,
  /**
   * The years whose holidays and make-up working days the notices list in full. Outside them the
   * calendar knows nothing: a policy naming such a date does not load, and `isWorkingDay` refuses it.
   * (Optional only so that policy snapshots stored before it was added still parse.)
   */
  years: z.array(z.number().int().min(2000).max(2100)).min(1).optional(),
  holidays: z.array(IsoDateSchema),
  makeUpWorkdays: z.array(IsoDateSchema),
});
export type WorkingDayCalendar = z.infer<typeof WorkingDayCalendar>;

/** A policy file as written in seeds/. */
export const PolicyFile = PolicySchema;
/** A loaded policy: the file plus the working-day calendar it names, ready to snapshot into a workflow. */
export type Policy = z.infer<typeof PolicySchema> & { workingDays: WorkingDayCalendar };

export class PolicyValidationError extends Error {
  override name = 'PolicyValidationError';
  constructor(
    readonly origin: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(
      `${origin}: invalid policy:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`,
    );
  }
}

/**
 * Validates a policy file and attaches its working-day calendar. `origin` (a file name) is named in
 * every error, with the path of each field at fault.
 */
export function loadPolicy(json: unknown, calendars: readonly unknown[], origin = 'policy'): Policy {
  const parsed = PolicySchema.safeParse(json);
  if (!parsed.success) {
    throw new PolicyValidationError(
      origin,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  const wanted = [parsed.data.holidayCalendar].flat();
  const known = calendars.map((c) => WorkingDayCalendar.parse(c));
  const parts: WorkingDayCalendar[] = [];
  for (const id of wanted) {
    const found = known.find((c) => c.id === id);
    if (!found) {
      throw new PolicyValidationError(origin, [
        { path: 'holidayCalendar', message: `no working-day calendar ${id}` },
      ]);
    }
    parts.push(found);
  }
  const calendar: WorkingDayCalendar =
    parts.length === 1
      ? parts[0]!
      : {
          id: parts.map((c) => c.id).join('+'),
          title: parts.map((c) => c.title).join('; '),
          source: parts.map((c) => c.source).join('; '),
          years: parts.flatMap((c) => c.years ?? []).sort((a, b) => a - b),
          holidays: parts.flatMap((c) => c.holidays).sort(),
          makeUpWorkdays: parts.flatMap((c) => c.makeUpWorkdays).sort(),
        };
  const uncovered = datesNeedingCalendar(parsed.data).filter(
    ({ date }) => !(calendar.years ?? []).includes(yearOf(date)),
  );
  if (uncovered.length > 0) {
    throw new PolicyValidationError(
      origin,
      uncovered.map(({ path, date }) => ({
        path,
        message: `${date} is outside the years the working-day calendar ${calendar.id} covers (${(calendar.years ?? []).join(', ') || 'none stated'}): add that year's State Council holiday notice to seeds/calendars/`,
      })),
    );
  }
  return { ...parsed.data, workingDays: calendar };
}

/** Every calendar date a (non-drill) policy names, with its field path: the working-day calendar must cover each. */
function datesNeedingCalendar(p: z.infer<typeof PolicySchema>): { path: string; date: string }[] {
  if (p.drill) return [];
  const c = p.calendar;
  const specs: [string, string][] = [
    ['calendar.rosterAsOf', c.rosterAsOf.at],
    ['calendar.rosterDeadline', c.rosterDeadline.at],
    ['calendar.changeStopDeadline', c.changeStopDeadline.at],
    ['calendar.newEnrollmentDeadline', c.newEnrollmentDeadline.at],
    ['calendar.centralisedPeriod.from', c.centralisedPeriod.from],
    ['calendar.centralisedPeriod.to', c.centralisedPeriod.to],
    ['calendar.firstBatchDeduction', c.firstBatchDeduction.at],
    ['calendar.cutoff', c.cutoff.at],
    ['calendar.benefitYearStart', c.benefitYearStart.date],
    ['calendar.progressReports.from', c.progressReports.from],
    ['calendar.progressReports.until', c.progressReports.until],
    ...c.subsidyClaims.map((s, i): [string, string] => [`calendar.subsidyClaims.${i}`, s.at]),
    ...p.milestones.map((m, i): [string, string] => [`milestones.${i}`, m.at]),
  ];
  if (c.partialPaymentDeadline) specs.push(['calendar.partialPaymentDeadline', c.partialPaymentDeadline.at]);
  return specs.map(([path, spec]) => ({ path, date: dateOfSpec(spec) }));
}

export function categoryById(policy: Policy, id: string): Category | undefined {
  return policy.categories.find((c) => c.id === id);
}

/** Held when a roster would close more than 10% of a department's open identities, or more than 50 people. */
export const ROSTER_SAFETY_DEFAULT = {
  maxCloseShare: 0.1,
  maxClose: 50,
  neverHoldAtOrBelow: 5,
  maxOpen: 50,
  maxOpenGrowth: 1,
} as const;

/**
 * Whether a roster that would close `wouldClose` of a department's `openBefore` open identities, and open
 * `wouldOpen` new ones, is held for an operator's decision (counts of people; see `rosterSafety`): too many
 * closed, or (the department having open identities) more opened than `maxOpen` and than `maxOpenGrowth`
 * times those it has. A department's first roster (nothing open) is never held for what it opens.
 */
export function rosterIsHeld(
  policy: Pick<Policy, 'rosterSafety'>,
  wouldClose: number,
  openBefore: number,
  wouldOpen = 0,
): boolean {
  return rosterHeldFor(policy, wouldClose, openBefore, wouldOpen) !== undefined;
}

/** Why a roster is held (rosterIsHeld): 'closes-too-many', 'opens-too-many', or undefined when it is not. */
export function rosterHeldFor(
  policy: Pick<Policy, 'rosterSafety'>,
  wouldClose: number,
  openBefore: number,
  wouldOpen = 0,
): 'closes-too-many' | 'opens-too-many' | undefined {
  const s = policy.rosterSafety ?? ROSTER_SAFETY_DEFAULT;
  if (
    wouldClose > s.neverHoldAtOrBelow &&
    (wouldClose > s.maxClose || wouldClose > s.maxCloseShare * openBefore)
  )
    return 'closes-too-many';
  const maxOpen = s.maxOpen ?? ROSTER_SAFETY_DEFAULT.maxOpen;
  const growth = s.maxOpenGrowth ?? ROSTER_SAFETY_DEFAULT.maxOpenGrowth;
  if (openBefore > 0 && wouldOpen > maxOpen && wouldOpen > growth * openBefore) return 'opens-too-many';
  return undefined;
}
