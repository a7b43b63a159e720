-- Up Migration
-- The simulated bank debits every paying household once per deduction round (217,386 balance updates in a
-- Kaiping year), and its pages were written full: nine in ten debits found no room on the row's page and
-- wrote a new version elsewhere plus a new primary-key entry (9.9% heap-only in the benchmark, issue #23).
-- Half-full pages leave the room, and no index holds the balance or the status, so a debit or a top-up
-- is updated in place. The simulated bank is the benchmark's and the rehearsal's, not the registry's: this
-- changes what the simulated tax bureau costs, in the campaign and in the plain-SQL baseline alike.
ALTER TABLE sim_bank_accounts SET (fillfactor = 50);

-- Down Migration
ALTER TABLE sim_bank_accounts RESET (fillfactor);
