import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';
import { sessionIdentity } from '../../infra/roles';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { fullNumbersVisible } from '../support/full-numbers';

const digest = (c: string) => c.repeat(64);

describe('who may read and write what, enforced by PostgreSQL for each login', () => {
  let db: TestDatabase;
  let auditor: Login;
  let operator: Login;
  let civil: Login;
  let health: Login;
  const idNumber = makeIdNumber('440783', '1960-01-01', 1);
  const otherId = makeIdNumber('440783', '1971-03-05', 7);
  beforeAll(async () => {
    db = await createTestDatabase();
    [auditor, operator, civil, health] = await Promise.all([
      db.login('auditor'),
      db.login('operator'),
      db.login('department:civil-affairs'),
      db.login('department:health'),
    ]);
    const q = (sql: string, values: unknown[] = []) => db.pool.query<Record<string, string>>(sql, values);
    await q(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
    await q(`INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '赤坎镇')`);
    await q(
      `INSERT INTO households (jurisdiction, household_no, town_id, head_id_number, bank_account) VALUES ('kaiping', 'h1', 1, $1, '6217000011112222333')`,
      [idNumber],
    );
    await q(
      `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id, household_id) VALUES ('kaiping', $1, '关伟', 'M', '1960-01-01', 1, 1)`,
      [idNumber],
    );
    for (const [department, c] of [
      ['civil-affairs', 'a'],
      ['health', 'b'],
    ] as const) {
      const s = await q(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, rows_read, rows_accepted, rows_rejected, received_by)
         VALUES ('kaiping', $1, 'roster', '2023-08-31', '2023-08-31', $2, $3, 10, 'csv', 'utf-8', 2, 1, 1, 'op') RETURNING id`,
        [department, `${department}.csv`, digest(c)],
      );
      await q(
        `INSERT INTO submission_rows (submission_id, row_no, id_number, name, category, action, accepted, reason_code, field, reason)
         VALUES ($1, 1, $2, '关伟', '2301', 'listed', true, NULL, NULL, NULL),
                ($1, 2, $3, '李四', '2301', 'listed', false, 'not-registered-resident', 'id_number', 'not in the register')`,
        [s.rows[0]!.id, idNumber, otherId],
      );
      await q(
        `INSERT INTO exchange_log (jurisdiction, direction, department, kind, period, file_name, row_count, byte_size, sha256)
         VALUES ('kaiping', 'in', $1, 'roster', '2023-08-31', $2, 2, 10, $3)`,
        [department, `${department}.csv`, digest(c)],
      );
    }
    await q(
      `INSERT INTO reconciliation_exceptions (jurisdiction, month, kind, id_number, detail) VALUES ('kaiping', '2023-09', 'added-by-two-departments', $1, '{}')`,
      [otherId],
    );
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('each login is known by its role, from the session: operator, auditor, or its own department', async () => {
    expect(await sessionIdentity(operator.pool)).toEqual({ user: operator.user, role: 'operator' });
    expect(await sessionIdentity(auditor.pool)).toEqual({ user: auditor.user, role: 'auditor' });
    expect(await sessionIdentity(civil.pool)).toEqual({
      user: civil.user,
      role: 'department',
      department: 'civil-affairs',
    });
    await expect(sessionIdentity(db.pool)).rejects.toThrow(
      /a superuser: the command line runs under a person's own login/,
    );
  });

  it('an auditor sees the resident with the ID number and bank account masked', async () => {
    const r = await auditor.pool.query(
      `SELECT p.id_number, h.bank_account FROM audit.residents p JOIN audit.households h ON h.id = p.household_id`,
    );
    expect(r.rows).toEqual([{ id_number: '440783********0015', bank_account: '***************2333' }]);
  });

  it('an auditor cannot read the full numbers, nor change the ledger', async () => {
    for (const sql of [
      `SELECT id_number FROM residents`,
      `SELECT bank_account FROM households`,
      `SELECT id_number FROM submission_rows`,
      `SELECT id_number FROM reconciliation_exceptions`,
      `UPDATE enrollments SET status = 'paid'`,
      `INSERT INTO campaign_events (jurisdiction, campaign_year, event_key, kind, campaign_at) VALUES ('kaiping', 2024, 'x', 'x', now())`,
    ])
      await expect(auditor.pool.query(sql), sql).rejects.toThrow(/permission denied/);
    const exceptions = await auditor.pool.query(`SELECT id_number FROM audit.reconciliation_exceptions`);
    expect(exceptions.rows).toEqual([{ id_number: otherId.slice(0, 6) + '********' + otherId.slice(14) }]);
  });

  it('an operator cannot rewrite what happened to a person: the status history, its change rows, levy lines and deduction results', async () => {
    for (const sql of [
      `UPDATE enrollment_status_entries SET to_status = 'paid'`,
      `DELETE FROM enrollment_status_entries`,
      `INSERT INTO enrollment_status_changes (cause, moved) VALUES ('made up', 1)`,
      `UPDATE enrollment_status_changes SET cause = 'rewritten'`,
      `DELETE FROM enrollment_status_changes`,
      `UPDATE enrollment_status_history SET to_status = 'paid'`,
      `UPDATE levy_lines SET amount_fen = 0`,
      `DELETE FROM levy_lines`,
      `UPDATE deduction_results SET outcome = 'success'`,
      `DELETE FROM deduction_results`,
      `TRUNCATE deduction_results`,
    ])
      await expect(operator.pool.query(sql), sql).rejects.toThrow(/permission denied/);
    // what operators do with them stays: read the history, write a batch's lines and results
    for (const table of [
      'enrollment_status_history',
      'enrollment_status_changes',
      'levy_lines',
      'deduction_results',
    ])
      await expect(operator.pool.query(`SELECT count(*) FROM ${table}`)).resolves.toBeTruthy();
    const can = await operator.pool.query<{ lines: boolean; results: boolean }>(
      `SELECT has_table_privilege('levy_lines', 'INSERT') AS lines, has_table_privilege('deduction_results', 'INSERT') AS results`,
    );
    expect(can.rows[0]).toEqual({ lines: true, results: true });
  });

  it('an auditor reads no full ID or bank account in any table or view it can select, while an operator does', async () => {
    const seen = await fullNumbersVisible(auditor.pool);
    expect(seen.selectable).toEqual(
      expect.arrayContaining([
        'audit.residents',
        'audit.submission_rows',
        'public.exchange_log',
        'public.submissions',
      ]),
    );
    expect(seen.exposed).toEqual([]);
    // the scan finds what is there: the operator's view of the same ledger shows the full numbers
    const operatorSees = (await fullNumbersVisible(operator.pool)).exposed.map((e) => e.relation);
    expect(operatorSees).toEqual(
      expect.arrayContaining([
        'public.residents',
        'public.households',
        'public.submission_rows',
        'public.reconciliation_exceptions',
      ]),
    );
  });

  it('a held roster’s people come masked from a function operators and auditors may call, and departments may not', async () => {
    // mark civil affairs' roster held: its open identities not listed again would close
    await db.pool.query(`UPDATE submissions SET status = 'held' WHERE department = 'civil-affairs'`);
    const held = (await db.pool.query<{ id: string }>(`SELECT id FROM submissions WHERE status = 'held'`))
      .rows[0]!.id;
    await db.pool.query(
      `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission)
       VALUES ('kaiping', 1, '2305', 'civil-affairs', '2023-01-01', $1)`,
      [held],
    );
    try {
      for (const reader of [auditor, operator]) {
        const r = await reader.pool.query(`SELECT * FROM audit.held_roster_would_close($1, 10)`, [held]);
        expect(r.rows).toEqual([
          { id_number: '440783********0015', name: '关伟', category: '2305', opened_on: '2023-01-01' },
        ]);
      }
      await expect(
        civil.pool.query(`SELECT * FROM audit.held_roster_would_close($1, 10)`, [held]),
      ).rejects.toThrow(/permission denied/);
    } finally {
      await db.pool.query(`DELETE FROM identities`);
      await db.pool.query(`UPDATE submissions SET status = 'current' WHERE department = 'civil-affairs'`);
    }
  });

  it('the exchange log and every submission are readable to auditors', async () => {
    expect((await auditor.pool.query(`SELECT department FROM exchange_log ORDER BY seq`)).rows).toEqual([
      { department: 'civil-affairs' },
      { department: 'health' },
    ]);
    expect(
      (await auditor.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM submissions`)).rows[0]!.n,
    ).toBe(2);
  });

  it('a department sees only its own submissions, rows and exchange-log entries', async () => {
    expect((await civil.pool.query(`SELECT department FROM submissions`)).rows).toEqual([
      { department: 'civil-affairs' },
    ]);
    const rows = await civil.pool.query(
      `SELECT s.department, count(*)::int AS n FROM submission_rows r JOIN submissions s ON s.id = r.submission_id GROUP BY 1`,
    );
    expect(rows.rows).toEqual([{ department: 'civil-affairs', n: 2 }]);
    expect(
      (await civil.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM submission_rows`)).rows[0]!.n,
    ).toBe(2);
    expect((await health.pool.query(`SELECT department FROM exchange_log`)).rows).toEqual([
      { department: 'health' },
    ]);
  });

  it("a department cannot read the residents, nor anyone's full numbers outside its own lists", async () => {
    for (const sql of [
      `SELECT count(*) FROM residents`,
      `SELECT count(*) FROM households`,
      `SELECT count(*) FROM audit.residents`,
      `SELECT count(*) FROM reconciliation_exceptions`,
      `SELECT count(*) FROM uploaded_files`,
    ])
      await expect(civil.pool.query(sql), sql).rejects.toThrow(/permission denied/);
  });

  it('a department sees and changes only the identities of its own categories, its own skipped lines and refused files', async () => {
    const submissionOf = async (department: string) =>
      (await db.pool.query<{ id: string }>(`SELECT id FROM submissions WHERE department = $1`, [department]))
        .rows[0]!.id;
    const [civilSubmission, healthSubmission] = [
      await submissionOf('civil-affairs'),
      await submissionOf('health'),
    ];
    await db.pool.query(
      `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission)
       VALUES ('kaiping', 1, '2305', 'civil-affairs', '2023-01-01', $1), ('kaiping', 1, '2304', 'health', '2023-01-01', $2)`,
      [civilSubmission, healthSubmission],
    );
    for (const [id, department] of [
      [civilSubmission, 'civil-affairs'],
      [healthSubmission, 'health'],
    ] as const) {
      await db.pool.query(
        `INSERT INTO submission_skipped_rows (submission_id, row_no, reason_code, reason) VALUES ($1, 9, 'totals-row', '合计')`,
        [id],
      );
      await db.pool.query(
        `INSERT INTO refused_files (jurisdiction, department, kind, period, file_name, sha256, byte_size, failure_type, reason, received_by)
         VALUES ('kaiping', $1, 'roster', '2023-08-31', 'bad.xlsx', $2, 1, 'ListFileError', 'unreadable', 'op')`,
        [department, digest('e')],
      );
    }
    try {
      expect((await civil.pool.query(`SELECT department, category FROM identities`)).rows).toEqual([
        { department: 'civil-affairs', category: '2305' },
      ]);
      // another department's identity is out of sight: nothing to close, nothing deleted
      const closed = await civil.pool.query(
        `UPDATE identities SET valid_to = '2023-12-31' WHERE category = '2304'`,
      );
      expect(closed.rowCount).toBe(0);
      // and no identity is ever deleted by a login, its own neither (closed with an end date: migration 0053)
      await expect(civil.pool.query(`DELETE FROM identities WHERE department = 'health'`)).rejects.toThrow(
        /permission denied/,
      );
      await expect(
        civil.pool.query(
          `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from) VALUES ('kaiping', 1, '2399', 'health', '2023-01-01')`,
        ),
      ).rejects.toThrow(/row-level security/);
      expect(
        (await civil.pool.query(`SELECT submission_id::text FROM submission_skipped_rows`)).rows,
      ).toEqual([{ submission_id: civilSubmission }]);
      expect((await civil.pool.query(`SELECT department FROM refused_files`)).rows).toEqual([
        { department: 'civil-affairs' },
      ]);
      await expect(
        civil.pool.query(
          `INSERT INTO refused_files (jurisdiction, department, kind, period, file_name, sha256, byte_size, failure_type, reason, received_by)
           VALUES ('kaiping', 'health', 'roster', '2023-09-30', 'x.xlsx', $1, 1, 'ListFileError', 'x', current_user)`,
          [digest('f')],
        ),
      ).rejects.toThrow(/row-level security/);
      // the operator's work still reads every department's
      expect((await operator.pool.query(`SELECT count(*)::int AS n FROM identities`)).rows[0]).toEqual({
        n: 2,
      });
    } finally {
      await db.pool.query(`DELETE FROM identities`);
      await db.pool.query(`DELETE FROM submission_skipped_rows`);
      await db.pool.query(`DELETE FROM refused_files`);
    }
  });

  it('a department matches its own list against the register only through list_match_rows, for its own submissions', async () => {
    const client = await civil.pool.connect();
    try {
      await client.query('BEGIN');
      const s = await client.query<{ id: string }>(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by, status)
         VALUES ('kaiping', 'civil-affairs', 'roster', '2023-09-30', '2023-09-30', 'sep.csv', $1, 1, 'csv', 'utf-8', current_user, 'held') RETURNING id`,
        [digest('9')],
      );
      const id = s.rows[0]!.id;
      await client.query(
        `INSERT INTO submission_rows (submission_id, row_no, id_number, name, category, action, accepted)
         VALUES ($1, 2, $2, '关伟', '2305', 'listed', true), ($1, 3, $3, '李四', '2305', 'listed', true), ($1, 4, $2, '关伟', '2305', 'listed', true)`,
        [id, idNumber, otherId],
      );
      // the registered resident comes back by the register's key only; the others get their verdicts
      const matched = await client.query(`SELECT * FROM list_match_rows($1)`, [id]);
      expect(matched.rows).toEqual([{ resident_id: '1', category: '2305', action: 'listed' }]);
      expect(Object.keys(matched.rows[0] as object)).toEqual(['resident_id', 'category', 'action']);
      const verdicts = await client.query(
        `SELECT row_no, accepted, reason_code FROM submission_rows WHERE submission_id = $1 ORDER BY row_no`,
        [id],
      );
      expect(verdicts.rows).toEqual([
        { row_no: 2, accepted: true, reason_code: null },
        { row_no: 3, accepted: false, reason_code: 'not-registered-resident' },
        { row_no: 4, accepted: false, reason_code: 'duplicate-in-file' },
      ]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    // health's list, being imported by an operator: civil affairs may not match it, and health may not read
    // the register through the function either once the import is over
    const op = await operator.pool.connect();
    try {
      await op.query('BEGIN');
      const s = await op.query<{ id: string }>(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by, status)
         VALUES ('kaiping', 'health', 'roster', '2023-09-30', '2023-09-30', 'h.csv', $1, 1, 'csv', 'utf-8', current_user, 'held') RETURNING id`,
        [digest('8')],
      );
      await op.query('COMMIT');
      await expect(civil.pool.query(`SELECT * FROM list_match_rows($1)`, [s.rows[0]!.id])).rejects.toThrow(
        new RegExp(`${civil.user} may not import the lists of health`),
      );
      const done = (
        await db.pool.query<{ id: string }>(
          `SELECT id FROM submissions WHERE department = 'health' AND status = 'current'`,
        )
      ).rows[0]!.id;
      await expect(health.pool.query(`SELECT * FROM list_match_rows($1)`, [done])).rejects.toThrow(
        /is not a list being imported/,
      );
      await expect(auditor.pool.query(`SELECT * FROM list_match_rows($1)`, [done])).rejects.toThrow(
        /permission denied for function list_match_rows/,
      );
      await db.pool.query(`DELETE FROM submissions WHERE id = $1`, [s.rows[0]!.id]);
    } finally {
      op.release();
    }
  });

  it('a department’s staged rows are judged and written to its own submission only through list_take_rows, once each', async () => {
    const client = await civil.pool.connect();
    try {
      await client.query('BEGIN');
      const s = await client.query<{ id: string }>(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by, status)
         VALUES ('kaiping', 'civil-affairs', 'roster', '2023-10-31', '2023-10-31', 'oct.csv', $1, 1, 'csv', 'utf-8', current_user, 'held') RETURNING id`,
        [digest('7')],
      );
      const id = s.rows[0]!.id;
      await client.query(
        `CREATE TEMP TABLE staged_rows (row_no integer, id_number text, name text, category text, action text,
           accepted boolean, reason_code text, field text, reason text) ON COMMIT DROP`,
      );
      await client.query(
        `INSERT INTO staged_rows VALUES
           (2, $1, '关伟', '2305', 'listed', true, NULL, NULL, NULL),
           (3, $2, '李四', '2305', 'listed', true, NULL, NULL, NULL),
           (4, $1, '关伟', '2305', 'listed', true, NULL, NULL, NULL),
           (5, NULL, '王五', '2305', 'listed', false, 'missing-field', '身份证号码', '身份证号码为空')`,
        [idNumber, otherId],
      );
      // the registered resident comes back by the register's key only; every row is written with its verdict
      const taken = await client.query(`SELECT * FROM list_take_rows($1)`, [id]);
      expect(taken.rows).toEqual([{ resident_id: '1', category: '2305', action: 'listed' }]);
      const verdicts = await client.query(
        `SELECT row_no, accepted, reason_code, field FROM submission_rows WHERE submission_id = $1 ORDER BY row_no`,
        [id],
      );
      expect(verdicts.rows).toEqual([
        { row_no: 2, accepted: true, reason_code: null, field: null },
        { row_no: 3, accepted: false, reason_code: 'not-registered-resident', field: '身份证号码' },
        { row_no: 4, accepted: false, reason_code: 'duplicate-in-file', field: '身份证号码' },
        { row_no: 5, accepted: false, reason_code: 'missing-field', field: '身份证号码' },
      ]);
      // the same rows twice would write them twice: refused
      await expect(client.query(`SELECT * FROM list_take_rows($1)`, [id])).rejects.toThrow(
        /already has its rows/,
      );
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    const op = await operator.pool.connect();
    try {
      await op.query('BEGIN');
      const s = await op.query<{ id: string }>(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by, status)
         VALUES ('kaiping', 'health', 'roster', '2023-10-31', '2023-10-31', 'h.csv', $1, 1, 'csv', 'utf-8', current_user, 'held') RETURNING id`,
        [digest('6')],
      );
      await op.query('COMMIT');
      await expect(civil.pool.query(`SELECT * FROM list_take_rows($1)`, [s.rows[0]!.id])).rejects.toThrow(
        new RegExp(`${civil.user} may not import the lists of health`),
      );
      await expect(auditor.pool.query(`SELECT * FROM list_take_rows($1)`, [s.rows[0]!.id])).rejects.toThrow(
        /permission denied for function list_take_rows/,
      );
      await db.pool.query(`DELETE FROM submissions WHERE id = $1`, [s.rows[0]!.id]);
    } finally {
      op.release();
    }
  });

  it('an operator’s login gets planner statistics through the owner’s analyze_ledger, where its own ANALYZE is skipped', async () => {
    const reltuples = async () =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT reltuples::int AS n FROM pg_class WHERE oid = 'public.levy_lines'::regclass`,
        )
      ).rows[0]!.n;
    expect(await reltuples()).toBe(-1); // never analyzed
    await operator.pool.query('ANALYZE levy_lines'); // a warning: only the owner may
    expect(await reltuples()).toBe(-1);
    await operator.pool.query(`SELECT analyze_ledger('{levy_lines}')`);
    expect(await reltuples()).toBe(0);
    await expect(operator.pool.query(`SELECT analyze_ledger('{pgmigrations}')`)).rejects.toThrow(
      /pgmigrations is not a ledger table it analyzes/,
    );
    await expect(auditor.pool.query(`SELECT analyze_ledger('{levy_lines}')`)).rejects.toThrow(
      /permission denied for function analyze_ledger/,
    );
  });

  it('the functions that run as the owner pin their search_path and are not executable by PUBLIC', async () => {
    const definers = await db.pool.query<{
      name: string;
      config: string[] | null;
      public_exec: boolean;
      trigger: boolean;
    }>(
      `SELECT p.oid::regprocedure::text AS name, p.proconfig AS config,
              has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
              p.prorettype = 'trigger'::regtype AS trigger
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE p.prosecdef AND n.nspname IN ('public', 'audit') ORDER BY 1`,
    );
    expect(definers.rows.map((d) => d.name)).toEqual(expect.arrayContaining(['list_match_rows(bigint)']));
    for (const d of definers.rows) {
      expect(d.config ?? [], d.name).toEqual(
        expect.arrayContaining([expect.stringMatching(/^search_path=/)]),
      );
      // a trigger function cannot be called, only fired by its trigger
      if (!d.trigger) expect(d.public_exec, d.name).toBe(false);
    }
  });

  it("a department cannot hand in a list, its rows or a log entry in another department's name", async () => {
    await expect(
      civil.pool.query(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by)
         VALUES ('kaiping', 'health', 'delta', '2023-09', '2023-10-10', 'x.csv', $1, 1, 'csv', 'utf-8', current_user)`,
        [digest('c')],
      ),
    ).rejects.toThrow(/row-level security/);
    const healthSubmission = (
      await db.pool.query<{ id: string }>(`SELECT id FROM submissions WHERE department = 'health'`)
    ).rows[0]!.id;
    await expect(
      civil.pool.query(
        `INSERT INTO submission_rows (submission_id, row_no, action, accepted) VALUES ($1, 3, 'listed', true)`,
        [healthSubmission],
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      civil.pool.query(
        `INSERT INTO exchange_log (jurisdiction, direction, department, kind, period, file_name, row_count, byte_size, sha256)
         VALUES ('kaiping', 'in', 'health', 'delta', '2023-09', 'x.csv', 0, 1, $1)`,
        [digest('c')],
      ),
    ).rejects.toThrow(/row-level security/);
    // its own import updates its own submissions' status and counts; another's are out of sight, and the
    // decision on a held roster is an operator's
    expect(
      (await civil.pool.query(`UPDATE submissions SET rows_read = rows_read WHERE department = 'health'`))
        .rowCount,
    ).toBe(0);
    await expect(civil.pool.query(`UPDATE submissions SET decided_by = current_user`)).rejects.toThrow(
      /permission denied/,
    );
  });

  it('a department hands in its own list, and its log entry extends the one chain', async () => {
    const client = await civil.pool.connect();
    try {
      await client.query('BEGIN');
      const s = await client.query<{ id: string; received_by: string }>(
        `INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by)
         VALUES ('kaiping', 'civil-affairs', 'delta', '2023-09', '2023-10-10', 'sep.csv', $1, 1, 'csv', 'utf-8', current_user) RETURNING id, received_by`,
        [digest('d')],
      );
      expect(s.rows[0]!.received_by).toBe(civil.user);
      await client.query(
        `INSERT INTO submission_rows (submission_id, row_no, action, accepted, reason_code, reason) VALUES ($1, 1, 'add', false, 'invalid-id', 'bad')`,
        [s.rows[0]!.id],
      );
      const log = await client.query<{ prev_digest: string }>(
        `INSERT INTO exchange_log (jurisdiction, direction, department, kind, period, file_name, row_count, byte_size, sha256)
         VALUES ('kaiping', 'in', 'civil-affairs', 'delta', '2023-09', 'sep.csv', 1, 1, $1) RETURNING prev_digest`,
        [digest('d')],
      );
      await client.query('COMMIT');
      // its entry follows health's, which it cannot read: the chain does not fork
      const last = await db.pool.query<{ entry_digest: string }>(
        `SELECT entry_digest FROM exchange_log WHERE department = 'health'`,
      );
      expect(log.rows[0]!.prev_digest).toBe(last.rows[0]!.entry_digest);
    } finally {
      client.release();
    }
  });
});
