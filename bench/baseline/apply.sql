-- The tax bureau's result file applied once per levy line: COPY into staging, each failure classed by the
-- plan's code table, results written, enrollments paid or failed, follow-up tasks opened and closed, in one
-- statement.
-- The file arrives on standard input. Variables: round, benefit_start (what a payment on the round's date buys:
-- the engine's benefitStartOfPayment, written by the benchmark, so the rule is stated once).
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
SELECT max(id) AS batch_id FROM levy_batches WHERE round = :round \gset
-- each line numbered in file order (the identity), so a line repeated in the file counts its first copy
CREATE TEMP TABLE incoming_results (line bigint GENERATED ALWAYS AS IDENTITY, enrollment_id bigint, outcome text, failure_code text) ON COMMIT DROP;
\copy incoming_results (enrollment_id, outcome, failure_code) from pstdin with (format csv, header true)
ANALYZE incoming_results;
-- ON CONFLICT only where an earlier application recorded results of the batch, as the campaign does
SELECT CASE WHEN EXISTS (SELECT 1 FROM deduction_results WHERE batch_id = :batch_id)
            THEN 'ON CONFLICT (batch_id, enrollment_id) DO NOTHING' ELSE '' END AS on_conflict \gset
-- a file of fewer lines than a quarter of the results recorded probes each line's success, as the campaign does
SELECT CASE WHEN (SELECT count(*) FROM incoming_results) * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'deduction_results'::regclass)
            THEN 'CROSS JOIN LATERAL (SELECT d.enrollment_id FROM deduction_results d WHERE d.enrollment_id = l.enrollment_id AND d.outcome = ''success'' OFFSET 0) d'
            ELSE 'JOIN deduction_results d ON d.enrollment_id = l.enrollment_id AND d.outcome = ''success''' END AS paid_join,
       -- and a batch of less than a fiftieth of the lines (not analyzed by its levy) its lines by key, as the campaign does
       CASE WHEN (SELECT count(*) FROM incoming_results) * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'deduction_results'::regclass)
             AND (SELECT count(*) FROM incoming_results) * 50 < (SELECT reltuples FROM pg_class WHERE oid = 'levy_lines'::regclass)
            THEN 'CROSS JOIN LATERAL (SELECT 1 FROM levy_lines l WHERE l.batch_id = ' || :batch_id || ' AND l.enrollment_id = x.enrollment_id OFFSET 0) l'
            ELSE 'JOIN levy_lines l ON l.batch_id = ' || :batch_id || ' AND l.enrollment_id = x.enrollment_id' END AS lines_join \gset
-- one statement, as the campaign does (ledger/campaign.ts applyDeductionResults): a line repeated in the file
-- counts its first copy (DISTINCT ON, in enrollment order), a line already paid is skipped (`paid`, read
-- before anything is written), one UPDATE pays or fails each enrollment, a personal failure opens a
-- follow-up task, a success closes the person's open one; the statement names its batch, so the status
-- history records these moves by reference to the results (0070)
SELECT set_config('medins.batch', 'deduction_results:' || :batch_id, true) AS named_batch \gset
WITH paid AS MATERIALIZED (
  SELECT d.enrollment_id FROM levy_lines l
  :paid_join
  WHERE l.batch_id = :batch_id
), ins AS (
  INSERT INTO deduction_results (batch_id, enrollment_id, outcome, failure_code, failure_class)
  SELECT DISTINCT ON (x.enrollment_id) :batch_id, x.enrollment_id, CASE WHEN x.outcome = 'success' THEN 'success' ELSE 'failure' END, nullif(x.failure_code, ''), fc.class
  FROM incoming_results x LEFT JOIN bl_failure_classes fc ON fc.code = x.failure_code AND x.outcome <> 'success'
  :lines_join
  WHERE NOT EXISTS (SELECT 1 FROM paid p WHERE p.enrollment_id = x.enrollment_id)
  ORDER BY x.enrollment_id, x.line
  :on_conflict
  RETURNING enrollment_id, outcome, failure_class
), moved AS (
  UPDATE enrollments e
  SET status = CASE WHEN ins.outcome = 'success' THEN 'paid'::enrollment_status ELSE 'failed'::enrollment_status END,
      benefit_start = CASE WHEN ins.outcome = 'success' THEN :'benefit_start'::date ELSE e.benefit_start END,
      failure_class = ins.failure_class, status_changed_at = now()
  FROM ins WHERE e.id = ins.enrollment_id AND (e.status = 'levied' OR e.status IN ('registered', 'failed') AND e.status_changed_at <= (SELECT b.created_at FROM levy_batches b WHERE b.id = :batch_id))
  RETURNING e.id, e.resident_id, ins.outcome, ins.failure_class
), tasks AS (
  INSERT INTO follow_up_tasks (enrollment_id, town_id, village_id, reason)
  SELECT f.id, p.town_id, p.village_id, 'deduction failed: personal reason'
  FROM moved f JOIN residents p ON p.id = f.resident_id
  WHERE f.outcome = 'failure' AND f.failure_class = 'personal'
    AND NOT EXISTS (SELECT 1 FROM follow_up_tasks t WHERE t.enrollment_id = f.id AND t.closed_at IS NULL)
)
UPDATE follow_up_tasks t SET closed_at = now(), outcome = 'paid'
FROM ins WHERE ins.outcome = 'success' AND t.enrollment_id = ins.enrollment_id AND t.closed_at IS NULL
  -- no task open at all (round 1): the successes are not read for it, as the campaign does
  AND EXISTS (SELECT 1 FROM follow_up_tasks o WHERE o.closed_at IS NULL);
-- the results analyzed after a large file (not a quarter of the results before it) or where the round wrote a
-- fiftieth of the table, the enrollments only when the round changed a tenth of them, as the campaign does
-- (ledger/campaign.ts, analyzeWhereManyChanged; a later round's results are asked for by key)
SELECT (count(*) * 10 >= (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass)
        OR (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass) <= 0) AS many,
       (:'paid_join' NOT LIKE 'CROSS JOIN LATERAL%'
        OR count(*) * 50 >= (SELECT reltuples FROM pg_class WHERE oid = 'deduction_results'::regclass)
        OR (SELECT reltuples FROM pg_class WHERE oid = 'deduction_results'::regclass) <= 0) AS results_many
FROM deduction_results WHERE batch_id = :batch_id \gset
\if :results_many
ANALYZE deduction_results;
\endif
\if :many
ANALYZE enrollments;
\endif
COMMIT;
