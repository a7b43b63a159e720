import { describe, expect, it } from 'vitest';
import { classifyDeductionFailure, explain, type EventInput } from '../../domain/engine';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';

const policy = seedPolicy('kaiping', 2024);
const adult = makeIdNumber('440783', '1970-05-06', 21);
const run = (categories: string[], event: EventInput, idNumber = adult, extra: object = {}) =>
  explain(policy, { jurisdiction: 'kaiping', year: 2024, person: { idNumber, categories, ...extra }, event });
const centralised: EventInput = { kind: 'centralised-payment', date: '2023-10-20' };

describe('Kaiping 2024: contribution and the ten fully subsidised categories (000 二, 三)', () => {
  it('an ordinary resident pays the whole 406 yuan personal contribution and is levied (000 三)', () => {
    const e = run([], centralised);
    expect(e.contribution).toEqual({
      totalFen: 40600,
      personalFen: 40600,
      subsidyFen: 0,
      fundingSource: 'personal',
    });
    expect(e.levied).toBe(true);
    expect(e.effectiveCategory).toBeNull();
    expect(e.rules.map((r) => r.source)).toContain('000 三 2024年度居民医保个人缴费标准406元/人');
  });

  it.each([
    ['1', '最低生活保障对象', 'civil-affairs', '000 二(一)'],
    ['2', '特困供养人员', 'civil-affairs', '000 二(二)'],
    ['3', '最低生活保障边缘家庭成员', 'civil-affairs', '000 二(三)'],
    ['4', '纳入监测范围的农村易返贫致贫人口', 'rural-revitalization', '000 二(四)'],
    ['5', '纳入监测范围的城镇易返贫致贫人口', 'rural-revitalization', '000 二(五)'],
    ['6', '脱贫不稳定且纳入相关部门农村低收入人口监测范围人员', 'civil-affairs', '000 二(六)'],
    ['7', '重度残疾人', 'disabled-persons-federation', '000 二(七)'],
    ['8', '精神和智力残疾人', 'disabled-persons-federation', '000 二(八)'],
    ['10', '符合条件的退役军人等优抚对象', 'veterans-affairs', '000 二(十)'],
  ])(
    'category %s %s, certified by %s, is fully subsidised and not levied (%s)',
    (id, name, department, section) => {
      const e = run([id], centralised);
      expect(e.effectiveCategory).toBe(id);
      expect(e.effectiveCategoryName).toBe(name);
      expect(e.heldCategories[0]).toMatchObject({ department, eligible: true });
      expect(e.contribution).toEqual({
        totalFen: 40600,
        personalFen: 0,
        subsidyFen: 40600,
        fundingSource: 'fiscal-subsidy-for-personal-contribution',
      });
      expect(e.levied).toBe(false);
      expect(e.rules.find((r) => r.id === `category.${id}`)!.source).toContain(section);
    },
  );

  it('category 9 困境儿童 is fully subsidised for a child (000 二(九))', () => {
    const child = makeIdNumber('440783', '2015-06-01', 32);
    const e = run(['9'], centralised, child);
    expect(e.effectiveCategory).toBe('9');
    expect(e.heldCategories[0]).toMatchObject({ department: 'civil-affairs', eligible: true });
    expect(e.contribution.personalFen).toBe(0);
  });

  it('category 9 困境儿童 does not apply to an adult, who pays in full (000 二(九))', () => {
    const e = run(['9'], centralised);
    expect(e.effectiveCategory).toBeNull();
    expect(e.heldCategories[0]).toMatchObject({ eligible: false, why: 'age 53 is not 17 or younger' });
    expect(e.contribution.personalFen).toBe(40600);
  });

  it('a person in two categories is recorded under the first in the plan order; both are full (000 二)', () => {
    const e = run(['7', '1'], centralised);
    expect(e.effectiveCategory).toBe('1');
    expect(e.rules.find((r) => r.id === 'precedence')).toBeDefined();
  });

  it('an identifier that is not a Kaiping category is refused, naming the field', () => {
    expect(() => run(['2303'], centralised)).toThrow(
      /person\.categories\[0\]: 2303 is not a category of kaiping 2024/,
    );
  });
});

