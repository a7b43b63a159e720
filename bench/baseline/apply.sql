-- The tax bureau's result file applied once per levy line: COPY into staging, each failure classed by the
-- plan's code table, results written, enrollments paid or failed, follow-up tasks opened and closed.
-- The file arrives on standard input. Variables: round, benefit_start (what a payment on the round's date buys:
-- the engine's benefitStartOfPayment, written by the benchmark, so the rule is stated once).
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
SELECT max(id) AS batch_id FROM levy_batches WHERE round = :round \gset
CREATE TEMP TABLE incoming_results (enrollment_id bigint, outcome text, failure_code text) ON COMMIT DROP;
\copy incoming_results from pstdin with (format csv, header true)
ANALYZE incoming_results;
WITH incoming AS (
  SELECT DISTINCT ON (x.enrollment_id) x.enrollment_id, x.outcome, nullif(x.failure_code, '') AS failure_code, fc.class AS failure_class
  FROM incoming_results x LEFT JOIN bl_failure_classes fc ON fc.code = x.failure_code AND x.outcome <> 'success'
  ORDER BY x.enrollment_id
), ins AS (
  INSERT INTO deduction_results (batch_id, enrollment_id, outcome, failure_code, failure_class)
  SELECT :batch_id, i.enrollment_id, CASE WHEN i.outcome = 'success' THEN 'success' ELSE 'failure' END, i.failure_code, i.failure_class
  FROM incoming i JOIN levy_lines l ON l.batch_id = :batch_id AND l.enrollment_id = i.enrollment_id
  WHERE NOT EXISTS (SELECT 1 FROM deduction_results d WHERE d.enrollment_id = i.enrollment_id AND d.outcome = 'success')
  ON CONFLICT (batch_id, enrollment_id) DO NOTHING
  RETURNING enrollment_id, outcome, failure_class
), paid AS (
  UPDATE enrollments e SET status = 'paid', benefit_start = :'benefit_start'::date
  FROM ins WHERE e.id = ins.enrollment_id AND ins.outcome = 'success' AND e.status = 'levied' RETURNING e.id
), failed AS (
  UPDATE enrollments e SET status = 'failed', failure_class = ins.failure_class
  FROM ins WHERE e.id = ins.enrollment_id AND ins.outcome = 'failure' AND e.status = 'levied' RETURNING e.id, e.resident_id, ins.failure_class
)
INSERT INTO follow_up_tasks (enrollment_id, town_id, village_id, reason)
SELECT f.id, p.town_id, p.village_id, 'deduction failed: personal reason'
FROM failed f JOIN residents p ON p.id = f.resident_id
WHERE f.failure_class = 'personal' AND NOT EXISTS (SELECT 1 FROM follow_up_tasks t WHERE t.enrollment_id = f.id AND t.closed_at IS NULL);
-- enrollments analyzed only when the round changed a tenth of them or more, as the campaign does (ledger.ts)
SELECT (count(*) * 10 >= (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass)
        OR (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass) <= 0) AS many
FROM deduction_results WHERE batch_id = :batch_id \gset
ANALYZE deduction_results;
\if :many
ANALYZE enrollments;
\endif
UPDATE follow_up_tasks t SET closed_at = now(), outcome = 'paid'
FROM deduction_results d WHERE d.batch_id = :batch_id AND d.outcome = 'success' AND t.enrollment_id = d.enrollment_id AND t.closed_at IS NULL;
COMMIT;
