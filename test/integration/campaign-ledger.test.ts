import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimSubsidies, cutOff, openEnrollments, snapshotCoverage } from '../../ledger/campaign';
import { explain } from '../../domain/engine';
import type { Policy } from '../../domain/policy';
import { seedPolicy } from '../../seeds';
import { populationWithRosters } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** The population with its September rosters (seed 21, 1% defective rows). */
async function registry(db: TestDatabase, policy: Policy, scale: number) {
  await populationWithRosters(db, policy, { scale, seed: 21, defectRate: 0.01 });
}

describe.each(['kaiping', 'heshan', 'meishan'] as const)(
  '%s: the set-based levy decides exactly what the engine explains',
  (jurisdiction) => {
    let db: TestDatabase;
    const policy = seedPolicy(jurisdiction, 2024);
    beforeAll(async () => {
      db = await createTestDatabase();
      await registry(db, policy, jurisdiction === 'meishan' ? 0.002 : 0.004);
      // a few disability grades, so Meishan's grade-3/4 condition (003 三(三)2(3)) is exercised
      await db.pool.query(`UPDATE residents SET disability_grade = 1 + (id % 4) WHERE id % 7 = 0`);
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('every enrollment opened in SQL carries the category, shares and fund explain() gives for that person', async () => {
      const asOf = policy.calendar.rosterDeadline.at.slice(0, 10);
      const opened = await openEnrollments(db.pool, policy, asOf);
      expect(opened.subsidisedRegistered).toBeGreaterThan(0);
      const rows = await db.pool.query<{
        id_number: string;
        categories: string[] | null;
        disability_grade: number | null;
        category: string | null;
        personal_fen: number;
        subsidy_fen: number;
        funding_source: string;
      }>(
        `SELECT p.id_number, p.disability_grade, e.category, e.personal_fen, e.subsidy_fen, e.funding_source,
              (SELECT array_agg(i.category ORDER BY i.id) FROM identities i WHERE i.resident_id = p.id AND i.valid_to IS NULL) AS categories
       FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE e.campaign_year = 2024`,
      );
      let compared = 0;
      for (const r of rows.rows) {
        const answer = explain(policy, {
          jurisdiction,
          year: 2024,
          person: {
            idNumber: r.id_number,
            categories: r.categories ?? [],
            ...(r.disability_grade ? { disabilityGrade: r.disability_grade } : {}),
          },
          event: { kind: 'difficulty-registration', date: asOf },
        });
        expect({
          category: r.category,
          personal: r.personal_fen,
          subsidy: r.subsidy_fen,
          fund: r.funding_source,
        }).toEqual({
          category: answer.effectiveCategory,
          personal: answer.contribution.personalFen,
          subsidy: answer.contribution.subsidyFen,
          fund: answer.contribution.fundingSource,
        });
        compared += 1;
      }
      expect(compared).toBe(rows.rowCount);
    });
  },
);

describe('the subsidy claim leaves out, and names, people the departments no longer confirm or whose identity is invalid (001 三(三))', () => {
  let db: TestDatabase;
  const policy = seedPolicy('heshan', 2024);
  beforeAll(async () => {
    db = await createTestDatabase();
    await registry(db, policy, 0.004);
    await openEnrollments(db.pool, policy, '2023-09-15');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a person whose identity the department withdrew and one with no name are excluded, with their reason and a masked ID', async () => {
    const two = await db.pool.query<{ id: string; resident_id: string; id_number: string }>(
      `SELECT e.id, e.resident_id, p.id_number FROM enrollments e JOIN residents p ON p.id = e.resident_id
       WHERE e.subsidy_fen > 0 AND e.funding_source = 'medical-assistance-fund' ORDER BY e.id LIMIT 2`,
    );
    const [withdrawn, nameless] = two.rows;
    await db.pool.query(`DELETE FROM identities WHERE resident_id = $1`, [withdrawn!.resident_id]);
    await db.pool.query(`UPDATE residents SET name = '' WHERE id = $1`, [nameless!.resident_id]);
    const eligible = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollments WHERE subsidy_fen > 0 AND funding_source = 'medical-assistance-fund' AND status = 'paid'`,
    );

    const result = await claimSubsidies(db.pool, policy, ['medical-assistance-fund'], '2024-06-30');
    expect(result.excluded.map((x) => x.reason).sort()).toEqual([
      'identity-information-invalid',
      'identity-not-confirmed-by-department',
    ]);
    // each exclusion cites its sentence; the engine gives the nameless person the same reason and sentence
    const invalid = result.excluded.find((x) => x.reason === 'identity-information-invalid')!;
    expect(invalid.source).toMatch(/^001 三\(三\) 对于参保人员无身份信息或身份信息错误的/);
    expect(result.excluded.find((x) => x.reason !== 'identity-information-invalid')!.source).toMatch(
      /^001 七\(三\)/,
    );
    const engine = explain(policy, {
      jurisdiction: 'heshan',
      year: 2024,
      person: { idNumber: nameless!.id_number, name: '' },
      event: { kind: 'centralised-payment', date: '2023-10-20' },
    });
    expect(engine.claimExclusions.map((r) => r.source)).toEqual([invalid.source]);
    expect(result.excluded.map((x) => x.idNumber)).not.toContain(withdrawn!.id_number);
    expect(result.excluded.every((x) => /^\d{6}\*{8}[\dX]{4}$/.test(x.idNumber))).toBe(true);
    expect(result.claims.reduce((s, c) => s + c.persons, 0)).toBe(eligible.rows[0]!.n - 2);

    const again = await claimSubsidies(db.pool, policy, ['medical-assistance-fund'], '2024-06-30');
    expect(again.claims).toEqual(result.claims);
  });
});

describe('the deduction rounds follow the monthly lists: a removal or an addition changes the next levy (000 五(一))', () => {
  let db: TestDatabase;
  afterAll(async () => {
    await db?.drop();
  });

  it('Meishan: a 低保 person removed in November is levied the full 380 yuan in December; an addition in November is levied nothing', async () => {
    const { createLevyBatch } = await import('../../ledger/campaign');
    const policy = seedPolicy('meishan', 2024);
    db = await createTestDatabase();
    await registry(db, policy, 0.003);
    await openEnrollments(db.pool, policy, '2023-08-31');
    const first = await createLevyBatch(db.pool, policy, 1, '2023-09-01');
    // everyone levied in round 1 failed for a personal reason: the bureau's results say so (since migration
    // 0075 a levied enrollment keeps registered until its result, so the failure is written by the results)
    const { applyDeductionResults } = await import('../../ledger/campaign');
    const firstLines = await db.pool.query<{ enrollment_id: string }>(
      `SELECT enrollment_id FROM levy_lines WHERE batch_id = $1`,
      [first.batchId],
    );
    const resultFile = join(mkdtempSync(join(tmpdir(), 'medins-results-')), 'results.csv');
    writeFileSync(
      resultFile,
      `enrollment_id,outcome,failure_code\n${firstLines.rows.map((l) => `${l.enrollment_id},failure,insufficient-balance`).join('\n')}\n`,
    );
    const { taxCsvFormat } = await import('../../departments/formats');
    const applied = await applyDeductionResults(
      db.pool,
      policy,
      first.batchId,
      taxCsvFormat.readResults(resultFile),
      '2023-09-20',
    );
    expect(applied.personal).toBe(firstLines.rows.length);
    // November's deltas: the 低保 identity ends with November; the ordinary person is certified 特困 (2304)
    const { partly, ordinary } = await novemberDeltas(db);

    // a stop after a failed deduction (failed -> stopped, 附件1): accepted, the failure's class goes with it,
    // and the stopped enrollment is not levied again
    const { applyHouseholdForm } = await import('../../ledger/household-forms');
    const leaving = (
      await db.pool.query<{ id: string; id_number: string }>(
        `SELECT e.id, p.id_number FROM enrollments e JOIN residents p ON p.id = e.resident_id
         WHERE e.status = 'failed' AND e.id NOT IN ($1, $2) ORDER BY e.id LIMIT 1`,
        [partly.id, ordinary.id],
      )
    ).rows[0]!;
    const stop = await applyHouseholdForm(db.pool, policy, {
      kind: 'stop',
      idNumber: leaving.id_number,
      reason: '外出务工',
      date: '2023-11-20',
    });
    expect(stop.accepted).toBe(true);
    const stopped = await db.pool.query<{ status: string; failure_class: string | null }>(
      `SELECT status::text, failure_class FROM enrollments WHERE id = $1`,
      [leaving.id],
    );
    expect(stopped.rows[0]).toEqual({ status: 'stopped', failure_class: null });

    const december = await createLevyBatch(db.pool, policy, 2, '2023-12-04');
    const lines = await db.pool.query<{ enrollment_id: string; amount_fen: number }>(
      `SELECT enrollment_id, amount_fen FROM levy_lines WHERE batch_id = $1`,
      [december.batchId],
    );
    const amountOf = (id: string) => lines.rows.find((l) => l.enrollment_id === id)?.amount_fen;
    expect(amountOf(partly.id)).toBe(38000);
    expect(amountOf(ordinary.id)).toBeUndefined();
    expect(amountOf(leaving.id)).toBeUndefined();
    const settled = await db.pool.query<{ status: string; subsidy_fen: number; funding_source: string }>(
      `SELECT status::text, subsidy_fen, funding_source FROM enrollments WHERE id = $1`,
      [ordinary.id],
    );
    expect(settled.rows[0]).toEqual({
      status: 'paid',
      subsidy_fen: 38000,
      funding_source: 'medical-assistance-fund',
    });
  });
});

describe('a later round levies what the rules say from its own enrollments, read by key, and reads the year only when the tallies do not prove them (000 五(一), 五(三); issue #23)', () => {
  let db: TestDatabase;
  afterAll(async () => {
    await db?.drop();
  });

  it('Meishan: December re-levies exactly the failed, follows November’s removal and addition and a newcomer’s identity, changes nothing on a retry, and January reads the year for a re-enrollment it cannot see', async () => {
    const { applyDeductionResults, createLevyBatch, writeLevyFile } = await import('../../ledger/campaign');
    const { applyHouseholdForm } = await import('../../ledger/household-forms');
    const { taxCsvFormat } = await import('../../departments/formats');
    const { writeFileSync } = await import('node:fs');
    const policy = seedPolicy('meishan', 2024);
    db = await createTestDatabase();
    await registry(db, policy, 0.003);
    await openEnrollments(db.pool, policy, '2023-08-31');
    const dir = mkdtempSync(join(tmpdir(), 'medins-later-rounds-'));
    /** The tax bureau's answer to a batch: a personal failure (insufficient balance) unless `paid` says so. */
    const answer = async (batchId: number, paidOn: string, paid: (enrollmentId: number) => boolean) => {
      const lines = await db.pool.query<{ enrollment_id: string }>(
        `SELECT enrollment_id FROM levy_lines WHERE batch_id = $1 ORDER BY enrollment_id`,
        [batchId],
      );
      const file = join(dir, `results-${batchId}.csv`);
      const body = lines.rows
        .map((l) =>
          paid(Number(l.enrollment_id))
            ? `${l.enrollment_id},success,`
            : `${l.enrollment_id},failure,insufficient-balance`,
        )
        .join('\n');
      writeFileSync(file, `enrollment_id,outcome,failure_code\n${body}\n`);
      return applyDeductionResults(db.pool, policy, batchId, taxCsvFormat.readResults(file), paidOn);
    };
    const ids = async (sql: string, params: unknown[] = []) =>
      (await db.pool.query<{ id: string }>(sql, params)).rows.map((r) => r.id).sort();
    const failedNow = () =>
      ids(
        `SELECT id::text FROM enrollments WHERE campaign_year = 2024 AND status = 'failed' AND personal_fen > 0`,
      );
    const levied = (batchId: number) =>
      ids(`SELECT enrollment_id::text AS id FROM levy_lines WHERE batch_id = $1`, [batchId]);

    // a resident not enrolled when the enrollments open, registered by a form after round 1
    const newcomer = (
      await db.pool.query<{ id: string; id_number: string }>(
        `SELECT p.id, p.id_number FROM residents p
         WHERE p.jurisdiction = 'meishan' AND NOT p.employee_insured AND p.deceased_on IS NULL
           AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = 2024)
           AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = p.id)
         ORDER BY p.id LIMIT 1`,
      )
    ).rows[0]!;

    const first = await createLevyBatch(db.pool, policy, 1, '2023-09-01');
    expect(first.candidatesFrom).toBe('year');
    await answer(first.batchId, '2023-09-20', (id) => id % 3 === 0);
    const failedAfterSeptember = await failedNow();
    expect(failedAfterSeptember.length).toBeGreaterThan(10);

    // November: the 低保 identity ends with the month, the ordinary person is certified 特困 (2304), the
    // newcomer enrolls by form (the full personal share that day) and is certified 特困 the day after
    const { partly, ordinary, submission } = await novemberDeltas(db);
    const form = await applyHouseholdForm(db.pool, policy, {
      kind: 'new',
      idNumber: newcomer.id_number,
      date: '2023-11-20',
    });
    expect(form.accepted).toBe(true);
    const registered = await db.pool.query<{ status: string; personal_fen: number }>(
      `SELECT status::text, personal_fen FROM enrollments WHERE resident_id = $1 AND campaign_year = 2024`,
      [newcomer.id],
    );
    expect(registered.rows[0]).toEqual({ status: 'registered', personal_fen: 38000 });
    await db.pool.query(
      `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission) VALUES ('meishan', $1, '2304', 'civil-affairs', '2023-11-21', $2)`,
      [newcomer.id, submission],
    );

    // and a September failure stops (外出务工) and comes back by form in November: registered again
    const returning = (
      await db.pool.query<{ id_number: string; enrollment_id: string }>(
        `SELECT p.id_number, e.id::text AS enrollment_id FROM enrollments e JOIN residents p ON p.id = e.resident_id
         WHERE e.campaign_year = 2024 AND e.status = 'failed' AND e.category IS NULL AND e.id <> $1 ORDER BY e.id LIMIT 1`,
        [ordinary.id],
      )
    ).rows[0]!;
    for (const f of [
      { kind: 'stop' as const, idNumber: returning.id_number, reason: '外出务工', date: '2023-11-10' },
      { kind: 'new' as const, idNumber: returning.id_number, date: '2023-11-12' },
    ]) {
      expect((await applyHouseholdForm(db.pool, policy, f)).accepted).toBe(true);
    }
    const statusOf = async (id: string) =>
      (await db.pool.query<{ status: string }>(`SELECT status::text FROM enrollments WHERE id = $1`, [id]))
        .rows[0]!.status;
    expect(await statusOf(returning.enrollment_id)).toBe('registered');

    // December: September's failures (the returning one among them) and the newcomer, read by key; the
    // tallies prove them the year's unpaid; the failed are levied, the registered refreshed, not levied
    const december = await createLevyBatch(db.pool, policy, 2, '2023-12-04');
    expect(await statusOf(returning.enrollment_id)).toBe('registered');
    expect(december.candidatesFrom).toBe('work set');
    const leviedInDecember = failedAfterSeptember.filter(
      (id) => id !== ordinary.id && id !== returning.enrollment_id,
    );
    expect(await levied(december.batchId)).toEqual(leviedInDecember);
    const partlyLine = await db.pool.query<{ amount_fen: number; household_id: string | null }>(
      `SELECT l.amount_fen, l.household_id::text FROM levy_lines l WHERE l.batch_id = $1 AND l.enrollment_id = $2`,
      [december.batchId, partly.id],
    );
    const partlyHousehold = await db.pool.query<{ household_id: string | null }>(
      `SELECT household_id::text FROM residents WHERE id = $1`,
      [partly.resident_id],
    );
    // the full 380 yuan from December, and the line names the person's household
    expect(partlyLine.rows[0]).toEqual({
      amount_fen: 38000,
      household_id: partlyHousehold.rows[0]!.household_id,
    });
    const settled = await db.pool.query<{ status: string; subsidy_fen: number }>(
      `SELECT status::text, subsidy_fen FROM enrollments WHERE resident_id = ANY ($1) AND campaign_year = 2024 ORDER BY resident_id`,
      [[ordinary.resident_id, newcomer.id].sort((a, b) => Number(a) - Number(b))],
    );
    expect(settled.rows).toEqual([
      { status: 'paid', subsidy_fen: 38000 },
      { status: 'paid', subsidy_fen: 38000 },
    ]);
    // the levy file of the small batch: one line per levy line, in enrollment order
    const file = join(dir, 'levy-december.csv');
    const layout = taxCsvFormat.levyFile('meishan', december.batchId);
    expect(await writeLevyFile(db.pool, december.batchId, layout, file)).toBe(december.lines);
    const fileIds = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').at(-1)!);
    expect(fileIds).toEqual([...fileIds].sort((a, b) => Number(a) - Number(b)));
    expect([...fileIds].sort()).toEqual(await levied(december.batchId));
    // a retried activity finds its batch and changes nothing
    const again = await createLevyBatch(db.pool, policy, 2, '2023-12-04');
    expect(again).toEqual({
      batchId: december.batchId,
      round: 2,
      lines: december.lines,
      totalFen: december.totalFen,
    });
    expect(await levied(december.batchId)).toEqual(leviedInDecember);

    // every line fails again; the re-enrolled person, registered but numbered before round 1's lines and not
    // among December's failures, is a registration the work set cannot see: the tallies disagree with it,
    // so January reads the year, and still levies exactly the failed and not the registered
    await answer(december.batchId, '2023-12-20', () => false);
    const failedAfterDecember = await failedNow();
    const january = await createLevyBatch(db.pool, policy, 3, '2024-01-04');
    expect(january.candidatesFrom).toBe('year');
    expect(await levied(january.batchId)).toEqual(failedAfterDecember);
    expect(await levied(january.batchId)).not.toContain(returning.enrollment_id);
    // the per-town tallies still count every enrollment of the year by status
    const recount = await db.pool.query<{ status: string; n: string }>(
      `SELECT status::text, count(*)::text AS n FROM enrollments WHERE campaign_year = 2024 GROUP BY 1 ORDER BY 1`,
    );
    const tallied = await db.pool.query<{ status: string; n: string }>(
      `SELECT status::text, sum(enrollments)::text AS n FROM town_enrollment_tallies WHERE campaign_year = 2024 GROUP BY 1 HAVING sum(enrollments) > 0 ORDER BY 1`,
    );
    expect(tallied.rows).toEqual(recount.rows);
  });
});

describe('Meishan’s four ledgers, kept current (003 六(二))', () => {
  let ledgersDb: TestDatabase;
  afterAll(async () => {
    await ledgersDb?.drop();
  });

  it('a last-year payer who has not paid is on the ledgers until the deduction succeeds; then on none', async () => {
    const { exportLedgers } = await import('../../documents/exports');
    const policy = seedPolicy('meishan', 2024);
    ledgersDb = await createTestDatabase();
    await registry(ledgersDb, policy, 0.001);
    await openEnrollments(ledgersDb.pool, policy, '2023-08-31');
    const payer = (
      await ledgersDb.pool.query<{ id: string; resident_id: string }>(
        `SELECT e.id, e.resident_id FROM enrollments e JOIN residents p ON p.id = e.resident_id
         WHERE e.campaign_year = 2024 AND e.status = 'registered' AND p.residency = 'hukou' ORDER BY e.id LIMIT 1`,
      )
    ).rows[0]!;
    const onLedgers = async () => {
      const { bytes, rows } = await exportLedgers(ledgersDb.pool, policy);
      return { rows, bytes };
    };
    const before = await onLedgers();
    // nobody has paid for 2024 yet: every registered resident to enroll is on the first ledger
    const toEnroll = await ledgersDb.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM residents WHERE residency = 'hukou' AND NOT employee_insured AND deceased_on IS NULL`,
    );
    const fullySubsidised = await ledgersDb.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE e.campaign_year = 2024 AND e.status = 'paid' AND p.residency = 'hukou'`,
    );
    expect(before.rows['registered-not-enrolled']).toBe(toEnroll.rows[0]!.n - fullySubsidised.rows[0]!.n);
    expect(before.rows['enrolled-last-year-not-this-year']).toBeGreaterThan(0);

    await ledgersDb.pool.query(`UPDATE enrollments SET status = 'levied' WHERE id = $1`, [payer.id]);
    await ledgersDb.pool.query(`UPDATE enrollments SET status = 'paid' WHERE id = $1`, [payer.id]);
    const after = await onLedgers();
    expect(after.rows['registered-not-enrolled']).toBe(before.rows['registered-not-enrolled'] - 1);
    expect(after.rows['resident-not-enrolled']).toBe(before.rows['resident-not-enrolled'] - 1);

    const wb = new (await import('exceljs')).default.Workbook();
    await wb.xlsx.load(after.bytes as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      '户籍人口未参保人员',
      '常住人口未参保人员',
      '上年度参保本年度未参保人员',
      '特殊身份群体未参保人员',
    ]);
    // each ledger a filed form: title, header row with 序号, the people numbered 1..n, the 制表 lines under them
    const ledger = wb.worksheets[0]!;
    expect((ledger.getRow(2).values as unknown[]).slice(1)).toEqual([
      '序号',
      '镇(街)',
      '村(居)',
      '姓名',
      '身份证号码',
      '联系电话',
      '户籍/居住证',
      '特殊身份类别',
    ]);
    const people = after.rows['registered-not-enrolled'];
    const numbers: unknown[] = [];
    const ids: string[] = [];
    for (let n = 3; n < 3 + people; n += 1) {
      numbers.push(ledger.getRow(n).getCell(1).value);
      ids.push(ledger.getRow(n).getCell(5).text);
    }
    expect(numbers).toEqual(Array.from({ length: people }, (_, i) => i + 1));
    expect(ids.every((id) => /^\d{6}\*{8}[\dX]{4}$/.test(id))).toBe(true);
    expect(ledger.getRow(4 + people).getCell(1).text).toMatch(/^制表单位：眉山市医疗保障局$/);
  });
});

describe('a coverage snapshot (000 六(四), 附件3) counts per town what the register and the ledger hold at that moment', () => {
  let db: TestDatabase;
  afterAll(async () => {
    await db?.drop();
  });

  it('after the year’s moves, a household form, a move of town and a withdrawal, each town’s figures equal a recount, and the cut-off counts the abandoned', async () => {
    const policy = seedPolicy('kaiping', 2024);
    db = await createTestDatabase();
    await registry(db, policy, 0.002);
    await openEnrollments(db.pool, policy, policy.calendar.rosterDeadline.at.slice(0, 10));
    // the figures as 附件3 defines them, counted from the residents and the year's enrollments themselves
    const recount = async () =>
      (
        await db.pool.query<{
          town_id: number;
          registered: number;
          to_enroll: number;
          enrolled: number;
          subsidised: number;
          failed: number;
          abandoned: number;
        }>(
          `SELECT t.id AS town_id,
                  (SELECT count(*) FROM residents p WHERE p.town_id = t.id AND p.residency = 'hukou')::int AS registered,
                  (SELECT count(*) FROM residents p WHERE p.town_id = t.id AND p.residency = 'hukou' AND NOT p.employee_insured)::int AS to_enroll,
                  count(e.id) FILTER (WHERE e.status = 'paid')::int AS enrolled,
                  count(e.id) FILTER (WHERE e.status = 'paid' AND e.subsidy_fen > 0)::int AS subsidised,
                  count(e.id) FILTER (WHERE e.status = 'failed')::int AS failed,
                  count(e.id) FILTER (WHERE e.status = 'abandoned')::int AS abandoned
           FROM towns t
           LEFT JOIN (enrollments e JOIN residents p ON p.id = e.resident_id) ON p.town_id = t.id AND e.campaign_year = 2024
           WHERE t.jurisdiction = 'kaiping' GROUP BY t.id ORDER BY t.id`,
        )
      ).rows;
    const snapshot = async (key: string) => {
      await snapshotCoverage(db.pool, policy, key, new Date('2023-10-01T00:00:00Z'), new Map());
      return (
        await db.pool.query<Record<string, number>>(
          `SELECT town_id, registered, to_enroll, enrolled, subsidised, failed, abandoned FROM coverage_snapshots
           WHERE snapshot_key = $1 ORDER BY town_id`,
          [key],
        )
      ).rows;
    };
    expect(await snapshot('opened')).toEqual(await recount());

    // the round's moves: every registered one levied; then a third paid, a third failed for a personal reason
    await db.pool.query(
      `UPDATE enrollments SET status = 'levied' WHERE campaign_year = 2024 AND status = 'registered'`,
    );
    await db.pool.query(
      `UPDATE enrollments SET status = CASE WHEN id % 3 = 0 THEN 'paid'::enrollment_status ELSE 'failed'::enrollment_status END,
              failure_class = CASE WHEN id % 3 = 0 THEN NULL ELSE 'personal' END
       WHERE campaign_year = 2024 AND status = 'levied' AND id % 3 <> 2`,
    );
    // a paid person's subsidy withdrawn (still paid, no longer subsidised), a resident moved to another town,
    // one newly in employee insurance, and a household form enrolling someone (the town comes from the resident)
    await db.pool.query(
      `UPDATE enrollments SET subsidy_fen = 0 WHERE id = (SELECT min(id) FROM enrollments WHERE campaign_year = 2024 AND status = 'paid' AND subsidy_fen > 0)`,
    );
    const mover = (
      await db.pool.query<{ id: string; town_id: number; other: number; village: number }>(
        `SELECT p.id, p.town_id,
                (SELECT min(t.id) FROM towns t WHERE t.jurisdiction = 'kaiping' AND t.id <> p.town_id) AS other,
                (SELECT min(v.id) FROM villages v WHERE v.town_id = (SELECT min(t.id) FROM towns t WHERE t.jurisdiction = 'kaiping' AND t.id <> p.town_id)) AS village
         FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE e.campaign_year = 2024 AND e.status = 'paid' ORDER BY p.id LIMIT 1`,
      )
    ).rows[0]!;
    await db.pool.query(`UPDATE residents SET town_id = $2, village_id = $3 WHERE id = $1`, [
      mover.id,
      mover.other,
      mover.village,
    ]);
    await db.pool.query(
      `UPDATE residents SET employee_insured = true WHERE id = (SELECT min(id) FROM residents WHERE residency = 'hukou' AND NOT employee_insured)`,
    );
    await db.pool.query(
      `INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, status, total_fen, personal_fen, subsidy_fen, funding_source, stop_reason)
       SELECT 'kaiping', 2024, p.id, 'stopped', 40000, 0, 0, 'personal', 'test'
       FROM residents p WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = 2024) ORDER BY p.id LIMIT 3`,
    );
    const moved = await db.pool.query<{ town_id: number }>(
      `SELECT town_id FROM enrollments WHERE resident_id = $1 AND campaign_year = 2024`,
      [mover.id],
    );
    expect(moved.rows[0]!.town_id).toBe(mover.other);
    const snap = await snapshot('after-round');
    expect(snap).toEqual(await recount());
    expect(snap.reduce((s, r) => s + r.failed!, 0)).toBeGreaterThan(0);

    // the cut-off: the personal failures abandoned (Kaiping's plan), counted in the same transaction
    const failed = (await recount()).reduce((s, r) => s + r.failed, 0);
    const cut = await cutOff(db.pool, policy);
    expect(cut).toEqual({ abandoned: failed, stillFailed: 0 });
    expect(await cutOff(db.pool, policy)).toEqual(cut);
    expect(await snapshot('cutoff')).toEqual(await recount());
  });
});

/**
 * Meishan's November deltas on a ledger whose September round left people failed: the 低保 (2303)
 * identity of a failed person holding only that one ends with November 30; a failed ordinary person is
 * certified 特困 (2304) from November 15. Returns both enrollments and the submission the changes cite.
 */
async function novemberDeltas(db: TestDatabase) {
  const partly = (
    await db.pool.query<{ id: string; resident_id: string }>(
      `SELECT e.id, e.resident_id FROM enrollments e WHERE e.category = '2303' AND e.status = 'failed'
       AND (SELECT count(*) FROM identities i WHERE i.resident_id = e.resident_id) = 1 ORDER BY e.id LIMIT 1`,
    )
  ).rows[0]!;
  const ordinary = (
    await db.pool.query<{ id: string; resident_id: string }>(
      `SELECT id, resident_id FROM enrollments WHERE category IS NULL AND status = 'failed' ORDER BY id LIMIT 1`,
    )
  ).rows[0]!;
  const submission = (await db.pool.query<{ id: string }>(`SELECT id FROM submissions LIMIT 1`)).rows[0]!.id;
  await db.pool.query(
    `UPDATE identities SET valid_to = '2023-11-30', closed_by_submission = $2 WHERE resident_id = $1 AND category = '2303'`,
    [partly.resident_id, submission],
  );
  await db.pool.query(
    `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission) VALUES ('meishan', $1, '2304', 'civil-affairs', '2023-11-15', $2)`,
    [ordinary.resident_id, submission],
  );
  return { partly, ordinary, submission };
}
