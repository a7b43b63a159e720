-- Up Migration
-- Monthly reconciliation of the difficulty lists (000 五(一), 001 七(三), 003 附件1): one row per
-- jurisdiction and month, claimed before the work starts, so a month is reconciled exactly once however
-- often its schedule fires (trigger, backfill, retry).
CREATE TABLE reconciliations (
  jurisdiction text NOT NULL REFERENCES jurisdictions (code),
  month        text NOT NULL CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
  workflow_id  text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  summary      jsonb,
  PRIMARY KEY (jurisdiction, month)
);

-- Conflicts for operators to decide, never a silent choice.
CREATE TABLE reconciliation_exceptions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  jurisdiction text NOT NULL,
  month        text NOT NULL,
  kind         text NOT NULL,
  id_number    text,
  detail       jsonb NOT NULL DEFAULT '{}',
  UNIQUE (jurisdiction, month, kind, id_number)
);

-- Down Migration
DROP TABLE reconciliation_exceptions, reconciliations;
