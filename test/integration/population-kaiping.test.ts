import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPolicy, seedTargets } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('the synthetic Kaiping population at full scale', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await generatePopulation(db.pool, seedPolicy('kaiping', 2024), {
      scale: 1,
      seed: 2024,
      defectRate: 0.01,
      deltaMonths: 0,
      outDir: mkdtempSync(join(tmpdir(), 'medins-kaiping-')),
    });
  }, 600_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('reproduces 附件3 per town exactly: (1) registered, (2) employee insured, (3) paid in 2023, (4) = (1) - (2)', async () => {
    const r = await db.pool.query<{
      town: string;
      registered: number;
      employee: number;
      to_enroll: number;
      paid: number;
    }>(
      `SELECT t.name AS town,
              count(p.id) FILTER (WHERE p.residency = 'hukou')::int AS registered,
              count(p.id) FILTER (WHERE p.employee_insured)::int AS employee,
              count(p.id) FILTER (WHERE p.residency = 'hukou' AND NOT p.employee_insured)::int AS to_enroll,
              count(e.id)::int AS paid
       FROM towns t LEFT JOIN residents p ON p.town_id = t.id
       LEFT JOIN enrollments e ON e.resident_id = p.id AND e.campaign_year = 2023 AND e.status = 'paid'
       GROUP BY t.id, t.name ORDER BY t.id`,
    );
    const printed = seedTargets('kaiping', 2024).towns.map((t) => ({
      town: t.town,
      registered: t.registered ?? 0,
      employee: t.employeeInsured ?? 0,
      to_enroll: t.toEnroll ?? 0,
      paid: t.paidLastYear ?? 0,
    }));
    expect(r.rows).toEqual(printed);
    const sum = (k: 'registered' | 'employee' | 'to_enroll' | 'paid') => r.rows.reduce((s, t) => s + t[k], 0);
    expect([sum('registered'), sum('employee'), sum('to_enroll'), sum('paid')]).toEqual([
      681503, 196792, 484711, 424855,
    ]);
  });

  it('every ID number is valid and unique, and every household has a bank account for withholding', async () => {
    const r = await db.pool.query<{ ids: number; distinct_ids: number; households_without_account: number }>(
      `SELECT count(*)::int AS ids, count(DISTINCT id_number)::int AS distinct_ids,
              (SELECT count(*) FROM households WHERE bank_account IS NULL)::int AS households_without_account FROM residents`,
    );
    expect(r.rows[0]!.ids).toBe(r.rows[0]!.distinct_ids);
    expect(r.rows[0]!.households_without_account).toBe(0);
  });
});
