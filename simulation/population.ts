/**
 * A deterministic synthetic population (seeded) for a jurisdiction, written to PostgreSQL with COPY, and
 * the files its certifying departments would send: the roster as of the policy's date and monthly deltas,
 * as .xlsx or .csv (UTF-8 or GBK), with a configurable share of realistic defects.
 *
 * The towns come from the policy's own targets (`townSpecs`); where the year has a printed target table
 * (Kaiping's 附件3), scale 1 reproduces it per town exactly: (1) registered residents, (2) of them in employee
 * insurance, (4) = (1) - (2) to enroll, (3) paid last year (hukou residents, and residence-permit holders
 * where the town's payers outnumber its residents to enroll). Heshan and Meishan have no such table in
 * their plans: their town sizes are synthetic, scaled by `scale`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ExcelJS from 'exceljs';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { addDays, addMonths } from '../domain/dates';
import { makeIdNumber } from '../domain/id-number';
import type { Policy } from '../domain/policy';
import { seedTargetsIfAny } from '../seeds';
import { csvField, encodeText } from '../lists/list-files';
import { GIVEN, SURNAMES_GUANGDONG, SURNAMES_SICHUAN } from './names';
import { Random } from './random';
import { checkout } from '../ledger/transaction';

export interface TownSpec {
  name: string;
  regionCode: string;
  registered: number;
  employeeInsured: number;
  paidLastYear: number;
}

export interface PopulationOptions {
  scale: number;
  seed: number;
  /** Share of department file rows given a defect (0..1). */
  defectRate: number;
  /** How many monthly delta files per department to write after the roster. */
  deltaMonths: number;
  outDir: string;
  /** Told what the generator is doing (a town loaded, the files being written), for a long run's progress. */
  onProgress?: (message: string) => void;
}

export interface DepartmentFile {
  department: string;
  kind: 'roster' | 'delta';
  period: string;
  path: string;
  format: 'xlsx' | 'csv';
  encoding: string;
  rows: number;
  defects: Record<string, number>;
}

export interface PopulationManifest {
  jurisdiction: string;
  year: number;
  scale: number;
  seed: number;
  towns: {
    name: string;
    registered: number;
    employeeInsured: number;
    toEnroll: number;
    paidLastYear: number;
    residencePermit: number;
  }[];
  totals: {
    residents: number;
    registered: number;
    employeeInsured: number;
    toEnroll: number;
    paidLastYear: number;
    households: number;
    deceased: number;
  };
  certified: Record<string, number>;
  files: DepartmentFile[];
}

const SYNTHETIC_TOWNS: Record<
  string,
  { names: [string, string][]; base: number; employeeShare: number; paidShare: number }
> = {
  heshan: {
    names: [
      ['沙坪街道', '440784'],
      ['龙口镇', '440784'],
      ['雅瑶镇', '440784'],
      ['古劳镇', '440784'],
      ['桃源镇', '440784'],
      ['鹤城镇', '440784'],
      ['共和镇', '440784'],
      ['址山镇', '440784'],
      ['宅梧镇', '440784'],
      ['双合镇', '440784'],
    ],
    base: 380_000,
    employeeShare: 0.28,
    paidShare: 0.9,
  },
  meishan: {
    names: [
      ['东坡区', '511402'],
      ['彭山区', '511403'],
      ['仁寿县', '511421'],
      ['洪雅县', '511423'],
      ['丹棱县', '511424'],
      ['青神县', '511425'],
    ],
    base: 2_000_000,
    employeeShare: 0.15,
    paidShare: 0.88,
  },
};
/** Shares for a town sized from its target alone (synthetic, as SYNTHETIC_TOWNS). */
const TARGET_SIZED = { employeeShare: 0.25, paidShare: 0.9 };
const TOWN_WEIGHTS = [0.22, 0.14, 0.1, 0.12, 0.08, 0.09, 0.07, 0.06, 0.07, 0.05];

