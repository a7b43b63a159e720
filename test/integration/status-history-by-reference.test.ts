/**
 * The status history records a batch's moves by reference to the batch's own rows (migration 0070): a levy's
 * moves to levied are its levy lines (since 0075 the levy writes nothing else: its lines are the moves), a
 * results application's moves to paid or failed are its deduction results, and only the moves those rows do
 * not stand for are written as rows of their own. The database decides what a batch explains, not the
 * caller; and a person's trail through round 1 reads the same as when every move was a row of its own and the
 * levy wrote `levied` on every enrollment (the triggers as they were before 0070, restored on a second ledger
 * whose levy also moves its enrollments to levied, as the levy did before 0075).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personTrail } from '../../audit/person';
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
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);
const down = (file: string) => {
  const migration = readFileSync(join(__dirname, '../../ledger/migrations', file), 'utf8');
  return migration.slice(migration.indexOf('-- Down Migration'));
};
/**
 * 0078's, 0075's and 0070's down migrations: the history as it was, every move (each opening included) a row
 * of its own, written by the old triggers (opened_as kept as a plain column, which openEnrollments writes), and
 * the status machine without registered -> failed.
 */
const rowByRow =
  down('0078_enrollment_opening_by_reference.sql').replace(
    'DROP COLUMN opened_as, DROP COLUMN opened_by',
    'DROP COLUMN opened_by',
  ) +
  down('0075_levied_derived_from_levy_lines.sql') +
  down('0070_status_history_by_batch_reference.sql');

