-- Up Migration
-- The simulated bank behind the simulated tax bureau: balances and account states of the synthetic
-- population. Not part of the registry (the insurance center never sees balances); only the simulated
-- department adapters read it.
CREATE TABLE sim_bank_accounts (
  account     text PRIMARY KEY,
  balance_fen bigint NOT NULL CHECK (balance_fen >= 0),
  status      text NOT NULL CHECK (status IN ('normal', 'frozen', 'closed'))
);

-- Down Migration
DROP TABLE sim_bank_accounts;
