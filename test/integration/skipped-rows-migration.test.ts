/**
 * Migration 0012 (issue 16): lines that are no person are counted apart, and a file's counts add up as
 * accepted + rejected + skipped = rows read. Files imported before it stay valid, with nothing skipped.
 */
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS_DIR } from '../../ledger/migrate';
import { createTestDatabase, type TestDatabase } from '../support/database';

// each file a day later than the one before: a roster older than the department's current one is refused
// outright (migration 0053), before the counts' check this test is about could speak
let day = 0;
const submission = (read: number, accepted: number, rejected: number, skipped?: number) =>
  `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, rows_read, rows_accepted, rows_rejected${skipped === undefined ? '' : ', rows_skipped'}, received_by)
   VALUES ('kaiping', 'civil-affairs', 'roster', '2023-08-${String(++day).padStart(2, '0')}', '2023-08-31', 'a.csv', repeat('a', 64), 1, 'csv', 'utf-8', ${read}, ${accepted}, ${rejected}${skipped === undefined ? '' : `, ${skipped}`}, 'op') RETURNING id`;

describe('skipped lines in the submissions ledger (migration 0012)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a file imported before the migration stays valid with 0 skipped; after it the four counts must add up', async () => {
    await runner({
      databaseUrl: db.url,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      count: 11,
      singleTransaction: true,
      log: () => undefined,
    });
    await db.pool.query(
      `INSERT INTO jurisdictions (code, name, province) VALUES ('kaiping', '开平市', '广东省')`,
    );
    const old = await db.pool.query<{ id: string }>(submission(12, 10, 2));
    // 0012 first, then whatever later migrations there are
    expect((await migrate(db.url)).applied[0]).toBe('0012_skipped_list_rows');
    const kept = await db.pool.query<{ rows_skipped: number }>(
      `SELECT rows_skipped FROM submissions WHERE id = $1`,
      [old.rows[0]!.id],
    );
    expect(kept.rows[0]!.rows_skipped).toBe(0);
    // 10 accepted + 2 rejected + 3 skipped = 15 read
    await db.pool.query(submission(15, 10, 2, 3));
    // accepted + rejected = read no longer holds when lines were skipped: refused
    await expect(db.pool.query(submission(14, 10, 2, 3))).rejects.toThrow(/submissions_rows_add_up/);
    await expect(db.pool.query(submission(13, 10, 4, -1))).rejects.toThrow(/check constraint/);
  });

  it('a skipped line keeps its row number and one of the reasons a line is no person', async () => {
    const s = await db.pool.query<{ id: string }>(submission(2, 1, 0, 1));
    const id = s.rows[0]!.id;
    await db.pool.query(
      `INSERT INTO submission_skipped_rows (submission_id, row_no, reason_code, reason) VALUES ($1, 19, 'totals-row', '合计行')`,
      [id],
    );
    await expect(
      db.pool.query(
        `INSERT INTO submission_skipped_rows (submission_id, row_no, reason_code, reason) VALUES ($1, 20, 'looks-odd', 'x')`,
        [id],
      ),
    ).rejects.toThrow(/check constraint/);
  });
});
