/**
 * The files the departments expect from the insurance center, in .xlsx with the documents' headers:
 * - levy data (应征数据) for the tax bureau, one row per levy line of a batch: the tax bureau deducts from
 *   the bank account, so it alone reads full ID and account numbers;
 * - 附件2, the mobilisation list per town and village of the people still to follow up (000 附件2);
 * - 附件1, a household's new-enrollment / change / stop form (000 附件1).
 * Every export whose reader does not need a full ID or bank number masks it.
 */
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { maskIdNumber } from '../../domain/id-number';
import { formatYuan } from '../../domain/money';
import type { Policy } from '../../domain/policy';

export type Reader = 'tax' | 'town' | 'household' | 'auditor';

/** Readers who need the full numbers: the tax bureau deducts with them. */
const FULL_NUMBERS: ReadonlySet<Reader> = new Set(['tax']);

export function maskAccount(account: string | null): string {
  if (!account) return '';
  return account.length <= 4 ? '****' : `${'*'.repeat(account.length - 4)}${account.slice(-4)}`;
}

function forReader(reader: Reader) {
  const full = FULL_NUMBERS.has(reader);
  return {
    id: (v: string) => (full ? v : maskIdNumber(v)),
    account: (v: string | null) => (full ? (v ?? '') : maskAccount(v)),
  };
}

function textColumns(sheet: ExcelJS.Worksheet, columns: number[]) {
  // long digit strings must stay text, or Excel shows 4.40783E+17 and loses digits
  for (const c of columns) sheet.getColumn(c).numFmt = '@';
}

