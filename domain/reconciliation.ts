/**
 * Dates of the monthly reconciliation of the difficulty lists (000 五(一): "每月10日前提供上个月新增或减员的…
 * 人员名单"; 001 七(三); 003 附件1). Pure.
 */
import { addDays, addMonths, type IsoDate } from './dates';
import type { Policy } from './policy';

/**
 * The registration day of month `month`'s delta (YYYY-MM): the policy's delta day of the following month, by
 * which the departments send last month's additions and removals and the center registers them. Additions
 * of that delta are subsidised from this day, whenever the delta is actually reconciled (a backfill of
 * 2023-09 registers its additions on 2023-10-10, not on the day the backfill runs).
 * Returns a China date YYYY-MM-DD. Throws on a month that is not YYYY-MM.
 */
export function deltaRegistrationDay(policy: Pick<Policy, 'calendar'>, month: string): IsoDate {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new Error(`a delta month is YYYY-MM, not ${month}`);
  const next = addMonths(`${month}-01`, 1);
  return `${next.slice(0, 8)}${String(policy.calendar.monthlyDelta.day).padStart(2, '0')}`;
}

/**
 * The last day a removal in month `month`'s delta keeps the subsidised standard: the month's own last day
 * (000 五(一) "从次月起…停止享受相应标准的待遇"). China date YYYY-MM-DD.
 */
export function deltaRemovalEnd(month: string): IsoDate {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new Error(`a delta month is YYYY-MM, not ${month}`);
  const next = addMonths(`${month}-01`, 1);
  return addDays(next, -1);
}
