/**
 * The status history records a batch's moves by reference to the batch's own rows (migration 0070): a levy's
 * moves to levied are its levy lines, a results application's moves to paid or failed are its deduction
 * results, and only the moves those rows do not stand for are written as rows of their own. The database
 * decides what a batch explains, not the caller; and a person's trail through round 1 reads the same as when
 * every move was a row of its own (the trigger as it was before 0070, restored on a second ledger).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personTrail } from '../../audit/person';
import { taxCsvFormat } from '../../departments/formats';
import { applyDeductionResults, createLevyBatch, openEnrollments } from '../../ledger/campaign';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);
const down = (file: string) => {
  const migration = readFileSync(join(__dirname, '../../ledger/migrations', file), 'utf8');
  return migration.slice(migration.indexOf('-- Down Migration'));
};
/**
 * 0078's and 0070's down migrations: the history as it was, every move (each opening included) a row of its
 * own, written by the old triggers (opened_as kept as a plain column, which openEnrollments writes).
 */
const rowByRow =
  down('0078_enrollment_opening_by_reference.sql').replace(
    'DROP COLUMN opened_as, DROP COLUMN opened_by',
    'DROP COLUMN opened_by',
  ) + down('0070_status_history_by_batch_reference.sql');

describe('the status history by reference to a batch’s rows', () => {
  let db: TestDatabase;
  let before: TestDatabase;
  let auditor: Login;
  let auditorBefore: Login;
  let batchId: number;
  const dir = mkdtempSync(join(tmpdir(), 'medins-history-ref-'));

  /** Round 1 on a ledger: the levy, then the bureau's results (every tenth line a personal failure). */
  const roundOne = async (t: TestDatabase) => {
    await openEnrollments(t.pool, policy, '2023-09-01');
    const batch = await createLevyBatch(t.pool, policy, 1, '2023-10-09');
    const lines = await t.pool.query<{ enrollment_id: string; id_number: string }>(
      `SELECT l.enrollment_id, p.id_number FROM levy_lines l JOIN residents p ON p.id = l.resident_id
       WHERE l.batch_id = $1 ORDER BY p.id_number`,
      [batch.batchId],
    );
    const file = join(dir, `${t.name}-results.csv`);
    writeFileSync(
      file,
      `enrollment_id,outcome,failure_code\n${lines.rows
        .map((l, i) =>
          i % 10 === 0 ? `${l.enrollment_id},failure,insufficient-balance` : `${l.enrollment_id},success,`,
        )
        .join('\n')}\n`,
    );
    await applyDeductionResults(t.pool, policy, batch.batchId, taxCsvFormat.readResults(file), '2023-10-20');
    return batch.batchId;
  };

  beforeAll(async () => {
    [db, before] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    await before.pool.query(rowByRow);
    const population = (t: TestDatabase) =>
      generatePopulation(t.pool, policy, {
        scale: 0.005,
        seed: 23,
        defectRate: 0,
        deltaMonths: 0,
        outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
      });
    await Promise.all([population(db), population(before)]);
    [batchId] = await Promise.all([roundOne(db), roundOne(before)]);
    [auditor, auditorBefore] = await Promise.all([db.login('auditor'), before.login('auditor')]);
  }, 600_000);
  afterAll(async () => {
    await Promise.all([db?.drop(), before?.drop()]);
  });

  it('records round 1’s levy and results by reference: two change rows naming the batch, no row per enrollment', async () => {
    const changes = await db.pool.query<{
      batch_rows: string;
      moved: number;
      referenced: number;
      entries: number;
    }>(
      `SELECT c.batch_rows, c.moved, c.referenced,
              (SELECT count(*)::int FROM enrollment_status_entries h WHERE h.change_id = c.id) AS entries
       FROM enrollment_status_changes c WHERE c.batch_id = $1 ORDER BY c.id`,
      [batchId],
    );
    const lines = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM levy_lines WHERE batch_id = $1`,
      [batchId],
    );
    const n = lines.rows[0]!.n;
    expect(n).toBeGreaterThan(100);
    expect(changes.rows).toEqual([
      { batch_rows: 'levy_lines', moved: n, referenced: n, entries: 0 },
      { batch_rows: 'deduction_results', moved: n, referenced: n, entries: 0 },
    ]);
    // the history still shows every one of those moves, as the ledger without references wrote them
    const moves = async (t: TestDatabase) =>
      (
        await t.pool.query<{ from_status: string; to_status: string; n: number }>(
          `SELECT h.from_status::text, h.to_status::text, count(*)::int AS n FROM enrollment_status_history h
           JOIN enrollments e ON e.id = h.enrollment_id WHERE e.campaign_year = 2024 GROUP BY 1, 2 ORDER BY 1, 2`,
        )
      ).rows;
    expect(await moves(db)).toEqual(await moves(before));
    const rows = async (t: TestDatabase, table: string) =>
      (await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    // every enrollment created since 0078 (the population's 2023 year among them) records its opening itself
    const opened = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollments WHERE opened_by IS NOT NULL`,
    );
    expect(await rows(before, 'enrollment_status_history')).toBe(
      (await rows(db, 'enrollment_status_entries')) + 2 * n + opened.rows[0]!.n,
    );
  });

  it('records the opening of the year by reference to the enrollments: one change row, no row per enrollment', async () => {
    const opening = await db.pool.query<{
      moved: number;
      referenced: number;
      entries: number;
      opened: number;
    }>(
      `SELECT c.moved, c.referenced,
              (SELECT count(*)::int FROM enrollment_status_entries h WHERE h.change_id = c.id) AS entries,
              (SELECT count(*)::int FROM enrollments e WHERE e.opened_by = c.id) AS opened
       FROM enrollment_status_changes c
       WHERE c.id = (SELECT DISTINCT opened_by FROM enrollments WHERE campaign_year = 2024)`,
    );
    const year = await db.pool.query<{ n: number; paid: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE opened_as = 'paid')::int AS paid FROM enrollments WHERE campaign_year = 2024`,
    );
    const { n, paid } = year.rows[0]!;
    expect(n).toBeGreaterThan(100);
    expect(opening.rows).toEqual([{ moved: n, referenced: n, entries: 0, opened: n }]);
    // each first move reads as the ledger without references wrote it: none -> the status it was opened in
    const firstMoves = async (t: TestDatabase) =>
      (
        await t.pool.query<{ to_status: string; n: number }>(
          `SELECT h.to_status::text, count(*)::int AS n FROM enrollment_status_history h
           JOIN enrollments e ON e.id = h.enrollment_id WHERE e.campaign_year = 2024 AND h.from_status IS NULL
           GROUP BY 1 ORDER BY 1`,
        )
      ).rows;
    expect(await firstMoves(db)).toEqual(await firstMoves(before));
    // the fully subsidised opened as paid (never levied), the others as registered
    expect(await firstMoves(db)).toEqual(
      [
        { to_status: 'paid', n: paid },
        { to_status: 'registered', n: n - paid },
      ].filter((m) => m.n > 0),
    );
  });

  it('an enrollment’s opening is written by the ledger and never rewritten, not even by the owner', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const someone = await client.query<{ id: string; opened_by: string }>(
        `SELECT id, opened_by FROM enrollments WHERE campaign_year = 2024 ORDER BY id LIMIT 1`,
      );
      const { id, opened_by: openedBy } = someone.rows[0]!;
      await client.query('SAVEPOINT s');
      await expect(
        client.query(`UPDATE enrollments SET opened_as = 'paid' WHERE id = $1`, [id]),
      ).rejects.toThrow(/never rewritten/);
      await client.query('ROLLBACK TO SAVEPOINT s');
      await expect(
        client.query(`UPDATE enrollments SET opened_by = opened_by WHERE id = $1`, [id]),
      ).rejects.toThrow(/never rewritten/);
      await client.query('ROLLBACK TO SAVEPOINT s');
      // an insert that names another status as its opening gets its own status; one that names an earlier
      // change is refused
      const p = await client.query<{ id: string }>(
        `SELECT p.id FROM residents p WHERE p.jurisdiction = 'kaiping'
           AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = 2025)
         ORDER BY p.id LIMIT 1`,
      );
      const insert = (openedAs: string, openedBy?: string) =>
        client.query<{ opened_by: string; opened_as: string }>(
          `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, status, total_fen, personal_fen, subsidy_fen, funding_source, opened_as${openedBy ? ', opened_by' : ''})
           VALUES ('kaiping', 2025, $1, 'registered', 40000, 40000, 0, 'personal', $2${openedBy ? ', $3' : ''})
           RETURNING opened_by, opened_as::text`,
          [p.rows[0]!.id, openedAs, ...(openedBy ? [openedBy] : [])],
        );
      await expect(insert('registered', openedBy)).rejects.toThrow(
        /name an opening change other than their statement/,
      );
      await client.query('ROLLBACK TO SAVEPOINT s');
      const made = await insert('paid');
      const last = await client.query<{ id: string; moved: number; referenced: number }>(
        `SELECT id, moved, referenced FROM enrollment_status_changes ORDER BY id DESC LIMIT 1`,
      );
      expect(last.rows[0]).toMatchObject({ moved: 1, referenced: 1 });
      expect(made.rows[0]).toEqual({ opened_by: last.rows[0]!.id, opened_as: 'registered' });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('a person’s trail through round 1 reads the same, to the auditor, as when every move was a row of its own', async () => {
    const people = await db.pool.query<{ id_number: string; status: string }>(
      `SELECT DISTINCT ON (e.status) p.id_number, e.status::text FROM enrollments e JOIN residents p ON p.id = e.resident_id
       WHERE e.campaign_year = 2024 AND e.status IN ('paid', 'failed')
         AND EXISTS (SELECT 1 FROM levy_lines l WHERE l.enrollment_id = e.id)
       ORDER BY e.status, p.id_number`,
    );
    expect(people.rows.map((p) => p.status).sort()).toEqual(['failed', 'paid']);
    for (const { id_number: idNumber } of people.rows) {
      const ask = { idNumber, jurisdiction: 'kaiping', year: 2024 };
      const [now, then] = await Promise.all([
        personTrail(auditor.pool, ask),
        personTrail(auditorBefore.pool, ask),
      ]);
      expect(now.entries).toEqual(then.entries);
      expect(now.person).toEqual(then.person);
      const changes = now.entries.filter((e) => e.kind === '状态变更').map((e) => e.what.split('；')[0]);
      expect(changes).toEqual([
        '参保状态：（新建） → 已登记参保',
        '参保状态：已登记参保 → 已发送应征数据',
        `参保状态：已发送应征数据 → ${now.entries.some((e) => e.kind === '扣费成功') ? '已缴费（参保）' : '扣费失败'}`,
      ]);
      // the status changes check out (the levy and result files were never exchanged here: those entries'
      // exchange-log checks fail alike on both ledgers)
      expect(
        now.entries.filter((e) => e.kind === '状态变更').flatMap((e) => e.checks.filter((c) => !c.ok)),
      ).toEqual([]);
      expect(now.mismatches).toBe(then.mismatches);
      // the same moves with the same change rows: when, cause, maker (only the clock of each ledger differs,
      // and the change ids: an opening's is taken before its statement's first row, so a statement that
      // opened nobody, such as a population step's, leaves a gap in the numbering)
      const history = async (pool: Login['pool']) =>
        (
          await pool.query<{ h: { statusHistory: Record<string, unknown>[] } }>(
            `SELECT audit.person_history($1, 'kaiping', 2024) AS h`,
            [idNumber],
          )
        ).rows[0]!.h.statusHistory.map(({ changedAt, changeId, ...rest }) => ({
          ...rest,
          changedAt: typeof changedAt,
          changeId: typeof changeId,
        }));
      expect(await history(auditor.pool)).toEqual(await history(auditorBefore.pool));
    }
    // each move by reference carries the time of the statement that made it: the levy's, the results'
    const times = await db.pool.query<{ same: boolean }>(
      `SELECT bool_and(c.changed_at = b.created_at) FILTER (WHERE c.batch_rows = 'levy_lines')
              AND bool_and(c.changed_at = d.recorded_at) FILTER (WHERE c.batch_rows = 'deduction_results') AS same
       FROM enrollment_status_history h JOIN enrollment_status_changes c ON c.id = h.change_id
       JOIN levy_batches b ON b.id = $1
       LEFT JOIN deduction_results d ON d.batch_id = $1 AND d.enrollment_id = h.enrollment_id
       WHERE c.batch_id = $1`,
      [batchId],
    );
    expect(times.rows[0]!.same).toBe(true);
  });

  it('a statement naming a batch still writes a row for every move the batch does not explain, and the batch’s unmoved rows show no move', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const failed = (
        await client.query<{ id: string }>(
          `SELECT id FROM enrollments WHERE campaign_year = 2024 AND status = 'failed' ORDER BY id LIMIT 5`,
        )
      ).rows.map((r) => r.id);
      expect(failed).toHaveLength(5);
      const [inBatch, notInBatch, wrongMove, notMoved, later] = failed as [
        string,
        string,
        string,
        string,
        string,
      ];
      const batch = await client.query<{ id: string }>(
        `INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind) VALUES ('kaiping', 2024, 2, 're-deduction') RETURNING id`,
      );
      const round2 = batch.rows[0]!.id;
      await client.query(
        `INSERT INTO levy_lines (batch_id, enrollment_id, amount_fen) SELECT $1, unnest($2::bigint[]), 38000`,
        [round2, [inBatch, wrongMove, notMoved]],
      );
      // one statement, naming the batch: a move its line stands for, a move of an enrollment not in the batch,
      // and a move of an enrollment in the batch that its line does not stand for (failed -> abandoned)
      await client.query(`SELECT set_config('medins.batch', $1, true)`, [`levy_lines:${round2}`]);
      await client.query(
        `UPDATE enrollments SET status = CASE WHEN id = $3 THEN 'abandoned'::enrollment_status ELSE 'levied'::enrollment_status END,
                                failure_class = NULL
         WHERE id IN ($1, $2, $3)`,
        [inBatch, notInBatch, wrongMove],
      );
      const change = await client.query<{ id: string; moved: number; referenced: number; batch_id: string }>(
        `SELECT id, moved, referenced, batch_id FROM enrollment_status_changes ORDER BY id DESC LIMIT 1`,
      );
      expect(change.rows[0]).toMatchObject({ moved: 3, referenced: 1, batch_id: round2 });
      const changeId = change.rows[0]!.id;
      const own = await client.query<{ enrollment_id: string; from_status: string; to_status: string }>(
        `SELECT enrollment_id, from_status::text, to_status::text FROM enrollment_status_entries WHERE change_id = $1 ORDER BY enrollment_id`,
        [changeId],
      );
      expect(own.rows).toEqual(
        [
          { enrollment_id: notInBatch, from_status: 'failed', to_status: 'levied' },
          { enrollment_id: wrongMove, from_status: 'failed', to_status: 'abandoned' },
        ].sort((a, b) => Number(a.enrollment_id) - Number(b.enrollment_id)),
      );
      const history = await client.query<{ enrollment_id: string; from_status: string; to_status: string }>(
        `SELECT enrollment_id, from_status::text, to_status::text FROM enrollment_status_history WHERE change_id = $1 ORDER BY enrollment_id`,
        [changeId],
      );
      expect(history.rows).toEqual(
        [
          { enrollment_id: inBatch, from_status: 'failed', to_status: 'levied' },
          { enrollment_id: notInBatch, from_status: 'failed', to_status: 'levied' },
          { enrollment_id: wrongMove, from_status: 'failed', to_status: 'abandoned' },
        ].sort((a, b) => Number(a.enrollment_id) - Number(b.enrollment_id)),
      );
      // a line added to the referenced batch afterwards would show a move nobody made: refused
      await client.query('SAVEPOINT late');
      await expect(
        client.query(`INSERT INTO levy_lines (batch_id, enrollment_id, amount_fen) VALUES ($1, $2, 38000)`, [
          round2,
          later,
        ]),
      ).rejects.toThrow(/status history references/);
      await client.query('ROLLBACK TO SAVEPOINT late');

      // the batch's line of an enrollment the statement did not move, and the line whose move it did not make
      const unmoved = await client.query<{ enrollment_id: string }>(
        `SELECT enrollment_id FROM enrollment_status_unmoved WHERE change_id = $1 ORDER BY enrollment_id`,
        [changeId],
      );
      expect(unmoved.rows.map((r) => r.enrollment_id)).toEqual(
        [wrongMove, notMoved].sort((a, b) => Number(a) - Number(b)),
      );

      // a move no result stands for, no batch named, a line of a batch another transaction made (round 1's),
      // a line of a batch this transaction referenced already: each a row of its own
      const paid = (
        await client.query<{ id: string }>(
          `SELECT e.id FROM enrollments e JOIN deduction_results d ON d.enrollment_id = e.id AND d.batch_id = $1 AND d.outcome = 'success'
           WHERE e.status = 'paid' ORDER BY e.id LIMIT 1`,
          [batchId],
        )
      ).rows[0]!.id;
      for (const [named, id, to] of [
        [`deduction_results:${batchId}`, paid, 'stopped'],
        ['', paid, 'registered'],
        [`levy_lines:${batchId}`, paid, 'levied'],
        [`levy_lines:${round2}`, notMoved, 'levied'],
      ] as const) {
        await client.query(`SELECT set_config('medins.batch', $1, true)`, [named]);
        await client.query(`UPDATE enrollments SET status = $2, failure_class = NULL WHERE id = $1`, [
          id,
          to,
        ]);
        const last = await client.query<{ batch_id: string | null; to_status: string | null }>(
          `SELECT c.batch_id, (SELECT h.to_status::text FROM enrollment_status_entries h WHERE h.change_id = c.id AND h.enrollment_id = $1) AS to_status
           FROM enrollment_status_changes c ORDER BY c.id DESC LIMIT 1`,
          [id],
        );
        expect(last.rows[0], named).toEqual({ batch_id: null, to_status: to });
      }
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('the auditor reads the history and cannot write it, nor the batch rows it references', async () => {
    await expect(
      auditor.pool.query('SELECT * FROM enrollment_status_history LIMIT 1'),
    ).resolves.toBeDefined();
    await expect(
      auditor.pool.query('SELECT * FROM enrollment_status_unmoved LIMIT 1'),
    ).resolves.toBeDefined();
    for (const sql of [
      'UPDATE enrollment_status_history SET to_status = to_status',
      'DELETE FROM enrollment_status_unmoved',
      'UPDATE deduction_results SET outcome = outcome',
      'DELETE FROM levy_lines',
    ])
      await expect(auditor.pool.query(sql), sql).rejects.toThrow(/permission denied/);
  });
});
