/**
 * The tax bureau's result file for a batch applied twice at the same time: a retried activity running beside
 * the first (its heartbeat lost, the first still at work). Each levy line gets one result, each enrollment
 * moves once, and both applications report the round as recorded, not what each wrote itself. And a file
 * whose lines come out of order and repeated: each levy line's first result in the file counts, once.
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

describe('a batch’s deduction results applied twice at once', () => {
  let db: TestDatabase;
  const dir = mkdtempSync(join(tmpdir(), 'medins-results-twice-'));
  beforeAll(async () => {
    db = await createTestDatabase();
    await generatePopulation(db.pool, policy, {
      scale: 0.005,
      seed: 11,
      defectRate: 0,
      deltaMonths: 0,
      outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
    });
  }, 300_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('records each result once, moves each enrollment once, and both report the same round', async () => {
    await openEnrollments(db.pool, policy, '2023-09-01');
    const batch = await createLevyBatch(db.pool, policy, 1, '2023-10-09');
    const lines = await db.pool.query<{ enrollment_id: string }>(
      `SELECT enrollment_id FROM levy_lines WHERE batch_id = $1 ORDER BY enrollment_id`,
      [batch.batchId],
    );
    expect(lines.rows.length).toBeGreaterThan(100);
    // every tenth line a personal failure (insufficient-balance), the rest paid
    const file = join(dir, 'results.csv');
    writeFileSync(
      file,
      `enrollment_id,outcome,failure_code\n${lines.rows
        .map((l, i) =>
          i % 10 === 0 ? `${l.enrollment_id},failure,insufficient-balance` : `${l.enrollment_id},success,`,
        )
        .join('\n')}\n`,
    );
    const apply = () =>
      applyDeductionResults(db.pool, policy, batch.batchId, taxCsvFormat.readResults(file), '2023-10-20');
    const [first, second] = await Promise.all([apply(), apply()]);
    const failures = Math.ceil(lines.rows.length / 10);
    expect(first).toEqual(second);
    expect(first.success).toBe(lines.rows.length - failures);
    expect([first.personal, first.systemic]).toEqual([failures, 0]);
    const recorded = await db.pool.query<{ n: number; enrollments: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT enrollment_id)::int AS enrollments FROM deduction_results WHERE batch_id = $1`,
      [batch.batchId],
    );
    expect(recorded.rows[0]).toEqual({ n: lines.rows.length, enrollments: lines.rows.length });
    const moves = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollment_status_history h JOIN levy_lines l ON l.enrollment_id = h.enrollment_id
       WHERE l.batch_id = $1 AND h.from_status = 'levied'`,
      [batch.batchId],
    );
    expect(moves.rows[0]!.n).toBe(lines.rows.length);
  });
  it('a re-deduction file out of order, a line repeated saying otherwise: the first copy counts, once; sent again it changes nothing', async () => {
    // round 2 re-levies the failures of round 1 (the test above)
    const batch = await createLevyBatch(db.pool, policy, 2, '2023-12-04');
    const lines = await db.pool.query<{ enrollment_id: string }>(
      `SELECT enrollment_id FROM levy_lines WHERE batch_id = $1 ORDER BY enrollment_id DESC`,
      [batch.batchId],
    );
    expect(lines.rows.length).toBeGreaterThan(3);
    const [paidFirst, failedFirst, ...rest] = lines.rows.map((l) => l.enrollment_id);
    const file = join(dir, 'results-round-2.csv');
    // newest enrollment first; the first two lines repeated at the end with the other outcome
    writeFileSync(
      file,
      [
        'enrollment_id,outcome,failure_code',
        `${paidFirst},success,`,
        `${failedFirst},failure,insufficient-balance`,
        ...rest.map((id) => `${id},success,`),
        `${failedFirst},success,`,
        `${paidFirst},failure,account-closed`,
      ].join('\n') + '\n',
    );
    const apply = () =>
      applyDeductionResults(db.pool, policy, batch.batchId, taxCsvFormat.readResults(file), '2023-12-10');
    const first = await apply();
    expect(first).toEqual({
      batchId: batch.batchId,
      lines: lines.rows.length + 2,
      success: lines.rows.length - 1,
      personal: 1,
      systemic: 0,
      duplicates: 2,
    });
    const recorded = await db.pool.query<{ enrollment_id: string; outcome: string; status: string }>(
      `SELECT d.enrollment_id, d.outcome, e.status FROM deduction_results d JOIN enrollments e ON e.id = d.enrollment_id
       WHERE d.batch_id = $1 AND d.enrollment_id = ANY($2::bigint[]) ORDER BY d.enrollment_id DESC`,
      [batch.batchId, [paidFirst, failedFirst]],
    );
    expect(recorded.rows).toEqual([
      { enrollment_id: paidFirst, outcome: 'success', status: 'paid' },
      { enrollment_id: failedFirst, outcome: 'failure', status: 'failed' },
    ]);
    const tasks = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM follow_up_tasks WHERE enrollment_id = $1 AND closed_at IS NULL`,
      [failedFirst],
    );
    expect(tasks.rows[0]!.n).toBe(1);
    // the same file again (a resent file, a retried activity): the round as recorded, nothing written
    const before = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollment_status_history`,
    );
    expect(await apply()).toEqual(first);
    const after = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollment_status_history`,
    );
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    const rows = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM deduction_results WHERE batch_id = $1`,
      [batch.batchId],
    );
    expect(rows.rows[0]!.n).toBe(lines.rows.length);
  });
});
