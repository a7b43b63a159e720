/**
 * Calendar dates as ISO strings ('2024-02-29'), computed in UTC so that no machine time zone can shift a
 * day. Instants of the campaign calendar are China Standard Time (UTC+8, no daylight saving): a date
 * alone means that day in Asia/Shanghai; a policy may also give a full date-time (a drill policy whose
 * deadlines are minutes apart).
 */

export type IsoDate = string;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
export const CHINA_OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;

export function isIsoDate(value: string): boolean {
  const m = DATE_RE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

export function isInstantSpec(value: string): boolean {
  if (isIsoDate(value)) return true;
  const m = DATETIME_RE.exec(value);
  return m !== null && isIsoDate(`${m[1]}-${m[2]}-${m[3]}`) && !Number.isNaN(Date.parse(value));
}

function parts(date: IsoDate): [number, number, number] {
  const m = DATE_RE.exec(date);
  if (!m || !isIsoDate(date)) throw new RangeError(`not a calendar date: ${date}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function fromUtcMs(ms: number): IsoDate {
  return new Date(ms).toISOString().slice(0, 10);
}

function utcMs(date: IsoDate): number {
  const [y, m, d] = parts(date);
  return Date.UTC(y, m - 1, d);
}

export function yearOf(date: IsoDate): number {
  return parts(date)[0];
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return fromUtcMs(utcMs(date) + days * DAY_MS);
}

/** Whole days from `a` to `b` (positive when b is later). */
export function daysBetween(a: IsoDate, b: IsoDate): number {
  return Math.round((utcMs(b) - utcMs(a)) / DAY_MS);
}

/** Adds calendar months, clamping to the month's last day (2024-01-31 + 1 month = 2024-02-29). */
export function addMonths(date: IsoDate, months: number): IsoDate {
  const [y, m, d] = parts(date);
  const index = y * 12 + (m - 1) + months;
  const ny = Math.floor(index / 12);
  const nm = index - ny * 12;
  const last = new Date(Date.UTC(ny, nm + 1, 0)).getUTCDate();
  return fromUtcMs(Date.UTC(ny, nm, Math.min(d, last)));
}

export function addYears(date: IsoDate, years: number): IsoDate {
  return addMonths(date, years * 12);
}

export function firstOfMonth(date: IsoDate): IsoDate {
  const [y, m] = parts(date);
  return fromUtcMs(Date.UTC(y, m - 1, 1));
}

export function firstOfNextMonth(date: IsoDate): IsoDate {
  return addMonths(firstOfMonth(date), 1);
}

/** ISO weekday: 1 = Monday .. 7 = Sunday. */
export function weekday(date: IsoDate): number {
  const d = new Date(utcMs(date)).getUTCDay();
  return d === 0 ? 7 : d;
}

export function compareDates(a: IsoDate, b: IsoDate): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function maxDate(a: IsoDate, b: IsoDate): IsoDate {
  return a >= b ? a : b;
}

/** The calendar date (in China) of an instant. */
export function chinaDateOf(epochMs: number): IsoDate {
  return fromUtcMs(epochMs + CHINA_OFFSET_MS);
}

/** The date and time (in China) of an instant, to the minute: `YYYY-MM-DD HH:MM`. */
export function chinaMinuteOf(epochMs: number): string {
  return new Date(epochMs + CHINA_OFFSET_MS).toISOString().slice(0, 16).replace('T', ' ');
}

/** The calendar year and month (1-12) in China of an instant. */
export function chinaYearMonthOf(epochMs: number): { year: number; month: number } {
  const date = chinaDateOf(epochMs);
  return { year: Number(date.slice(0, 4)), month: Number(date.slice(5, 7)) };
}

/**
 * The instant a calendar spec stands for. A date alone is that day in China: `start` is its first
 * moment, `end` the first moment of the next day (a deadline "by 09-10" ends there).
 * A date-time is taken as written, at either end.
 */
export function instantOf(spec: string, edge: 'start' | 'end'): number {
  if (isIsoDate(spec)) {
    const start = utcMs(spec) - CHINA_OFFSET_MS;
    return edge === 'start' ? start : start + DAY_MS;
  }
  if (!isInstantSpec(spec)) throw new RangeError(`not a date or date-time: ${spec}`);
  return Date.parse(spec);
}

/** The calendar date a spec falls on in China. */
export function dateOfSpec(spec: string): IsoDate {
  return isIsoDate(spec) ? spec : chinaDateOf(Date.parse(spec));
}

/** Each date from `from` to `to` inclusive. */
export function* eachDate(from: IsoDate, to: IsoDate): Generator<IsoDate> {
  for (let d = from; d <= to; d = addDays(d, 1)) yield d;
}
