/**
 * The files the departments expect from the insurance center, in .xlsx with the documents' headers, laid
 * out to be filed (documents/filing.ts: title, 序号, frozen header repeated on each printed page, numbers as
 * numbers, A4 fitted to the width, 制表单位/制表人/审核人/日期 under the table):
 * - levy data (应征数据) for the tax bureau, one row per levy line of a batch: the tax bureau deducts from
 *   the bank account, so it alone reads full ID and account numbers;
 * - 附件2, the mobilisation list of the people still to follow up (000 附件2), one sheet per village, also
 *   as a PDF with a page per village;
 * - 附件1, a household's new-enrollment / change / stop form (000 附件1);
 * - the four ledgers (台账) Meishan keeps current (003 六(二)).
 *
 * Each export is called with a database connection under a person's own login and options, and returns
 * the file's bytes (the CLI writes them to a file, the console sends them):
 * `exportLevyData(db, { batchId })`, `exportMobilisationList(db, policy, { townName })`,
 * `exportMobilisationPdf(db, policy, { townName })`, `exportHouseholdForm(db, policy, { householdId })`,
 * `exportLedgers(db, policy)`. What is masked is decided by the login's role (infra/roles.ts) and, for an
 * operator, by who the file is for (`reader`):
 * - an auditor's login reads the masked views of the `audit` schema, so its files carry masked ID and bank
 *   numbers whatever it asks for; the database gives auditors no phone or address at all, so those cells
 *   say 已屏蔽 (withheld);
 * - an operator's login reads the ledger; full ID and account numbers go to the tax bureau only, phones to
 *   the towns and households who call people (附件2, the ledgers, 附件1), masked for the tax bureau and
 *   auditors;
 * - a department's login is refused: departments read no residents.
 * Every one of them throws (naming the login) for a login with no project role.
 */
import ExcelJS from 'exceljs';
import { RefusedError } from '../domain/failures';
import { maskIdNumber } from '../domain/id-number';
import { formatYuan } from '../domain/money';
import type { Policy } from '../domain/policy';
import { sessionIdentity, type Queryable } from '../infra/roles';
import {
  filingFor,
  footerLines,
  sheetName,
  SUM,
  writeForm,
  type Filing,
  type FormCell,
  type FormColumn,
} from './filing';
import { escapeHtml } from './html';
import { footerHtml, htmlToPdf, printPage } from './print';

export type Reader = 'tax' | 'town' | 'household' | 'auditor';

/** Readers who need the full numbers: the tax bureau deducts with them. */
const FULL_NUMBERS: ReadonlySet<Reader> = new Set(['tax']);
/** Readers who need the phone numbers: the towns, villages and households who call people to enroll. */
const FULL_PHONES: ReadonlySet<Reader> = new Set(['town', 'household']);

/** What a phone, address or number cell says when the database gives the reader none: withheld. */
export const WITHHELD = '已屏蔽';

export function maskAccount(account: string | null): string {
  if (!account) return '';
  return account.length <= 4 ? '****' : `${'*'.repeat(account.length - 4)}${account.slice(-4)}`;
}

/** Who the file is made for and from which tables, decided by the login's role and the operator's `reader`. */
interface View {
  reader: Reader;
  /** The login reads masked views (an auditor): the masking is the database's, not ours. */
  audit: boolean;
  residents: string;
  households: string;
  /** SQL of a resident `p`'s phone and address (NULL where the view has none). */
  phone: string;
  address: string;
  id: (v: string) => string;
  account: (v: string | null) => string;
  phoneCell: (v: string | null) => string;
  addressCell: (v: string | null) => string;
}

/**
 * The view of this login: throws for a department's login and for a login with no project role. A superuser
 * (an administrator's connection, as in a rehearsal) reads as an operator.
 */
