/**
 * Opening the year (000 五(一), 五(七)) decides a category only for the holders of an identity valid on the
 * day and enrolls only the candidates (issue #23: the decisions are no longer made over every candidate). A
 * holder who is not a candidate (in employee insurance, deceased, already enrolled) is decided for nothing;
 * every candidate holder is registered at the share its category gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { categoryTable } from '../../domain/category-table';
import { openEnrollments } from '../../ledger/campaign';
import { seedPolicy } from '../../seeds';
import { populationWithRosters } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('meishan', 2024);
/** 低保 (2303): 75% subsidised, no condition. */
const low = categoryTable(policy).find((r) => r.category === '2303')!;

describe('opening the year decides categories for identity holders and enrolls only candidates (000 五(一); issue #23)', () => {
  let db: TestDatabase;
  const people: { insured?: string; deceased?: string; holder?: string } = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    await populationWithRosters(db, policy, { scale: 0.003, seed: 24, defectRate: 0 });
    // three 低保 holders whose only identity is valid on the opening day: one goes into employee insurance, one
    // dies before the day, one stays a candidate
    const holders = (
      await db.pool.query<{ resident_id: string }>(
        `SELECT i.resident_id FROM identities i JOIN residents p ON p.id = i.resident_id
         WHERE i.category = '2303' AND i.valid_from <= '2023-08-31' AND i.valid_to IS NULL
           AND NOT p.employee_insured AND p.deceased_on IS NULL
           AND (SELECT count(*) FROM identities o WHERE o.resident_id = i.resident_id) = 1
         ORDER BY i.resident_id LIMIT 3`,
      )
    ).rows.map((r) => r.resident_id);
    expect(holders).toHaveLength(3);
    [people.insured, people.deceased, people.holder] = holders;
    await db.pool.query(`UPDATE residents SET employee_insured = true WHERE id = $1`, [people.insured]);
    await db.pool.query(`UPDATE residents SET deceased_on = '2023-08-01' WHERE id = $1`, [people.deceased]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const enrollmentOf = async (residentId: string) =>
    (
      await db.pool.query<{ category: string | null; personal_fen: number; status: string }>(
        `SELECT category, personal_fen, status::text AS status FROM enrollments WHERE campaign_year = 2024 AND resident_id = $1`,
        [residentId],
      )
    ).rows;

  it('a holder in employee insurance or deceased is not enrolled; a candidate holder is registered at the 2303 share; a second opening enrolls nobody', async () => {
    const opened = await openEnrollments(db.pool, policy, '2023-08-31');
    expect(await enrollmentOf(people.insured!)).toEqual([]);
    expect(await enrollmentOf(people.deceased!)).toEqual([]);
    expect(await enrollmentOf(people.holder!)).toEqual([
      { category: '2303', personal_fen: low.personalFen, status: 'registered' },
    ]);
    // every enrollment with a category is a candidate holding a valid identity of it, and they are as many
    // as the opening counted
    const decided = await db.pool.query<{ n: number; strays: number }>(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE p.employee_insured OR p.deceased_on <= '2023-08-31'
                                  OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = e.resident_id
                                                   AND i.category = e.category AND i.valid_from <= '2023-08-31'
                                                   AND (i.valid_to IS NULL OR i.valid_to >= '2023-08-31')))::int AS strays
       FROM enrollments e JOIN residents p ON p.id = e.resident_id
       WHERE e.campaign_year = 2024 AND e.category IS NOT NULL`,
    );
    expect(decided.rows[0]).toEqual({ n: opened.subsidisedRegistered, strays: 0 });
    expect(opened.subsidisedRegistered).toBeGreaterThan(10);

    const again = await openEnrollments(db.pool, policy, '2023-08-31');
    expect(again).toEqual({ renewed: 0, subsidisedRegistered: 0, fullySubsidised: 0 });
  });
});
