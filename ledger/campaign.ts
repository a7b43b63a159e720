/**
 * The campaign's batch steps, each one set-based SQL in one transaction and idempotent on its business
 * key, so a retried or re-run activity changes nothing twice:
 * - openEnrollments: last year's enrollees renewed at the new rate, subsidised residents registered
 *   (先登记参保), each with the category, shares and fund the policy decides (via `categoryTable`);
 * - createLevyBatch: the levy lines of a deduction round (personal shares only);
 * - applyDeductionResults: the tax bureau's result file, applied once per levy line;
 * - cutOff, snapshotCoverage, claimSubsidies: the year's end.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type pg from 'pg';
import type { DeductionResult, LevyField, LevyFileLayout } from '../departments/ports';
import { inTransaction as inTransactionWith } from './transaction';
import { categoryTable } from '../domain/category-table';
import { benefitStartOfPayment, classifyDeductionFailure, difficultyBenefitStart } from '../domain/engine';
import { maskIdNumber } from '../domain/id-number';
import type { Policy } from '../domain/policy';

/** The ledger's steps run over large lists: give their hash joins room. */
function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransactionWith(pool, fn, { workMem: '64MB' });
}

/**
 * A later batch smaller than this fraction's inverse of its table (levy lines, results) is not analyzed by its
 * step, and the steps after it read it by key (analyzeWhereManyChanged, applyDeductionResults): one fiftieth.
 */
const UNANALYZED_BATCH_SHARE = 50;

/**
 * Fresh planner statistics, in one round trip, for each table a step changed a tenth or more of (autovacuum's
 * own analyze threshold is a tenth), or never analyzed (reltuples -1), or named in `always`, or named in
 * `fiftieth` and changed by a fiftieth or more; through the owner's analyze_ledger (migration 0021). `changed`
 * maps a ledger table to the rows the step wrote or changed in it. Round 1 and its results change nearly every
 * enrollment, and the next step's planner must see it; each later round changes a few thousand of 428,000
 * enrollments and adds as many levy lines and results to 411,000 each, which the steps after it read by key
 * whatever the statistics say of the new batch, and an ANALYZE samples 30,000 pages, most of each table (issue
 * #23: 22 enrollment ANALYZEs a year; then the lines' and results' 70-90 ms each every later round, at 1x).
 * A later batch of a fiftieth of its table or more (rounds 2-4 at Kaiping 1x) is still analyzed: its hand-over
 * and results, planned on an estimate of one line, probed by key where the planner hashes them, and were as
 * slow as the ANALYZE they saved.
 */
async function analyzeWhereManyChanged(
  client: pg.PoolClient,
  changed: Record<string, number>,
  always: string[] = [],
  fiftieth: string[] = [],
): Promise<void> {
  const tables = Object.keys(changed);
  await client.query(
    `SELECT analyze_ledger(coalesce(array_agg(t.name ORDER BY t.i) FILTER (
              WHERE c.reltuples <= 0 OR t.changed * 10 >= c.reltuples OR t.name = ANY ($3::text[])
                 OR (t.name = ANY ($4::text[]) AND t.changed * $5 >= c.reltuples)), '{}'))
     FROM unnest($1::text[], $2::float8[]) WITH ORDINALITY AS t(name, changed, i)
     JOIN pg_class c ON c.oid = t.name::regclass`,
    [tables, tables.map((t) => changed[t]), always, fiftieth, UNANALYZED_BATCH_SHARE],
  );
}

/** The policy's categories as a temp table, for the joins below. */
async function loadCategoryTable(client: pg.PoolClient, policy: Policy) {
  const rows = categoryTable(policy);
  await client.query(
    `CREATE TEMP TABLE policy_categories (category text, rank int, subsidy_fen int, personal_fen int, funding_source text, pays_first boolean, department text, local_hukou_only boolean) ON COMMIT DROP`,
  );
  await client.query(
    `CREATE TEMP TABLE policy_conditions (category text, min_age int, max_age int, grades int[]) ON COMMIT DROP`,
  );
  await client.query(
    `INSERT INTO policy_categories SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::text[], $6::boolean[], $7::text[], $8::boolean[])`,
    [
      rows.map((r) => r.category),
      rows.map((r) => r.rank),
      rows.map((r) => r.subsidyFen),
      rows.map((r) => r.personalFen),
      rows.map((r) => r.fundingSource),
      rows.map((r) => r.paysFirst),
      policy.categories.map((c) => c.department),
      rows.map((r) => r.localHukouOnly),
    ],
  );
  for (const r of rows) {
    for (const a of r.alternatives) {
      await client.query(`INSERT INTO policy_conditions VALUES ($1, $2, $3, $4)`, [
        r.category,
        a.minAge,
        a.maxAge,
        a.disabilityGrades,
      ]);
    }
  }
}

/**
 * Age in whole years on `on` of a person born `birth` (SQL expressions): the same arithmetic as the
 * engine's `ageOn` (a birthday on 02-29 is reached on 03-01 in a common year), which PostgreSQL's `age()`
 * does not promise.
 */
const ageSql = (on: string, birth: string) =>
  `((to_char(${on}, 'YYYYMMDD')::int - to_char(${birth}, 'YYYYMMDD')::int) / 10000)`;

/**
 * SQL: identity `i` (an identities alias) is valid on date $3, the day a category is decided on. The holders
 * the opening decides for and the identities `applicableSql` decides by must be the same: both say it here.
 */
const validOnDaySql = (i: string) =>
  `${i}.valid_from <= $3::date AND (${i}.valid_to IS NULL OR ${i}.valid_to >= $3::date)`;

/**
 * The applicable category of each person of a CTE (`from`, with resident_id, birth_date, disability_grade,
 * local_hukou) on date $3: identities valid that day, the policy's conditions checked as `categoryTable`
 * compiles them (age, disability grade, local hukou), the highest rank wins. SQL text of a CTE named
 * `applicable` (resident_id, category, subsidy_fen, personal_fen, funding_source); a person without an
 * applicable category has no row.
 */
const applicableSql = (from: string) => `
       applicable AS (
         SELECT DISTINCT ON (c.resident_id) c.resident_id, pc.category, pc.subsidy_fen, pc.personal_fen, pc.funding_source
         FROM ${from} c
         JOIN identities i ON i.resident_id = c.resident_id AND ${validOnDaySql('i')}
         JOIN policy_categories pc ON pc.category = i.category
         WHERE (NOT pc.local_hukou_only OR c.local_hukou)
           AND (NOT EXISTS (SELECT 1 FROM policy_conditions k WHERE k.category = pc.category)
            OR EXISTS (SELECT 1 FROM policy_conditions k WHERE k.category = pc.category
                       AND (k.min_age IS NULL OR ${ageSql('$3::date', 'c.birth_date')} >= k.min_age)
                       AND (k.max_age IS NULL OR ${ageSql('$3::date', 'c.birth_date')} <= k.max_age)
                       AND (k.grades IS NULL OR c.disability_grade = ANY (k.grades))))
         ORDER BY c.resident_id, pc.rank DESC
       )`;

/** `applicableSql` of the CTE named `candidates`. */
const APPLICABLE_SQL = applicableSql('candidates');

