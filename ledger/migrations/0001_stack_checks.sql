-- Up Migration
-- A stack check proves, end to end, that a worker can run a workflow whose activity writes to the
-- ledger. One row per check workflow: the activity is idempotent on the workflow id, so a retried
-- activity returns the row it already wrote instead of writing a second one.
CREATE TABLE stack_checks (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id  text        NOT NULL UNIQUE,
  requested_by text        NOT NULL,
  note         text,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE stack_checks;
