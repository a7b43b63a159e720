import { describe, expect, it } from 'vitest';
import { explain, type EventInput } from '../../domain/engine';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';

const policy = seedPolicy('heshan', 2024);
const adult = makeIdNumber('440784', '1970-05-06', 21);
const run = (
  categories: string[],
  event: EventInput = { kind: 'centralised-payment', date: '2023-10-20' },
  idNumber = adult,
) => explain(policy, { jurisdiction: 'heshan', year: 2024, person: { idNumber, categories }, event });

describe('Heshan 2024: eleven categories and the fund that pays for each (001 二, 三(二))', () => {
  it.each([
    ['1', 'civil-affairs', 'medical-assistance-fund'],
    ['2', 'civil-affairs', 'medical-assistance-fund'],
    ['3', 'civil-affairs', 'medical-assistance-fund'],
    ['4', 'rural-revitalization', 'medical-assistance-fund'],
    ['5', 'rural-revitalization', 'rural-revitalization-funds'],
    ['6', 'civil-affairs', 'medical-assistance-fund'],
    ['7', 'disabled-persons-federation', 'disability-employment-security-fund'],
    ['8', 'disabled-persons-federation', 'disability-employment-security-fund'],
    ['10', 'veterans-affairs', 'veterans-affairs-funds'],
  ])('category %s, certified by %s, is paid in full by %s', (id, department, fund) => {
    const e = run([id]);
    expect(e.heldCategories[0]).toMatchObject({ department, eligible: true });
    expect(e.contribution).toEqual({
      totalFen: 40600,
      personalFen: 0,
      subsidyFen: 40600,
      fundingSource: fund,
    });
  });

  it('category 9 困境儿童 is paid by the certifying department for a child (001 三(二), 江府〔2019〕5号)', () => {
    const e = run(['9'], undefined, makeIdNumber('440784', '2016-02-29', 8));
    expect(e.contribution).toEqual({
      totalFen: 40600,
      personalFen: 0,
      subsidyFen: 40600,
      fundingSource: 'certifying-department-funds',
    });
  });

  it('category 11 计生优待户 pays the whole 406 yuan first and is reimbursed later by health (001 二(十一) 先缴后补)', () => {
    const e = run(['11']);
    expect(e.heldCategories[0]!.department).toBe('health');
    expect(e.contribution).toMatchObject({
      totalFen: 40600,
      personalFen: 40600,
      subsidyFen: 0,
      fundingSource: 'health-department-funds',
    });
    expect(e.contribution.reimbursedLater).toEqual({
      by: 'health',
      basis: '鹤卫〔2018〕340号 (the amount is not in the plan)',
      amountFen: null,
    });
    expect(e.levied).toBe(true);
  });

  it('a person in 11 and 7 is fully subsidised under 7: the larger subsidy wins before the plan order', () => {
    const e = run(['11', '7']);
    expect(e.effectiveCategory).toBe('7');
    expect(e.contribution.personalFen).toBe(0);
  });

  it('a person in 7 and 1 is recorded under 1, the earlier in the plan: the medical assistance fund pays', () => {
    expect(run(['7', '1']).contribution.fundingSource).toBe('medical-assistance-fund');
  });

  it('no central subsidy is claimed for a person whose identity information is missing or wrong (001 三(三))', () => {
    expect(policy.claimExcludesInvalidIdentity!.source).toMatch(/^001 三\(三\)/);
    const answer = (person: object) =>
      explain(policy, {
        jurisdiction: 'heshan',
        year: 2024,
        person: { idNumber: adult, categories: ['1'], ...person },
        event: { kind: 'centralised-payment', date: '2023-10-20' },
      });
    for (const person of [
      { identityInformation: 'missing' },
      { identityInformation: 'wrong' },
      { name: '' },
    ]) {
      const e = answer(person);
      expect(e.claimExclusions).toHaveLength(1);
      expect(e.claimExclusions[0]!.source).toMatch(/^001 三\(三\) 对于参保人员无身份信息或身份信息错误的/);
      expect(e.claimExclusions[0]!.says).toMatch(/no central fiscal subsidy/);
    }
    expect(answer({ name: '李四', identityInformation: 'complete' }).claimExclusions).toEqual([]);
  });
  it('Kaiping states no such exclusion: its answer lists none', () => {
    const kaiping = seedPolicy('kaiping', 2024);
    const e = explain(kaiping, {
      jurisdiction: 'kaiping',
      year: 2024,
      person: { idNumber: makeIdNumber('440783', '1970-05-06', 21), identityInformation: 'missing' },
      event: { kind: 'centralised-payment', date: '2023-10-20' },
    });
    expect(e.claimExclusions).toEqual([]);
  });
  it('payment by 11-30 (001 六(二) 参保缴费阶段): the person’s deadline, missed by a payment on 12-01', () => {
    const e = run([], { kind: 'centralised-payment', date: '2023-12-01' });
    expect(e.deadlines.find((d) => d.name === 'new-enrollment')).toMatchObject({
      date: '2023-11-30',
      missed: true,
    });
  });
});

describe('Heshan 2024: phases and dates (001 六, 七)', () => {
  const c = policy.calendar;
  it('mobilisation by 09-15, payment by 11-30, verification and the enrolled count by 12-31, outreach by 12-15', () => {
    expect(c.rosterDeadline.at).toBe('2023-09-15');
    expect(c.newEnrollmentDeadline.at).toBe('2023-11-30');
    expect(c.cutoff.at).toBe('2023-12-31');
    expect(policy.milestones).toEqual([
      expect.objectContaining({ name: 'outreach-complete', at: '2023-12-15' }),
    ]);
  });
  it('the subsidy claim to finance is due 2024-06-30 for every Heshan fund (001 七(三))', () => {
    expect(c.subsidyClaims).toHaveLength(1);
    expect(c.subsidyClaims[0]!.at).toBe('2024-06-30');
    expect(c.subsidyClaims[0]!.fundingSources).toHaveLength(6);
  });
  it('a mid-year enrollee is covered from the 1st of the next month, as in the Jiangmen rules', () => {
    expect(run([], { kind: 'mid-year-enrollment', date: '2024-05-05' }).benefitStart).toBe('2024-06-01');
  });
  it('a failure caused by the person is abandoned at the cut-off; others are re-sent (001 六(三))', () => {
    expect(policy.deductionFailures.personalAtCutoff).toBe('abandoned');
  });
});