async function viewOf(db: Queryable, wanted: Reader): Promise<View> {
  const su = await db.query<{ su: boolean }>(
    'SELECT rolsuper AS su FROM pg_roles WHERE rolname = session_user',
  );
  const identity = su.rows[0]?.su ? { role: 'operator' as const } : await sessionIdentity(db);
  if (identity.role === 'department')
    throw new Error(
      `${identity.user} is the department ${identity.department}: departments read no residents, so they get no exports; ask the insurance center`,
    );
  if (identity.role === 'auditor')
    return {
      reader: 'auditor',
      audit: true,
      residents: 'audit.residents',
      households: 'audit.households',
      phone: 'p.phone', // masked to its last 4 digits by the view (migration 0035)
      address: 'NULL::text',
      id: (v) => v, // masked by the view
      account: (v) => v ?? '',
      phoneCell: (v) => v ?? '',
      addressCell: () => WITHHELD,
    };
  const full = FULL_NUMBERS.has(wanted);
  const phones = FULL_PHONES.has(wanted);
  return {
    reader: wanted,
    audit: false,
    residents: 'residents',
    households: 'households',
    phone: 'p.phone',
    address: 'p.hukou_address',
    id: (v) => (full ? v : maskIdNumber(v)),
    account: (v) => (full ? (v ?? '') : maskAccount(v)),
    phoneCell: (v) => (phones ? (v ?? '') : maskAccount(v)),
    addressCell: (v) => v ?? '',
  };
}

/** Who made the form and when: by default the login (制表人), the jurisdiction's bureau, today in China. */
export type FilingOptions = Partial<Filing>;

/**
 * 应征数据: one row per levy line of batch `batchId`, for the tax bureau (reader `tax`, the default: full ID
 * and account numbers). 应缴金额（元） is a number of yuan with 2 decimals (its 合计 a SUM of the column);
 * ID and account numbers are text. Returns the bytes, the lines and the batch total in fen. Throws for an
 * unknown batch.
 */
export async function exportLevyData(
  db: Queryable,
  options: { batchId: number; reader?: Reader; filing?: FilingOptions },
): Promise<{ bytes: Buffer; rows: number; totalFen: number }> {
  const view = await viewOf(db, options.reader ?? 'tax');
  const batch = await db.query<{ name: string; campaign_year: number; round: number }>(
    `SELECT j.name, b.campaign_year, b.round FROM levy_batches b JOIN jurisdictions j ON j.code = b.jurisdiction WHERE b.id = $1`,
    [options.batchId],
  );
  const b = batch.rows[0];
  if (!b) throw new Error(`no levy batch ${options.batchId}`);
  const r = await db.query<{
    name: string;
    id_number: string;
    amount_fen: number;
    campaign_year: number;
    bank_account: string | null;
    bank_name: string | null;
    town: string;
    village: string | null;
  }>(
    `SELECT p.name, p.id_number, l.amount_fen, e.campaign_year, h.bank_account, h.bank_name, t.name AS town, v.name AS village
     FROM levy_lines l JOIN enrollments e ON e.id = l.enrollment_id JOIN ${view.residents} p ON p.id = e.resident_id
     JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id LEFT JOIN ${view.households} h ON h.id = p.household_id
     WHERE l.batch_id = $1 ORDER BY t.name, v.name, h.id, p.id`,
    [options.batchId],
  );
  const totalFen = r.rows.reduce((s, row) => s + row.amount_fen, 0);
  const wb = new ExcelJS.Workbook();
  writeForm(wb.addWorksheet('应征数据'), {
    title: `${b.name}${b.campaign_year}年度城乡居民基本医疗保险应征数据（第${b.round}轮，批次${options.batchId}）`,
    columns: [
      { header: '姓名', kind: 'text', width: 10 },
      { header: '身份证号码', kind: 'digits' },
      { header: '缴费年度', kind: 'text', width: 9 },
      { header: '应缴金额（元）', kind: 'yuan' },
      { header: '银行账号', kind: 'digits' },
      { header: '开户银行', kind: 'text', width: 18 },
      { header: '镇(街)', kind: 'text' },
      { header: '村(居)委会', kind: 'text' },
    ],
    rows: r.rows.map((row) => [
      row.name,
      view.id(row.id_number),
      String(row.campaign_year),
      row.amount_fen / 100,
      view.account(row.bank_account),
      row.bank_name ?? '',
      row.town,
      row.village ?? '',
    ]),
    total: [null, null, null, SUM, null, null, null, null],
    filing: await filingFor(db, b, options.filing),
  });
  return { bytes: Buffer.from(await wb.xlsx.writeBuffer()), rows: r.rows.length, totalFen };
}

