/**
 * Cells as clerks write them, and lines of a list that are not people.
 *
 * Clerks keep Excel from turning an 18-digit ID into a rounded number by writing it as a formula (="440783…")
 * or with a leading apostrophe ('440783…), or paste it from a system that adds a tab or a zero-width space;
 * they type categories with full-width digits (１). Those wrappings are taken off. An ID Excel has already
 * turned into a number (4.40783E+17 in a CSV it saved) has lost its digits and is said to be so.
 *
 * Lists also carry lines that are not people: blank rows, rows holding only a 序号, totals (合计：15人),
 * signature and date lines (制表人、审核人、填表日期) and notes (注：…). Those are skipped with a reason,
 * never counted as rejected people.
 */

/** Zero-width, bidi, BOM, soft hyphen, no-break and ideographic spaces: invisible in Excel. */
const INVISIBLE = /[\u00a0\u00ad\u180e\u2000-\u200f\u202a-\u202e\u2060-\u2064\u3000\ufeff]/g;

/** Full-width ASCII (Ａ-Ｚ, ０-９, ＋...) as its half-width form. */
export function halfWidth(text: string): string {
  return text.replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
}

/** A cell's text without invisible characters and surrounding white space. */
export function cleanText(text: string): string {
  if (!text) return '';
  // most cells hold none: testing first is cheaper than replacing (700,000 rows, five cells each)
  return (HAS_INVISIBLE.test(text) ? text.replace(INVISIBLE, '') : text).trim();
}
const HAS_INVISIBLE = /[\u00a0\u00ad\u180e\u2000-\u200f\u202a-\u202e\u2060-\u2064\u3000\ufeff]/;

/** An ID written as GB 11643 writes it, nothing around it: the common case, taken as it is. */
const PLAIN_ID = /^[0-9]{17}[0-9X]$/;

/** Excel's way of writing a number in a cell as text: 4.40783E+17, 4.40783196E17. */
const SCIENTIFIC = /^[0-9]+(\.[0-9]+)?[eE]\+?[0-9]+$/;

export type IdCell = { kind: 'text'; text: string } | { kind: 'stored-as-number'; text: string };

/**
 * An ID number cell as written: `="…"`, a leading apostrophe, tabs, spaces and invisible characters taken
 * off. A number in scientific notation is an ID Excel stored as a number (its last digits are lost).
 */
export function cleanIdCell(raw: string): IdCell {
  if (PLAIN_ID.test(raw)) return { kind: 'text', text: raw };
  let t = cleanText(raw).replace(/\s+/g, '');
  // ="440783…" (and the quotes CSV leaves around it)
  if (t.startsWith('=')) t = t.replace(/^=+/, '').replace(/"/g, '');
  t = t.replace(/^['‘’＇`]+/, '').replace(/['‘’＇]+$/, '');
  if (SCIENTIFIC.test(halfWidth(t))) return { kind: 'stored-as-number', text: t };
  return { kind: 'text', text: t };
}

/** A category code or name as the plan writes it: half-width digits, no spaces. */
export function cleanCategory(raw: string): string {
  if (raw.length <= 3 && /^[0-9]+$/.test(raw)) return raw;
  return halfWidth(cleanText(raw)).replace(/\s+/g, '');
}

/** Fifteen or more digits in a row (an ID number, perhaps mistyped): a loop, as a regex cost 2 µs a row. */
function hasLongDigitRun(text: string): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19)) {
      run += 1;
      if (run >= 15) return true;
    } else run = 0;
  }
  return false;
}

export type SkipReason = 'blank-row' | 'totals-row' | 'signature-line' | 'note-line' | 'serial-number-only';

export const SKIP_REASON_TEXT: Record<SkipReason, string> = {
  'blank-row': '空行',
  'totals-row': '合计行',
  'signature-line': '签名或日期行（制表人、审核人、日期等）',
  'note-line': '备注说明行',
  'serial-number-only': '只有序号的行',
};

const TOTALS = /^(合计|总计|小计|共计|总数|合\s*计|总\s*计)/;
const SIGNATURE =
  /^(制表人|制表|填表人|填报人|填报|审核人|审核|审批人|负责人|单位负责人|分管领导|经办人|复核人|核对人|制表日期|填表日期|填报日期|报送日期|日期|单位[(（]?盖章|盖章|签字|签名)/;
const NOTE = /^(注|备注|说明|附注)\s*[:：]/;

/**
 * Whether a row of the list is a line that is no person, and why; undefined for a row that is about a person
 * (it is then accepted or rejected on its fields). A row whose ID cell holds fifteen or more digits is always
 * about a person. `id`, `name`, `category` are the cleaned cells of those columns.
 */
export function notAPerson(
  cells: string[],
  id: string,
  name: string,
  category: string,
): SkipReason | undefined {
  if (hasLongDigitRun(id)) return undefined;
  let filled = 0;
  let allNumbers = true;
  let first = '';
  for (const c of cells) {
    const t = cleanText(c);
    if (t === '') continue;
    filled += 1;
    if (!first) first = t;
    if (!/^[0-9０-９]+(\.0+)?$/.test(t)) allNumbers = false;
  }
  if (filled === 0) return 'blank-row';
  for (const c of cells) {
    const t = cleanText(c).replace(/\s+/g, '');
    if (!t) continue;
    if (TOTALS.test(t)) return 'totals-row';
  }
  if (!id) {
    for (const c of cells) {
      const t = cleanText(c).replace(/\s+/g, '');
      if (t && SIGNATURE.test(t)) return 'signature-line';
    }
    if (NOTE.test(first.replace(/\s+/g, ''))) return 'note-line';
    if (!name && !category && allNumbers) return 'serial-number-only';
  }
  return undefined;
}
