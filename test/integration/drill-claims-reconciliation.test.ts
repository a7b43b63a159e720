import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEnrollments } from '../../ledger/campaign';
import { seedPolicy } from '../../seeds';
import { drillPopulation } from '../support/campaign';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';

/**
 * A monthly reconciliation opens the real year's enrollments before its campaign starts (the difficulty lists'
 * additions registered from the registration day, 000 五(一)). Those are the real year's rows: a drill of that
 * year must not run on them, and clearing a drill must never delete them (a newcomer saw a drill started
 * after `reconcile run --month 2023-09` and its clearing delete the 4,276 enrollments the reconciliation had
 * opened). The other way round, a reconciliation does not write the real year's rows into a year a drill holds.
 */
describe('the real year’s rows opened by a reconciliation are never a drill’s to take or to clear', () => {
  let db: TestDatabase;
  let operator: Login;
  const real = seedPolicy('kaiping', 2024);

  beforeAll(async () => {
    db = await createTestDatabase();
    operator = await db.login('operator');
    await drillPopulation(db, real, { seed: 23 });
  });
  afterAll(async () => {
    await db?.drop();
  });

  const enrollments = async (year: number) =>
    (
      await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM enrollments WHERE jurisdiction = 'kaiping' AND campaign_year = $1`,
        [year],
      )
    ).rows[0]!.n;

  it('a reconciliation’s registrations claim the year for the real year: a drill is refused and nothing is cleared', async () => {
    // as the reconciliation's settleMonth does, under the operator's login
    const opened = await openEnrollments(operator.pool, real, '2023-10-10');
    expect(opened.renewed + opened.subsidisedRegistered + opened.fullySubsidised).toBeGreaterThan(0);
    const before = await enrollments(2024);
    expect(before).toBeGreaterThan(0);

    const claims = await db.pool.query<{ drill: boolean; cleared_at: Date | null }>(
      `SELECT drill, cleared_at FROM campaign_year_claims WHERE jurisdiction = 'kaiping' AND campaign_year = 2024`,
    );
    expect(claims.rows).toEqual([{ drill: false, cleared_at: null }]);

    // a drill of 2024 is refused by the ledger, naming the real campaign and where to rehearse instead
    await expect(
      operator.pool.query(
        `SELECT claim_campaign_year('kaiping', 2024, true, 'a-drill', 'campaign-kaiping-2024-drill')`,
      ),
    ).rejects.toMatchObject({
      code: 'MD001',
      message: expect.stringMatching(/real kaiping 2024 campaign.*rehearse/),
    });

    // clearing is refused: the rows are the real year's, and every one of them is still there
    await expect(operator.pool.query(`SELECT clear_drill_rows('kaiping', 2024)`)).rejects.toMatchObject({
      code: 'MD001',
      message: expect.stringMatching(/real year's: they are never cleared/),
    });
    expect(await enrollments(2024)).toBe(before);

    // the next month's reconciliation (or the real campaign) opens the same year again without a conflict
    await openEnrollments(operator.pool, real, '2023-11-10');
    expect(await enrollments(2024)).toBeGreaterThanOrEqual(before);
  });

  it('a reconciliation does not open the real year in a year a drill holds: refused with what to clear, nobody enrolled', async () => {
    const heshan = seedPolicy('heshan', 2024);
    await operator.pool.query(
      `SELECT claim_campaign_year('heshan', 2024, true, 'a-drill-of-heshan', 'campaign-heshan-2024-drill')`,
    );
    await expect(openEnrollments(operator.pool, heshan, '2023-10-10')).rejects.toMatchObject({
      code: 'MD001',
      message: expect.stringMatching(/drill of heshan 2024.*clear-drill --jurisdiction heshan --year 2024/),
    });
    const n = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollments WHERE jurisdiction = 'heshan' AND campaign_year = 2024`,
    );
    expect(n.rows[0]!.n).toBe(0);
  });
});