describe('the status history by reference to a batch’s rows', () => {
  let db: TestDatabase;
  let before: TestDatabase;
  let auditor: Login;
  let auditorBefore: Login;
  let batchId: number;
  const dir = mkdtempSync(join(tmpdir(), 'medins-history-ref-'));

  /**
   * Round 1 on a ledger: the levy, then the bureau's results (every tenth line a personal failure). With
   * `writeLevied`, the levy's enrollments are then moved to levied, as the levy did before 0075.
   */
  const roundOne = async (t: TestDatabase, writeLevied = false) => {
    await openEnrollments(t.pool, policy, '2023-09-01');
    const batch = await createLevyBatch(t.pool, policy, 1, '2023-10-09');
    if (writeLevied)
      await t.pool.query(
        `UPDATE enrollments e SET status = 'levied', failure_class = NULL FROM levy_lines l WHERE l.batch_id = $1 AND l.enrollment_id = e.id`,
        [batch.batchId],
      );
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
    [batchId] = await Promise.all([roundOne(db), roundOne(before, true)]);
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

  it('a levy’s lines are its moves, a statement naming a batch still writes a row for every move the batch does not explain, and the batch’s unmoved rows show no move', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const failed = (
        await client.query<{ id: string }>(
          `SELECT id FROM enrollments WHERE campaign_year = 2024 AND status = 'failed' ORDER BY id LIMIT 5`,
        )
      ).rows.map((r) => r.id);
      expect(failed).toHaveLength(5);
      const [inBatch, notInBatch, stopped, notMoved, later] = failed as [
        string,
        string,
        string,
        string,
        string,
      ];
      const byId = (a: { enrollment_id: string }, b: { enrollment_id: string }) =>
        Number(a.enrollment_id) - Number(b.enrollment_id);
      const batch = await client.query<{ id: string }>(
        `INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind) VALUES ('kaiping', 2024, 2, 're-deduction') RETURNING id`,
      );
      const round2 = batch.rows[0]!.id;
      // the levy: its lines only, and no enrollment's status written; its one change row records them all
      await client.query(
        `INSERT INTO levy_lines (batch_id, enrollment_id, amount_fen) SELECT $1, unnest($2::bigint[]), 38000`,
        [round2, [inBatch, stopped, notMoved]],
      );
      const statuses = await client.query<{ status: string }>(
        `SELECT DISTINCT status::text FROM enrollments WHERE id = ANY ($1::bigint[])`,
        [[inBatch, stopped, notMoved]],
      );
      expect(statuses.rows).toEqual([{ status: 'failed' }]);
      const levy = await client.query<{ id: string; moved: number; referenced: number; batch_rows: string }>(
        `SELECT id, moved, referenced, batch_rows FROM enrollment_status_changes ORDER BY id DESC LIMIT 1`,
      );
      expect(levy.rows[0]).toMatchObject({ moved: 3, referenced: 3, batch_rows: 'levy_lines' });
      const movesOf = async (changeId: string) =>
        (
          await client.query<{ enrollment_id: string; from_status: string; to_status: string }>(
            `SELECT enrollment_id, from_status::text, to_status::text FROM enrollment_status_history WHERE change_id = $1 ORDER BY enrollment_id`,
            [changeId],
          )
        ).rows;
      expect(await movesOf(levy.rows[0]!.id)).toEqual(
        [inBatch, stopped, notMoved]
          .map((id) => ({ enrollment_id: id, from_status: 'failed', to_status: 'levied' }))
          .sort(byId),
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

      // a levied enrollment stopped while awaiting its result moves out of levied
      await client.query(`UPDATE enrollments SET status = 'stopped', failure_class = NULL WHERE id = $1`, [
        stopped,
      ]);
      const stop = await client.query<{ id: string }>(
        `SELECT id FROM enrollment_status_changes ORDER BY id DESC LIMIT 1`,
      );
      expect(await movesOf(stop.rows[0]!.id)).toEqual([
        { enrollment_id: stopped, from_status: 'levied', to_status: 'stopped' },
      ]);

      // the results: one statement naming the batch, with a move its result stands for (a re-deduction failing
      // again: failed -> failed on the row, levied -> failed in the history) and a move of an enrollment not in
      // the batch; the stopped one's result and one result whose enrollment it does not move stay unmoved
      await client.query(
        `INSERT INTO deduction_results (batch_id, enrollment_id, outcome, failure_code, failure_class)
         VALUES ($1, $2, 'failure', 'insufficient-balance', 'personal'), ($1, $3, 'success', NULL, NULL), ($1, $4, 'success', NULL, NULL)`,
        [round2, inBatch, stopped, notMoved],
      );
      await client.query(`SELECT set_config('medins.batch', $1, true)`, [`deduction_results:${round2}`]);
      await client.query(
        `UPDATE enrollments SET status = CASE WHEN id = $2 THEN 'abandoned'::enrollment_status ELSE 'failed'::enrollment_status END,
                                failure_class = CASE WHEN id = $2 THEN NULL ELSE 'personal' END, status_changed_at = now()
         WHERE id IN ($1, $2)`,
        [inBatch, notInBatch],
      );
      const change = await client.query<{ id: string; moved: number; referenced: number; batch_id: string }>(
        `SELECT id, moved, referenced, batch_id FROM enrollment_status_changes ORDER BY id DESC LIMIT 1`,
      );
      expect(change.rows[0]).toMatchObject({ moved: 2, referenced: 1, batch_id: round2 });
      const changeId = change.rows[0]!.id;
      const own = await client.query<{ enrollment_id: string; from_status: string; to_status: string }>(
        `SELECT enrollment_id, from_status::text, to_status::text FROM enrollment_status_entries WHERE change_id = $1 ORDER BY enrollment_id`,
        [changeId],
      );
      expect(own.rows).toEqual([
        { enrollment_id: notInBatch, from_status: 'failed', to_status: 'abandoned' },
      ]);
      expect(await movesOf(changeId)).toEqual(
        [
          { enrollment_id: inBatch, from_status: 'levied', to_status: 'failed' },
          { enrollment_id: notInBatch, from_status: 'failed', to_status: 'abandoned' },
        ].sort(byId),
      );
      const unmoved = await client.query<{ enrollment_id: string }>(
        `SELECT enrollment_id FROM enrollment_status_unmoved WHERE change_id = $1 ORDER BY enrollment_id`,
        [changeId],
      );
      expect(unmoved.rows.map((r) => r.enrollment_id)).toEqual(
        [stopped, notMoved].sort((a, b) => Number(a) - Number(b)),
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

describe('round 1’s levy writes its lines only: levied is what a line without a result says (migration 0075, issue #23)', () => {
  let db: TestDatabase;
  let auditor: Login;
  afterAll(async () => {
    await db?.drop();
  });

  it('no enrollment row is written by the levy, yet the history, the auditor’s trail and the next round read every lined enrollment as levied until its result', async () => {
    db = await createTestDatabase();
    await generatePopulation(db.pool, policy, {
      scale: 0.002,
      seed: 5,
      defectRate: 0,
      deltaMonths: 0,
      outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
    });
    await openEnrollments(db.pool, policy, '2023-09-01');
    // each enrollment's row version and stamp before the levy: a row the levy updated gets a new xmin
    const rowsBefore = await db.pool.query<{ id: string; xmin: string; stamp: string }>(
      `SELECT id, xmin::text, status_changed_at::text AS stamp FROM enrollments WHERE campaign_year = 2024 ORDER BY id`,
    );
    const entriesBefore = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollment_status_entries`,
    );
    const batch = await createLevyBatch(db.pool, policy, 1, '2023-09-01');
    expect(batch.lines).toBeGreaterThan(50);
    const rowsAfter = await db.pool.query<{ id: string; xmin: string; stamp: string }>(
      `SELECT id, xmin::text, status_changed_at::text AS stamp FROM enrollments WHERE campaign_year = 2024 ORDER BY id`,
    );
    // the refresh may re-decide a share (none on the registration day itself); the levy rewrites no row
    expect(rowsAfter.rows).toEqual(rowsBefore.rows);
    const statuses = await db.pool.query<{ status: string; n: number }>(
      `SELECT e.status::text, count(*)::int AS n FROM levy_lines l JOIN enrollments e ON e.id = l.enrollment_id
       WHERE l.batch_id = $1 GROUP BY 1`,
      [batch.batchId],
    );
    expect(statuses.rows).toEqual([{ status: 'registered', n: batch.lines }]);
    // no per-enrollment history row: one change row, by reference to the lines, at the batch's time
    const entriesAfter = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollment_status_entries`,
    );
    expect(entriesAfter.rows[0]!.n).toBe(entriesBefore.rows[0]!.n);
    const levy = await db.pool.query<{ moved: number; referenced: number; at_batch: boolean }>(
      `SELECT c.moved, c.referenced, c.changed_at = b.created_at AS at_batch
       FROM enrollment_status_changes c JOIN levy_batches b ON b.id = c.batch_id WHERE c.batch_id = $1 AND c.batch_rows = 'levy_lines'`,
      [batch.batchId],
    );
    expect(levy.rows).toEqual([{ moved: batch.lines, referenced: batch.lines, at_batch: true }]);
    // in the documents' words every lined enrollment is levied, and the history shows registered -> levied
    const shown = await db.pool.query<{ status: string; n: number }>(
      `SELECT enrollment_status_shown(e.id, e.status, e.status_changed_at)::text AS status, count(*)::int AS n
       FROM enrollments e WHERE e.campaign_year = 2024 AND EXISTS (SELECT 1 FROM levy_lines l WHERE l.enrollment_id = e.id) GROUP BY 1`,
    );
    expect(shown.rows).toEqual([{ status: 'levied', n: batch.lines }]);
    const moves = await db.pool.query<{ from_status: string; to_status: string; n: number }>(
      `SELECT h.from_status::text, h.to_status::text, count(*)::int AS n FROM enrollment_status_history h
       JOIN enrollment_status_changes c ON c.id = h.change_id WHERE c.batch_id = $1 GROUP BY 1, 2`,
      [batch.batchId],
    );
    expect(moves.rows).toEqual([{ from_status: 'registered', to_status: 'levied', n: batch.lines }]);

    // the auditor's trail of a levied person: the levy with its round, and a status trail ending at levied
    // that checks out against the ledger
    auditor = await db.login('auditor');
    const people = await db.pool.query<{ id_number: string }>(
      `SELECT p.id_number FROM levy_lines l JOIN residents p ON p.id = l.resident_id WHERE l.batch_id = $1 ORDER BY l.enrollment_id LIMIT 2`,
      [batch.batchId],
    );
    const [waiting, leaving] = people.rows.map((p) => p.id_number) as [string, string];
    const trail = await personTrail(auditor.pool, { idNumber: waiting, jurisdiction: 'kaiping', year: 2024 });
    const changes = trail.entries.filter((e) => e.kind === '状态变更');
    expect(changes.map((e) => e.what.split('；')[0])).toEqual([
      '参保状态：（新建） → 已登记参保',
      '参保状态：已登记参保 → 已发送应征数据',
    ]);
    expect(changes.flatMap((e) => e.checks.filter((c) => !c.ok))).toEqual([]);
    expect(trail.entries.filter((e) => e.kind === '应征数据').map((e) => e.what.split('：')[0])).toEqual([
      '第 1 轮批量扣费',
    ]);
    expect(trail.entries.find((e) => e.kind === '参保')?.what).toMatch(/^2024 年度参保：已发送应征数据；/);

    // a household stop while levied moves out of levied
    const { applyHouseholdForm } = await import('../../ledger/household-forms');
    const stop = await applyHouseholdForm(db.pool, policy, {
      kind: 'stop',
      idNumber: leaving,
      reason: '外出务工',
      date: '2023-10-10',
    });
    expect(stop.accepted).toBe(true);
    const stopTrail = await personTrail(auditor.pool, {
      idNumber: leaving,
      jurisdiction: 'kaiping',
      year: 2024,
    });
    const stopChanges = stopTrail.entries.filter((e) => e.kind === '状态变更');
    expect(stopChanges.map((e) => e.what.split('；')[0]).slice(1)).toEqual([
      '参保状态：已登记参保 → 已发送应征数据',
      '参保状态：已发送应征数据 → 停保',
    ]);
    expect(stopChanges.flatMap((e) => e.checks.filter((c) => !c.ok))).toEqual([]);

    // round 1's results: every line fails for a personal reason (the stopped one's result moves nothing)
    const lines = await db.pool.query<{ enrollment_id: string }>(
      `SELECT enrollment_id FROM levy_lines WHERE batch_id = $1`,
      [batch.batchId],
    );
    const file = join(mkdtempSync(join(tmpdir(), 'medins-results-')), 'results.csv');
    writeFileSync(
      file,
      `enrollment_id,outcome,failure_code\n${lines.rows.map((l) => `${l.enrollment_id},failure,insufficient-balance`).join('\n')}\n`,
    );
    const applied = await applyDeductionResults(
      db.pool,
      policy,
      batch.batchId,
      taxCsvFormat.readResults(file),
      '2023-09-20',
    );
    expect(applied.personal).toBe(batch.lines);
    const failed = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollments WHERE campaign_year = 2024 AND status = 'failed'`,
    );
    expect(failed.rows[0]!.n).toBe(batch.lines - 1);
    // round 2 re-levies the failed: they stay failed, and levied in the documents' words until their results
    const round2 = await createLevyBatch(db.pool, policy, 2, '2023-10-09');
    expect(round2.lines).toBe(batch.lines - 1);
    // awaiting those results, none is levied again by the next round (a crash between a levy and its results),
    // nor abandoned at the cut-off, nor counted failed by the cut-off or a coverage snapshot
    const round3 = await createLevyBatch(db.pool, policy, 3, '2023-11-09');
    expect(round3.lines).toBe(0);
    expect(await cutOff(db.pool, policy)).toEqual({ abandoned: 0, stillFailed: 0 });
    await snapshotCoverage(db.pool, policy, 'awaiting', new Date(), new Map());
    const snapshot = await db.pool.query<{ failed: number }>(
      `SELECT coalesce(sum(failed), 0)::int AS failed FROM coverage_snapshots WHERE snapshot_key = 'awaiting'`,
    );
    expect(snapshot.rows[0]!.failed).toBe(0);
    const retrail = await personTrail(auditor.pool, {
      idNumber: waiting,
      jurisdiction: 'kaiping',
      year: 2024,
    });
    const rechanges = retrail.entries.filter((e) => e.kind === '状态变更');
    expect(rechanges.map((e) => e.what.split('；')[0])).toEqual([
      '参保状态：（新建） → 已登记参保',
      '参保状态：已登记参保 → 已发送应征数据',
      '参保状态：已发送应征数据 → 扣费失败',
      '参保状态：扣费失败 → 已发送应征数据',
    ]);
    expect(rechanges.flatMap((e) => e.checks.filter((c) => !c.ok))).toEqual([]);
    expect(retrail.entries.filter((e) => e.kind === '应征数据').map((e) => e.what.split('：')[0])).toEqual([
      '第 1 轮批量扣费',
      '第 2 轮批量扣费',
    ]);
  });
});