/** One person of 附件2 as the reader may see them. */
export interface MobilisationRow {
  head: string;
  name: string;
  address: string;
  phone: string;
  marks: string;
  bankAccount: string;
}

/** 附件2 of a jurisdiction (or one town), grouped by village in town and village order. */
export interface MobilisationList {
  reader: Reader;
  villages: { town: string; village: string; people: MobilisationRow[] }[];
  rows: number;
}

/** The name a resident without a village is listed under. */
const NO_VILLAGE = '（未分村）';

/**
 * 附件2 参保宣传发动名单: per town and village, the residents to enroll who have not paid for the year
 * (last year's enrollees not yet renewed, failures under follow-up, people never enrolled). Reader `town`
 * by default (phones in full, bank accounts masked). Throws for a department's login, and RefusedError when
 * `townName` names no town of the jurisdiction (listing its towns): a mistyped town gave a form that looked
 * filed and said 无待宣传发动人员.
 */
export async function mobilisationList(
  db: Queryable,
  policy: Policy,
  options: { townName?: string; reader?: Reader } = {},
): Promise<MobilisationList> {
  const view = await viewOf(db, options.reader ?? 'town');
  if (options.townName !== undefined) {
    const towns = await db.query<{ name: string }>(
      `SELECT name FROM towns WHERE jurisdiction = $1 ORDER BY name`,
      [policy.jurisdiction],
    );
    if (!towns.rows.some((t) => t.name === options.townName))
      throw new RefusedError(
        `${policy.jurisdiction} has no town named ${options.townName} (its towns: ${towns.rows.map((t) => t.name).join('、') || 'none registered'}); nothing was written`,
      );
  }
  // the household head: on the ledger by full ID; on the masked views by the masked ID within the household,
  // the first such member only (two members' masked IDs can be equal: a plain join listed a person twice)
  const headJoin = view.audit
    ? `LEFT JOIN LATERAL (SELECT hd.name FROM ${view.residents} hd WHERE hd.household_id = h.id AND hd.id_number = h.head_id_number
                          ORDER BY hd.id LIMIT 1) head ON true`
    : `LEFT JOIN residents head ON head.jurisdiction = p.jurisdiction AND head.id_number = h.head_id_number`;
  const r = await db.query<{
    town: string;
    village: string | null;
    head: string | null;
    name: string;
    address: string | null;
    phone: string | null;
    categories: string | null;
    bank_account: string | null;
  }>(
    `SELECT t.name AS town, v.name AS village, head.name AS head, p.name, ${view.address} AS address, ${view.phone} AS phone,
            (SELECT string_agg(i.category, '、' ORDER BY i.category) FROM identities i WHERE i.resident_id = p.id AND i.valid_to IS NULL) AS categories,
            h.bank_account
     FROM ${view.residents} p JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id
     LEFT JOIN ${view.households} h ON h.id = p.household_id ${headJoin}
     WHERE p.jurisdiction = $1 AND p.residency = 'hukou' AND NOT p.employee_insured AND p.deceased_on IS NULL
       AND ($3::text IS NULL OR t.name = $3)
       AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = $2 AND e.status IN ('paid', 'stopped', 'refunded'))
     ORDER BY t.name, v.name NULLS LAST, h.id, p.id`,
    [policy.jurisdiction, policy.year, options.townName ?? null],
  );
  const names = new Map(policy.categories.map((c) => [c.id, c.name]));
  const villages: MobilisationList['villages'] = [];
  for (const row of r.rows) {
    const village = row.village ?? NO_VILLAGE;
    let last = villages.at(-1);
    if (!last || last.town !== row.town || last.village !== village) {
      last = { town: row.town, village, people: [] };
      villages.push(last);
    }
    last.people.push({
      head: row.head ?? '',
      name: row.name,
      address: view.addressCell(row.address),
      phone: view.phoneCell(row.phone),
      marks: row.categories
        ? row.categories
            .split('、')
            .map((c) => names.get(c) ?? c)
            .join('、')
        : '',
      bankAccount: view.account(row.bank_account),
    });
  }
  return { reader: view.reader, villages, rows: r.rows.length };
}

