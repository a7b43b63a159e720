-- The simulated tax bureau's deduction of a round, as the simulated adapter does it (per household, from
-- the simulated bank; round 1 fails a seeded share for systemic reasons; before a re-deduction some
-- households top up), and its result file exported with COPY.
-- Variables: round, seed, top_up_per_mille, systemic_per_mille, results_file.
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
SELECT max(id) AS batch_id FROM levy_batches WHERE round = :round \gset
-- a later round's batch (fewer lines than a quarter of the households) reads its households and accounts by key;
-- round 1 hashes them, with no nested loop (as departments/simulated.ts)
SELECT line_count * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'households'::regclass) AS by_key
FROM levy_batches WHERE id = :batch_id \gset
\if :by_key
\else
SET LOCAL enable_nestloop = off;
\endif
-- the top-ups: which accounts is a hash of the account, decided on the batch's distinct accounts before any is read
\if :by_key
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen + 200000, status = 'normal'
WHERE :round > 1
  AND a.account = ANY (ARRAY(SELECT DISTINCT h.bank_account FROM levy_lines l
                             LEFT JOIN LATERAL (SELECT h.bank_account FROM households h WHERE h.id = l.household_id OFFSET 0) h ON true
                             WHERE l.batch_id = :batch_id
                               AND abs(hashtext(:'seed' || ':' || :'round' || ':' || h.bank_account)) % 1000 < :top_up_per_mille));
\else
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen + 200000, status = 'normal'
FROM (SELECT DISTINCT h.bank_account FROM levy_lines l LEFT JOIN households h ON h.id = l.household_id
      WHERE l.batch_id = :batch_id AND abs(hashtext(:'seed' || ':' || :'round' || ':' || h.bank_account)) % 1000 < :top_up_per_mille) f
WHERE :round > 1 AND a.account = f.bank_account;
\endif
-- one pass over the lines, each account decided once, the results and the debits from the same decisions; by key,
-- each line carries its household's totals as a window over the account (the lines may be planned on statistics
-- that have not seen their batch), as departments/simulated.ts does
\if :by_key
WITH lines AS MATERIALIZED (
  SELECT l.enrollment_id, l.amount_fen, h.bank_account,
         :round = 1 AND abs(hashtext(:'seed' || ':' || l.enrollment_id)) % 1000 < :systemic_per_mille AS systemic
  FROM levy_lines l
  LEFT JOIN LATERAL (SELECT h.bank_account FROM households h WHERE h.id = l.household_id OFFSET 0) h ON true
  WHERE l.batch_id = :batch_id
), decided AS MATERIALIZED (
  SELECT t.enrollment_id, t.systemic, t.bank_account, t.first, t.debit,
         CASE WHEN t.bank_account IS NULL OR a.account IS NULL OR a.status <> 'normal' THEN 'abnormal-account'
              WHEN a.balance_fen < t.household_total THEN 'insufficient-balance' END AS failure_code
  FROM (SELECT l.enrollment_id, l.systemic, l.bank_account, sum(l.amount_fen) OVER w AS household_total,
               sum(l.amount_fen) FILTER (WHERE NOT l.systemic) OVER w AS debit, row_number() OVER w = 1 AS first
        FROM lines l WINDOW w AS (PARTITION BY l.bank_account)) t
  LEFT JOIN LATERAL (SELECT a.account, a.status, a.balance_fen FROM sim_bank_accounts a WHERE a.account = t.bank_account OFFSET 0) a ON true
), recorded AS (
  INSERT INTO sim_tax_results (batch_id, enrollment_id, outcome, failure_code)
  SELECT :batch_id, d.enrollment_id,
         CASE WHEN d.systemic OR d.failure_code IS NOT NULL THEN 'failure' ELSE 'success' END,
         CASE WHEN d.systemic THEN 'bank-system-error' ELSE d.failure_code END
  FROM decided d
)
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen - d.debit
FROM decided d
WHERE d.first AND d.bank_account IS NOT NULL AND d.failure_code IS NULL AND d.debit > 0 AND a.account = d.bank_account;
\else
WITH lines AS MATERIALIZED (
  SELECT l.enrollment_id, l.amount_fen, h.bank_account,
         :round = 1 AND abs(hashtext(:'seed' || ':' || l.enrollment_id)) % 1000 < :systemic_per_mille AS systemic
  FROM levy_lines l LEFT JOIN households h ON h.id = l.household_id
  WHERE l.batch_id = :batch_id
), accounts AS MATERIALIZED (
  SELECT t.bank_account, t.debit,
         CASE WHEN a.account IS NULL OR a.status <> 'normal' THEN 'abnormal-account'
              WHEN a.balance_fen < t.household_total THEN 'insufficient-balance' END AS failure_code
  FROM (SELECT bank_account, sum(amount_fen) AS household_total, sum(amount_fen) FILTER (WHERE NOT systemic) AS debit
        FROM lines WHERE bank_account IS NOT NULL GROUP BY bank_account) t
  LEFT JOIN sim_bank_accounts a ON a.account = t.bank_account
), recorded AS (
  INSERT INTO sim_tax_results (batch_id, enrollment_id, outcome, failure_code)
  SELECT :batch_id, l.enrollment_id,
         CASE WHEN l.systemic OR c.bank_account IS NULL OR c.failure_code IS NOT NULL THEN 'failure' ELSE 'success' END,
         CASE WHEN l.systemic THEN 'bank-system-error' WHEN c.bank_account IS NULL THEN 'abnormal-account' ELSE c.failure_code END
  FROM lines l LEFT JOIN accounts c ON c.bank_account = l.bank_account
)
UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen - c.debit
FROM accounts c
WHERE a.account = c.bank_account AND c.failure_code IS NULL AND c.debit > 0;
\endif
COMMIT;
\o :results_file
COPY (SELECT enrollment_id, outcome, coalesce(failure_code, '') FROM sim_tax_results WHERE batch_id = :batch_id ORDER BY enrollment_id)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o