export interface OpenEnrollmentsResult {
  renewed: number;
  subsidisedRegistered: number;
  fullySubsidised: number;
}

/**
 * Enrollments for the campaign year: everyone who paid last year and is still alive and not in employee
 * insurance (renewed automatically at the new rate, 000 五(七)), and everyone holding an open identity
 * on `asOf` (registered by the center, 000 五(一)). Fully subsidised people are enrolled without a levy.
 *
 * A real policy's enrollments are the real year's rows: the year is claimed for the real year in the same
 * transaction (`claim_campaign_year`, migration 0050), so a monthly reconciliation that opens the year before
 * its campaign starts (the difficulty lists' additions, 000 五(一)) leaves a ledger where a drill of that year
 * is refused and no drill's clearing can delete them. Throws the ledger's MD001 error (a `pg` error, its
 * message saying what to clear) when a drill holds the year; a drill policy's campaign claimed the year when
 * it started.
 */
export async function openEnrollments(
  pool: pg.Pool,
  policy: Policy,
  asOf: string,
): Promise<OpenEnrollmentsResult> {
  return inTransaction(pool, async (client) => {
    if (!policy.drill)
      await client.query(`SELECT claim_campaign_year($1, $2, false, NULL, NULL)`, [
        policy.jurisdiction,
        policy.year,
      ]);
    await loadCategoryTable(client, policy);
    // 先登记参保: covered from the registration day (000 五(一)), or from the benefit year (003 三(三))
    const subsidisedFrom = difficultyBenefitStart(policy, asOf);
    // each enrollment records its own opening (the change of this statement, the status it was created in:
    // migration 0078), where a status-history row per enrollment was written before (issue #23: 428,041 of a
    // Kaiping year's history rows); opened_as is given here so that the ledger's row trigger, which sets it
    // on any row whose status differs, fires for none of the fully subsidised.
    // A category is decided only for the holders of an identity valid on the day, each holder read by key in
    // key order, and the candidates are read once, by the insert: deciding it over the candidates made them a
    // materialized set of every candidate of the jurisdiction (518,998 at Kaiping 1x), written once and scanned
    // twice to find the 16,720 holders (0.83 s under EXPLAIN ANALYZE), and as a join of the holders the
    // planner hashed all 715,982 residents (0.44 s; issue #23). A holder who is not a candidate is decided for
    // nothing: the insert joins the decisions to the candidates.
    const r = await client.query<{ renewed: number; subsidised: number; full: number }>(
      `WITH candidates AS (
         SELECT p.id AS resident_id, p.town_id,
                EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = $2::int - 1 AND e.status = 'paid') AS renewed
         FROM residents p
         WHERE p.jurisdiction = $1::text AND NOT p.employee_insured AND (p.deceased_on IS NULL OR p.deceased_on > $3::date)
           AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = $2::int)
       ),
       holders AS (
         SELECT p.id AS resident_id, p.birth_date, p.disability_grade, p.residency = 'hukou' AS local_hukou
         FROM (SELECT DISTINCT i.resident_id FROM identities i
               WHERE ${validOnDaySql('i')}
               ORDER BY i.resident_id) i
         CROSS JOIN LATERAL (SELECT p.id, p.birth_date, p.disability_grade, p.residency FROM residents p
                             WHERE p.id = i.resident_id OFFSET 0) p
       ),
       ${applicableSql('holders')},
       inserted AS (
         INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, town_id, status, category, total_fen, personal_fen, subsidy_fen, funding_source, benefit_start, opened_as)
         SELECT $1::text, $2::int, c.resident_id, c.town_id,
                CASE WHEN a.personal_fen = 0 THEN 'paid'::enrollment_status ELSE 'registered'::enrollment_status END,
                a.category, $5::int, coalesce(a.personal_fen, $5::int), coalesce(a.subsidy_fen, 0), coalesce(a.funding_source, 'personal'),
                CASE WHEN a.personal_fen = 0 THEN $4::date END,
                CASE WHEN a.personal_fen = 0 THEN 'paid'::enrollment_status ELSE 'registered'::enrollment_status END
         FROM candidates c LEFT JOIN applicable a ON a.resident_id = c.resident_id
         WHERE c.renewed OR a.resident_id IS NOT NULL
         RETURNING category, personal_fen
       )
       SELECT count(*) FILTER (WHERE category IS NULL)::int AS renewed,
              count(*) FILTER (WHERE category IS NOT NULL)::int AS subsidised,
              count(*) FILTER (WHERE personal_fen = 0)::int AS full
       FROM inserted`,
      [policy.jurisdiction, policy.year, asOf, subsidisedFrom, policy.contribution.personalFen],
    );
    // the year's enrollments were just written: fresh statistics, or the next step's planner takes the table
    // for last year's size and picks nested loops over half a million rows
    await client.query(`SELECT analyze_ledger('{enrollments}')`);
    const row = r.rows[0]!;
    return { renewed: row.renewed, subsidisedRegistered: row.subsidised, fullySubsidised: row.full };
  });
}

/**
 * The enrollments a later round (round >= 2) works on, read by key into the temp table `round_work` (id,
 * status), instead of both years' enrollments (issue #23: a scan of 852,896 rows twice a round, 11 rounds a
 * year, for 527-26,603 lines; migration 0030 keeps the status out of every index on purpose). After round 1
 * an enrollment becomes failed only by a round's results (levied -> failed), and every later round levies
 * all the failed ones (each row notes whether it is levied and awaiting a result, migration 0075: it stays
 * registered or failed meanwhile, is counted so by the tallies, and is neither refreshed nor levied again), so the failed of the year are the failures of the last round with results; it
 * becomes registered only by a form filed after round 1 (a new enrollment, numbered after round 1's last
 * levy line). The per-town tallies the status triggers keep in the same transactions (0040) prove the set:
 * when their failed or registered count for the year is not exactly the work set's (a re-enrollment after a
 * stop, a status set by hand, a crash between a round's levy and its results) the round reads the year as
 * before. Returns whether the work set is exact; the work set and the tallies are read in one statement
 * (one snapshot). Each enrollment is read by its key whatever the planner estimates (a LATERAL probe: a
 * hash join of 15,820 ids to a scan of the year was its choice, measured by the first attempt), in the
 * order of the keys, so the probes walk the table's pages in order (round 3 at Kaiping 1x: 240 ms against
 * 834 ms for the same probes in hash order, load ~6).
 */