const MOBILISATION_COLUMNS: FormColumn[] = [
  { header: '镇名称', kind: 'text', width: 10 },
  { header: '村委会', kind: 'text', width: 12 },
  { header: '家庭户主', kind: 'text', width: 10 },
  { header: '姓名', kind: 'text', width: 10 },
  { header: '户籍地址', kind: 'text', width: 28 },
  { header: '联系电话', kind: 'digits', width: 14 },
  { header: '特殊群体标记', kind: 'text', width: 18 },
  { header: '银行账号', kind: 'digits', width: 22 },
  { header: '是否宣传到位（已通知的打√）', kind: 'text', width: 14 },
];

const mobilisationTitle = (policy: Policy) => `${policy.year}年城乡居民基本医疗保险参保宣传发动名单`;
const mobilisationCells = (v: MobilisationList['villages'][number], p: MobilisationRow): FormCell[] => [
  v.town,
  v.village,
  p.head,
  p.name,
  p.address,
  p.phone,
  p.marks,
  p.bankAccount,
  '',
];

/**
 * 附件2 as .xlsx: one sheet per village (named 镇-村), each a filed form with its own 序号 from 1. Returns
 * the bytes, the people listed and the villages (sheets).
 */
export async function exportMobilisationList(
  db: Queryable,
  policy: Policy,
  options: { townName?: string; reader?: Reader; filing?: FilingOptions } = {},
): Promise<{ bytes: Buffer; rows: number; villages: number }> {
  const list = await mobilisationList(db, policy, options);
  const filing = await filingFor(db, policy, options.filing);
  const wb = new ExcelJS.Workbook();
  const taken = new Set<string>();
  for (const v of list.villages) {
    writeForm(wb.addWorksheet(sheetName(`${v.town}-${v.village}`, taken)), {
      title: mobilisationTitle(policy),
      notes: [`镇(街)：${v.town}\u3000村(居)委会：${v.village}\u3000共 ${v.people.length} 人`],
      columns: MOBILISATION_COLUMNS,
      rows: v.people.map((p) => mobilisationCells(v, p)),
      filing,
    });
  }
  if (!list.villages.length)
    writeForm(wb.addWorksheet('宣传发动名单'), {
      title: mobilisationTitle(policy),
      notes: ['无待宣传发动人员'],
      columns: MOBILISATION_COLUMNS,
      rows: [],
      filing,
    });
  return {
    bytes: Buffer.from(await wb.xlsx.writeBuffer()),
    rows: list.rows,
    villages: list.villages.length,
  };
}

/** 附件2 as a page for printing: a page (or more) per village, each with its title, 序号 and footer lines. */
export function mobilisationPrintHtml(list: MobilisationList, policy: Policy, filing: Filing): string {
  const header = `<thead><tr><th>序号</th>${MOBILISATION_COLUMNS.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('')}</tr></thead>`;
  const sections = list.villages.map(
    (v, i) => `<section${i ? ' class="page"' : ''} data-village="${escapeHtml(`${v.town}-${v.village}`)}">
${i ? `<h1>${escapeHtml(mobilisationTitle(policy))}</h1>` : ''}
<p class="basis">镇(街)：${escapeHtml(v.town)}\u3000村(居)委会：${escapeHtml(v.village)}\u3000共 ${v.people.length} 人</p>
<table>${header}<tbody>
${v.people
  .map(
    (p, n) =>
      `<tr><td class="num">${n + 1}</td>${mobilisationCells(v, p)
        .map((c) => `<td>${escapeHtml(String(c ?? ''))}</td>`)
        .join('')}</tr>`,
  )
  .join('\n')}
</tbody></table>
${footerHtml(filing)}
</section>`,
  );
  return printPage({
    title: mobilisationTitle(policy),
    landscape: true,
    body: sections.length ? sections.join('\n') : '<p>无待宣传发动人员</p>',
  });
}

/** 附件2 as a PDF (headless Chromium's print of {@link mobilisationPrintHtml}): a new page per village. */
export async function exportMobilisationPdf(
  db: Queryable,
  policy: Policy,
  options: { townName?: string; reader?: Reader; filing?: FilingOptions } = {},
): Promise<{ bytes: Buffer; rows: number; villages: number }> {
  const list = await mobilisationList(db, policy, options);
  const filing = await filingFor(db, policy, options.filing);
  const bytes = await htmlToPdf(mobilisationPrintHtml(list, policy, filing));
  return { bytes, rows: list.rows, villages: list.villages.length };
}

