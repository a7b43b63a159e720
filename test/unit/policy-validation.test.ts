import { describe, expect, it } from 'vitest';
import { progressReportSchedule, reDeductionRounds } from '../../domain/calendar';
import { makeDrillPolicy } from '../../domain/drill';
import { explain } from '../../domain/engine';
import { makeIdNumber } from '../../domain/id-number';
import { loadPolicy, PolicyValidationError } from '../../domain/policy';
import { seedPolicy, seedPolicyKeys, WORKING_DAY_CALENDARS } from '../../seeds';
import kaipingFile from '../../seeds/policies/kaiping-2024.json';
import meishanFile from '../../seeds/policies/meishan-2024.json';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const load = (json: unknown) => loadPolicy(json, WORKING_DAY_CALENDARS, 'test-policy.json');
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as PolicyValidationError;
  }
  throw new Error('expected the policy to be refused');
};

describe('policies are data validated by one schema', () => {
  it('the three official plans load: Kaiping, Heshan and Meishan 2024', () => {
    expect(seedPolicyKeys()).toEqual(['kaiping-2024', 'heshan-2024', 'meishan-2024']);
    for (const key of seedPolicyKeys()) {
      const [j, y] = key.split('-');
      expect(seedPolicy(j!, Number(y)).jurisdiction).toBe(j);
    }
  });

  it('every category of every plan cites its document and section', () => {
    for (const [j, file] of [
      ['kaiping', '000'],
      ['heshan', '001'],
      ['meishan', '003'],
    ] as const) {
      for (const c of seedPolicy(j, 2024).categories) expect(c.source.startsWith(`${file} `)).toBe(true);
    }
  });

  it('a calendar out of order is refused, naming the field: a first deduction before the roster is due', () => {
    const bad = clone(kaipingFile);
    bad.calendar.firstBatchDeduction.at = '2023-09-05';
    const error = errorOf(() => load(bad));
    expect(error).toBeInstanceOf(PolicyValidationError);
    expect(error.message).toMatch(/test-policy\.json: invalid policy/);
    expect(error.issues).toContainEqual({
      path: 'calendar.firstBatchDeduction',
      message:
        'calendar out of order: rosterDeadline (2023-09-10) must not be after firstBatchDeduction (2023-09-05)',
    });
  });

  it('a rule without its source is refused', () => {
    const bad = clone(kaipingFile) as { contribution: { source?: string } };
    delete bad.contribution.source;
    expect(errorOf(() => load(bad)).issues.map((i) => i.path)).toContain('contribution.source');
  });

  it('a category listed twice, or certified by a department the policy does not list, is refused', () => {
    const bad = clone(kaipingFile);
    bad.categories.push({ ...bad.categories[0]!, department: 'health' });
    const paths = errorOf(() => load(bad)).issues.map((i) => i.message);
    expect(paths).toContain('category 1 appears twice');
    expect(paths).toContain('department health is not listed in departments');
  });

  it('a Meishan identity missing from the import order is refused', () => {
    const bad = clone(meishanFile);
    bad.precedence.order = bad.precedence.order.filter((c) => c !== '2304');
    expect(errorOf(() => load(bad)).issues).toContainEqual({
      path: 'precedence.order',
      message: 'category 2304 has no place in the import order',
    });
  });

  it('money is integer fen: a contribution of 406.5 is refused', () => {
    const bad = clone(kaipingFile);
    bad.contribution.personalFen = 406.5;
    expect(errorOf(() => load(bad)).issues.map((i) => i.path)).toContain('contribution.personalFen');
  });
});

describe('a drill policy: the same rules with dates minutes apart', () => {
  const start = Date.parse('2026-11-23T08:00:00Z');
  const drill = makeDrillPolicy(seedPolicy('kaiping', 2024), start, 2);

  it('loads through the same validation and keeps the calendar in order', () => {
    const reloaded = load(drill);
    expect(reloaded.drill).toBe(true);
    expect(reloaded.calendar.rosterAsOf.at).toBe('2026-11-23T08:00:00.000Z');
    expect(reloaded.calendar.rosterDeadline.at).toBe('2026-11-23T08:04:00.000Z');
    expect(Date.parse(reloaded.calendar.firstBatchDeduction.at)).toBeGreaterThan(
      Date.parse(reloaded.calendar.changeStopDeadline.at),
    );
    expect(Date.parse(reloaded.calendar.subsidyClaims[0]!.at)).toBeGreaterThan(
      Date.parse(reloaded.calendar.cutoff.at),
    );
  });

  it('reports every two minutes and re-deducts every minute between the first batch and the cut-off', () => {
    expect(progressReportSchedule(drill).length).toBeGreaterThan(2);
    expect(reDeductionRounds(drill).length).toBeGreaterThan(1);
  });

  it('the engine answers for a person exactly as under the real policy', () => {
    const input = {
      jurisdiction: 'kaiping',
      year: 2024,
      person: { idNumber: makeIdNumber('440783', '1960-01-01', 1), categories: ['7'] },
      event: { kind: 'mid-year-enrollment' as const, date: '2024-03-15' },
    };
    const real = explain(seedPolicy('kaiping', 2024), input);
    const drilled = explain(drill, input);
    expect(drilled.contribution).toEqual(real.contribution);
    expect(drilled.benefitStart).toBe(real.benefitStart);
  });
});