async function laterRoundWork(client: pg.PoolClient, policy: Policy, round: number): Promise<boolean> {
  // the round before (the last of the year with results) and round 1's last levied enrollment
  const marks = await client.query<{ previous: string | null; after: string }>(
    `SELECT (SELECT b.id FROM levy_batches b WHERE b.jurisdiction = $1 AND b.campaign_year = $2 AND b.round < $3
               AND ${BATCH_HAS_RESULTS_SQL('b')}
             ORDER BY b.round DESC LIMIT 1) AS previous,
            coalesce((SELECT max(l.enrollment_id) FROM levy_lines l
                      WHERE l.batch_id = (SELECT b.id FROM levy_batches b WHERE b.jurisdiction = $1 AND b.campaign_year = $2 AND b.round = 1)), 0) AS after`,
    [policy.jurisdiction, policy.year, round],
  );
  const { previous, after } = marks.rows[0]!;
  // each work-set enrollment with what the refresh and the levy need of it and its resident, so neither
  // reads them again
  await client.query(
    `CREATE TEMP TABLE round_work (id bigint PRIMARY KEY, status enrollment_status, resident_id bigint, household_id bigint,
       category text, personal_fen int, birth_date date, disability_grade smallint, local_hukou boolean,
       awaiting boolean) ON COMMIT DROP`,
  );
  const r = await client.query<{ exact: boolean }>(
    `WITH work AS (
       SELECT r.enrollment_id AS id FROM deduction_results r WHERE r.batch_id = $3 AND r.outcome = 'failure'
       UNION ALL
       SELECT e.id FROM enrollments e WHERE e.id > $4 AND e.jurisdiction = $1 AND e.campaign_year = $2 AND e.status = 'registered'
     ), kept AS (
       INSERT INTO round_work
       SELECT w.id, e.status, e.resident_id, p.household_id, e.category, e.personal_fen, p.birth_date, p.disability_grade, p.residency = 'hukou',
              -- asked only of an enrollment whose status changed before the year's last batch: no other can
              -- hold a line of a batch created since (the function's per-row call took 0.5 s of round 2's
              -- 26,603 at Kaiping 1x, where none awaited a result)
              CASE WHEN e.status = 'levied' THEN true
                   WHEN e.status_changed_at > (SELECT max(b.created_at) FROM levy_batches b WHERE b.jurisdiction = $1 AND b.campaign_year = $2) THEN false
                   ELSE enrollment_awaiting_result(w.id, e.status, e.status_changed_at) END
       FROM (SELECT id FROM work ORDER BY id) w
       CROSS JOIN LATERAL (SELECT e.status, e.status_changed_at, e.resident_id, e.category, e.personal_fen FROM enrollments e
                           WHERE e.id = w.id AND e.jurisdiction = $1 AND e.campaign_year = $2 AND e.status IN ('registered', 'failed') OFFSET 0) e
       CROSS JOIN LATERAL (SELECT p.household_id, p.birth_date, p.disability_grade, p.residency FROM residents p WHERE p.id = e.resident_id OFFSET 0) p
       ON CONFLICT (id) DO NOTHING
       RETURNING status
     ), tallied AS (
       SELECT coalesce(sum(t.enrollments) FILTER (WHERE t.status = 'failed'), 0) AS failed,
              coalesce(sum(t.enrollments) FILTER (WHERE t.status = 'registered'), 0) AS registered
       FROM town_enrollment_tallies t WHERE t.jurisdiction = $1 AND t.campaign_year = $2 AND t.status IN ('registered', 'failed')
     )
     SELECT t.failed = (SELECT count(*) FROM kept WHERE status = 'failed')
        AND t.registered = (SELECT count(*) FROM kept WHERE status = 'registered') AS exact
     FROM tallied t`,
    [policy.jurisdiction, policy.year, previous, after],
  );
  return r.rows[0]?.exact === true;
}

/**
 * SQL: enrollment `e` (registered or failed) is not levied and awaiting a result (migration 0075: being levied
 * is a levy line of a batch created since the enrollment's status last changed, without a deduction result
 * yet). The year's batches are read first and each one's lines by key: round 1 finds only its own batch, still
 * without lines. Set-based as a join; `enrollment_awaiting_result` says the same for one enrollment.
 */
const notAwaitingSql = (e: string) => `NOT EXISTS (
         SELECT 1 FROM levy_batches b JOIN levy_lines l ON l.batch_id = b.id
         WHERE b.jurisdiction = ${e}.jurisdiction AND b.campaign_year = ${e}.campaign_year AND b.created_at >= ${e}.status_changed_at
           AND l.enrollment_id = ${e}.id
           AND NOT EXISTS (SELECT 1 FROM deduction_results d WHERE d.batch_id = l.batch_id AND d.enrollment_id = l.enrollment_id))`;

/**
 * SQL: batch `b` (a levy_batches alias) has at least one deduction result. One probe of the results' key
 * (batch_id, enrollment_id) per batch, whatever the statistics say: OFFSET 0 keeps the subquery a per-batch
 * probe, and ORDER BY the key makes the index the only cheap way to its first row. As a plain EXISTS the planner
 * chose by the statistics of the last ANALYZE of deduction_results, and on statistics that have not seen the
 * newest batch it read the table from its start once per batch, to its first row of that batch (a snapshot:
 * 2.2 s by December at Kaiping 1x, issue #23). So the later rounds' results need no ANALYZE of their own.
 */
const BATCH_HAS_RESULTS_SQL = (b: string) =>
  `EXISTS (SELECT 1 FROM deduction_results d WHERE d.batch_id = ${b}.id ORDER BY d.batch_id, d.enrollment_id LIMIT 1 OFFSET 0)`;

/**
 * SQL: the year's ($1, $2) failed enrollments by town that await a re-deduction's result (a batch of the year
 * without any result yet: a crash between a levy and its results), as `town_id, n`. They stay failed in the
 * status column and its tallies (0075) and are levied in the documents' words, as they were before.
 * The batches without results are found first (a fence), then only their lines, by key: the planner joined
 * every re-deduction's lines to their enrollments before asking whether the batch had results (a scan of all
 * 438,117 levy lines and 26,603 enrollment probes for round 2's batch, none awaiting: 0.35 s of a snapshot
 * after round 2 at Kaiping 1x; 18 snapshots and the cut-off a year ask it).
 */
const AWAITING_FAILED_BY_TOWN_SQL = `
       SELECT e.town_id, count(*) AS n
       FROM (SELECT b.id, b.created_at FROM levy_batches b
             WHERE b.jurisdiction = $1 AND b.campaign_year = $2 AND b.kind = 're-deduction'
               AND NOT ${BATCH_HAS_RESULTS_SQL('b')} OFFSET 0) b
       CROSS JOIN LATERAL (SELECT l.enrollment_id FROM levy_lines l WHERE l.batch_id = b.id OFFSET 0) l
       JOIN enrollments e ON e.id = l.enrollment_id AND e.status = 'failed' AND e.status_changed_at <= b.created_at
       GROUP BY e.town_id`;

/** The SET list of a share refresh: the decided category and shares; a share of nothing is paid (settled). */
const REFRESH_SET_SQL = `category = d.category, personal_fen = d.personal_fen, subsidy_fen = d.subsidy_fen, funding_source = d.funding_source,
            status = CASE WHEN d.personal_fen = 0 THEN 'paid'::enrollment_status ELSE e.status END,
            failure_class = CASE WHEN d.personal_fen = 0 THEN NULL ELSE e.failure_class END,
            benefit_start = CASE WHEN d.personal_fen = 0 THEN $5::date ELSE e.benefit_start END`;