/** 应征数据: one row per levy line of the batch, for the tax bureau. */
export async function exportLevyData(
  pool: pg.Pool,
  batchId: number,
  reader: Reader = 'tax',
): Promise<{ bytes: Buffer; rows: number; totalFen: number }> {
  const show = forReader(reader);
  const r = await pool.query<{
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
     FROM levy_lines l JOIN enrollments e ON e.id = l.enrollment_id JOIN residents p ON p.id = e.resident_id
     JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id LEFT JOIN households h ON h.id = p.household_id
     WHERE l.batch_id = $1 ORDER BY t.name, v.name, h.id, p.id`,
    [batchId],
  );
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('应征数据');
  sheet.addRow([
    '序号',
    '姓名',
    '身份证号码',
    '缴费年度',
    '应缴金额（元）',
    '银行账号',
    '开户银行',
    '镇(街)',
    '村(居)委会',
  ]);
  textColumns(sheet, [3, 6]);
  let total = 0;
  r.rows.forEach((row, i) => {
    total += row.amount_fen;
    sheet.addRow([
      i + 1,
      row.name,
      show.id(row.id_number),
      row.campaign_year,
      formatYuan(row.amount_fen),
      show.account(row.bank_account),
      row.bank_name ?? '',
      row.town,
      row.village ?? '',
    ]);
  });
  sheet.addRow(['合计', '', '', '', formatYuan(total)]);
  return { bytes: Buffer.from(await wb.xlsx.writeBuffer()), rows: r.rows.length, totalFen: total };
}

/**
 * 附件2 参保宣传发动名单: per town and village, the residents to enroll who have not paid for the year
 * (last year's enrollees not yet renewed, failures under follow-up, people never enrolled).
 */
export async function exportMobilisationList(
  pool: pg.Pool,
  policy: Policy,
  options: { townName?: string; reader?: Reader } = {},
): Promise<{ bytes: Buffer; rows: number }> {
  const show = forReader(options.reader ?? 'town');
  const r = await pool.query<{
    town: string;
    village: string | null;
    head: string | null;
    name: string;
    address: string | null;
    phone: string | null;
    categories: string | null;
    bank_account: string | null;
  }>(
    `SELECT t.name AS town, v.name AS village, head.name AS head, p.name, p.hukou_address AS address, p.phone,
            (SELECT string_agg(i.category, '、' ORDER BY i.category) FROM identities i WHERE i.resident_id = p.id AND i.valid_to IS NULL) AS categories,
            h.bank_account
     FROM residents p JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id
     LEFT JOIN households h ON h.id = p.household_id LEFT JOIN residents head ON head.jurisdiction = p.jurisdiction AND head.id_number = h.head_id_number
     WHERE p.jurisdiction = $1 AND p.residency = 'hukou' AND NOT p.employee_insured AND p.deceased_on IS NULL
       AND ($3::text IS NULL OR t.name = $3)
       AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = $2 AND e.status IN ('paid', 'stopped', 'refunded'))
     ORDER BY t.name, v.name, h.id, p.id`,
    [policy.jurisdiction, policy.year, options.townName ?? null],
  );
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('宣传发动名单');
  sheet.addRow([`${policy.year}年城乡居民基本医疗保险参保宣传发动名单`]);
  sheet.addRow([
    '镇名称',
    '村委会',
    '家庭户主',
    '姓名',
    '户籍地址',
    '联系电话',
    '特殊群体标记',
    '银行账号',
    '是否宣传到位（已通知的打√）',
  ]);
  textColumns(sheet, [6, 8]);
  const names = new Map(policy.categories.map((c) => [c.id, c.name]));
  for (const row of r.rows) {
    const marks = row.categories
      ? row.categories
          .split('、')
          .map((c) => names.get(c) ?? c)
          .join('、')
      : '';
    sheet.addRow([
      row.town,
      row.village ?? '',
      row.head ?? '',
      row.name,
      row.address ?? '',
      row.phone ?? '',
      marks,
      show.account(row.bank_account),
      '',
    ]);
  }
  return { bytes: Buffer.from(await wb.xlsx.writeBuffer()), rows: r.rows.length };
}

/** 附件1: a household's form, its members listed, with the year's contribution filled in. */
export async function exportHouseholdForm(
  pool: pg.Pool,
  policy: Policy,
  householdId: number,
  reader: Reader = 'household',
): Promise<{ bytes: Buffer; members: number }> {
  const show = forReader(reader);
  const h = await pool.query<{
    household_no: string;
    bank_name: string | null;
    bank_account: string | null;
    head: string | null;
    phone: string | null;
    address: string | null;
  }>(
    `SELECT h.household_no, h.bank_name, h.bank_account, head.name AS head, head.phone, head.hukou_address AS address
     FROM households h LEFT JOIN residents head ON head.jurisdiction = h.jurisdiction AND head.id_number = h.head_id_number WHERE h.id = $1`,
    [householdId],
  );
  const household = h.rows[0];
  if (!household) throw new Error(`no household ${householdId}`);
  const members = await pool.query<{
    name: string;
    sex: string;
    id_number: string;
    employee_insured: boolean;
  }>(
    `SELECT name, sex, id_number, employee_insured FROM residents WHERE household_id = $1 AND deceased_on IS NULL ORDER BY id`,
    [householdId],
  );
  const insured = members.rows.filter((m) => !m.employee_insured);
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('登记表');
  sheet.addRow([`江门市${policy.year}年度城乡居民基本医疗保险新参保、变更、停保登记表`]);
  sheet.addRow(['受理单位（盖章）：']);
  sheet.addRow([
    '组织编号',
    household.household_no,
    '手机号码',
    household.phone ?? '',
    '缴费（年）：',
    `${formatYuan(policy.contribution.personalFen)} 元/人`,
  ]);
  sheet.addRow(['户籍地址', household.address ?? '', '缴费银行', household.bank_name ?? '']);
  sheet.addRow(['银行账号', show.account(household.bank_account), '银行户名', household.head ?? '']);
  sheet.addRow(['姓名', '性别', '身份证号码', '是否参保', '变更内容（含姓名、性别、身份证）及停保原因']);
  for (const m of members.rows) {
    sheet.addRow([
      m.name,
      m.sex === 'F' ? '女' : '男',
      show.id(m.id_number),
      m.employee_insured ? '×' : '√',
      m.employee_insured ? '已参加职工医保' : '',
    ]);
  }
  sheet.addRow([
    `合计 本家庭户共 ${insured.length} 人参保，合计应缴 ${formatYuan(insured.length * policy.contribution.personalFen)} 元。`,
  ]);
  sheet.addRow([
    '兹声明：同意以上内容，现予以确认。参保人因扣费账户余额不足、银行账户异常等原因导致扣费不成功的，视为自动弃保。',
  ]);
  sheet.addRow(['参保人或代办人签名：', '', '年 月 日']);
  sheet.getColumn(3).numFmt = '@';
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
 * and special identities not enrolled. "Enrolled" is a paid enrollment of the campaign year. One sheet per
 * ledger, ID numbers masked for the towns that work them.
 */
export async function exportLedgers(
  pool: pg.Pool,
  policy: Policy,
  reader: Reader = 'town',
): Promise<{ bytes: Buffer; rows: Record<LedgerKey, number> }> {
  const show = forReader(reader);
  const conditions: Record<LedgerKey, string> = {
    'registered-not-enrolled': `p.residency = 'hukou' AND NOT p.employee_insured`,
    'resident-not-enrolled': `NOT p.employee_insured`,
    'enrolled-last-year-not-this-year': `EXISTS (SELECT 1 FROM enrollments l WHERE l.resident_id = p.id AND l.campaign_year = $2 - 1 AND l.status = 'paid')`,
    'special-identity-not-enrolled': `EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = p.id AND i.valid_to IS NULL)`,
  };
  const wb = new ExcelJS.Workbook();
  const counts = {} as Record<LedgerKey, number>;
  for (const ledger of LEDGERS) {
    const r = await pool.query<{
      town: string;
      village: string | null;
      name: string;
      id_number: string;
      phone: string | null;
      residency: string;
      categories: string | null;
    }>(
      `SELECT t.name AS town, v.name AS village, p.name, p.id_number, p.phone, p.residency,
              (SELECT string_agg(i.category, '、' ORDER BY i.category) FROM identities i WHERE i.resident_id = p.id AND i.valid_to IS NULL) AS categories
       FROM residents p JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id
       WHERE p.jurisdiction = $1 AND p.deceased_on IS NULL AND ${conditions[ledger.key]}
         AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = $2 AND e.status = 'paid')
       ORDER BY t.name, v.name, p.id`,
      [policy.jurisdiction, policy.year],
    );
    counts[ledger.key] = r.rows.length;
    const sheet = wb.addWorksheet(ledger.title);
    sheet.addRow(['镇(街)', '村(居)', '姓名', '身份证号码', '联系电话', '户籍/居住证', '特殊身份类别']);
    sheet.getColumn(4).numFmt = '@';
    for (const row of r.rows) {
      sheet.addRow([
        row.town,
        row.village ?? '',
        row.name,
        show.id(row.id_number),
        row.phone ?? '',
        row.residency === 'hukou' ? '户籍' : '居住证',
        row.categories ?? '',
      ]);
    }
  }
  return { bytes: Buffer.from(await wb.xlsx.writeBuffer()), rows: counts };
}
