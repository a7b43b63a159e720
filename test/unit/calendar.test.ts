import { describe, expect, it } from 'vitest';
import {
  isWorkingDay,
  monthlyDeltaPeriods,
  nextWorkingDay,
  progressReportSchedule,
  reDeductionRounds,
} from '../../domain/calendar';
import { addMonths, chinaDateOf, instantOf } from '../../domain/dates';
import { loadPolicy } from '../../domain/policy';
import { seedPolicy, WORKING_DAY_CALENDARS } from '../../seeds';
import kaipingFile from '../../seeds/policies/kaiping-2024.json';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const kaiping = seedPolicy('kaiping', 2024);
const heshan = seedPolicy('heshan', 2024);
const meishan = seedPolicy('meishan', 2024);
const holidays = kaiping.workingDays;

describe('dates', () => {
  it('adding a month to a month end lands on the last day of the shorter month, 2024-02-29 included', () => {
    expect(addMonths('2024-01-31', 1)).toBe('2024-02-29');
    expect(addMonths('2023-01-31', 1)).toBe('2023-02-28');
    expect(addMonths('2023-12-15', 1)).toBe('2024-01-15');
    expect(addMonths('2024-02-29', 12)).toBe('2025-02-28');
  });

  it('a date alone is that day in China: a deadline "by 2023-09-10" ends at midnight Beijing time', () => {
    expect(new Date(instantOf('2023-09-10', 'start')).toISOString()).toBe('2023-09-09T16:00:00.000Z');
    expect(new Date(instantOf('2023-09-10', 'end')).toISOString()).toBe('2023-09-10T16:00:00.000Z');
    expect(chinaDateOf(Date.parse('2023-12-31T16:30:00Z'))).toBe('2024-01-01');
  });
});

describe('working days of the State Council calendar (节假日顺延)', () => {
  it('a National Day holiday moves to the make-up working Saturday 2023-10-07', () => {
    expect(isWorkingDay('2023-10-01', holidays)).toBe(false);
    expect(isWorkingDay('2023-10-07', holidays)).toBe(true);
    expect(nextWorkingDay('2023-10-01', holidays)).toBe('2023-10-07');
  });
  it('a Sunday moves to Monday; New Year 2024-01-01 moves to 2024-01-02', () => {
    expect(nextWorkingDay('2023-10-15', holidays)).toBe('2023-10-16');
    expect(nextWorkingDay('2024-01-01', holidays)).toBe('2024-01-02');
  });
  it('the 2024 Spring Festival moves a date to the make-up Sunday 2024-02-18', () => {
    expect(nextWorkingDay('2024-02-10', holidays)).toBe('2024-02-18');
    expect(nextWorkingDay('2024-02-15', holidays)).toBe('2024-02-18');
  });
  it('a working day stays where it is', () => {
    expect(nextWorkingDay('2023-11-15', holidays)).toBe('2023-11-15');
  });
});

describe('progress report cadence', () => {
  it('Heshan reports on the 1st and 15th, a holiday moving to the next working day (001 七(七))', () => {
    expect(progressReportSchedule(heshan).map((r) => r.due)).toEqual([
      '2023-09-01',
      '2023-09-15',
      '2023-10-07',
      '2023-10-16',
      '2023-11-01',
      '2023-11-15',
      '2023-12-01',
      '2023-12-15',
    ]);
  });
  it('Kaiping reports every Thursday from 09-01 (000 六(四)), 17 reports to the cut-off, none moved', () => {
    const due = progressReportSchedule(kaiping);
    expect(due).toHaveLength(17);
    expect(due[0]!.due).toBe('2023-09-07');
    expect(due.at(-1)!.due).toBe('2023-12-28');
    expect(due.some((r) => r.due === '2023-10-05')).toBe(true);
    expect(due.every((r) => !r.shifted)).toBe(true);
  });
  it('Meishan holds its weekly Monday review (003 六(三)) from September to March: 30 Mondays', () => {
    const due = progressReportSchedule(meishan);
    expect(due).toHaveLength(30);
    expect(due[0]!.due).toBe('2023-09-04');
    expect(due.at(-1)!.due).toBe('2024-03-25');
  });
});

