-- A deduction round's levy: unpaid shares follow the identities of the round's date, the levy lines are
-- written (each naming its resident and household, migration 0041), and the levy data for the tax bureau is exported with COPY (to standard output, into the file
-- the benchmark names). A later round works on its own enrollments read by key, when the per-town tallies
-- prove them exact (as ledger/campaign.ts laterRoundWork), else on the year's. Variables: jurisdiction, year, round, as_of, subsidised_from (the engine's
-- difficultyBenefitStart of as_of), personal_fen, wanted ('registered' or 'failed'), levy_file.
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
-- a later round: the last round's failures and the registrations after round 1, each read by key with its
-- resident, proven by the per-town tallies in the same statement (ledger/campaign.ts laterRoundWork)
SELECT :round > 1 AS later \gset
\if :later
SELECT coalesce((SELECT b.id FROM levy_batches b WHERE b.jurisdiction = :'jurisdiction' AND b.campaign_year = :year AND b.round < :round
                   -- one probe of the results' key per batch, whatever the statistics (BATCH_HAS_RESULTS_SQL)
                   AND EXISTS (SELECT 1 FROM deduction_results r WHERE r.batch_id = b.id ORDER BY r.batch_id, r.enrollment_id LIMIT 1 OFFSET 0)
                 ORDER BY b.round DESC LIMIT 1), 0) AS previous,
       coalesce((SELECT max(l.enrollment_id) FROM levy_lines l
                 WHERE l.batch_id = (SELECT b.id FROM levy_batches b WHERE b.jurisdiction = :'jurisdiction' AND b.campaign_year = :year AND b.round = 1)), 0) AS after \gset
CREATE TEMP TABLE round_work (id bigint PRIMARY KEY, status enrollment_status, resident_id bigint, household_id bigint,
  category text, personal_fen int, birth_date date, disability_grade smallint, local_hukou boolean, awaiting boolean) ON COMMIT DROP;
WITH work AS (
  SELECT r.enrollment_id AS id FROM deduction_results r WHERE r.batch_id = :previous AND r.outcome = 'failure'
  UNION ALL
  SELECT e.id FROM enrollments e WHERE e.id > :after AND e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status = 'registered'
), kept AS (
  INSERT INTO round_work
  SELECT w.id, e.status, e.resident_id, p.household_id, e.category, e.personal_fen, p.birth_date, p.disability_grade, p.residency = 'hukou',
         CASE WHEN e.status = 'levied' THEN true
              WHEN e.status_changed_at > (SELECT max(b.created_at) FROM levy_batches b WHERE b.jurisdiction = :'jurisdiction' AND b.campaign_year = :year) THEN false
              ELSE enrollment_awaiting_result(w.id, e.status, e.status_changed_at) END
  FROM (SELECT id FROM work ORDER BY id) w
  CROSS JOIN LATERAL (SELECT e.status, e.status_changed_at, e.resident_id, e.category, e.personal_fen FROM enrollments e
                      WHERE e.id = w.id AND e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status IN ('registered', 'failed') OFFSET 0) e
  CROSS JOIN LATERAL (SELECT p.household_id, p.birth_date, p.disability_grade, p.residency FROM residents p WHERE p.id = e.resident_id OFFSET 0) p
  ON CONFLICT (id) DO NOTHING
  RETURNING status
), tallied AS (
  SELECT coalesce(sum(t.enrollments) FILTER (WHERE t.status = 'failed'), 0) AS failed,
         coalesce(sum(t.enrollments) FILTER (WHERE t.status = 'registered'), 0) AS registered
  FROM town_enrollment_tallies t WHERE t.jurisdiction = :'jurisdiction' AND t.campaign_year = :year AND t.status IN ('registered', 'failed')
)
SELECT t.failed = (SELECT count(*) FROM kept WHERE status = 'failed')
   AND t.registered = (SELECT count(*) FROM kept WHERE status = 'registered') AS by_key
