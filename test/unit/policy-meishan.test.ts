import { describe, expect, it } from 'vitest';
import { classifyDeductionFailure, explain, type EventInput } from '../../domain/engine';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';

const policy = seedPolicy('meishan', 2024);
const adult = makeIdNumber('511402', '1970-05-06', 21);
const run = (categories: string[], event: EventInput, idNumber = adult, extra: object = {}) =>
  explain(policy, { jurisdiction: 'meishan', year: 2024, person: { idNumber, categories, ...extra }, event });
const centralised: EventInput = { kind: 'centralised-payment', date: '2023-10-20' };

describe('Meishan 2024: three subsidy tiers by identity code (003 三(二), 三(三))', () => {
  it('an ordinary resident pays 380 yuan (003 二(一))', () => {
    expect(run([], centralised).contribution).toEqual({
      totalFen: 38000,
      personalFen: 38000,
      subsidyFen: 0,
      fundingSource: 'personal',
    });
  });

  it.each([
    ['2304', '特困救助对象', 'civil-affairs', 'medical-assistance-fund', '三(三)1(1)'],
    ['2361', '孤儿', 'civil-affairs', 'medical-assistance-fund', '三(三)1(1)'],
    ['236010', '计生特别扶助对象', 'health', 'special-fiscal-funds', '三(三)1(2)'],
    ['236046', '重度残疾人', 'disabled-persons-federation', 'special-fiscal-funds', '三(三)1(2)'],
    ['01', '被征地农民超龄人员', 'natural-resources', 'special-fiscal-funds', '三(三)1(2)'],
    ['9925', '烈士遗属', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['992601', '因公牺牲军人遗属', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['2101', '因公牺牲军人家属', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['216002', '在乡复员军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9934', '带病回乡退伍军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['246003', '参战参试退役人员', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9935', '参战涉核退役人员', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9901', '一级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9930', '二级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9931', '三级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9917', '四级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9918', '五级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9919', '六级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9920', '七级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9921', '八级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9922', '九级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
    ['9923', '十级残疾军人', 'veterans-affairs', 'special-fiscal-funds', '三(三)1(2)'],
  ])(
    '%s %s (%s) is fully subsidised from %s, nothing levied (003 %s)',
    (code, name, department, fund, section) => {
      const e = run([code], centralised);
      expect(e.effectiveCategoryName).toBe(name);
      expect(e.heldCategories[0]).toMatchObject({ department, eligible: true });
      expect(e.contribution).toEqual({
        totalFen: 38000,
        personalFen: 0,
        subsidyFen: 38000,
        fundingSource: fund,
      });
      expect(e.levied).toBe(false);
      expect(e.rules.find((r) => r.id === `category.${code}`)!.source).toContain(section);
    },
  );

  it.each([
    ['2303', '低保救助对象', 'civil-affairs'],
    ['230202', '脱贫不稳定户', 'rural-revitalization'],
    ['230508', '边缘易致贫户', 'rural-revitalization'],
    ['230705', '突发严重困难户', 'rural-revitalization'],
  ])(
    '%s %s gets 75%%: 285 yuan from the medical assistance fund, 95 yuan personal (003 三(三)2(1))',
    (code, name, department) => {
      const e = run([code], centralised);
      expect(e.effectiveCategoryName).toBe(name);
      expect(e.heldCategories[0]!.department).toBe(department);
      expect(e.contribution).toEqual({
        totalFen: 38000,
        personalFen: 9500,
        subsidyFen: 28500,
        fundingSource: 'medical-assistance-fund',
      });
      expect(e.levied).toBe(true);
    },
  );

  it('993406 已稳定脱贫人口 gets 25%: 95 yuan from the medical assistance fund, 285 yuan personal (003 三(三)2(2))', () => {
    const e = run(['993406'], centralised);
    expect(e.heldCategories[0]!.department).toBe('rural-revitalization');
    expect(e.contribution).toEqual({
      totalFen: 38000,
      personalFen: 28500,
      subsidyFen: 9500,
      fundingSource: 'medical-assistance-fund',
    });
  });

  describe('2305 低收入救助对象: 75% from special fiscal funds for the old, minors and grade 3-4 disabled only (003 三(三)2(3))', () => {
    it('a 65-year-old gets 285 yuan from special fiscal funds and pays 95', () => {
      const e = run(['2305'], centralised, makeIdNumber('511421', '1958-01-01', 31));
      expect(e.contribution).toEqual({
        totalFen: 38000,
        personalFen: 9500,
        subsidyFen: 28500,
        fundingSource: 'special-fiscal-funds',
      });
    });
    it('a 17-year-old (a minor) qualifies', () => {
      expect(run(['2305'], centralised, makeIdNumber('511421', '2006-01-01', 31)).effectiveCategory).toBe(
        '2305',
      );
    });
    it('an 18-year-old does not', () => {
      expect(
        run(['2305'], centralised, makeIdNumber('511421', '2005-10-20', 31)).effectiveCategory,
      ).toBeNull();
    });
    it('a 40-year-old with grade 3 or 4 disability qualifies; grade 2 or no grade does not', () => {
      expect(run(['2305'], centralised, adult, { disabilityGrade: 3 }).effectiveCategory).toBe('2305');
      expect(run(['2305'], centralised, adult, { disabilityGrade: 4 }).effectiveCategory).toBe('2305');
      expect(run(['2305'], centralised, adult, { disabilityGrade: 2 }).effectiveCategory).toBeNull();
      const none = run(['2305'], centralised);
      expect(none.effectiveCategory).toBeNull();
      expect(none.contribution.personalFen).toBe(38000);
      expect(none.heldCategories[0]!.why).toMatch(/no disability grade given/);
    });
  });
});

describe('Meishan 2024: precedence by import order, the later import wins (003 三(二))', () => {
  it('稳定脱贫户 993406 imported first, 低保 2303 later: 2303 decides (75%)', () => {
    const e = run(['2303', '993406'], centralised);
    expect(e.effectiveCategory).toBe('2303');
    expect(e.contribution.personalFen).toBe(9500);
    expect(e.rules.find((r) => r.id === 'precedence')!.says).toMatch(/2303 wins/);
  });
  it('重度残疾人 236046 and then 特困 2304 last of all: the medical assistance fund pays', () => {
    expect(run(['2304', '236046'], centralised).contribution.fundingSource).toBe('medical-assistance-fund');
  });
  it('孤儿 2361 is imported after every veterans code', () => {
    expect(run(['9901', '2361'], centralised).effectiveCategory).toBe('2361');
  });
  it('an identity whose conditions fail does not override an earlier one that applies', () => {
    expect(run(['993406', '2305'], centralised).effectiveCategory).toBe('993406');
  });
});

describe('Meishan 2024: calendar (003 二(二), 三, 五)', () => {
  const c = policy.calendar;
  it('identities are decided by 08-31; collection runs 2023-09-01 to 2024-02-29 with benefits from 2024-01-01', () => {
    expect([
      c.rosterDeadline.at,
      c.centralisedPeriod.from,
      c.centralisedPeriod.to,
      c.benefitYearStart.date,
    ]).toEqual(['2023-08-31', '2023-09-01', '2024-02-29', '2024-01-01']);
  });
  it('partly subsidised people pay their share by 12-20; special fiscal funds arrive by 12-20, medical assistance in Q4', () => {
    expect(c.partialPaymentDeadline!.at).toBe('2023-12-20');
    expect(c.subsidyClaims.map((s) => [s.fundingSources.join(), s.at])).toEqual([
      ['special-fiscal-funds', '2023-12-20'],
      ['medical-assistance-fund', '2023-12-31'],
    ]);
  });
  it('the goal is no fewer enrolled than last year (003 六(一))', () => {
    expect(policy.coverageGoal.kind).toBe('not-below-last-year');
  });
});

describe('Meishan 2024: when benefits start (003 二(二)1-4)', () => {
  it('paid on 2024-02-29, the last day of collection: covered from 2024-01-01', () => {
    expect(run([], { kind: 'centralised-payment', date: '2024-02-29' }).benefitStart).toBe('2024-01-01');
  });
  it('outside the collection period: from the 4th month counting the payment month', () => {
    expect(run([], { kind: 'mid-year-enrollment', date: '2024-03-01' }).benefitStart).toBe('2024-06-01');
    expect(run([], { kind: 'mid-year-enrollment', date: '2024-03-31' }).benefitStart).toBe('2024-06-01');
    expect(run([], { kind: 'mid-year-enrollment', date: '2024-11-15' }).benefitStart).toBe('2025-02-01');
  });
  it('within 3 months of leaving employee insurance: covered from the payment day, the gap covered back', () => {
    const e = run([], {
      kind: 'mid-year-enrollment',
      date: '2024-07-30',
      reason: 'employee-insurance-lapse',
      lapseDate: '2024-04-30',
    });
    expect(e.benefitStart).toBe('2024-07-30');
    expect(e.gapCoveredFrom).toBe('2024-05-01');
  });
  it('more than 3 months after leaving employee insurance: the ordinary 4th-month rule', () => {
    const e = run([], {
      kind: 'mid-year-enrollment',
      date: '2024-07-31',
      reason: 'employee-insurance-lapse',
      lapseDate: '2024-04-30',
    });
    expect(e.benefitStart).toBe('2024-10-01');
    expect(e.gapCoveredFrom).toBeUndefined();
  });
  it.each(['new-transfer', 'new-household-arrival', 'released-prisoner', 'discharged-soldier'])(
    '%s may enroll at any time and is covered from the day after payment',
    (reason) => {
      expect(run([], { kind: 'special-enrollment', date: '2024-05-20', reason }).benefitStart).toBe(
        '2024-05-21',
      );
    },
  );
  it('a newborn paid on day 90 (2024 is a leap year) is covered from birth; on day 91 from the next day', () => {
    const born = makeIdNumber('511402', '2024-01-01', 42);
    expect(run([], { kind: 'newborn-enrollment', date: '2024-03-31' }, born).benefitStart).toBe('2024-01-01');
    expect(run([], { kind: 'newborn-enrollment', date: '2024-04-01' }, born).benefitStart).toBe('2024-04-02');
  });
  it('a newborn paid within a year of birth is covered from the next day; at one year the ordinary rule applies', () => {
    const born = makeIdNumber('511402', '2024-03-10', 42);
    expect(run([], { kind: 'newborn-enrollment', date: '2025-03-09' }, born).benefitStart).toBe('2025-03-10');
    expect(run([], { kind: 'newborn-enrollment', date: '2025-03-10' }, born).benefitStart).toBe('2025-06-01');
  });
  it('a difficulty identity registered in the collection period counts from 2024-01-01; one certified within the year at once', () => {
    expect(run(['2304'], { kind: 'difficulty-registration', date: '2023-09-20' }).benefitStart).toBe(
      '2024-01-01',
    );
    expect(run(['2304'], { kind: 'difficulty-registration', date: '2024-04-10' }).benefitStart).toBe(
      '2024-04-10',
    );
  });
});

describe('Meishan 2024: refunds and failures', () => {
  it('a duplicate enrollment elsewhere before the benefit year is refunded (附件1 教育部门 重复参保到户籍地退费)', () => {
    const e = run([], {
      kind: 'refund-request',
      date: '2024-01-05',
      occurredOn: '2023-11-01',
      reason: 'duplicate-enrollment-elsewhere',
    });
    expect(e.refund).toMatchObject({ eligible: true, decision: 'refund', amountFen: 38000 });
  });
  it('the plan states no refund for a death or a move to employee insurance: "no rule stated", not "not eligible"', () => {
    for (const reason of ['death', 'joined-employee-insurance', 'duplicate-payment']) {
      const r = run([], {
        kind: 'refund-request',
        date: '2023-11-02',
        occurredOn: '2023-11-01',
        reason,
      }).refund!;
      expect(r.decision).toBe('no-rule-stated');
      expect(r.amountFen).toBeNull();
      expect(r.reason).toMatch(/states no refund rule/);
    }
  });
  it('after the benefit period began the plan states no rule either: "no rule stated"', () => {
    const r = run([], {
      kind: 'refund-request',
      date: '2024-03-01',
      occurredOn: '2024-02-01',
      reason: 'duplicate-enrollment-elsewhere',
    }).refund!;
    expect(r).toMatchObject({ decision: 'no-rule-stated', eligible: false, amountFen: null });
  });
  it('a personal failure stays on the not-enrolled ledgers rather than being declared abandoned (003 六(二))', () => {
    expect(classifyDeductionFailure(policy, 'insufficient-balance').outcome).toMatch(/not-enrolled ledgers/);
  });
  it('the plan sets no rule for an identity ending within the year', () => {
    const e = run(['2303'], { kind: 'identity-ended', date: '2024-03-15' });
    expect(e.subsidyEndsFrom).toBeUndefined();
  });
});

describe('Meishan 2024: contributions are annual (003 二(二) 城乡居民医保实行按年度缴费)', () => {
  it('a released prisoner paying the 2024 contribution on 2023-11-10 is covered by it from 2024-01-01, not 2023-11-11 (二(二)1, 二(二)3)', () => {
    const e = run([], { kind: 'special-enrollment', date: '2023-11-10', reason: 'released-prisoner' });
    expect(e.benefitStart).toBe('2024-01-01');
    expect(e.contributionYears).toEqual([2024]);
    expect(e.priorYearCover).toMatchObject({ year: 2023, from: '2023-11-11', to: '2023-12-31' });
    expect(e.rules.at(-1)).toMatchObject({ id: 'benefit.annual-contribution' });
    expect(e.rules.at(-1)!.source).toMatch(/^003 二\(二\)/);
  });
  it('the same release in 2024 is covered from the day after payment (二(二)3 从缴费次日起享受)', () => {
    const e = run([], { kind: 'special-enrollment', date: '2024-03-10', reason: 'released-prisoner' });
    expect(e.benefitStart).toBe('2024-03-11');
    expect(e.priorYearCover).toBeUndefined();
  });
  it('a newborn born 2023-11-01 and paid for 2024 within 90 days is covered by the 2024 payment from 2024-01-01; the 2023 days are a 2023 payment (二(二)4)', () => {
    const born = makeIdNumber('511402', '2023-11-01', 42);
    const e = run([], { kind: 'newborn-enrollment', date: '2023-11-20' }, born);
    expect(e.benefitStart).toBe('2024-01-01');
    expect(e.contributionYears).toEqual([2024]);
    expect(e.priorYearCover).toMatchObject({ year: 2023, from: '2023-11-01', to: '2023-12-31' });
  });
  it('出生90天（含）内: paid on birth + 90 days is inside the window, birth + 91 is not (the policy counts from the day after birth)', () => {
    expect(policy.benefitStart.newborn).toMatchObject({
      kind: 'days-from-birth',
      dayOneIs: 'day-after-birth',
    });
    const born = makeIdNumber('511402', '2024-02-01', 42);
    expect(run([], { kind: 'newborn-enrollment', date: '2024-05-01' }, born).benefitStart).toBe('2024-02-01');
    expect(run([], { kind: 'newborn-enrollment', date: '2024-05-02' }, born).benefitStart).toBe('2024-05-03');
  });
});

describe('Meishan 2024: 当年度未参加过任何基本医保的普通居民可在非集中缴费期参保缴费 (003 二(二)2)', () => {
  const midYear: EventInput = { kind: 'mid-year-enrollment', date: '2024-05-10' };
  it('a resident in no basic insurance this year may enroll outside the collection period, covered from the 4th month', () => {
    const e = run([], midYear, adult, { basicInsuredThisYear: false });
    expect(e.enrollable).toBe(true);
    expect(e.benefitStart).toBe('2024-08-01');
  });
  it('a resident already in basic insurance this year may not: refused, with the sentence cited', () => {
    const e = run([], midYear, adult, { basicInsuredThisYear: true });
    expect(e.enrollable).toBe(false);
    expect(e.benefitStart).toBeNull();
    expect(e.levied).toBe(false);
    expect(e.refusals[0]!.source).toMatch(/^003 二\(二\)2 当年度未参加过任何基本医保/);
  });
  it('leaving employee insurance within 3 months is the sentence’s own exception: insured this year, yet covered from payment', () => {
    const e = run(
      [],
      {
        kind: 'mid-year-enrollment',
        date: '2024-07-30',
        reason: 'employee-insurance-lapse',
        lapseDate: '2024-04-30',
      },
      adult,
      { basicInsuredThisYear: true },
    );
    expect(e.enrollable).toBe(true);
    expect(e.benefitStart).toBe('2024-07-30');
  });
});

describe('Meishan 2024: the person’s deadlines (003 二(二)1, 三(三)3(2))', () => {
  it('a partly subsidised 低保 person pays the 95 yuan share by 2023-12-20; paid on 12-21 it is late, yet still in the collection period', () => {
    const e = run(['2303'], { kind: 'centralised-payment', date: '2023-12-21' });
    expect(e.deadlines.find((d) => d.name === 'personal-share')).toMatchObject({
      date: '2023-12-20',
      missed: true,
    });
    expect(e.deadlines.find((d) => d.name === 'new-enrollment')).toMatchObject({
      date: '2024-02-29',
      missed: false,
    });
    expect(e.benefitStart).toBe('2024-01-01');
  });
  it('9月1日至12月20日集中办理普通群众…个人应缴部分缴费: an ordinary resident has the 12-20 date too; a fully subsidised one has none', () => {
    expect(run([], centralised).deadlines.map((d) => d.name)).toContain('personal-share');
    expect(run(['2304'], centralised).deadlines.map((d) => d.name)).not.toContain('personal-share');
  });
});

describe('an ID number whose birth date is after the event is refused', () => {
  it('born 2024-05-01, paying on 2024-03-01: refused, naming the ID number, not answered with age -1', () => {
    expect(() =>
      run([], { kind: 'mid-year-enrollment', date: '2024-03-01' }, makeIdNumber('511402', '2024-05-01', 7)),
    ).toThrow(
      /person\.idNumber: the birth date 2024-05-01 in the ID number is after the event date 2024-03-01/,
    );
  });
});
