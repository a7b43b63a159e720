/**
 * A new campaign year is data only: a 2025 Heshan policy built from the 2024 file (a new contribution
 * rate, one new category under an existing kind of condition, every date a year on, the 2025 State
 * Council holiday notice) loads through the same validation, is explained by the same engine, and runs a
 * whole drill year on the real dev server through the same workflow, activities and SQL. No code names
 * 2025: if this test needed a code change, a new year would too.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationConfig } from '../../departments/simulated';
import { startCampaign } from '../../application/campaign-workflow';
import { progressReportSchedule } from '../../domain/calendar';
import { addYears, isIsoDate } from '../../domain/dates';
import { makeDrillPolicy } from '../../domain/drill';
import { explain } from '../../domain/engine';
import { makeIdNumber } from '../../domain/id-number';
import { loadPolicy, PolicyValidationError, type Policy } from '../../domain/policy';
import { WORKING_DAY_CALENDARS } from '../../seeds';
import heshan2024 from '../../seeds/policies/heshan-2024.json';
import { generatePopulation } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import type { CampaignProgress } from '../../workflows/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

/** Every calendar date in a policy file moved on one year (02-29 becomes 02-28), sources kept. */
function aYearOn(value: unknown): unknown {
  if (typeof value === 'string' && isIsoDate(value)) return addYears(value, 1);
  if (Array.isArray(value)) return value.map(aYearOn);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, aYearOn(v)]));
  return value;
}

/** Heshan's 2024 policy file, as an operator would edit it for 2025. */
function heshan2025File(): Record<string, unknown> {
  const file = aYearOn(JSON.parse(JSON.stringify(heshan2024))) as typeof heshan2024;
  return {
    ...file,
    year: 2025,
    document: { ...file.document, title: '鹤山市2025年度城乡居民医保参保工作方案 (test variant)' },
    contribution: { personalFen: 42000, source: 'test variant: a 2025 rate of 420 yuan per person' },
    categories: [
      ...file.categories,
      {
        id: '12',
        name: '60周岁以上残疾人 (test variant)',
        department: 'disabled-persons-federation',
        subsidyShareBp: 10000,
        fundingSource: 'disability-employment-security-fund',
        conditions: [{ kind: 'local-hukou' }, { kind: 'age', min: 60 }],
        source: 'test variant: a new 2025 category under an existing kind of condition (age)',
      },
    ],
    calendar: {
      ...file.calendar,
      // reports run into January, where the 2025 notice's New Year holiday moves one
      progressReports: { ...file.calendar.progressReports, until: '2025-01-15' },
    },
    holidayCalendar: ['cn-state-council-2023-2024', 'cn-state-council-2025'],
  };
}