/**
 * Before each levy: an unpaid enrollment follows the person's identities on the round's date. A removal
 * (the subsidised standard ends with the month) means the full personal share from then on; an addition
 * lowers the share, or settles it entirely. Paid enrollments keep the year as it is (000 五(一)), and an
 * enrollment levied and awaiting its result keeps the share it was levied (migration 0075).
 * With `byKey` (a later round whose work set is exact, laterRoundWork) the unpaid are those of `round_work`,
 * each enrollment and resident read by its key and each decided afresh on the round's date (a validity that
 * ends or begins between two rounds and an age threshold count as much as an identity written since the last
 * round); otherwise the year's registered and failed enrollments that can change: those whose person has
 * an identity row or that hold a category or a personal share other than the plan's (the proof is at the
 * statement). Returns the enrollments changed.
 */
async function refreshUnpaidShares(
  client: pg.PoolClient,
  policy: Policy,
  asOf: string,
  byKey: boolean,
): Promise<number> {
  await loadCategoryTable(client, policy);
  const params = [
    policy.jurisdiction,
    policy.year,
    asOf,
    policy.contribution.personalFen,
    difficultyBenefitStart(policy, asOf),
  ];
  if (!byKey) {
    // Only the enrollments whose decision can differ from what they hold are decided (issue #23: round 1's
    // refresh joined all 411,514 registered enrollments of a Kaiping year to their residents and decided each
    // again, 1.69 s, to change none). The proof: a person's decided category comes from `applicable`, which
    // joins the person's identities (valid on the day); a person without any identity row, of any validity,
    // has no applicable category whatever the day, age, grade or hukou, so the decision is (no category, the
    // plan's standard personal share $4). The UPDATE writes an enrollment only where its held category or
    // personal share differs from the decision. So an enrollment without an identity row that holds no
    // category and the standard share is decided exactly what it holds and never written; every other
    // enrollment (its person has an identity row, or it holds a category or another share) is decided as
    // before. The candidates are read in one pass over the year's enrollments, the identities' residents
    // hashed once, and each candidate's resident read by key; the majority is neither joined nor decided.
    const r = await client.query(
      `WITH candidates AS MATERIALIZED (
         SELECT e.id AS enrollment_id, e.resident_id, e.category AS held_category, e.personal_fen AS held_personal_fen,
                p.birth_date, p.disability_grade, p.residency = 'hukou' AS local_hukou
         FROM enrollments e
         CROSS JOIN LATERAL (SELECT p.birth_date, p.disability_grade, p.residency FROM residents p WHERE p.id = e.resident_id OFFSET 0) p
         WHERE e.jurisdiction = $1::text AND e.campaign_year = $2::int AND e.status IN ('registered', 'failed')
           AND (e.category IS NOT NULL OR e.personal_fen <> $4::int OR e.resident_id IN (SELECT i.resident_id FROM identities i))
           AND ${notAwaitingSql('e')}
       ),
       ${APPLICABLE_SQL},
       decided AS MATERIALIZED (
         SELECT c.enrollment_id, a.category, coalesce(a.personal_fen, $4::int) AS personal_fen, coalesce(a.subsidy_fen, 0) AS subsidy_fen,
                coalesce(a.funding_source, 'personal') AS funding_source
         FROM candidates c LEFT JOIN applicable a ON a.resident_id = c.resident_id
         WHERE c.held_category IS DISTINCT FROM a.category OR c.held_personal_fen <> coalesce(a.personal_fen, $4::int)
       )
       UPDATE enrollments e SET ${REFRESH_SET_SQL}
       FROM decided d
       WHERE e.id = ANY (ARRAY(SELECT enrollment_id FROM decided)) AND e.id = d.enrollment_id
         AND e.jurisdiction = $1::text AND e.campaign_year = $2::int AND e.status IN ('registered', 'failed')
         AND (e.category IS DISTINCT FROM d.category OR e.personal_fen <> d.personal_fen) AND ${notAwaitingSql('e')}`,
      params,
    );
    return r.rowCount ?? 0;
  }
  // the work set as read by key (laterRoundWork); only the changed enrollments are updated, by key: their
  // ids as an array, so the UPDATE reads the key's index, not the year
  const r = await client.query(
    `WITH candidates AS (
       SELECT w.id AS enrollment_id, w.resident_id, w.category AS held_category, w.personal_fen AS held_personal_fen,
              w.birth_date, w.disability_grade, w.local_hukou
       FROM round_work w WHERE NOT w.awaiting
     ),
     ${APPLICABLE_SQL},
     decided AS MATERIALIZED (
       SELECT c.enrollment_id, a.category, coalesce(a.personal_fen, $4::int) AS personal_fen, coalesce(a.subsidy_fen, 0) AS subsidy_fen,
              coalesce(a.funding_source, 'personal') AS funding_source
       FROM candidates c LEFT JOIN applicable a ON a.resident_id = c.resident_id
       WHERE c.held_category IS DISTINCT FROM a.category OR c.held_personal_fen <> coalesce(a.personal_fen, $4::int)
     )
     UPDATE enrollments e SET ${REFRESH_SET_SQL}
     FROM decided d
     WHERE e.id = ANY (ARRAY(SELECT enrollment_id FROM decided)) AND e.id = d.enrollment_id
       AND e.jurisdiction = $1::text AND e.campaign_year = $2::int AND e.status IN ('registered', 'failed')
       AND (e.category IS DISTINCT FROM d.category OR e.personal_fen <> d.personal_fen)`,
    params,
  );
  return r.rowCount ?? 0;
}

/**
 * The share refresh a levy runs first (`refreshUnpaidShares` over the year, as round 1 runs it), alone in a
 * transaction of its own on `pool`, as the ledger's steps run theirs: for tests that read a one-connection
 * pool's session statistics around it. Returns the enrollments changed.
 */
export async function refreshYearShares(pool: pg.Pool, policy: Policy, asOf: string): Promise<number> {
  return inTransaction(pool, (client) => refreshUnpaidShares(client, policy, asOf, false));
}

export interface LevyBatch {
  batchId: number;
  round: number;
  lines: number;
  totalFen: number;
  /**
   * Where the round found its enrollments: the year's (round 1, or a later round whose work set the tallies
   * did not prove), or its work set read by key (the last round's failures and the later registrations,
   * laterRoundWork). Absent when the batch already existed.
   */
  candidatesFrom?: 'year' | 'work set';
}

/**
 * The levy lines of round `round`: round 1 takes every registered enrollment with a personal share;
 * later rounds take the failed ones (systemic ones re-sent, personal ones re-deducted on the cadence).
 * Each line names the resident and household it levies (migration 0041), so the levy file and the bureau
 * need not join the year's enrollments again.
 * Idempotent on (jurisdiction, year, round).
 */