/** Synthetic certification rates per category (per non-employee hukou resident): plausible, not official. */
const CATEGORY_RATES: Record<string, number> = {
  '1': 0.012,
  '2': 0.002,
  '3': 0.003,
  '4': 0.002,
  '5': 0.0005,
  '6': 0.001,
  '7': 0.008,
  '8': 0.004,
  '9': 0.004,
  '10': 0.002,
  '11': 0.01,
  '993406': 0.03,
  '230202': 0.002,
  '230508': 0.002,
  '230705': 0.0005,
  '2303': 0.03,
  '2305': 0.004,
  '236010': 0.003,
  '01': 0.004,
  '236046': 0.01,
  '2361': 0.0003,
  '2304': 0.004,
};
const VETERAN_RATE = 0.002;

/**
 * The towns to generate and their sizes, scaled by `scale` (people, rounded per town). Data, not names:
 * - the towns are the policy snapshot's `targets` towns when it has them (in their order);
 * - a town found in the year's printed target table (seeds/targets, e.g. Kaiping's 附件3) takes its printed
 *   (1) registered, (2) employee insured and (3) paid last year, so Kaiping 2024 at scale 1 is 附件3 exactly;
 * - a town with a target but no printed figures is sized from its target: (4) to enroll = target / 0.95
 *   (a target at the usual 95% goal line), with the synthetic shares of employee insured and payers;
 * - a policy without targets takes the printed table's towns, else the synthetic layout of its jurisdiction.
 * Throws naming the jurisdiction when it has none of these, or a town with neither target nor figures.
 */
export function townSpecs(policy: Policy, scale: number): TownSpec[] {
  const printed = seedTargetsIfAny(policy.jurisdiction, policy.year);
  const towns = policy.targets?.towns ?? printed?.towns.map((t) => ({ town: t.town, target: t.target }));
  if (towns) {
    const figures = new Map((printed?.towns ?? []).map((t) => [t.town, t]));
    const regionCode = policy.regionCodes[0]!;
    return towns.map(({ town, target }) => {
      const row = figures.get(town);
      if (row)
        return {
          name: town,
          regionCode,
          registered: Math.round((row.registered ?? 0) * scale),
          employeeInsured: Math.round((row.employeeInsured ?? 0) * scale),
          paidLastYear: Math.round((row.paidLastYear ?? 0) * scale),
        };
      if (target === null)
        throw new Error(
          `${policy.jurisdiction} ${policy.year}: town ${town} has neither a target nor printed figures`,
        );
      const toEnroll = Math.round((target * scale) / 0.95);
      const employeeInsured = Math.round(
        (toEnroll * TARGET_SIZED.employeeShare) / (1 - TARGET_SIZED.employeeShare),
      );
      return {
        name: town,
        regionCode,
        registered: toEnroll + employeeInsured,
        employeeInsured,
        paidLastYear: Math.round(toEnroll * TARGET_SIZED.paidShare),
      };
    });
  }
  const spec = SYNTHETIC_TOWNS[policy.jurisdiction];
  if (!spec) throw new Error(`no town layout for ${policy.jurisdiction}`);
  return spec.names.map(([name, regionCode], i) => {
    const registered = Math.round(
      (spec.base * scale * (TOWN_WEIGHTS[i] ?? 0.05)) /
        TOWN_WEIGHTS.slice(0, spec.names.length).reduce((a, b) => a + b, 0),
    );
    const employeeInsured = Math.round(registered * spec.employeeShare);
    return {
      name,
      regionCode,
      registered,
      employeeInsured,
      paidLastYear: Math.round((registered - employeeInsured) * spec.paidShare),
    };
  });
}

function copyField(v: string | number | boolean | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

/** A COPY sink fed in chunks, with backpressure. */
class CopySink {
  private lines: string[] = [];
  private readonly chunks: string[] = [];
  constructor(
    readonly table: string,
    readonly columns: string[],
  ) {}
  add(values: (string | number | boolean | null)[]) {
    this.lines.push(values.map(copyField).join('\t'));
    if (this.lines.length >= 5000) this.flush();
  }
  flush() {
    if (this.lines.length) this.chunks.push(this.lines.join('\n') + '\n');
    this.lines = [];
  }
  async drainTo(client: pg.PoolClient) {
    this.flush();
    const stream = client.query(copyFrom(`COPY ${this.table} (${this.columns.join(', ')}) FROM STDIN`));
    const chunks = this.chunks.splice(0);
    await pipeline(Readable.from(chunks), stream);
  }
}

interface RosterEntry {
  idNumber: string;
  name: string;
  sex: string;
  address: string;
  phone: string;
  category: string;
}

type DefectKind =
  | 'bad-check-digit'
  | 'missing-name'
  | 'unknown-category'
  | 'other-department-category'
  | 'id-as-number'
  | 'duplicate-row'
  | 'not-a-resident'
  | 'lowercase-x-and-full-width';

/** Writes the department files: rows stream into ExcelJS's streaming writer or into CSV text. */
async function writeDepartmentFile(
  path: string,
  format: 'xlsx' | 'csv',
  encoding: string,
  header: string[],
  rows: (string | number)[][],
): Promise<void> {
  if (format === 'xlsx') {
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
      filename: path,
      useSharedStrings: false,
      useStyles: false,
    });
    const sheet = workbook.addWorksheet('名单');
    sheet.addRow(header).commit();
    for (const r of rows) sheet.addRow(r).commit();
    sheet.commit();
    await workbook.commit();
    return;
  }
  const text = [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
  writeFileSync(path, encodeText(text, encoding));
}

