-- Up Migration
-- The monthly reconciliation's exceptions queue (issue 22, 对账): an operator decides on each exception, and
-- the ledger keeps who decided what, when and why. Append-only: a later decision on the same exception is a
-- new row (the latest one stands), so the history of a change of mind is kept. Who decided and when are the
-- database's (a trigger sets them from session_user and the transaction's time), never the caller's word.
CREATE TABLE reconciliation_exception_decisions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  exception_id bigint NOT NULL REFERENCES reconciliation_exceptions (id),
  -- corrected: the ledger or the department's list was put right; no-action: the exception needs none (the
  -- reason says why); referred: sent to the department (or the tax bureau) to check
  decision     text NOT NULL CHECK (decision IN ('corrected', 'no-action', 'referred')),
  reason       text NOT NULL CHECK (length(btrim(reason)) BETWEEN 2 AND 500),
  decided_by   text NOT NULL,
  decided_at   timestamptz NOT NULL
);
CREATE INDEX reconciliation_exception_decisions_exception ON reconciliation_exception_decisions (exception_id, id);

CREATE FUNCTION reconciliation_exception_decided_by() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.decided_by := session_user;
  NEW.decided_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER reconciliation_exception_decided_by BEFORE INSERT ON reconciliation_exception_decisions
  FOR EACH ROW EXECUTE FUNCTION reconciliation_exception_decided_by();

-- Operators decide (and read); nobody changes or removes a decision. The default privileges of migration
-- 0020 granted operators UPDATE and DELETE on this new table: taken back.
REVOKE ALL ON reconciliation_exception_decisions FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON reconciliation_exception_decisions FROM medins_operator;
GRANT SELECT, INSERT ON reconciliation_exception_decisions TO medins_operator;

-- Auditors read the decisions through a view: the reason is free text, so any ID number typed into it is
-- masked as mask_id masks one (first 6 and last 4 digits kept).
CREATE VIEW audit.reconciliation_exception_decisions AS
  SELECT id, exception_id, decision,
         regexp_replace(reason, '([1-9]\d{5})\d{8}(\d{3}[\dXx])', '\1********\2', 'g') AS reason,
         decided_by, decided_at
  FROM public.reconciliation_exception_decisions;
GRANT SELECT ON audit.reconciliation_exception_decisions TO medins_auditor, medins_operator;

-- Down Migration
DROP VIEW audit.reconciliation_exception_decisions;
DROP TABLE reconciliation_exception_decisions;
DROP FUNCTION reconciliation_exception_decided_by();