export async function createLevyBatch(
  pool: pg.Pool,
  policy: Policy,
  round: number,
  asOf: string,
  /** Called inside the transaction, after the lines are written and before the commit (fault suite). */
  beforeCommit?: () => Promise<void>,
): Promise<LevyBatch> {
  return inTransaction(pool, async (client) => {
    const existing = await client.query<{ id: string; line_count: number; total_fen: string }>(
      `SELECT id, line_count, total_fen FROM levy_batches WHERE jurisdiction = $1 AND campaign_year = $2 AND round = $3`,
      [policy.jurisdiction, policy.year, round],
    );
    if (existing.rows[0]) {
      const b = existing.rows[0];
      return { batchId: Number(b.id), round, lines: b.line_count, totalFen: Number(b.total_fen) };
    }
    // a later round works on its own enrollments, read by key, when the tallies prove them exact; round 1
    // (and a later round they do not prove) reads the year
    const byKey = round > 1 && (await laterRoundWork(client, policy, round));
    const refreshed = await refreshUnpaidShares(client, policy, asOf, byKey);
    const batch = await client.query<{ id: string }>(
      `INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind) VALUES ($1, $2, $3, $4) RETURNING id`,
      [policy.jurisdiction, policy.year, round, round === 1 ? 'first' : 're-deduction'],
    );
    const batchId = Number(batch.rows[0]!.id);
    const wanted = round === 1 ? `'registered'` : `'failed'`;
    // The lines only (issue #23): an enrollment keeps registered (round 1) or failed (a re-deduction) until its
    // result moves it, and its line says it is levied (migration 0075, whose trigger on levy_lines records the
    // moves by reference to the lines). Round 1 reads the year's enrollments with their residents in one join;
    // by key, the work set's enrollments (each read by its key, for the share the refresh left) with each line's
    // household from the work set, where the planner hashed all 715,982 residents for 527 lines. An enrollment
    // levied and awaiting a result is not levied again.
    const lines = await client.query<{ n: number; total: string }>(
      `WITH l AS (
         INSERT INTO levy_lines (batch_id, enrollment_id, amount_fen, resident_id, household_id)
         ${
           byKey
             ? `SELECT $1, e.id, e.personal_fen, e.resident_id, w.household_id
         FROM round_work w
         CROSS JOIN LATERAL (SELECT e.id, e.personal_fen, e.resident_id FROM enrollments e
                             WHERE e.id = w.id AND e.jurisdiction = $2 AND e.campaign_year = $3
                               AND e.status = ${wanted} AND e.personal_fen > 0 OFFSET 0) e
         WHERE NOT w.awaiting`
             : `SELECT $1, e.id, e.personal_fen, e.resident_id, p.household_id
         FROM enrollments e JOIN residents p ON p.id = e.resident_id
         WHERE e.jurisdiction = $2 AND e.campaign_year = $3 AND e.status = ${wanted} AND e.personal_fen > 0
           AND ${notAwaitingSql('e')}`
         }
         RETURNING amount_fen
       )
       SELECT count(*)::int AS n, coalesce(sum(amount_fen), 0)::text AS total FROM l`,
      [batchId, policy.jurisdiction, policy.year],
    );
    const n = lines.rows[0]!.n;
    const total = Number(lines.rows[0]!.total);
    await client.query(`UPDATE levy_batches SET line_count = $2, total_fen = $3 WHERE id = $1`, [
      batchId,
      n,
      total,
    ]);
    // the enrollments keep their statuses: only the refresh changed any, a few at a time. Round 1's lines (and a
    // later round's read from the year) are analyzed: the hand-over and the results join them by the thousand. A
    // later round's lines read by key are analyzed only where they are a fiftieth of the table (an ANALYZE
    // samples most of it: 70-90 ms at Kaiping 1x, 11 later rounds a year): everything after reads them by key
    // whatever the statistics say of the new batch (the simulated bureau's totals as a window, the results'
    // lines probed by key; on an estimate of one line the bureau's join of its lines to their accounts ran 104 s
    // for round 2's 26,603)
    await analyzeWhereManyChanged(
      client,
      { levy_lines: n, enrollments: refreshed },
      byKey ? [] : ['levy_lines'],
      ['levy_lines'],
    );
    if (beforeCommit) await beforeCommit();
    return { batchId, round, lines: n, totalFen: total, candidatesFrom: byKey ? 'work set' : 'year' };
  });
}

export interface AppliedResults {
  batchId: number;
  lines: number;
  success: number;
  personal: number;
  systemic: number;
  /** Result lines for levy lines that already had a result: ignored. */
  duplicates: number;
}

/**
 * Applies the tax bureau's deduction results for a batch (as its adapter reads them from the bureau's
 * file, chunk by chunk). Each levy line gets one result: a line repeated in the file counts its first copy,
 * a line already paid (a success in any batch) is ignored, and a second copy of the file, or lines out of
 * order, change nothing. A success sets the benefit start (`benefitStartOfPayment` of `paidOn`); a failure
 * is classed by `classifyDeductionFailure` (000 五(五)), and a personal one opens a follow-up task for the
 * person's town and village. Returns the batch's counts as recorded (the same on a retried application);
 * `duplicates` are the file's lines that recorded nothing.
 */
