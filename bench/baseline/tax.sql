-- The simulated tax bureau's deduction of a round, as the simulated adapter does it (per household, from
-- the simulated bank; round 1 fails a seeded share for systemic reasons; before a re-deduction some
-- households top up), and its result file exported with COPY.
-- Variables: round, seed, top_up_per_mille, systemic_per_mille, results_file.
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
SELECT max(id) AS batch_id FROM levy_batches WHERE round = :round \gset
-- a later round's batch (fewer lines than a quarter of the households) reads its households and accounts by key
-- (as departments/simulated.ts)
SELECT line_count * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'households'::regclass) AS by_key
FROM levy_batches WHERE id = :batch_id \gset
\if :by_key
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen + 200000, status = 'normal'
WHERE :round > 1
  AND a.account = ANY (ARRAY(SELECT h.bank_account FROM levy_lines l
                             LEFT JOIN LATERAL (SELECT h.bank_account FROM households h WHERE h.id = l.household_id OFFSET 0) h ON true
                             WHERE l.batch_id = :batch_id))
  AND abs(hashtext(:'seed' || ':' || :'round' || ':' || a.account)) % 1000 < :top_up_per_mille;
WITH lines AS (
  SELECT l.enrollment_id, l.amount_fen, h.bank_account
  FROM levy_lines l LEFT JOIN LATERAL (SELECT h.bank_account FROM households h WHERE h.id = l.household_id OFFSET 0) h ON true
  WHERE l.batch_id = :batch_id
), totals AS (
  SELECT bank_account, sum(amount_fen) AS household_total FROM lines GROUP BY bank_account
), decided AS (
  SELECT l.enrollment_id, l.amount_fen, l.bank_account,
         CASE WHEN :round = 1 AND abs(hashtext(:'seed' || ':' || l.enrollment_id)) % 1000 < :systemic_per_mille THEN 'failure'
              WHEN a.account IS NULL OR a.status <> 'normal' OR a.balance_fen < t.household_total THEN 'failure'
              ELSE 'success' END AS outcome,
         CASE WHEN :round = 1 AND abs(hashtext(:'seed' || ':' || l.enrollment_id)) % 1000 < :systemic_per_mille THEN 'bank-system-error'
              WHEN a.account IS NULL OR a.status <> 'normal' THEN 'abnormal-account'
              WHEN a.balance_fen < t.household_total THEN 'insufficient-balance' END AS failure_code
  FROM lines l LEFT JOIN totals t ON t.bank_account = l.bank_account
  LEFT JOIN LATERAL (SELECT a.account, a.status, a.balance_fen FROM sim_bank_accounts a WHERE a.account = l.bank_account OFFSET 0) a ON true
), recorded AS (
  INSERT INTO sim_tax_results (batch_id, enrollment_id, outcome, failure_code)
  SELECT :batch_id, enrollment_id, outcome, failure_code FROM decided
)
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen - d.debit
FROM (SELECT bank_account, sum(amount_fen) AS debit FROM decided WHERE outcome = 'success' GROUP BY bank_account) d
WHERE a.account = d.bank_account AND a.account = ANY (ARRAY(SELECT bank_account FROM decided WHERE outcome = 'success'));
\else
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen + 200000, status = 'normal'
FROM (SELECT DISTINCT h.bank_account FROM levy_lines l JOIN households h ON h.id = l.household_id
      WHERE l.batch_id = :batch_id) f
WHERE :round > 1 AND a.account = f.bank_account AND abs(hashtext(:'seed' || ':' || :'round' || ':' || a.account)) % 1000 < :top_up_per_mille;
WITH lines AS (
  SELECT l.enrollment_id, l.amount_fen, h.bank_account
  FROM levy_lines l LEFT JOIN households h ON h.id = l.household_id
  WHERE l.batch_id = :batch_id
), totals AS (
  SELECT bank_account, sum(amount_fen) AS household_total FROM lines GROUP BY bank_account
), decided AS (
  SELECT l.enrollment_id, l.amount_fen, l.bank_account,
         CASE WHEN :round = 1 AND abs(hashtext(:'seed' || ':' || l.enrollment_id)) % 1000 < :systemic_per_mille THEN 'failure'
              WHEN a.account IS NULL OR a.status <> 'normal' OR a.balance_fen < t.household_total THEN 'failure'
              ELSE 'success' END AS outcome,
         CASE WHEN :round = 1 AND abs(hashtext(:'seed' || ':' || l.enrollment_id)) % 1000 < :systemic_per_mille THEN 'bank-system-error'
              WHEN a.account IS NULL OR a.status <> 'normal' THEN 'abnormal-account'
              WHEN a.balance_fen < t.household_total THEN 'insufficient-balance' END AS failure_code
  FROM lines l LEFT JOIN totals t ON t.bank_account = l.bank_account
  LEFT JOIN sim_bank_accounts a ON a.account = l.bank_account
), recorded AS (
  INSERT INTO sim_tax_results (batch_id, enrollment_id, outcome, failure_code)
  SELECT :batch_id, enrollment_id, outcome, failure_code FROM decided
)
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen - d.debit
FROM (SELECT bank_account, sum(amount_fen) AS debit FROM decided WHERE outcome = 'success' GROUP BY bank_account) d
WHERE a.account = d.bank_account;
\endif
COMMIT;
\o :results_file
COPY (SELECT enrollment_id, outcome, coalesce(failure_code, '') FROM sim_tax_results WHERE batch_id = :batch_id ORDER BY enrollment_id)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o
