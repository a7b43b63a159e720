/**
 * The tax bureau's result file for a batch applied twice at the same time: a retried activity running beside
 * the first (its heartbeat lost, the first still at work). Each levy line gets one result, each enrollment
 * moves once, and both applications report the round as recorded, not what each wrote itself.
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
});