describe('Kaiping 2024: calendar (000 五, 六)', () => {
  const c = policy.calendar;
  it.each([
    ['roster as of', c.rosterAsOf.at, '2023-08-31', '000 五(一)'],
    ['roster due', c.rosterDeadline.at, '2023-09-10', '000 五(一)'],
    ['changes and stops by', c.changeStopDeadline.at, '2023-10-07', '000 五(三)'],
    ['new enrollment by', c.newEnrollmentDeadline.at, '2023-12-31', '000 五(三)'],
    ['first batch deduction', c.firstBatchDeduction.at, '2023-10-09', '000 五(七)'],
    ['cut-off', c.cutoff.at, '2023-12-31', '000 五(七)'],
    ['subsidy claim', c.subsidyClaims[0]!.at, '2024-06-30', '000 五(一)'],
  ])('%s is %s (%s)', (_what, actual, expected) => {
    expect(actual).toBe(expected);
  });
  it('the centralised period is 2023-09-01 to 2023-12-31; benefits from 2024-01-01; monthly delta by the 10th', () => {
    expect([
      c.centralisedPeriod.from,
      c.centralisedPeriod.to,
      c.benefitYearStart.date,
      c.monthlyDelta.day,
    ]).toEqual(['2023-09-01', '2023-12-31', '2024-01-01', 10]);
  });
  it('the coverage goal is 95% (000 一)', () => {
    expect(policy.coverageGoal).toMatchObject({ kind: 'coverage-rate', percent: 95 });
  });
});

describe('Kaiping 2024: when benefits start (000 五(一), 五(六), 附件1 备注)', () => {
  it('paid in the centralised period, even on its last day 12-31: covered from 2024-01-01 (附件1 备注1)', () => {
    expect(run([], { kind: 'centralised-payment', date: '2023-09-01' }).benefitStart).toBe('2024-01-01');
    expect(run([], { kind: 'centralised-payment', date: '2023-12-31' }).benefitStart).toBe('2024-01-01');
  });
  it('a payment before the centralised period opens is refused', () => {
    expect(() => run([], { kind: 'centralised-payment', date: '2023-08-31' })).toThrow(
      /event\.date: 2023-08-31 is before the centralised period/,
    );
  });
  it('a mid-year enrollee pays the full year and is covered from the 1st of the next month (五(六))', () => {
    const e = run([], { kind: 'mid-year-enrollment', date: '2024-03-15' });
    expect(e.benefitStart).toBe('2024-04-01');
    expect(e.contribution.personalFen).toBe(40600);
    expect(e.contributionYears).toEqual([2024]);
    expect(run([], { kind: 'mid-year-enrollment', date: '2024-02-29' }).benefitStart).toBe('2024-03-01');
    expect(run([], { kind: 'mid-year-enrollment', date: '2024-01-31' }).benefitStart).toBe('2024-02-01');
  });
  it('a difficulty resident is covered from the day registration and identity marking are done (五(一) 先登记参保)', () => {
    const e = run(['1'], { kind: 'difficulty-registration', date: '2023-09-05' });
    expect(e.benefitStart).toBe('2023-09-05');
    expect(e.contribution.subsidyFen).toBe(40600);
  });
  it('a released prisoner enrolls as a mid-year enrollee (五(六)3)', () => {
    expect(
      run([], { kind: 'special-enrollment', date: '2024-05-20', reason: 'released-prisoner' }).benefitStart,
    ).toBe('2024-06-01');
    expect(() =>
      run([], { kind: 'special-enrollment', date: '2024-05-20', reason: 'moved-in-from-mars' }),
    ).toThrow(/event\.reason: must be one of/);
  });
  it('leaving employee insurance has no rule of its own in Kaiping: the mid-year rule applies', () => {
    const e = run([], {
      kind: 'mid-year-enrollment',
      date: '2024-05-10',
      reason: 'employee-insurance-lapse',
      lapseDate: '2024-04-30',
    });
    expect(e.benefitStart).toBe('2024-06-01');
    expect(e.gapCoveredFrom).toBeUndefined();
  });
});