FROM tallied t \gset
\else
SELECT false AS by_key \gset
\endif
\if :by_key
WITH candidates AS (
  SELECT w.id AS enrollment_id, w.resident_id, w.category AS held_category, w.personal_fen AS held_personal_fen,
         w.birth_date, w.disability_grade, w.local_hukou
  FROM round_work w WHERE NOT w.awaiting
), applicable AS (
  SELECT DISTINCT ON (c.resident_id) c.resident_id, pc.category, pc.subsidy_fen, pc.personal_fen, pc.funding_source
  FROM candidates c
  JOIN identities i ON i.resident_id = c.resident_id AND i.valid_from <= :'as_of'::date AND (i.valid_to IS NULL OR i.valid_to >= :'as_of'::date)
  JOIN bl_policy_categories pc ON pc.category = i.category
  WHERE (NOT pc.local_hukou_only OR c.local_hukou)
    AND (NOT EXISTS (SELECT 1 FROM bl_policy_conditions k WHERE k.category = pc.category)
     OR EXISTS (SELECT 1 FROM bl_policy_conditions k WHERE k.category = pc.category
                AND (k.min_age IS NULL OR ((to_char(:'as_of'::date, 'YYYYMMDD')::int - to_char(c.birth_date, 'YYYYMMDD')::int) / 10000) >= k.min_age)
                AND (k.max_age IS NULL OR ((to_char(:'as_of'::date, 'YYYYMMDD')::int - to_char(c.birth_date, 'YYYYMMDD')::int) / 10000) <= k.max_age)
                AND (k.grades IS NULL OR c.disability_grade = ANY (k.grades))))
  ORDER BY c.resident_id, pc.rank DESC
), decided AS MATERIALIZED (
  SELECT c.enrollment_id, a.category, coalesce(a.personal_fen, :personal_fen) AS personal_fen, coalesce(a.subsidy_fen, 0) AS subsidy_fen,
         coalesce(a.funding_source, 'personal') AS funding_source
  FROM candidates c LEFT JOIN applicable a ON a.resident_id = c.resident_id
  WHERE c.held_category IS DISTINCT FROM a.category OR c.held_personal_fen <> coalesce(a.personal_fen, :personal_fen)
)
UPDATE enrollments e SET category = d.category, personal_fen = d.personal_fen, subsidy_fen = d.subsidy_fen, funding_source = d.funding_source,
       status = CASE WHEN d.personal_fen = 0 THEN 'paid'::enrollment_status ELSE e.status END,
       failure_class = CASE WHEN d.personal_fen = 0 THEN NULL ELSE e.failure_class END,
       benefit_start = CASE WHEN d.personal_fen = 0 THEN :'subsidised_from'::date ELSE e.benefit_start END
FROM decided d
WHERE e.id = ANY (ARRAY(SELECT enrollment_id FROM decided)) AND e.id = d.enrollment_id
  AND e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status IN ('registered', 'failed')
  AND (e.category IS DISTINCT FROM d.category OR e.personal_fen <> d.personal_fen);