/**
 * 附件1: a household's form, its members listed with 序号, the year's contribution filled in, and the
 * signature and 制表 lines. Reader `household` by default (ID numbers masked, the phone in full). Throws
 * for an unknown household.
 */
export async function exportHouseholdForm(
  db: Queryable,
  policy: Policy,
  options: { householdId: number; reader?: Reader; filing?: FilingOptions },
): Promise<{ bytes: Buffer; members: number }> {
  const view = await viewOf(db, options.reader ?? 'household');
  const headJoin = view.audit
    ? `LEFT JOIN ${view.residents} p ON p.household_id = h.id AND p.id_number = h.head_id_number`
    : `LEFT JOIN residents p ON p.jurisdiction = h.jurisdiction AND p.id_number = h.head_id_number`;
  const h = await db.query<{
    household_no: string;
    bank_name: string | null;
    bank_account: string | null;
    head: string | null;
    phone: string | null;
    address: string | null;
  }>(
    `SELECT h.household_no, h.bank_name, h.bank_account, p.name AS head, ${view.phone} AS phone, ${view.address} AS address
     FROM ${view.households} h ${headJoin} WHERE h.id = $1`,
    [options.householdId],
  );
  const household = h.rows[0];
  if (!household) throw new Error(`no household ${options.householdId}`);
  const members = await db.query<{
    name: string;
    sex: string;
    id_number: string;
    employee_insured: boolean;
  }>(
    `SELECT name, sex, id_number, employee_insured FROM ${view.residents} WHERE household_id = $1 AND deceased_on IS NULL ORDER BY id`,
    [options.householdId],
  );
  const insured = members.rows.filter((m) => !m.employee_insured);
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('登记表');
  const title = sheet.addRow([`江门市${policy.year}年度城乡居民基本医疗保险新参保、变更、停保登记表`]);
  title.font = { bold: true, size: 14 };
  sheet.mergeCells('A1:F1');
  sheet.addRow(['受理单位（盖章）：']);
  sheet.addRow([
    '组织编号',
    household.household_no,
    '手机号码',
    view.phoneCell(household.phone),
    '缴费（年）：',
    `${formatYuan(policy.contribution.personalFen)} 元/人`,
  ]);
  sheet.addRow(['户籍地址', view.addressCell(household.address), '缴费银行', household.bank_name ?? '']);
  sheet.addRow(['银行账号', view.account(household.bank_account), '银行户名', household.head ?? '']);
  const header = sheet.addRow([
    '序号',
    '姓名',
    '性别',
    '身份证号码',
    '是否参保',
    '变更内容（含姓名、性别、身份证）及停保原因',
  ]);
  header.font = { bold: true };
  members.rows.forEach((m, i) => {
    sheet.addRow([
      i + 1,
      m.name,
      m.sex === 'F' ? '女' : '男',
      view.id(m.id_number),
      m.employee_insured ? '×' : '√',
      m.employee_insured ? '已参加职工医保' : '',
    ]);
  });
  sheet.addRow([
    `合计 本家庭户共 ${insured.length} 人参保，合计应缴 ${formatYuan(insured.length * policy.contribution.personalFen)} 元。`,
  ]);
  sheet.addRow([
    '兹声明：同意以上内容，现予以确认。参保人因扣费账户余额不足、银行账户异常等原因导致扣费不成功的，视为自动弃保。',
  ]);
  sheet.addRow(['参保人或代办人签名：', '', '年 月 日']);
  sheet.addRow([]);
  const lines = footerLines(await filingFor(db, policy, options.filing));
  const footer = sheet.addRow([lines[0], '', lines[1], '', lines[2], lines[3]]);
  sheet.getColumn(4).numFmt = '@';
  [8, 6, 6, 22, 10, 36].forEach((w, i) => (sheet.getColumn(i + 1).width = w));
  sheet.views = [{ state: 'frozen', xSplit: 0, ySplit: header.number }];
  sheet.pageSetup = {
    ...sheet.pageSetup,
    paperSize: 9,
    orientation: 'portrait',
    fitToPage: true,
    fitToWidth: 1,
    fitToHeight: 0,
    printArea: `A1:F${footer.number}`,
    printTitlesRow: `${header.number}:${header.number}`,
  };
  return { bytes: Buffer.from(await wb.xlsx.writeBuffer()), members: members.rows.length };
}