describe('Kaiping 2024: newborns (000 五(六)1-2, 附件1 备注2)', () => {
  const newborn = (birth: string, paid: string) =>
    run([], { kind: 'newborn-enrollment', date: paid }, makeIdNumber('440783', birth, 52));
  it('a newborn paid within six months counted from the 1st of the month after birth is covered from birth', () => {
    const e = newborn('2024-03-15', '2024-09-30');
    expect(e.benefitStart).toBe('2024-03-15');
    expect(e.contributionYears).toEqual([2024]);
  });
  it('paid one day after the six months: covered from the 1st of the month after payment', () => {
    expect(newborn('2024-03-15', '2024-10-01').benefitStart).toBe('2024-11-01');
  });
  it('born 2024-08-31: the six months run from 09-01 to 2025-02-28', () => {
    expect(newborn('2024-08-31', '2025-02-28').benefitStart).toBe('2024-08-31');
    expect(newborn('2024-08-31', '2025-03-01').benefitStart).toBe('2025-04-01');
  });
  it('a newborn whose benefits cross the year boundary pays both years', () => {
    const e = newborn('2023-11-20', '2023-12-10');
    expect(e.benefitStart).toBe('2023-11-20');
    expect(e.contributionYears).toEqual([2023, 2024]);
    expect(e.rules.map((r) => r.id)).toContain('benefit.newborn.cross-year');
    const late = newborn('2023-12-31', '2024-06-30');
    expect(late.benefitStart).toBe('2023-12-31');
    expect(late.contributionYears).toEqual([2023, 2024]);
  });
  it('pre-enrollment from the 24th week of pregnancy: paid before birth, covered from birth', () => {
    const e = newborn('2024-03-10', '2024-02-01');
    expect(e.benefitStart).toBe('2024-03-10');
    expect(e.rules[e.rules.length - 1]!.says).toMatch(/week 24/);
  });
});

describe('Kaiping 2024: refunds, identity changes and failed deductions (000 五(一), 五(七))', () => {
  const refund = (reason: string, occurredOn: string, requestedOn = '2024-03-01') =>
    run([], { kind: 'refund-request', date: requestedOn, occurredOn, reason }).refund!;
  it.each(['death', 'duplicate-payment', 'joined-employee-insurance', 'duplicate-enrollment-elsewhere'])(
    '%s before the benefit period begins (未进入待遇享受期前): the 406 yuan paid is refunded on application (五(七))',
    (reason) => {
      // the application comes after 2024-01-01, but the event happened before: the event decides
      expect(refund(reason, '2023-11-15', '2024-03-01')).toEqual({
        eligible: true,
        decision: 'refund',
        reason: expect.stringMatching(/406 yuan refunded on application/),
        amountFen: 40600,
        judgedOn: { occurredOn: '2023-11-15', benefitStart: '2024-01-01', requestedOn: '2024-03-01' },
      });
    },
  );
  it('待遇享受期开始后…个人缴费不再退回: a death on or after 2024-01-01 returns nothing, even if applied for at once', () => {
    expect(refund('death', '2024-02-01', '2024-02-02')).toMatchObject({
      decision: 'no-refund',
      amountFen: 0,
    });
    expect(refund('death', '2024-01-01', '2024-01-01')).toMatchObject({ eligible: false, amountFen: 0 });
  });
  it('a refund is keyed on the day the event happened: a request without it is refused, naming the field', () => {
    expect(() => run([], { kind: 'refund-request', date: '2023-11-15', reason: 'death' })).toThrow(
      /event\.occurredOn/,
    );
  });
  it('the refund amount is what the person paid: a partly paid share is returned as paid', () => {
    const e = run([], {
      kind: 'refund-request',
      date: '2023-12-01',
      occurredOn: '2023-11-20',
      reason: 'duplicate-payment',
      paidFen: 40600,
    });
    expect(e.refund!.amountFen).toBe(40600);
  });
  it('a reason the plan does not list is no ground for a refund (the list is read as complete)', () => {
    expect(refund('moved-away', '2023-11-15')).toMatchObject({ eligible: false, decision: 'no-refund' });
  });
  it('a person no longer certified loses the subsidised standard from the next month, with no refund or back-collection', () => {
    const e = run(['1'], { kind: 'identity-ended', date: '2024-03-15' });
    expect(e.subsidyEndsFrom).toBe('2024-04-01');
    expect(e.rules.at(-1)!.source).toMatch(/^000 五\(一\)/);
  });
  it('insufficient balance and an abnormal account are personal: followed up, then abandoned at the cut-off', () => {
    expect(classifyDeductionFailure(policy, 'insufficient-balance')).toMatchObject({
      class: 'personal',
      outcome: expect.stringMatching(/abandoned/),
    });
    expect(classifyDeductionFailure(policy, 'abnormal-account')).toMatchObject({ class: 'personal' });
  });
  it('anything not caused by the person is systemic and re-sent', () => {
    expect(classifyDeductionFailure(policy, 'bank-system-error')).toMatchObject({
      class: 'systemic',
      outcome: 're-sent to the tax bureau automatically',
    });
  });
});

