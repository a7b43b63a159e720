/**
 * Working days and the dated steps of a policy's calendar: when reports are due, when re-deduction rounds
 * run, which monthly delta periods fall inside the year.
 */
import {
  addDays,
  addMonths,
  dateOfSpec,
  firstOfMonth,
  instantOf,
  weekday,
  yearOf,
  type IsoDate,
} from './dates';
import type { Policy, WorkingDayCalendar } from './policy';

/**
 * Throws RangeError for a date in a year the calendar does not cover (its `years`): a year without the
 * State Council's notice is unknown, not Monday to Friday.
 *
 * A working day is Monday to Friday unless the State Council made it a holiday, or a weekend day the
 * State Council made a make-up working day (调休上班).
 */
export function isWorkingDay(date: IsoDate, calendar: WorkingDayCalendar): boolean {
  if (calendar.years && !calendar.years.includes(yearOf(date))) {
    throw new RangeError(
      `${date}: the working-day calendar ${calendar.id} covers only ${calendar.years.join(', ')}; the State Council's notice for ${yearOf(date)} is not in seeds/calendars/`,
    );
  }
  if (calendar.makeUpWorkdays.includes(date)) return true;
  if (calendar.holidays.includes(date)) return false;
  return weekday(date) <= 5;
}

/** The date itself when it is a working day, else the first working day after it (节假日顺延). */
export function nextWorkingDay(date: IsoDate, calendar: WorkingDayCalendar): IsoDate {
  let d = date;
  for (let i = 0; i < 60 && !isWorkingDay(d, calendar); i += 1) d = addDays(d, 1);
  return d;
}

export interface DueReport {
  /** The nominal date the cadence names. */
  nominal: IsoDate;
  /** When it is due after any holiday shift (an ISO date, or an instant for minute cadences). */
  due: string;
  shifted: boolean;
}

/** Every progress report the policy calls for, in order. */
export function progressReportSchedule(policy: Policy): DueReport[] {
  const cadence = policy.calendar.progressReports;
  const out: DueReport[] = [];
  if (cadence.kind === 'every-minutes') {
    const end = instantOf(cadence.until, 'start');
    for (let t = instantOf(cadence.from, 'start'); t <= end; t += Math.round(cadence.minutes * 60_000)) {
      const iso = new Date(t).toISOString();
      out.push({ nominal: dateOfSpec(iso), due: iso, shifted: false });
    }
    return out;
  }
  const shift = (d: IsoDate) =>
    cadence.holidayShift === 'next-working-day' ? nextWorkingDay(d, policy.workingDays) : d;
  if (cadence.kind === 'weekly') {
    let d = cadence.from;
    while (weekday(d) !== cadence.weekday) d = addDays(d, 1);
    for (; d <= cadence.until; d = addDays(d, 7)) {
      const due = shift(d);
      out.push({ nominal: d, due, shifted: due !== d });
    }
    return out;
  }
  for (let month = firstOfMonth(cadence.from); month <= cadence.until; month = addMonths(month, 1)) {
    for (const day of [...cadence.days].sort((a, b) => a - b)) {
      const d = `${month.slice(0, 8)}${String(day).padStart(2, '0')}`;
      if (d < cadence.from || d > cadence.until) continue;
      const due = shift(d);
      out.push({ nominal: d, due, shifted: due !== d });
    }
  }
  return out;
}

/**
 * The instants of re-deduction rounds after the first batch deduction, up to and including the cut-off
 * day: the follow-up loop runs one round at each.
 */
export function reDeductionRounds(policy: Policy): number[] {
  const c = policy.calendar;
  const first = instantOf(c.firstBatchDeduction.at, 'start');
  const end = instantOf(c.cutoff.at, 'start');
  const step = Math.round(c.reDeduction.everyMinutes * 60_000);
  const rounds: number[] = [];
  for (let t = first + step; t <= end; t += step) rounds.push(t);
  return rounds;
}

/**
 * The month periods ('2023-09') whose delta is due within the campaign: the roster covers everything up
 * to its as-of date, so the first delta is the month after it, due on the delta day of the month after
 * that; the last is due by the final subsidy claim.
 */
export function monthlyDeltaPeriods(
  policy: Policy,
  options: { months?: number } = {},
): { period: string; due: IsoDate }[] {
  const start = firstOfMonth(dateOfSpec(policy.calendar.rosterAsOf.at));
  // by default until the last subsidy claim; `months` asks for that many months after the roster instead
  const lastClaim = options.months
    ? `${addMonths(start, options.months + 1).slice(0, 8)}28`
    : policy.calendar.subsidyClaims
        .map((s) => dateOfSpec(s.at))
        .sort()
        .at(-1)!;
  const out: { period: string; due: IsoDate }[] = [];
  for (let month = addMonths(start, 2); month <= lastClaim; month = addMonths(month, 1)) {
    const due = `${month.slice(0, 8)}${String(policy.calendar.monthlyDelta.day).padStart(2, '0')}`;
    if (due > lastClaim) break;
    out.push({ period: addMonths(month, -1).slice(0, 7), due });
  }
  return out;
}