describe('rounds and monthly deltas', () => {
  it('Kaiping re-deducts weekly after the 10-09 first batch up to the 12-31 cut-off: 11 rounds', () => {
    const rounds = reDeductionRounds(kaiping).map(chinaDateOf);
    expect(rounds).toHaveLength(11);
    expect(rounds[0]).toBe('2023-10-16');
    expect(rounds.at(-1)).toBe('2023-12-25');
  });
  it('the first monthly delta is September, due 10-10; the last before the 06-30 claim is May, due 06-10 (000 五(一))', () => {
    const periods = monthlyDeltaPeriods(kaiping);
    expect(periods[0]).toEqual({ period: '2023-09', due: '2023-10-10' });
    expect(periods.at(-1)).toEqual({ period: '2024-05', due: '2024-06-10' });
    expect(periods).toHaveLength(9);
  });
});

describe('the 2025 State Council holiday notice (国办发明电〔2024〕12号) as data', () => {
  const cal2025 = loadPolicy(
    { ...clone(kaipingFile), holidayCalendar: ['cn-state-council-2023-2024', 'cn-state-council-2025'] },
    WORKING_DAY_CALENDARS,
    'kaiping-with-2025.json',
  ).workingDays;
  it('元旦 2025-01-01 (a Wednesday) is a holiday, not a working day', () => {
    expect(isWorkingDay('2025-01-01', cal2025)).toBe(false);
    expect(nextWorkingDay('2025-01-01', cal2025)).toBe('2025-01-02');
  });
  it('春节 1月28日至2月4日放假调休，1月26日（周日）、2月8日（周六）上班', () => {
    expect(isWorkingDay('2025-01-26', cal2025)).toBe(true);
    expect(nextWorkingDay('2025-01-28', cal2025)).toBe('2025-02-05');
    expect(isWorkingDay('2025-02-08', cal2025)).toBe(true);
  });
  it('清明 4月4日至6日; 劳动节 5月1日至5日，4月27日（周日）上班; 端午 5月31日至6月2日', () => {
    expect(nextWorkingDay('2025-04-04', cal2025)).toBe('2025-04-07');
    expect(isWorkingDay('2025-04-27', cal2025)).toBe(true);
    expect(nextWorkingDay('2025-05-01', cal2025)).toBe('2025-05-06');
    expect(nextWorkingDay('2025-05-31', cal2025)).toBe('2025-06-03');
  });
  it('国庆节、中秋节 10月1日至8日放假调休，9月28日（周日）、10月11日（周六）上班', () => {
    expect(isWorkingDay('2025-09-28', cal2025)).toBe(true);
    expect(nextWorkingDay('2025-10-01', cal2025)).toBe('2025-10-09');
    expect(isWorkingDay('2025-10-11', cal2025)).toBe(true);
  });
});

describe('a calendar knows only the years of the notices it holds', () => {
  it('the 2023-2024 calendar refuses to say whether 2025-01-01 is a working day', () => {
    expect(() => isWorkingDay('2025-01-01', holidays)).toThrow(/covers only 2023, 2024/);
  });
  it('a policy whose dates the shipped calendar does not cover does not load, naming the field', () => {
    const file = clone(kaipingFile);
    file.calendar.subsidyClaims[0]!.at = '2025-06-30';
    expect(() => loadPolicy(file, WORKING_DAY_CALENDARS, 'late-claim.json')).toThrow(
      /late-claim\.json[\s\S]*calendar\.subsidyClaims\.0: 2025-06-30 is outside the years/,
    );
    // with the 2025 notice named as well, the same policy loads
    expect(() =>
      loadPolicy(
        { ...file, holidayCalendar: ['cn-state-council-2023-2024', 'cn-state-council-2025'] },
        WORKING_DAY_CALENDARS,
      ),
    ).not.toThrow();
  });
});
