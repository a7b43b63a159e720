/**
 * Migration 0053 (one roster in force per department) on a ledger that holds what it exists to mend: a
 * department with two current rosters, as every ledger migrated before 0053 could. The upgrade supersedes the
 * older roster with its reason and goes on to the last migration in one transaction; it once stopped there
 * with "cannot CREATE INDEX "submissions" because it has pending trigger events" (the superseded_by reference
 * is checked at commit, and its pending check blocked the new index in the same transaction).
 */
import { readdirSync } from 'node:fs';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS_DIR } from '../../ledger/migrate';
import { createTestDatabase, type TestDatabase } from '../support/database';

const roster = (period: string) =>
  `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, rows_read, rows_accepted, rows_rejected, received_by)
   VALUES ('kaiping', 'civil-affairs', 'roster', '${period}', '${period}', 'civil-affairs-${period}.csv', repeat('a', 64), 1, 'csv', 'utf-8', 0, 0, 0, 'op') RETURNING id`;

describe('upgrading a ledger with two current rosters of one department (migration 0053)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('the older roster is superseded by the newer with its reason, and every later migration applies', async () => {
    const files = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    const before = files.findIndex((f) => f.startsWith('0053_'));
    expect(before).toBeGreaterThan(0);
    await runner({
      databaseUrl: db.url,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      count: before,
      singleTransaction: true,
      log: () => undefined,
    });
    await db.pool.query(
      `INSERT INTO jurisdictions (code, name, province) VALUES ('kaiping', '开平市', '广东省')`,
    );
    const older = Number((await db.pool.query<{ id: string }>(roster('2023-08-31'))).rows[0]!.id);
    const newer = Number((await db.pool.query<{ id: string }>(roster('2023-09-30'))).rows[0]!.id);

    const applied = (await migrate(db.url)).applied;
    expect(applied[0]).toMatch(/^0053_/);
    expect(applied.at(-1)).toBe(files.at(-1)!.replace(/\.sql$/, ''));

    const rows = await db.pool.query<{
      id: string;
      status: string;
      superseded_by: string | null;
      decision_note: string | null;
    }>(`SELECT id, status, superseded_by, decision_note FROM submissions ORDER BY id`);
    expect(
      rows.rows.map((r) => [Number(r.id), r.status, r.superseded_by && Number(r.superseded_by)]),
    ).toEqual([
      [older, 'superseded', newer],
      [newer, 'current', null],
    ]);
    expect(rows.rows[0]!.decision_note).toContain('superseded by the newer roster as of 2023-09-30');
  });
});
