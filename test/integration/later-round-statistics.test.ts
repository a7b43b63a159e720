/**
 * Planner statistics after a deduction round (issue #23): round 1 writes a levy line and a result for nearly
 * every enrollment, and the steps after it must be planned on fresh statistics, so it ANALYZEs the levy lines,
 * the results and the enrollments; a later round adds a few lines and results to round 1's and moves a few
 * enrollments, whose ANALYZE (a sample of most of a large table) it skips. Its levy lines and results are still
 * analyzed: the levy hand-over reads the lines by their new batch id, and the snapshots, the cut-off and the
 * next round ask whether a batch has results (on round 1's statistics each asking read the results table from
 * its start).
 * Whether a table was analyzed shows in its pg_class.reltuples, which ANALYZE sets to the rows it counted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taxCsvFormat } from '../../departments/formats';
import { applyDeductionResults, createLevyBatch, openEnrollments } from '../../ledger/campaign';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);

describe('planner statistics after a deduction round', () => {
  let db: TestDatabase;
  const dir = mkdtempSync(join(tmpdir(), 'medins-round-stats-'));

  /** The bureau's answer to a batch: a failure for each line `fails` picks, a success for the others. */
  const answer = async (batchId: number, paidOn: string, fails: (i: number) => boolean) => {
    const lines = await db.pool.query<{ enrollment_id: string }>(
      `SELECT enrollment_id FROM levy_lines WHERE batch_id = $1 ORDER BY enrollment_id`,
      [batchId],
    );
    const file = join(dir, `results-${batchId}.csv`);
    writeFileSync(
      file,
      `enrollment_id,outcome,failure_code\n${lines.rows
        .map((l, i) =>
          fails(i) ? `${l.enrollment_id},failure,insufficient-balance` : `${l.enrollment_id},success,`,
        )
        .join('\n')}\n`,
    );
    return applyDeductionResults(db.pool, policy, batchId, taxCsvFormat.readResults(file), paidOn);
  };
  const statistics = async () =>
    (
      await db.pool.query<{ relname: string; reltuples: number; rows: number }>(
        `SELECT c.relname, c.reltuples::int AS reltuples,
                CASE c.relname WHEN 'levy_lines' THEN (SELECT count(*) FROM levy_lines)
                               WHEN 'deduction_results' THEN (SELECT count(*) FROM deduction_results)
                               ELSE (SELECT count(*) FROM enrollments) END::int AS rows
         FROM pg_class c WHERE c.oid IN ('levy_lines'::regclass, 'deduction_results'::regclass, 'enrollments'::regclass)
         ORDER BY c.relname`,
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    await generatePopulation(db.pool, policy, {
      scale: 0.005,
      seed: 23,
      defectRate: 0,
      deltaMonths: 0,
      outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
    });
    await openEnrollments(db.pool, policy, '2023-09-01');
  }, 600_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('round 1 analyzes the lines, results and enrollments it wrote; a later round of a few lines analyzes its levy lines and results only, and levies the same', async () => {
    const first = await createLevyBatch(db.pool, policy, 1, '2023-10-09');
    expect(first.lines).toBeGreaterThan(1000);
    // one line in fifty fails
    const applied = await answer(first.batchId, '2023-10-20', (i) => i % 50 === 0);
    expect(applied.personal).toBe(Math.ceil(first.lines / 50));
    const afterRoundOne = await statistics();
    // freshly analyzed: each table's statistics count exactly its rows
    for (const t of afterRoundOne) expect(t.reltuples).toBe(t.rows);

    const second = await createLevyBatch(db.pool, policy, 2, '2023-11-09');
    expect(second).toMatchObject({ lines: applied.personal, candidatesFrom: 'work set' });
    await answer(second.batchId, '2023-11-20', () => false);
    const afterRoundTwo = await statistics();
    // the tables grew (the lines and results of round 2); the enrollments kept round 1's statistics, the levy
    // lines and results were analyzed again
    expect(afterRoundTwo.map((t) => t.rows)).toEqual(
      afterRoundOne.map((t) => (t.relname === 'enrollments' ? t.rows : t.rows + second.lines)),
    );
    expect(afterRoundTwo.map((t) => [t.relname, t.reltuples])).toEqual(
      afterRoundOne.map((t) => [
        t.relname,
        t.relname === 'enrollments' ? t.reltuples : t.rows + second.lines,
      ]),
    );
    // and the round did its work: every failure of round 1 levied again, then paid
    const status = await db.pool.query<{ status: string; n: number }>(
      `SELECT status::text, count(*)::int AS n FROM enrollments e
       WHERE e.campaign_year = 2024 AND EXISTS (SELECT 1 FROM levy_lines l WHERE l.enrollment_id = e.id AND l.batch_id = $1)
       GROUP BY 1`,
      [second.batchId],
    );
    expect(status.rows).toEqual([{ status: 'paid', n: second.lines }]);
  });
});
