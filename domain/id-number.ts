/**
 * Chinese resident identity numbers (公民身份号码), GB 11643-1999: six digits of region (省/市/县),
 * eight of birth date (YYYYMMDD), three of sequence (odd for men, even for women) and a check character
 * computed with ISO 7064 MOD 11-2.
 *
 * Department spreadsheets bring full-width digits, a lower-case x and stray spaces; those are normalised
 * (and said so). Everything else that is wrong gets its own reason, so a rejection report can tell the
 * department exactly what to fix.
 */
import type { IsoDate } from './dates';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARS = '10X98765432';

/** Province-level codes (GB/T 2260): the first two digits of every valid number. */
const PROVINCES = new Set([
  '11',
  '12',
  '13',
  '14',
  '15',
  '21',
  '22',
  '23',
  '31',
  '32',
  '33',
  '34',
  '35',
  '36',
  '37',
  '41',
  '42',
  '43',
  '44',
  '45',
  '46',
  '50',
  '51',
  '52',
  '53',
  '54',
  '61',
  '62',
  '63',
  '64',
  '65',
  '71',
  '81',
  '82',
]);

/**
 * Numbers of the same form that are not resident identity cards: residence permits of Hong Kong (810000),
 * Macao (820000) and Taiwan (830000) residents (港澳台居民居住证, issued from 2018 under the 港澳台居民居住证
 * 申领发放办法, in the ID-number format of GB 11643), and the foreigners' permanent residence ID card of 2023
 * (外国人永久居留身份证: '9', two digits of the accepting province, three of nationality, then birth date,
 * sequence and the same check character). The region codes 81 and 82 are also GB/T 2260 codes; 83 is not.
 */
export type IdDocument = 'resident-id-card' | 'residence-permit' | 'foreigner-permanent-residence';

export type IdRejection =
  | 'empty'
  | 'old-15-digit-number'
  | 'wrong-length'
  | 'invalid-characters'
  | 'unknown-province'
  | 'invalid-birth-date'
  | 'birth-date-in-future'
  | 'check-digit-mismatch';

export const ID_REJECTION_TEXT: Record<IdRejection, string> = {
  empty: '身份证号码为空',
  'old-15-digit-number': '15位旧身份证号码，须换为18位',
  'wrong-length': '身份证号码应为18位',
  'invalid-characters': '身份证号码前17位须为数字，末位为数字或X',
  'unknown-province': '身份证号码前两位不是有效的省级行政区划代码',
  'invalid-birth-date': '身份证号码中的出生日期不存在',
  'birth-date-in-future': '身份证号码中的出生日期晚于当前日期',
  'check-digit-mismatch': '身份证号码校验码错误',
};

export type IdCheck =
  | {
      ok: true;
      idNumber: string;
      regionCode: string;
      birthDate: IsoDate;
      sex: 'male' | 'female';
      document: IdDocument;
      /** Full-width characters, a lower-case x or spaces were corrected. */
      normalised: boolean;
    }
  | { ok: false; reason: IdRejection; message: string; expectedCheck?: string };

function reject(reason: IdRejection, expectedCheck?: string): IdCheck {
  return {
    ok: false,
    reason,
    message: ID_REJECTION_TEXT[reason],
    ...(expectedCheck ? { expectedCheck } : {}),
  };
}

const WELL_FORMED = /^\d{17}[\dX]$/;

/** The kind of document a well-formed number belongs to, by its first digits; undefined for none. */
function idDocument(id: string): IdDocument | undefined {
  if (id[0] === '9') return PROVINCES.has(id.slice(1, 3)) ? 'foreigner-permanent-residence' : undefined;
  if (id.startsWith('810000') || id.startsWith('820000') || id.startsWith('830000'))
    return 'residence-permit';
  return PROVINCES.has(id.slice(0, 2)) ? 'resident-id-card' : undefined;
}

export function normaliseIdNumber(raw: string): string {
  if (WELL_FORMED.test(raw)) return raw; // as most lists write it: nothing to correct
  return raw
    .replace(/[\uFF10-\uFF19]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30))
    .replace(/[xＸｘ]/g, 'X')
    .replace(/[\s\u3000\u00a0\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/g, '');
}

export function checkCharacter(first17: string): string {
  let sum = 0;
  // digit by character code: Number() of a one-character string per digit was most of a list row's check
  for (let i = 0; i < 17; i += 1) sum += (first17.charCodeAt(i) - 48) * WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

/** The number written by the two or four decimal digits of `text` from `at` (well-formed: digits only). */
function digitsAt(text: string, at: number, count: 2 | 4): number {
  let n = 0;
  for (let i = at; i < at + count; i += 1) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function validDate(y: number, m: number, d: number): boolean {
  if (!Number.isInteger(m) || m < 1 || m > 12 || !Number.isInteger(d) || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!);
}

/**
 * Checks an ID number. `asOf` (a date) rejects birth dates after it; without it only impossible dates
 * are rejected.
 */
export function checkIdNumber(raw: string | null | undefined, asOf?: IsoDate): IdCheck {
  if (raw === null || raw === undefined || raw.trim() === '') return reject('empty');
  const id = normaliseIdNumber(raw);
  if (id.length === 15 && /^\d{15}$/.test(id)) return reject('old-15-digit-number');
  if (id.length !== 18) return reject('wrong-length');
  if (!WELL_FORMED.test(id)) return reject('invalid-characters');
  const document = idDocument(id);
  if (!document) return reject('unknown-province');
  const y = digitsAt(id, 6, 4);
  const m = digitsAt(id, 10, 2);
  const d = digitsAt(id, 12, 2);
  if (y < 1890 || !validDate(y, m, d)) return reject('invalid-birth-date');
  const birthDate = `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
  if (asOf !== undefined && birthDate > asOf) return reject('birth-date-in-future');
  const expected = checkCharacter(id);
  if (id[17] !== expected) return reject('check-digit-mismatch', expected);
  return {
    ok: true,
    idNumber: id,
    regionCode: id.slice(0, 6),
    birthDate,
    sex: Number(id[16]) % 2 === 1 ? 'male' : 'female',
    document,
    normalised: id !== raw,
  };
}

/** Builds a valid number from its parts (the synthetic population and tests use it). */
export function makeIdNumber(regionCode: string, birthDate: IsoDate, sequence: number): string {
  const first17 = `${regionCode}${birthDate.replace(/-/g, '')}${String(sequence).padStart(3, '0')}`;
  if (!/^\d{17}$/.test(first17)) throw new RangeError('region code must be 6 digits and sequence 0..999');
  return first17 + checkCharacter(first17);
}

/** 440783********1234: the form a reader without a need to know sees. */
export function maskIdNumber(id: string): string {
  if (id.length < 10) return '*'.repeat(id.length);
  return `${id.slice(0, 6)}${'*'.repeat(id.length - 10)}${id.slice(-4)}`;
}

/** Age in whole years on `on`. */
export function ageOn(birthDate: IsoDate, on: IsoDate): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = on.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}
