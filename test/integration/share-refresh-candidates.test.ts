/**
 * The share refresh before a levy (000 五(一): an unpaid enrollment follows the person's identities on the
 * round's day) decides only the enrollments whose share can change (issue #23): a person with an identity row
 * of any validity, or an enrollment holding a category or a personal share other than the plan's. Without an
 * identity the decision is always no category and the standard share, so the majority, who hold exactly that,
 * are neither read with their residents nor decided; the ones that can change are each refreshed right.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { categoryTable } from '../../domain/category-table';
import { openEnrollments, refreshYearShares } from '../../ledger/campaign';
import { seedPolicy } from '../../seeds';
import { populationWithRosters } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('meishan', 2024);
const STANDARD = policy.contribution.personalFen;
/** 低保 (2303, 75% subsidised, no condition) and 低收入 (2305: aged 60 or more, 17 or less, or grade 3/4). */
const low = categoryTable(policy).find((r) => r.category === '2303')!;
const lowIncome = categoryTable(policy).find((r) => r.category === '2305')!;

describe('the share refresh before a levy decides only the enrollments whose share can change (000 五(一); issue #23)', () => {
  let db: TestDatabase;
  let submission: string;
  /** Resident ids: an identity ended since opening, one given since, one who turns 60 before the levy. */
  const people: { ended?: string; given?: string; turns60?: string } = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    await populationWithRosters(db, policy, { scale: 0.003, seed: 23, defectRate: 0 });
    submission = (await db.pool.query<{ id: string }>(`SELECT id FROM submissions LIMIT 1`)).rows[0]!.id;
    // a renewing ordinary resident (no identity) born 1963-10-01 and certified 低收入 from August: 59 when
    // the year opens, so the category's age condition does not hold then, 60 on the levy's day
    const older = (
      await db.pool.query<{ resident_id: string }>(
        `SELECT e.resident_id FROM enrollments e JOIN residents p ON p.id = e.resident_id
         WHERE e.campaign_year = 2023 AND e.status = 'paid' AND p.deceased_on IS NULL AND NOT p.employee_insured
           AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = e.resident_id)
         ORDER BY e.resident_id LIMIT 1`,
      )
    ).rows[0]!;
    people.turns60 = older.resident_id;
    await db.pool.query(
      `UPDATE residents SET birth_date = '1963-10-01', disability_grade = NULL WHERE id = $1`,
      [older.resident_id],
    );
    await db.pool.query(
      `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission)
       VALUES ('meishan', $1, '2305', 'civil-affairs', '2023-08-01', $2)`,
      [older.resident_id, submission],
    );
    await openEnrollments(db.pool, policy, '2023-08-31');
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** An enrollment of the year as held: category, personal and subsidy shares, fund, status. */
  async function held(residentId: string) {
    return (
      await db.pool.query<{
        category: string | null;
        personal_fen: number;
        subsidy_fen: number;
        funding_source: string;
        status: string;
      }>(
        `SELECT category, personal_fen, subsidy_fen, funding_source, status::text AS status
         FROM enrollments WHERE campaign_year = 2024 AND resident_id = $1`,
        [residentId],
      )
    ).rows[0];
  }

  it('an identity ended since opening, one given since and an age condition crossed are each refreshed right; the unchanged majority is not read with its residents', async () => {
    // the 低保 person holding only that identity, registered at the 2303 share; the identity ends in September
    const ended = (
      await db.pool.query<{ resident_id: string }>(
        `SELECT e.resident_id FROM enrollments e WHERE e.campaign_year = 2024 AND e.category = '2303' AND e.status = 'registered'
           AND (SELECT count(*) FROM identities i WHERE i.resident_id = e.resident_id) = 1 ORDER BY e.id LIMIT 1`,
      )
    ).rows[0]!;
    people.ended = ended.resident_id;
    expect(await held(ended.resident_id)).toMatchObject({ category: '2303', personal_fen: low.personalFen });
    await db.pool.query(
      `UPDATE identities SET valid_to = '2023-09-30', closed_by_submission = $2 WHERE resident_id = $1 AND category = '2303'`,
      [ended.resident_id, submission],
    );
    // an ordinary registered person (no identity) certified 低保 from September 20
    const given = (
      await db.pool.query<{ resident_id: string }>(
        `SELECT e.resident_id FROM enrollments e WHERE e.campaign_year = 2024 AND e.category IS NULL AND e.status = 'registered'
           AND e.resident_id <> $1 AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = e.resident_id)
         ORDER BY e.id LIMIT 1`,
        [people.turns60],
      )
    ).rows[0]!;
    people.given = given.resident_id;
    await db.pool.query(
      `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission)
       VALUES ('meishan', $1, '2303', 'civil-affairs', '2023-09-20', $2)`,
      [given.resident_id, submission],
    );
    expect(await held(people.turns60!)).toMatchObject({
      category: null,
      personal_fen: STANDARD,
      status: 'registered',
    });

    // the enrollments that can change (an identity row of any validity, or a category or another share held)
    // and all the year's unpaid ones; the others' rows as held, to compare after
    const counts = (
      await db.pool.query<{ unpaid: number; can_change: number }>(
        `SELECT count(*)::int AS unpaid,
                count(*) FILTER (WHERE e.category IS NOT NULL OR e.personal_fen <> $1
                                 OR EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = e.resident_id))::int AS can_change
         FROM enrollments e WHERE e.campaign_year = 2024 AND e.status IN ('registered', 'failed')`,
        [STANDARD],
      )
    ).rows[0]!;
    expect(counts.can_change * 4).toBeLessThan(counts.unpaid);
    const others = `SELECT md5(string_agg(concat_ws('|', id, status, category, personal_fen, subsidy_fen, funding_source, benefit_start), ',' ORDER BY id))
                    FROM enrollments WHERE campaign_year = 2024 AND resident_id NOT IN ($1, $2, $3)`;
    const three = [people.ended, people.given, people.turns60];
    const before = (await db.pool.query(others, three)).rows[0];

    // the refresh in its own session (a one-connection pool), whose statistics on the register are read around it
    const session = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const residentsRead = async () => {
        await session.query('SELECT pg_stat_force_next_flush()');
        const r = await session.query<{ n: string }>(
          `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_user_tables WHERE relname = 'residents'`,
        );
        return Number(r.rows[0]!.n);
      };
      const readBefore = await residentsRead();
      const changed = await refreshYearShares(session, policy, '2023-10-09');
      const read = (await residentsRead()) - readBefore;
      expect(changed).toBe(3);
      // each enrollment that can change read its resident by key, and none other
      expect(read).toBeLessThanOrEqual(counts.can_change);
    } finally {
      await session.end();
    }

    expect(await held(people.ended)).toEqual({
      category: null,
      personal_fen: STANDARD,
      subsidy_fen: 0,
      funding_source: 'personal',
      status: 'registered',
    });
    expect(await held(people.given)).toEqual({
      category: '2303',
      personal_fen: low.personalFen,
      subsidy_fen: low.subsidyFen,
      funding_source: low.fundingSource,
      status: 'registered',
    });
    expect(await held(people.turns60!)).toEqual({
      category: '2305',
      personal_fen: lowIncome.personalFen,
      subsidy_fen: lowIncome.subsidyFen,
      funding_source: lowIncome.fundingSource,
      status: 'registered',
    });
    expect((await db.pool.query(others, three)).rows[0]).toEqual(before);
  });
});