export const LEDGERS = [
  { key: 'registered-not-enrolled', title: '户籍人口未参保人员' },
  { key: 'resident-not-enrolled', title: '常住人口未参保人员' },
  { key: 'enrolled-last-year-not-this-year', title: '上年度参保本年度未参保人员' },
  { key: 'special-identity-not-enrolled', title: '特殊身份群体未参保人员' },
] as const;
export type LedgerKey = (typeof LEDGERS)[number]['key'];

/**
 * The four ledgers Meishan keeps current (003 六(二)): registered residents not enrolled, residents
 * (household registration or residence permit) not enrolled, last year's enrollees not enrolled this year,
 * and special identities not enrolled. "Enrolled" is a paid enrollment of the campaign year. One filed
 * sheet per ledger, ID numbers masked for the towns that work them (reader `town`, the default), phones in
 * full for them. Returns the bytes and each ledger's count.
 */
export async function exportLedgers(
  db: Queryable,
  policy: Policy,
  options: { reader?: Reader; filing?: FilingOptions } = {},
): Promise<{ bytes: Buffer; rows: Record<LedgerKey, number> }> {
  const view = await viewOf(db, options.reader ?? 'town');
  const filing = await filingFor(db, policy, options.filing);
  const conditions: Record<LedgerKey, string> = {
    'registered-not-enrolled': `p.residency = 'hukou' AND NOT p.employee_insured`,
    'resident-not-enrolled': `NOT p.employee_insured`,
    'enrolled-last-year-not-this-year': `EXISTS (SELECT 1 FROM enrollments l WHERE l.resident_id = p.id AND l.campaign_year = $2 - 1 AND l.status = 'paid')`,
    'special-identity-not-enrolled': `EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = p.id AND i.valid_to IS NULL)`,
  };
  const names = new Map(policy.categories.map((c) => [c.id, c.name]));
  const wb = new ExcelJS.Workbook();
  const counts = {} as Record<LedgerKey, number>;
  for (const ledger of LEDGERS) {
    const r = await db.query<{
      town: string;
      village: string | null;
      name: string;
      id_number: string;
      phone: string | null;
      residency: string;
      categories: string | null;
    }>(
      `SELECT t.name AS town, v.name AS village, p.name, p.id_number, ${view.phone} AS phone, p.residency,
              (SELECT string_agg(i.category, '、' ORDER BY i.category) FROM identities i WHERE i.resident_id = p.id AND i.valid_to IS NULL) AS categories
       FROM ${view.residents} p JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id
       WHERE p.jurisdiction = $1 AND p.deceased_on IS NULL AND ${conditions[ledger.key]}
         AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = $2 AND e.status = 'paid')
       ORDER BY t.name, v.name, p.id`,
      [policy.jurisdiction, policy.year],
    );
    counts[ledger.key] = r.rows.length;
    writeForm(wb.addWorksheet(ledger.title), {
      title: `${policy.name}${policy.year}年度${ledger.title}台账`,
      columns: [
        { header: '镇(街)', kind: 'text' },
        { header: '村(居)', kind: 'text' },
        { header: '姓名', kind: 'text', width: 10 },
        { header: '身份证号码', kind: 'digits' },
        { header: '联系电话', kind: 'digits', width: 14 },
        { header: '户籍/居住证', kind: 'text', width: 10 },
        { header: '特殊身份类别', kind: 'text', width: 24 },
      ],
      rows: r.rows.map((row) => [
        row.town,
        row.village ?? '',
        row.name,
        view.id(row.id_number),
        view.phoneCell(row.phone),
        row.residency === 'hukou' ? '户籍' : '居住证',
        row.categories
          ? row.categories
              .split('、')
              .map((c) => names.get(c) ?? c)
              .join('、')
          : '',
      ]),
      filing,
      orientation: 'landscape',
    });
  }
  return { bytes: Buffer.from(await wb.xlsx.writeBuffer()), rows: counts };
}