\else
-- the year's unpaid enrollments that can change (ledger/campaign.ts refreshUnpaidShares): a person with an
-- identity row of any validity, or a category or another share held; any other is decided what it holds
WITH candidates AS MATERIALIZED (
  SELECT e.id AS enrollment_id, e.resident_id, e.category AS held_category, e.personal_fen AS held_personal_fen,
         p.birth_date, p.disability_grade, p.residency = 'hukou' AS local_hukou
  FROM enrollments e
  CROSS JOIN LATERAL (SELECT p.birth_date, p.disability_grade, p.residency FROM residents p WHERE p.id = e.resident_id OFFSET 0) p
  WHERE e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status IN ('registered', 'failed')
    AND (e.category IS NOT NULL OR e.personal_fen <> :personal_fen OR e.resident_id IN (SELECT i.resident_id FROM identities i))
    AND NOT EXISTS (SELECT 1 FROM levy_batches b JOIN levy_lines l ON l.batch_id = b.id
                    WHERE b.jurisdiction = e.jurisdiction AND b.campaign_year = e.campaign_year AND b.created_at >= e.status_changed_at
                      AND l.enrollment_id = e.id
                      AND NOT EXISTS (SELECT 1 FROM deduction_results d WHERE d.batch_id = l.batch_id AND d.enrollment_id = l.enrollment_id))
), applicable AS (
  SELECT DISTINCT ON (c.resident_id) c.resident_id, pc.category, pc.subsidy_fen, pc.personal_fen, pc.funding_source
  FROM candidates c
  JOIN identities i ON i.resident_id = c.resident_id AND i.valid_from <= :'as_of'::date AND (i.valid_to IS NULL OR i.valid_to >= :'as_of'::date)
  JOIN bl_policy_categories pc ON pc.category = i.category
  WHERE (NOT pc.local_hukou_only OR c.local_hukou)
    AND (NOT EXISTS (SELECT 1 FROM bl_policy_conditions k WHERE k.category = pc.category)
     OR EXISTS (SELECT 1 FROM bl_policy_conditions k WHERE k.category = pc.category
                AND (k.min_age IS NULL OR ((to_char(:'as_of'::date, 'YYYYMMDD')::int - to_char(c.birth_date, 'YYYYMMDD')::int) / 10000) >= k.min_age)
                AND (k.max_age IS NULL OR ((to_char(:'as_of'::date, 'YYYYMMDD')::int - to_char(c.birth_date, 'YYYYMMDD')::int) / 10000) <= k.max_age)
                AND (k.grades IS NULL OR c.disability_grade = ANY (k.grades))))
  ORDER BY c.resident_id, pc.rank DESC
), decided AS MATERIALIZED (
  SELECT c.enrollment_id, a.category, coalesce(a.personal_fen, :personal_fen) AS personal_fen, coalesce(a.subsidy_fen, 0) AS subsidy_fen,
         coalesce(a.funding_source, 'personal') AS funding_source
  FROM candidates c LEFT JOIN applicable a ON a.resident_id = c.resident_id
  WHERE c.held_category IS DISTINCT FROM a.category OR c.held_personal_fen <> coalesce(a.personal_fen, :personal_fen)
)
UPDATE enrollments e SET category = d.category, personal_fen = d.personal_fen, subsidy_fen = d.subsidy_fen, funding_source = d.funding_source,
       status = CASE WHEN d.personal_fen = 0 THEN 'paid'::enrollment_status ELSE e.status END,
       failure_class = CASE WHEN d.personal_fen = 0 THEN NULL ELSE e.failure_class END,
       benefit_start = CASE WHEN d.personal_fen = 0 THEN :'subsidised_from'::date ELSE e.benefit_start END
FROM decided d
WHERE e.id = ANY (ARRAY(SELECT enrollment_id FROM decided)) AND e.id = d.enrollment_id
  AND e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status IN ('registered', 'failed')
  AND (e.category IS DISTINCT FROM d.category OR e.personal_fen <> d.personal_fen)
  AND NOT EXISTS (SELECT 1 FROM levy_batches b JOIN levy_lines l ON l.batch_id = b.id
                    WHERE b.jurisdiction = e.jurisdiction AND b.campaign_year = e.campaign_year AND b.created_at >= e.status_changed_at
                      AND l.enrollment_id = e.id
                      AND NOT EXISTS (SELECT 1 FROM deduction_results d WHERE d.batch_id = l.batch_id AND d.enrollment_id = l.enrollment_id));
