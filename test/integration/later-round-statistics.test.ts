/**
 * Planner statistics after a deduction round (issue #23): round 1 writes a levy line and a result for nearly
 * every enrollment, and the steps after it must be planned on fresh statistics, so it ANALYZEs the levy lines,
 * the results and the enrollments; a later round adds a few lines and results to round 1's and moves a few
 * enrollments, whose ANALYZE (a sample of most of a large table) it skips where its lines and results are less
 * than a fiftieth of their tables: everything after reads them by key whatever the statistics say of the new
 * batch. The snapshots, the cut-off and the next round ask whether each batch has results by one probe of the
 * results' key, so statistics that have not seen the newest batch cannot send them reading the results table
 * from its start (as a plain EXISTS on round 1's statistics did, once per batch).
 * Whether a table was analyzed shows in its pg_class.reltuples, which ANALYZE sets to the rows it counted; how
 * a statement read a table, in the session's scan counters (pg_stat_user_tables).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taxCsvFormat } from '../../departments/formats';
import {
  applyDeductionResults,
  createLevyBatch,
  cutOff,
  openEnrollments,
  snapshotCoverage,
} from '../../ledger/campaign';
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

  it('round 1 analyzes the lines, results and enrollments it wrote; a later round of less than a fiftieth of them analyzes none, and levies the same', async () => {
    const first = await createLevyBatch(db.pool, policy, 1, '2023-10-09');
    expect(first.lines).toBeGreaterThan(1000);
    // one line in a hundred fails
    const applied = await answer(first.batchId, '2023-10-20', (i) => i % 100 === 0);
    expect(applied.personal).toBe(Math.ceil(first.lines / 100));
    const afterRoundOne = await statistics();
    // freshly analyzed: each table's statistics count exactly its rows
    for (const t of afterRoundOne) expect(t.reltuples).toBe(t.rows);

    const second = await createLevyBatch(db.pool, policy, 2, '2023-11-09');
    expect(second).toMatchObject({ lines: applied.personal, candidatesFrom: 'work set' });
    await answer(second.batchId, '2023-11-20', () => false);
    const afterRoundTwo = await statistics();
    // the tables grew (the lines and results of round 2); all three kept round 1's statistics
    expect(afterRoundTwo.map((t) => t.rows)).toEqual(
      afterRoundOne.map((t) => (t.relname === 'enrollments' ? t.rows : t.rows + second.lines)),
    );
    expect(afterRoundTwo.map((t) => [t.relname, t.reltuples])).toEqual(
      afterRoundOne.map((t) => [t.relname, t.reltuples]),
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

  it('on statistics that have not seen round 2, the snapshots, the next levy and the cut-off ask each batch for its results by key, never reading the results whole', async () => {
    // one connection: the statements and the scan counters they report are the same session's
    const session = new pg.Pool({ connectionString: db.url, max: 1 });
    /** How often the session read deduction_results whole (a sequential scan), by PostgreSQL's own counters. */
    const wholeReads = async () => {
      await session.query('SELECT pg_stat_force_next_flush()');
      await session.query('SELECT 1');
      const r = await session.query<{ n: string }>(
        `SELECT seq_scan AS n FROM pg_stat_user_tables WHERE relname = 'deduction_results'`,
      );
      return Number(r.rows[0]!.n);
    };
    try {
      // the results' statistics are still round 1's: every result of batch 1
      const analyzed = await db.pool.query<{ batches: number }>(
        `SELECT coalesce(array_length(most_common_vals::text::bigint[], 1), 0) AS batches FROM pg_stats
         WHERE tablename = 'deduction_results' AND attname = 'batch_id'`,
      );
      expect(analyzed.rows).toEqual([{ batches: 1 }]);
      const batches = await db.pool.query<{ id: string; results: number }>(
        `SELECT b.id, (SELECT count(*) FROM deduction_results d WHERE d.batch_id = b.id)::int AS results
         FROM levy_batches b ORDER BY b.round`,
      );
      expect(batches.rows.every((b) => b.results > 0)).toBe(true);

      const before = await wholeReads();
      await snapshotCoverage(
        session,
        policy,
        'progress-2023-11-23',
        new Date('2023-11-23T02:00:00Z'),
        new Map(),
      );
      // round 3 finds round 2 as the last round with results, and levies nothing: round 2 paid everyone
      const third = await createLevyBatch(session, policy, 3, '2023-12-09');
      expect(third).toMatchObject({ lines: 0, candidatesFrom: 'work set' });
      const cut = await cutOff(session, policy);
      expect(cut.stillFailed).toBe(0);
      expect(await wholeReads()).toBe(before);
      // and the snapshot counted round 2's people paid, none failed
      const snapshot = await db.pool.query<{ failed: number; enrolled: number }>(
        `SELECT sum(failed)::int AS failed, sum(enrolled)::int AS enrolled FROM coverage_snapshots WHERE snapshot_key = 'progress-2023-11-23'`,
      );
      const paid = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM enrollments WHERE campaign_year = 2024 AND status = 'paid'`,
      );
      expect(snapshot.rows).toEqual([{ failed: 0, enrolled: paid.rows[0]!.n }]);
    } finally {
      await session.end();
    }
  });
});