describe('a new campaign year is data only: Heshan 2025 from the 2024 file, run as a drill year', () => {
  let policy: Policy;
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;

  beforeAll(() => {
    policy = loadPolicy(heshan2025File(), WORKING_DAY_CALENDARS, 'heshan-2025.json');
  });

  it('the 2025 file loads only with the 2025 holiday notice: its claim on 2025-06-30 is outside the 2023-2024 calendar', () => {
    const without = { ...heshan2025File(), holidayCalendar: 'cn-state-council-2023-2024' };
    expect(() => loadPolicy(without, WORKING_DAY_CALENDARS, 'heshan-2025.json')).toThrow(
      PolicyValidationError,
    );
    expect(policy.calendar.benefitYearStart.date).toBe('2025-01-01');
    expect(policy.calendar.subsidyClaims[0]!.at).toBe('2025-06-30');
  });

  it('the 1st-and-15th reports move by the notices: 2024-10-01 to 2024-10-08, 2025-01-01 (元旦) to 2025-01-02 (001 七(七) 节假日顺延)', () => {
    const due = new Map(progressReportSchedule(policy).map((r) => [r.nominal, r.due]));
    expect(due.get('2024-10-01')).toBe('2024-10-08');
    expect(due.get('2025-01-01')).toBe('2025-01-02');
  });

  it('the engine answers under the 2025 rate and the new category, with no code naming either', () => {
    const ask = (birth: string, categories: string[]) =>
      explain(policy, {
        jurisdiction: 'heshan',
        year: 2025,
        person: { idNumber: makeIdNumber('440784', birth, 5), categories },
        event: { kind: 'centralised-payment', date: '2024-10-20' },
      });
    expect(ask('1980-01-01', []).contribution).toMatchObject({ totalFen: 42000, personalFen: 42000 });
    expect(ask('1955-01-01', ['12'])).toMatchObject({
      effectiveCategory: '12',
      contribution: {
        personalFen: 0,
        subsidyFen: 42000,
        fundingSource: 'disability-employment-security-fund',
      },
      benefitStart: '2025-01-01',
      contributionYears: [2025],
    });
    expect(ask('1980-01-01', ['12']).effectiveCategory).toBeNull();
  });

  describe('the drill year on the dev server', () => {
    let drill: Policy;
    let simulation: SimulationConfig;
    beforeAll(async () => {
      [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
      drill = makeDrillPolicy(policy, Date.now() + 8_000, 0.05);
      const outDir = mkdtempSync(join(tmpdir(), 'medins-2025-'));
      const manifest = await generatePopulation(db.pool, drill, {
        scale: 0.002,
        seed: 25,
        defectRate: 0.02,
        deltaMonths: 0,
        outDir,
      });
      // the federation lists people under the new category in its roster, well under and well over 60 (a drill's
      // dates are today's, not 2024's: ages near 60 would depend on the day the test runs)
      const roster = manifest.files.find(
        (f) => f.department === 'disabled-persons-federation' && f.kind === 'roster',
      )!;
      const pick = (older: boolean) =>
        db.pool.query<{ id_number: string; name: string }>(
          `SELECT id_number, name FROM residents p
           WHERE p.jurisdiction = 'heshan' AND p.residency = 'hukou' AND NOT p.employee_insured AND p.deceased_on IS NULL
             AND date_part('year', age('2024-09-15'::date, p.birth_date)) NOT BETWEEN 50 AND 64
             AND (date_part('year', age('2024-09-15'::date, p.birth_date)) >= 65) = $1
           ORDER BY p.id LIMIT 3`,
          [older],
        );
      const listed = [...(await pick(false)).rows, ...(await pick(true)).rows];
      const text = readFileSync(roster.path, 'utf8');
      const header = text
        .replace(/^\uFEFF/, '')
        .split(/\r?\n/, 1)[0]!
        .split(',');
      const cell: Record<string, (p: { id_number: string; name: string }, n: number) => string> = {
        序号: (_, n) => String(90000 + n),
        姓名: (p) => p.name,
        性别: () => '男',
        身份证号码: (p) => p.id_number,
        特殊群体类别: () => '12',
      };
      const added = listed.map((p, n) => header.map((h) => cell[h]?.(p, n) ?? '').join(','));
      writeFileSync(roster.path, `${text.replace(/\r?\n$/, '')}\r\n${added.join('\r\n')}\r\n`);
      simulation = {
        seed: 25,
        populationDirs: { heshan: outDir },
        systemicFailureRate: 0.02,
        topUpRate: 0.5,
        missingDepartments: [],
        exchangeDir: join(outDir, 'exchange'),
      };
    });
    afterAll(async () => {
      await env?.teardown();
      await db?.drop();
    });

    it('runs to its close: 2024 payers renewed at 420 yuan for 2025, subsidies claimed, the new category in the ledger', async () => {
      const taskQueue = uniqueTaskQueue('year-2025');
      const worker = await createWorker({
        connection: env.nativeConnection,
        taskQueue,
        pool: db.pool,
        simulation,
        workflowBundle: await workflowBundle(),
      });
      const result: CampaignProgress = await worker.runUntil(async () => {
        const started = await startCampaign(env.client, {
          taskQueue,
          policy: drill,
          operator: 'operator-he',
        });
        expect(started.workflowId).toBe('campaign-heshan-2025-drill');
        return env.client.workflow.getHandle(started.workflowId).result() as Promise<CampaignProgress>;
      });
      expect(result.phase).toBe('closed');
      expect(result.claims.length).toBeGreaterThan(0);

      const years = await db.pool.query<{ campaign_year: number; total_fen: number; n: number }>(
        `SELECT campaign_year, total_fen, count(*)::int AS n FROM enrollments WHERE jurisdiction = 'heshan' AND campaign_year = 2025 GROUP BY 1, 2`,
      );
      expect(years.rows.map((r) => [r.campaign_year, r.total_fen])).toEqual([[2025, 42000]]);
      const paid = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM enrollments WHERE jurisdiction = 'heshan' AND campaign_year = 2025 AND status = 'paid' AND benefit_start IS NOT NULL`,
      );
      expect(paid.rows[0]!.n).toBeGreaterThan(0);
      // the new category: a person listed under it is fully subsidised when 60 or older, pays in full otherwise
      const listed = await db.pool.query<{ category: string | null; subsidy_fen: number; old: boolean }>(
        `SELECT e.category, e.subsidy_fen, date_part('year', age('2024-09-15'::date, p.birth_date)) >= 65 AS old
         FROM identities i JOIN residents p ON p.id = i.resident_id
         JOIN enrollments e ON e.resident_id = p.id AND e.campaign_year = 2025
         WHERE i.category = '12' AND i.valid_to IS NULL AND NOT EXISTS (
           SELECT 1 FROM identities o WHERE o.resident_id = p.id AND o.category <> '12')`,
      );
      expect(listed.rows.filter((r) => r.old).length).toBeGreaterThan(0);
      expect(listed.rows.filter((r) => !r.old).length).toBeGreaterThan(0);
      for (const r of listed.rows) {
        if (r.old) expect(r).toMatchObject({ category: '12', subsidy_fen: 42000 });
        else expect(r).toMatchObject({ category: null, subsidy_fen: 0 });
      }
    });
  });
});