export async function applyDeductionResults(
  pool: pg.Pool,
  policy: Policy,
  batchId: number,
  results: AsyncIterable<DeductionResult[]>,
  paidOn: string,
): Promise<AppliedResults> {
  // the benefit start this payment date buys, by the engine's own rule (the centralised period, or the
  // policy's mid-year rule: 000 五(六) next month, 003 二(二)2 the 4th month counting the payment month)
  const benefitStart = benefitStartOfPayment(policy, paidOn);
  return inTransaction(pool, async (client) => {
    // The file streams into a staging table: a result file is as long as the levy, never held in memory.
    // Each failure is classed (personal or systemic, by the plan) as it streams: one lookup per distinct
    // code, so the statement below needs no join to a table of classes (whose merge join sorted the whole
    // file by code, and so wrote the results and moved the enrollments in that random order: issue #23).
    await client.query(
      `CREATE TEMP TABLE incoming_results (line bigint, enrollment_id bigint, outcome text, failure_code text, failure_class text) ON COMMIT DROP`,
    );
    const copy = client.query(copyFrom(`COPY incoming_results FROM STDIN`));
    await pipeline(Readable.from(resultCopyLines(results, failureClassOf(policy))), copy);
    const lines = copy.rowCount;
    await client.query('ANALYZE incoming_results');
    // one application of a batch at a time: a retried activity beside the first (a lost heartbeat) waits for
    // it, then finds its results below and reports them, never the nothing it wrote itself
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('deduction-results/' || $1::text))`, [batchId]);
    // whether an earlier application (a resent or partial file, a retry after a crash after commit) already
    // recorded results of this batch: only then can a result meet one already written (ON CONFLICT below), and
    // only then must the round's counts be read back from the table (below)
    const earlier = await client.query(`SELECT 1 FROM deduction_results WHERE batch_id = $1 LIMIT 1`, [
      batchId,
    ]);
    // a file of fewer lines than a quarter of the results recorded (a later round's) finds its lines already
    // paid by probing each one's success; round 1's hashes them (a later round's hash read every success of the
    // year: 0.11 s of round 2's 0.26 s statement at Kaiping 1x)
    // And a batch of less than a fiftieth of the levy lines (whose levy did not ANALYZE them, createLevyBatch) has
    // its lines probed by key: joined on an estimate of one line, the planner could loop over the file for each.
    // A larger one is joined as before: probing round 2's 26,603 lines gave the planner the true count, and it
    // then hashed all the year's enrollments for the UPDATE instead of probing them (0.3-0.5 s slower).
    const sizes = (
      await client.query<{ small: boolean; lines_by_key: boolean }>(
        `SELECT $1::float8 * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'deduction_results'::regclass) AS small,
                $1::float8 * $2 < (SELECT reltuples FROM pg_class WHERE oid = 'levy_lines'::regclass) AS lines_by_key`,
        [lines, UNANALYZED_BATCH_SHARE],
      )
    ).rows[0];
    const byKey = sizes?.small === true;
    const linesByKey = byKey && sizes?.lines_by_key === true;
    // the statement names its batch: the status history records the moves its results stand for by
    // reference to them, and any other move row by row (migration 0070)
    await client.query(`SELECT set_config('medins.batch', $1, true)`, [`deduction_results:${batchId}`]);
    // One statement (issue #23): each result written once (a line repeated in the file counts once, its first
    // copy in the file; the results go in enrollment order, as the indexes and the enrollments lie), a line
    // already paid skipped (`paid`: the batch's lines with a success, read once before anything is written,
    // whatever the planner thinks of the table's size), each enrollment moved once, paid or failed by one
    // UPDATE (one status-history statement, one join of the year's enrollments), a personal failure's
    // follow-up task opened, and a success's open task closed, from the rows this statement wrote; with no task
    // open at all (round 1) the successes are not read for it (a one-time test of the open tasks' index: the
    // join read round 1's 384,911 successes for no task, 0.2 s under auto_explain).
    // A first application inserts plainly: ON CONFLICT's speculative insertion cost round 1 twice the buffer
    // visits and a third more WAL records (EXPLAIN (ANALYZE, BUFFERS, WAL), issue #23), for conflicts that only
    // an earlier application's rows can cause.
    const inserted = await client.query<{ outcome: string; failure_class: string | null; n: number }>(
      `WITH paid AS MATERIALIZED (
         SELECT d.enrollment_id FROM levy_lines l
         ${
           byKey
             ? `CROSS JOIN LATERAL (SELECT d.enrollment_id FROM deduction_results d
                                   WHERE d.enrollment_id = l.enrollment_id AND d.outcome = 'success' OFFSET 0) d`
             : `JOIN deduction_results d ON d.enrollment_id = l.enrollment_id AND d.outcome = 'success'`
         }
         WHERE l.batch_id = $1
       ), ins AS (
         INSERT INTO deduction_results (batch_id, enrollment_id, outcome, failure_code, failure_class)
         SELECT DISTINCT ON (x.enrollment_id) $1, x.enrollment_id, x.outcome, x.failure_code, x.failure_class
         FROM incoming_results x
         ${
           linesByKey
             ? `CROSS JOIN LATERAL (SELECT 1 FROM levy_lines l WHERE l.batch_id = $1 AND l.enrollment_id = x.enrollment_id OFFSET 0) l`
             : `JOIN levy_lines l ON l.batch_id = $1 AND l.enrollment_id = x.enrollment_id`
         }
         WHERE NOT EXISTS (SELECT 1 FROM paid p WHERE p.enrollment_id = x.enrollment_id)
         ORDER BY x.enrollment_id, x.line
         ${earlier.rowCount ? 'ON CONFLICT (batch_id, enrollment_id) DO NOTHING' : ''}
         RETURNING enrollment_id, outcome, failure_class
       ), moved AS (
         UPDATE enrollments e
         SET status = CASE WHEN ins.outcome = 'success' THEN 'paid'::enrollment_status ELSE 'failed'::enrollment_status END,
             benefit_start = CASE WHEN ins.outcome = 'success' THEN $2::date ELSE e.benefit_start END,
             failure_class = ins.failure_class, status_changed_at = now()
         FROM ins WHERE e.id = ins.enrollment_id AND (e.status = 'levied' OR e.status IN ('registered', 'failed') AND e.status_changed_at <= (SELECT b.created_at FROM levy_batches b WHERE b.id = $1))
         RETURNING e.id, e.resident_id, ins.outcome, ins.failure_class
       ), tasks AS (
         INSERT INTO follow_up_tasks (enrollment_id, town_id, village_id, reason)
         SELECT f.id, p.town_id, p.village_id, 'deduction failed: personal reason'
         FROM moved f JOIN residents p ON p.id = f.resident_id
         WHERE f.outcome = 'failure' AND f.failure_class = 'personal'
           AND NOT EXISTS (SELECT 1 FROM follow_up_tasks t WHERE t.enrollment_id = f.id AND t.closed_at IS NULL)
         RETURNING 1
       ), closed AS (
         UPDATE follow_up_tasks t SET closed_at = now(), outcome = 'paid'
         FROM ins WHERE ins.outcome = 'success' AND t.enrollment_id = ins.enrollment_id AND t.closed_at IS NULL
           AND EXISTS (SELECT 1 FROM follow_up_tasks o WHERE o.closed_at IS NULL)
         RETURNING 1
       )
       SELECT outcome, failure_class, count(*)::int AS n FROM ins GROUP BY outcome, failure_class`,
      [batchId, benefitStart],
    );
    const changed = inserted.rows.reduce((s, r) => s + r.n, 0);
    // A large file's results (round 1's) are analyzed, for the statements that join them by the thousand. A
    // small one's (a later round's) only where they are a fiftieth of the table: the coverage snapshots, the cut-off
    // and the next round ask whether a batch has results by one probe of the key each (BATCH_HAS_RESULTS_SQL),
    // and read a batch's results or an enrollment's by key, whatever the statistics say of the newest batch; an
    // ANALYZE of deduction_results samples most of the table (70-90 ms at Kaiping 1x, 11 later rounds a year)
    await analyzeWhereManyChanged(
      client,
      { deduction_results: changed, enrollments: changed },
      byKey ? [] : ['deduction_results'],
      ['deduction_results'],
    );
    // the batch's results as recorded, whether written now or by an earlier attempt that crashed after its
    // commit: a retried application reports the same round as the first. Without an earlier application the
    // rows this statement wrote are all the batch has.
    const recorded = earlier.rowCount
      ? await client.query<{ outcome: string; failure_class: string | null; n: number }>(
          `SELECT outcome, failure_class, count(*)::int AS n FROM deduction_results WHERE batch_id = $1 GROUP BY 1, 2`,
          [batchId],
        )
      : inserted;
    const count = (o: string, c: string | null) =>
      recorded.rows.find((r) => r.outcome === o && r.failure_class === c)?.n ?? 0;
    const success = count('success', null);
    const personal = count('failure', 'personal');
    const systemic = count('failure', 'systemic');
    return {
      batchId,
      lines,
      success,
      personal,
      systemic,
      duplicates: lines - success - personal - systemic,
    };
  });
}

/**
 * A failure code's class by the plan (`classifyDeductionFailure`: personal or systemic, 000 五(五)), looked
 * up once per distinct code the file uses.
 */
function failureClassOf(policy: Policy): (code: string) => string {
  const classes = new Map<string, string>();
  return (code) => {
    let c = classes.get(code);
    if (c === undefined) {
      c = classifyDeductionFailure(policy, code).class;
      classes.set(code, c);
    }
    return c;
  };
}

/**
 * Deduction results as COPY text (the result's ordinal in the file, enrollment id, outcome, failure code,
 * failure class), chunk by chunk as
 * the tax adapter reads them from its file (the adapter owns the file's format: departments/).
 */
async function* resultCopyLines(
  results: AsyncIterable<DeductionResult[]>,
  classOf: (code: string) => string,
): AsyncGenerator<string> {
  let line = 0;
  for await (const chunk of results) {
    let out = '';
    for (const r of chunk) {
      line += 1;
      if (r.outcome === 'success') {
        out += `${line}\t${r.enrollmentId}\tsuccess\t\\N\t\\N\n`;
      } else {
        const code = (r.failureCode || 'unknown').replace(/[\\\t\n\r]/g, ' ');
        out += `${line}\t${r.enrollmentId}\tfailure\t${code}\t${classOf(code)}\n`;
      }
    }
    if (out) yield out;
  }
}

/** The ledger's column behind each levy field a tax adapter's layout may name. */
const LEVY_FIELD_SQL: Record<LevyField, string> = {
  idNumber: 'p.id_number',
  name: 'p.name',
  amountFen: 'l.amount_fen',
  bankAccount: 'h.bank_account',
  enrollmentId: 'l.enrollment_id',
};

/**
 * Writes batch `batchId`'s levy lines (应征数据) to `path` in the tax adapter's layout (columns, headers,
 * delimiter) with one streamed COPY, in enrollment order; the file holds ID numbers and bank accounts and
 * goes only to the exchange store and the tax bureau. Returns the number of levy lines written.
 */
export async function writeLevyFile(
  pool: pg.Pool,
  batchId: number,
  layout: LevyFileLayout,
  path: string,
): Promise<number> {
  const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const columns = layout.columns
    .map((c) => `${LEVY_FIELD_SQL[c.field]} AS ${quoteIdent(c.header)}`)
    .join(', ');
  const delimiter =
    layout.delimiter && layout.delimiter !== ',' ? `, DELIMITER ${quoteLiteral(layout.delimiter)}` : '';
  return inTransaction(pool, async (client) => {
    // round 1's hashes and sort in memory: at the server's 4 MB the join went to 4 batches and the sort to disk
    // (86 MB of temporary files for 411,514 lines, issue #23); 64 MB holds them, as the bureau's statement has
    await client.query(`SET LOCAL work_mem = '64MB'`);
    // A later round's batch (fewer lines than a quarter of the residents) reads its residents and households
    // by key: the planner hashed full scans of both for a 15,820-line batch (1.90 s against 0.59 s by key
    // under EXPLAIN ANALYZE, issue #23). Transaction-local, and the query has no joins but these.
    await client.query(
      `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)
       FROM levy_batches b WHERE b.id = $1 AND b.line_count * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'residents'::regclass)`,
      [batchId],
    );
    const stream = client.query(
      copyTo(
        `COPY (SELECT ${columns}
               FROM levy_lines l JOIN residents p ON p.id = l.resident_id
               LEFT JOIN households h ON h.id = l.household_id WHERE l.batch_id = ${Number(batchId)} ORDER BY l.enrollment_id)
         TO STDOUT WITH (FORMAT csv, HEADER${delimiter})`,
      ),
    );
    await pipeline(stream, createWriteStream(path));
    return stream.rowCount;
  });
}

export interface CutOffResult {
  abandoned: number;
  stillFailed: number;
}

/**
 * At the cut-off, a personal-reason failure becomes voluntary abandonment (视为自动弃保) where the policy
 * says so; elsewhere it stays on the not-enrolled ledgers. One levied again and awaiting its result is not a
 * failure yet (migration 0075). Idempotent.
 */
export async function cutOff(pool: pg.Pool, policy: Policy): Promise<CutOffResult> {
  return inTransaction(pool, async (client) => {
    if (policy.deductionFailures.personalAtCutoff === 'abandoned') {
      await client.query(
        `WITH a AS (UPDATE enrollments SET status = 'abandoned', failure_class = NULL
                    WHERE jurisdiction = $1 AND campaign_year = $2 AND status = 'failed' AND failure_class = 'personal'
                      AND NOT enrollment_awaiting_result(id, status, status_changed_at) RETURNING id)
         UPDATE follow_up_tasks t SET closed_at = now(), outcome = 'abandoned' FROM a WHERE t.enrollment_id = a.id AND t.closed_at IS NULL`,
        [policy.jurisdiction, policy.year],
      );
    }
    // the year's counts by status from the per-town tallies the same statement kept (0040), not a scan of
    // the year's enrollments (issue #23: two scans of 186 MB made the cut-off 3x its one-statement baseline);
    // a failed enrollment levied again and awaiting its result is not failed (0075)
    const counts = await client.query<{ abandoned: number; failed: number }>(
      `SELECT coalesce(sum(enrollments) FILTER (WHERE status = 'abandoned'), 0)::int AS abandoned,
              (coalesce(sum(enrollments) FILTER (WHERE status = 'failed'), 0)
               - (SELECT coalesce(sum(a.n), 0) FROM (${AWAITING_FAILED_BY_TOWN_SQL}) a))::int AS failed
       FROM town_enrollment_tallies WHERE jurisdiction = $1 AND campaign_year = $2`,
      [policy.jurisdiction, policy.year],
    );
    const row = counts.rows[0]!;
    return {
      abandoned: policy.deductionFailures.personalAtCutoff === 'abandoned' ? row.abandoned : 0,
      stillFailed: row.failed,
    };
  });
}

/** Per-town figures frozen under `key` (a report date, or 'cutoff'). Idempotent on the key. */
export async function snapshotCoverage(
  pool: pg.Pool,
  policy: Policy,
  key: string,
  takenAt: Date,
  targets: Map<string, number | null>,
): Promise<number> {
  return inTransaction(pool, async (client) => {
    const towns = await client.query<{ id: number; name: string }>(
      `SELECT id, name FROM towns WHERE jurisdiction = $1`,
      [policy.jurisdiction],
    );
    // the per-town tallies the ledger's own statements keep (migration 0040): a few hundred rows, where
    // counting residents and joining the year's enrollments to them read the whole population each time
    // (issue #23: 2.6 s a snapshot at Kaiping 1x, 18 snapshots a year)
    const r = await client.query(
      `INSERT INTO coverage_snapshots (jurisdiction, campaign_year, snapshot_key, town_id, registered, to_enroll, target, enrolled, subsidised, failed, abandoned, taken_at)
       SELECT $1, $2, $3, t.id, coalesce(r.registered, 0), coalesce(r.to_enroll, 0), tg.target,
              coalesce(e.enrolled, 0), coalesce(e.subsidised, 0), coalesce(e.failed, 0), coalesce(e.abandoned, 0), $4
       FROM towns t
       LEFT JOIN (SELECT town_id, sum(residents) FILTER (WHERE hukou) AS registered,
                         sum(residents) FILTER (WHERE hukou AND NOT employee_insured) AS to_enroll
                  FROM town_resident_tallies WHERE jurisdiction = $1 GROUP BY town_id) r ON r.town_id = t.id
       LEFT JOIN (SELECT t2.town_id, sum(t2.enrollments) FILTER (WHERE t2.status = 'paid') AS enrolled,
                         sum(t2.enrollments) FILTER (WHERE t2.status = 'paid' AND t2.subsidised) AS subsidised,
                         sum(t2.enrollments) FILTER (WHERE t2.status = 'failed') - coalesce(max(a.n), 0) AS failed,
                         sum(t2.enrollments) FILTER (WHERE t2.status = 'abandoned') AS abandoned
                  FROM town_enrollment_tallies t2 LEFT JOIN (${AWAITING_FAILED_BY_TOWN_SQL}) a ON a.town_id = t2.town_id
                  WHERE t2.jurisdiction = $1 AND t2.campaign_year = $2 GROUP BY t2.town_id) e ON e.town_id = t.id
       LEFT JOIN unnest($5::int[], $6::int[]) AS tg(town_id, target) ON tg.town_id = t.id
       WHERE t.jurisdiction = $1
       ON CONFLICT DO NOTHING`,
      [
        policy.jurisdiction,
        policy.year,
        key,
        takenAt,
        towns.rows.map((t) => t.id),
        towns.rows.map((t) => targets.get(t.name) ?? null),
      ],
    );
    return r.rowCount ?? 0;
  });
}

export interface ClaimTotals {
  claims: { fundingSource: string; department: string; persons: number; totalFen: number; claimId: number }[];
  /** People left out of the claim, and why (ID numbers masked), with the plan's sentence for it. */
  excluded: {
    idNumber: string;
    name: string;
    category: string;
    department: string;
    reason: string;
    source: string;
  }[];
}

/**
 * The subsidy claim for the given funding sources: every paid enrollment with a subsidy, totalled by
 * fund and certifying department. Where the policy says so (001 三(三)), people without valid identity
 * information are left out and counted. Idempotent: one claim per fund and department and year.
 */
export async function claimSubsidies(
  pool: pg.Pool,
  policy: Policy,
  fundingSources: string[],
  dueOn: string,
): Promise<ClaimTotals> {
  return inTransaction(pool, async (client) => {
    await loadCategoryTable(client, policy);
    const excludeInvalid = Boolean(policy.claimExcludesInvalidIdentity);
    // verifying the list with the departments before claiming is the claim's own rule (000 五(一))
    const claimSource = policy.calendar.subsidyClaims.find((c) =>
      c.fundingSources.some((f) => fundingSources.includes(f)),
    )?.source;
    // Verify the subsidised list with the departments: a person is claimed only while the certifying
    // department's identity held at some point between the benefit start and the claim (a removal within
    // the year keeps the year, 000 五(一)); where the plan says so, never without valid identity
    // information (001 三(三)).
    await client.query(
      // the department's confirmation as a join, not a lookup per person: identities has no index that
      // answers "valid at some point since the benefit start", and a per-person scan grew with the square
      // of the population (7x from Kaiping 1x to 3x in the benchmark)
      `CREATE TEMP TABLE claim_candidates ON COMMIT DROP AS
       WITH c AS (
         SELECT e.id AS enrollment_id, e.resident_id, e.funding_source, pc.department, e.subsidy_fen, p.id_number, p.name, e.category, e.benefit_start
         FROM enrollments e JOIN residents p ON p.id = e.resident_id JOIN policy_categories pc ON pc.category = e.category
         WHERE e.jurisdiction = $1 AND e.campaign_year = $2 AND e.status = 'paid' AND e.subsidy_fen > 0 AND e.funding_source = ANY ($3)
       ), confirmed AS (
         SELECT DISTINCT c.enrollment_id FROM c
         JOIN identities i ON i.resident_id = c.resident_id AND i.category = c.category
         WHERE i.valid_from <= $4::date AND (i.valid_to IS NULL OR i.valid_to >= coalesce(c.benefit_start, $6::date))
       )
       SELECT c.enrollment_id, c.funding_source, c.department, c.subsidy_fen, c.id_number, c.name, c.category,
              CASE
                WHEN $5 AND (c.id_number !~ '^[0-9]{17}[0-9X]$' OR coalesce(c.name, '') = '') THEN 'identity-information-invalid'
                WHEN f.enrollment_id IS NULL THEN 'identity-not-confirmed-by-department'
              END AS exclusion
       FROM c LEFT JOIN confirmed f ON f.enrollment_id = c.enrollment_id`,
      [
        policy.jurisdiction,
        policy.year,
        fundingSources,
        dueOn,
        excludeInvalid,
        policy.calendar.benefitYearStart.date,
      ],
    );
    const excluded = await client.query<{
      id_number: string;
      name: string;
      category: string;
      department: string;
      exclusion: string;
    }>(
      `SELECT id_number, name, category, department, exclusion FROM claim_candidates WHERE exclusion IS NOT NULL ORDER BY department, enrollment_id`,
    );
    await client.query(
      `INSERT INTO subsidy_claims (jurisdiction, campaign_year, funding_source, department, due_on)
       SELECT DISTINCT $1::text, $2::int, funding_source, department, $3::date FROM claim_candidates WHERE exclusion IS NULL
       ON CONFLICT DO NOTHING`,
      [policy.jurisdiction, policy.year, dueOn],
    );
    await client.query(
      `INSERT INTO subsidy_claim_lines (claim_id, enrollment_id, amount_fen)
       SELECT c.id, k.enrollment_id, k.subsidy_fen FROM claim_candidates k
       JOIN subsidy_claims c ON c.jurisdiction = $1 AND c.campaign_year = $2 AND c.funding_source = k.funding_source AND c.department = k.department
       WHERE k.exclusion IS NULL
       ON CONFLICT DO NOTHING`,
      [policy.jurisdiction, policy.year],
    );
    const totals = await client.query<{
      id: string;
      funding_source: string;
      department: string;
      persons: number;
      total: string;
    }>(
      `WITH t AS (SELECT claim_id, count(*)::int AS persons, sum(amount_fen) AS total FROM subsidy_claim_lines GROUP BY claim_id)
       UPDATE subsidy_claims c SET person_count = t.persons, total_fen = t.total FROM t
       WHERE t.claim_id = c.id AND c.jurisdiction = $1 AND c.campaign_year = $2 AND c.funding_source = ANY ($3)
       RETURNING c.id, c.funding_source, c.department, c.person_count AS persons, c.total_fen::text AS total`,
      [policy.jurisdiction, policy.year, fundingSources],
    );
    return {
      claims: totals.rows
        .map((r) => ({
          claimId: Number(r.id),
          fundingSource: r.funding_source,
          department: r.department,
          persons: r.persons,
          totalFen: Number(r.total),
        }))
        .sort(
          (a, b) =>
            a.fundingSource.localeCompare(b.fundingSource) || a.department.localeCompare(b.department),
        ),
      excluded: excluded.rows.map((r) => ({
        idNumber: maskIdNumber(r.id_number),
        name: r.name,
        category: r.category,
        department: r.department,
        reason: r.exclusion,
        source:
          r.exclusion === 'identity-information-invalid'
            ? (policy.claimExcludesInvalidIdentity?.source ?? '')
            : (claimSource ?? policy.calendar.subsidyClaims[0]!.source),
      })),
    };
  });
}