const DEPARTMENT_FILE_FORMATS: Record<string, { format: 'xlsx' | 'csv'; encoding: string }> = {
  'civil-affairs': { format: 'xlsx', encoding: 'xlsx' },
  'rural-revitalization': { format: 'csv', encoding: 'gb18030' },
  'disabled-persons-federation': { format: 'csv', encoding: 'utf-8-bom' },
  'veterans-affairs': { format: 'xlsx', encoding: 'xlsx' },
  health: { format: 'csv', encoding: 'utf-8' },
  'natural-resources': { format: 'csv', encoding: 'gb18030' },
};

export async function generatePopulation(
  pool: pg.Pool,
  policy: Policy,
  options: PopulationOptions,
): Promise<PopulationManifest> {
  const rng = new Random(options.seed);
  const towns = townSpecs(policy, options.scale);
  const surnames = policy.province === '四川省' ? SURNAMES_SICHUAN : SURNAMES_GUANGDONG;
  const rosterDate = policy.calendar.rosterAsOf.at.slice(0, 10);
  const lastYear = policy.year - 1;
  mkdirSync(options.outDir, { recursive: true });
  const progress = options.onProgress ?? (() => undefined);

  const client = await checkout(pool);
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO jurisdictions (code, name, province) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING`,
      [policy.jurisdiction, policy.name, policy.province],
    );
    const already = await client.query(`SELECT 1 FROM residents WHERE jurisdiction = $1 LIMIT 1`, [
      policy.jurisdiction,
    ]);
    if (already.rowCount)
      throw new Error(
        `${policy.jurisdiction} already has a population in this database; use a fresh database`,
      );

    const householdIdBase = Number(
      (await client.query<{ m: string }>(`SELECT coalesce(max(id), 0) AS m FROM households`)).rows[0]!.m,
    );
    const residentIdBase = Number(
      (await client.query<{ m: string }>(`SELECT coalesce(max(id), 0) AS m FROM residents`)).rows[0]!.m,
    );
    const households = new CopySink('households', [
      'id',
      'jurisdiction',
      'household_no',
      'town_id',
      'village_id',
      'head_id_number',
      'bank_name',
      'bank_account',
    ]);
    const residents = new CopySink('residents', [
      'id',
      'jurisdiction',
      'id_number',
      'name',
      'sex',
      'birth_date',
      'household_id',
      'town_id',
      'village_id',
      'hukou_address',
      'phone',
      'residency',
      'employee_insured',
      'deceased_on',
    ]);
    const enrollments = new CopySink('enrollments', [
      'jurisdiction',
      'campaign_year',
      'resident_id',
      'town_id',
      'status',
      'total_fen',
      'personal_fen',
      'subsidy_fen',
      'funding_source',
      'benefit_start',
    ]);
    const accounts = new CopySink('sim_bank_accounts', ['account', 'balance_fen', 'status']);

    const byDepartment = new Map<string, RosterEntry[]>();
    const additionsPool: RosterEntry[] = [];
    const seqByBirth = new Map<string, number>();
    let householdId = householdIdBase;
    let residentId = residentIdBase;
    const manifestTowns: PopulationManifest['towns'] = [];
    let deceased = 0;
    const veteranCodes = policy.categories
      .filter((c) => c.department === 'veterans-affairs')
      .map((c) => c.id);

    for (const town of towns) {
      const townId = (
        await client.query<{ id: number }>(
          `INSERT INTO towns (jurisdiction, name) VALUES ($1, $2) RETURNING id`,
          [policy.jurisdiction, town.name],
        )
      ).rows[0]!.id;
      const villageCount =
        town.registered === 0 ? 0 : Math.max(3, Math.min(40, Math.round(town.registered / 4000)));
      const villageIds: number[] = [];
      for (let v = 1; v <= villageCount; v += 1) {
        const r = await client.query<{ id: number }>(
          `INSERT INTO villages (town_id, name) VALUES ($1, $2) RETURNING id`,
          [townId, `${town.name.replace(/(镇|办事处|街道|区|县)$/, '')}第${v}村(居)委会`],
        );
        villageIds.push(r.rows[0]!.id);
      }
      const toEnroll = town.registered - town.employeeInsured;
      const paidHukou = Math.min(town.paidLastYear, Math.round(toEnroll * 0.92));
      const permitHolders = town.paidLastYear - paidHukou;
      manifestTowns.push({
        name: town.name,
        registered: town.registered,
        employeeInsured: town.employeeInsured,
        toEnroll,
        paidLastYear: town.paidLastYear,
        residencePermit: permitHolders,
      });

      // Who, among the town's people, is what: exact counts, drawn by a seeded shuffle of positions.
      const total = town.registered + permitHolders;
      let employeeLeft = town.employeeInsured;
      let paidHukouLeft = paidHukou;
      let hukouLeft = town.registered;
      let enrollableLeft = toEnroll;
      let person = 0;
      while (person < total) {
        const size = Math.min(total - person, 1 + rng.weighted([15, 25, 25, 20, 10, 5]));
        householdId += 1;
        const villageId = rng.pick(villageIds);
        const account = `6217${rng.digits(15)}`;
        let headId = '';
        for (let m = 0; m < size; m += 1, person += 1) {
          const isHukou = person < town.registered;
          const age = m === 0 ? rng.int(22, 90) : rng.int(0, 95);
          // everyone exists by the roster date: born between `age` and `age + 1` years before it
          const birth = addDays(rosterDate, -(age * 365 + rng.int(1, 365)));
          const key = `${town.regionCode}${birth}`;
          const seq = (seqByBirth.get(key) ?? 0) + 1;
          seqByBirth.set(key, seq);
          const female = rng.chance(0.5);
          const sequence = Math.min(999, seq * 2 - (female ? 0 : 1));
          const idNumber = makeIdNumber(town.regionCode, birth, sequence);
          if (m === 0) headId = idNumber;
          residentId += 1;
          let employee = false;
          let paid = false;
          if (isHukou) {
            // exact counts: draw without replacement
            employee = rng.next() < employeeLeft / hukouLeft;
            if (employee) employeeLeft -= 1;
            else {
              paid = rng.next() < paidHukouLeft / enrollableLeft;
              if (paid) paidHukouLeft -= 1;
              enrollableLeft -= 1;
            }
            hukouLeft -= 1;
          } else paid = true;
          const isDead = isHukou && !employee && !paid && rng.chance(0.002);
          if (isDead) deceased += 1;
          const name = rng.pick(surnames) + rng.pick(GIVEN) + (rng.chance(0.7) ? rng.pick(GIVEN) : '');
          const address = `${policy.province}${policy.name}${town.name}${rng.int(1, 200)}号`;
          const phone = `1${rng.pick(['3', '5', '8'])}${rng.digits(9)}`;
          residents.add([
            residentId,
            policy.jurisdiction,
            idNumber,
            name,
            female ? 'F' : 'M',
            birth,
            householdId,
            townId,
            villageId,
            address,
            phone,
            isHukou ? 'hukou' : 'residence-permit',
            employee,
            isDead ? addDays(rosterDate, -rng.int(1, 200)) : null,
          ]);
          if (paid)
            enrollments.add([
              policy.jurisdiction,
              lastYear,
              residentId,
              townId,
              'paid',
              0,
              0,
              0,
              'prior-year-status',
              `${lastYear}-01-01`,
            ]);

          if (isHukou && !employee && !isDead) {
            const entry = (category: string): RosterEntry => ({
              idNumber,
              name,
              sex: female ? '女' : '男',
              address,
              phone,
              category,
            });
            let certified = false;
            for (const c of policy.categories) {
              if (c.department === 'veterans-affairs') continue;
              if (c.id === '9' && age > 17) continue;
              if (rng.chance(CATEGORY_RATES[c.id] ?? 0.001)) {
                const list = byDepartment.get(c.department) ?? [];
                list.push(entry(c.id));
                byDepartment.set(c.department, list);
                certified = true;
              }
            }
            if (veteranCodes.length && age >= 40 && rng.chance(VETERAN_RATE)) {
              const list = byDepartment.get('veterans-affairs') ?? [];
              list.push(entry(rng.pick(veteranCodes)));
              byDepartment.set('veterans-affairs', list);
              certified = true;
            }
            if (!certified && additionsPool.length < 20_000 && rng.chance(0.05))
              additionsPool.push(entry(''));
          }
        }
        households.add([
          householdId,
          policy.jurisdiction,
          `${town.regionCode}-${householdId}`,
          townId,
          villageId,
          headId,
          rng.pick(['农村信用社', '中国农业银行', '中国邮政储蓄银行', '中国工商银行']),
          account,
        ]);
        const perYear = policy.contribution.personalFen * size;
        const r = rng.next();
        const status = r < 0.01 ? rng.pick(['frozen', 'closed']) : 'normal';
        const balance = r < 0.07 ? rng.int(0, Math.max(0, perYear - 1)) : perYear + rng.int(0, 500_000);
        accounts.add([account, balance, status]);
      }
      await households.drainTo(client);
      await residents.drainTo(client);
      await enrollments.drainTo(client);
      await accounts.drainTo(client);
      progress(
        `population: town ${manifestTowns.length}/${towns.length} ${town.name} loaded, ${residentId - residentIdBase} people so far`,
      );
    }
    await client.query(
      `SELECT setval(pg_get_serial_sequence('households', 'id'), (SELECT max(id) FROM households))`,
    );
    await client.query(
      `SELECT setval(pg_get_serial_sequence('residents', 'id'), (SELECT max(id) FROM residents))`,
    );
    await client.query('COMMIT');
    // a bulk load leaves no statistics behind, and small tables (towns, villages) are never analyzed by
    // autovacuum: without them the planner takes nested loops over every resident
    progress('population: loaded; gathering planner statistics');
    // (as the tables' owner: an operator's login would skip ANALYZE with a warning; migration 0021)
    await client.query(
      `SELECT analyze_ledger('{jurisdictions,towns,villages,households,residents,enrollments,sim_bank_accounts}')`,
    );

    progress(`population: writing the departments' files`);
    const files = await writeFiles(policy, options, rng, byDepartment, additionsPool, rosterDate);
    const certified = Object.fromEntries([...byDepartment.entries()].map(([d, l]) => [d, l.length]));
    const sum = (k: 'registered' | 'employeeInsured' | 'toEnroll' | 'paidLastYear') =>
      manifestTowns.reduce((s, t) => s + t[k], 0);
    const manifest: PopulationManifest = {
      jurisdiction: policy.jurisdiction,
      year: policy.year,
      scale: options.scale,
      seed: options.seed,
      towns: manifestTowns,
      totals: {
        residents: residentId - residentIdBase,
        registered: sum('registered'),
        employeeInsured: sum('employeeInsured'),
        toEnroll: sum('toEnroll'),
        paidLastYear: sum('paidLastYear'),
        households: householdId - householdIdBase,
        deceased,
      },
      certified,
      files,
    };
    writeFileSync(join(options.outDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    return manifest;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function deltaRow(
  no: number,
  p: RosterEntry,
  category: string,
  action: '新增' | '减员',
): (string | number)[] {
  return [no, p.name, p.sex, p.idNumber, p.address, p.phone, category, action];
}

const HEADER = ['序号', '姓名', '性别', '身份证号码', '户籍地址', '联系电话', '特殊群体类别'];
const DELTA_HEADER = [...HEADER, '变动类型'];

async function writeFiles(
  policy: Policy,
  options: PopulationOptions,
  rng: Random,
  byDepartment: Map<string, RosterEntry[]>,
  additionsPool: RosterEntry[],
  rosterDate: string,
): Promise<DepartmentFile[]> {
  const files: DepartmentFile[] = [];
  const otherDepartmentCategory = (department: string) =>
    policy.categories.find((c) => c.department !== department)?.id ?? 'X';
  for (const department of policy.departments.map((d) => d.id)) {
    const entries = byDepartment.get(department) ?? [];
    const { format, encoding } = DEPARTMENT_FILE_FORMATS[department] ?? {
      format: 'csv' as const,
      encoding: 'utf-8',
    };
    const ext = format === 'xlsx' ? 'xlsx' : 'csv';
    const defects: Record<string, number> = {};
    const rows: (string | number)[][] = [];
    const count = (k: DefectKind) => (defects[k] = (defects[k] ?? 0) + 1);
    const kinds: DefectKind[] = [
      'bad-check-digit',
      'missing-name',
      'unknown-category',
      'other-department-category',
      'duplicate-row',
      'not-a-resident',
      'lowercase-x-and-full-width',
    ];
    if (format === 'xlsx') kinds.push('id-as-number');
    for (const e of entries) {
      const row: (string | number)[] = [
        rows.length + 1,
        e.name,
        e.sex,
        e.idNumber,
        e.address,
        e.phone,
        e.category,
      ];
      if (rng.chance(options.defectRate)) {
        const kind = rng.pick(kinds);
        count(kind);
        switch (kind) {
          case 'bad-check-digit':
            row[3] = e.idNumber.slice(0, 17) + (e.idNumber[17] === '0' ? '1' : '0');
            break;
          case 'missing-name':
            row[1] = '';
            break;
          case 'unknown-category':
            row[6] = '9999';
            break;
          case 'other-department-category':
            row[6] = otherDepartmentCategory(department);
            break;
          case 'id-as-number':
            row[3] = Number(e.idNumber.slice(0, 17)) * 10;
            break;
          case 'duplicate-row':
            rows.push([...row]);
            row[0] = rows.length + 1;
            break;
          case 'not-a-resident':
            rows.push([
              rows.length + 1,
              '外来人员',
              '男',
              makeIdNumber('110105', '1980-01-01', rng.int(1, 999)),
              '北京市',
              '13800000000',
              e.category,
            ]);
            row[0] = rows.length + 1;
            break;
          case 'lowercase-x-and-full-width':
            row[3] = e.idNumber
              .replace(/X$/, 'x')
              .replace(/^\d/, (d) => String.fromCharCode(0xff10 + Number(d)));
            break;
        }
      }
      rows.push(row);
    }
    const path = join(options.outDir, `${department}-roster-${rosterDate}.${ext}`);
    await writeDepartmentFile(path, format, encoding, HEADER, rows);
    files.push({
      department,
      kind: 'roster',
      period: rosterDate,
      path,
      format,
      encoding,
      rows: rows.length,
      defects,
    });

    // monthly deltas: a few new certifications from the pool, a few removals from the roster
    let month = addMonths(`${rosterDate.slice(0, 7)}-01`, 1);
    for (let i = 0; i < options.deltaMonths; i += 1, month = addMonths(month, 1)) {
      const deltaRows: (string | number)[][] = [];
      const categories = policy.categories.filter((c) => c.department === department && c.id !== '9');
      const adds = Math.max(1, Math.round(entries.length * 0.01));
      for (let k = 0; k < adds && additionsPool.length && categories.length; k += 1) {
        const p = additionsPool.pop()!;
        deltaRows.push(deltaRow(deltaRows.length + 1, p, rng.pick(categories).id, '新增'));
      }
      const removes = Math.max(1, Math.round(entries.length * 0.005));
      for (let k = 0; k < removes && entries.length; k += 1) {
        const p = entries.splice(rng.int(0, entries.length - 1), 1)[0]!;
        deltaRows.push(deltaRow(deltaRows.length + 1, p, p.category, '减员'));
      }
      const period = month.slice(0, 7);
      const deltaPath = join(options.outDir, `${department}-delta-${period}.${ext}`);
      await writeDepartmentFile(deltaPath, format, encoding, DELTA_HEADER, deltaRows);
      files.push({
        department,
        kind: 'delta',
        period,
        path: deltaPath,
        format,
        encoding,
        rows: deltaRows.length,
        defects: {},
      });
    }
  }
  return files;
}