\endif
-- the enrollments the refresh changed (psql's ROW_COUNT of the UPDATE above)
\set refreshed :ROW_COUNT
INSERT INTO levy_batches (jurisdiction, campaign_year, round, kind)
VALUES (:'jurisdiction', :year, :round, CASE WHEN :round = 1 THEN 'first' ELSE 're-deduction' END) RETURNING id AS batch_id \gset
-- the lines only: an enrollment keeps registered (round 1) or failed until its result, its line says it is
-- levied, and the trigger on levy_lines records the moves by reference to the lines (0075, as
-- ledger/campaign.ts createLevyBatch); an enrollment levied and awaiting a result is not levied again
\if :by_key
WITH l AS (
  INSERT INTO levy_lines (batch_id, enrollment_id, amount_fen, resident_id, household_id)
  SELECT :batch_id, e.id, e.personal_fen, e.resident_id, w.household_id
  FROM round_work w
  CROSS JOIN LATERAL (SELECT e.id, e.personal_fen, e.resident_id FROM enrollments e
                      WHERE e.id = w.id AND e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year
                        AND e.status = :'wanted' AND e.personal_fen > 0 OFFSET 0) e
  WHERE NOT w.awaiting
  RETURNING amount_fen
)
UPDATE levy_batches SET (line_count, total_fen) = (SELECT count(*), coalesce(sum(amount_fen), 0) FROM l) WHERE id = :batch_id;
\else
WITH l AS (
  INSERT INTO levy_lines (batch_id, enrollment_id, amount_fen, resident_id, household_id)
  SELECT :batch_id, e.id, e.personal_fen, e.resident_id, p.household_id
  FROM enrollments e JOIN residents p ON p.id = e.resident_id
  WHERE e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status = :'wanted' AND e.personal_fen > 0
    AND NOT EXISTS (SELECT 1 FROM levy_batches b JOIN levy_lines l ON l.batch_id = b.id
                    WHERE b.jurisdiction = e.jurisdiction AND b.campaign_year = e.campaign_year AND b.created_at >= e.status_changed_at
                      AND l.enrollment_id = e.id
                      AND NOT EXISTS (SELECT 1 FROM deduction_results d WHERE d.batch_id = l.batch_id AND d.enrollment_id = l.enrollment_id))
  RETURNING amount_fen
)
UPDATE levy_batches SET (line_count, total_fen) = (SELECT count(*), coalesce(sum(amount_fen), 0) FROM l) WHERE id = :batch_id;
\endif
-- the levy changes no enrollment's status (0075): levy_lines analyzed unless a later round by key wrote less than
-- a fiftieth of them, enrollments only when the refresh changed a tenth of them or more, as the campaign does
-- (ledger/campaign.ts analyzeWhereManyChanged)
SELECT (:refreshed * 10 >= (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass)
        OR (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass) <= 0) AS many,
       (NOT :'by_key'::boolean OR (SELECT line_count FROM levy_batches WHERE id = :batch_id) * 50 >= (SELECT reltuples FROM pg_class WHERE oid = 'levy_lines'::regclass)
        OR (SELECT reltuples FROM pg_class WHERE oid = 'levy_lines'::regclass) <= 0) AS lines_many \gset
\if :lines_many
ANALYZE levy_lines;
\endif
\if :many
ANALYZE enrollments;
\endif
COMMIT;
-- a later round's batch (fewer lines than a quarter of the residents) reads its residents and households by
-- key, transaction-local, with the work memory round 1's hashes and sort need (as ledger/campaign.ts writeLevyFile)
BEGIN;
SET LOCAL work_mem = '64MB';
SELECT bool_or(set_config('enable_hashjoin', 'off', true) = 'off' AND set_config('enable_mergejoin', 'off', true) = 'off') AS file_by_key
FROM levy_batches b WHERE b.id = :batch_id AND b.line_count * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'residents'::regclass) \gset
\o :levy_file
COPY (SELECT p.id_number AS "身份证号码", p.name AS "姓名", l.amount_fen AS "应缴金额（分）", h.bank_account AS "银行账号", l.enrollment_id AS "流水号"
      FROM levy_lines l JOIN residents p ON p.id = l.resident_id
      LEFT JOIN households h ON h.id = l.household_id WHERE l.batch_id = :batch_id ORDER BY l.enrollment_id) TO STDOUT WITH (FORMAT csv, HEADER);
\o
COMMIT;