describe('Kaiping 2024: insurance status and hukou (000 五(四)(3), 000 二)', () => {
  it('职工医保参保人不能重复参加2024年居民医保: a person in employee insurance without proof it stopped is refused', () => {
    const e = run([], { kind: 'centralised-payment', date: '2023-10-20' }, undefined, {
      employeeInsured: true,
    });
    expect(e.enrollable).toBe(false);
    expect(e.levied).toBe(false);
    expect(e.benefitStart).toBeNull();
    expect(e.refusals[0]!.source).toMatch(/^000 五\(四\)\(3\)/);
  });
  it('如需参保的，须提供职工医保停保相关凭证: with the proof, the person enrolls as anyone else', () => {
    const e = run([], { kind: 'centralised-payment', date: '2023-10-20' }, undefined, {
      employeeInsured: true,
      employeeInsuranceStopProof: true,
    });
    expect(e.enrollable).toBe(true);
    expect(e.benefitStart).toBe('2024-01-01');
  });
  it('由政府全额资助参保的本市户籍困难居民: a 低保 person whose hukou is not local is not subsidised and pays 406 yuan', () => {
    const e = run(['1'], { kind: 'centralised-payment', date: '2023-10-20' }, undefined, {
      localHukou: false,
    });
    expect(e.effectiveCategory).toBeNull();
    expect(e.heldCategories[0]).toMatchObject({ eligible: false, why: expect.stringMatching(/户籍/) });
    expect(e.contribution.personalFen).toBe(40600);
    const local = run(['1'], { kind: 'centralised-payment', date: '2023-10-20' }, undefined, {
      localHukou: true,
    });
    expect(local.contribution.personalFen).toBe(0);
  });
});

describe('Kaiping 2024: the person’s deadlines (000 五(三)(四))', () => {
  it('changes and stops by 2023-10-07, new enrollment by 2023-12-31: a payment on 12-31 is in time', () => {
    const e = run([], { kind: 'centralised-payment', date: '2023-12-31' });
    expect(e.deadlines.map((d) => [d.name, d.date, d.missed])).toEqual([
      ['change-or-stop', '2023-10-07', undefined],
      ['new-enrollment', '2023-12-31', false],
    ]);
  });
});

describe('Kaiping 2024: a newborn crossing the year pays both years, each at its own amount (000 五(六)2)', () => {
  it('born 2023-11-20, paid 2023-12-10: 2023 at the 2023 standard (not stated in this plan), 2024 at 406 yuan', () => {
    const e = run(
      [],
      { kind: 'newborn-enrollment', date: '2023-12-10' },
      makeIdNumber('440783', '2023-11-20', 52),
    );
    expect(e.contributionsDue).toEqual([
      { year: 2023, personalFen: null, source: expect.stringMatching(/2023 standard is not stated/) },
      { year: 2024, personalFen: 40600, source: expect.stringMatching(/^000 三/) },
    ]);
  });
  it('a policy that states the earlier year’s standard answers with it', () => {
    const withPrior = {
      ...policy,
      contribution: {
        ...policy.contribution,
        previousYears: [{ year: 2023, personalFen: 38000, source: 'test 2023 standard' }],
      },
    };
    const e = explain(withPrior, {
      jurisdiction: 'kaiping',
      year: 2024,
      person: { idNumber: makeIdNumber('440783', '2023-11-20', 52) },
      event: { kind: 'newborn-enrollment', date: '2023-12-10' },
    });
    expect(e.contributionsDue.map((c) => [c.year, c.personalFen])).toEqual([
      [2023, 38000],
      [2024, 40600],
    ]);
  });
});
