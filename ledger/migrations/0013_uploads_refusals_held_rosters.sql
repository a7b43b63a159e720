-- Up Migration
-- Files an operator hands in reach the worker through the ledger, by digest: the worker never opens a path a
-- caller typed (client/uploads.ts, activities/exchange-store.ts).
CREATE TABLE uploaded_files (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  file_name   text NOT NULL,
  byte_size   bigint NOT NULL CHECK (byte_size >= 0),
  bytes       bytea NOT NULL,
  uploaded_by text NOT NULL,
  uploaded_at timestamptz NOT NULL DEFAULT now(),
  CHECK (octet_length(bytes) = byte_size)
);

-- A file that could not be read as a list is refused, and the refusal is kept: which department sent what,
-- when, and why (a masked reason; never a personal number). The file itself is in the exchange log.
CREATE TABLE refused_files (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  jurisdiction text NOT NULL REFERENCES jurisdictions (code),
  department   text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('roster', 'delta')),
  period       text NOT NULL,
  file_name    text NOT NULL,
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  byte_size    bigint NOT NULL CHECK (byte_size >= 0),
  failure_type text NOT NULL,
  reason       text NOT NULL,
  received_by  text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (jurisdiction, department, kind, period, sha256)
);

-- Resends: an earlier file sent again after a later one becomes current again, as a submission of its own
-- (A, B, A ends with A). The same file twice in a row is still recognised: by the current (or held) file's
-- digest, no longer by a uniqueness over every file ever sent.
ALTER TABLE submissions DROP CONSTRAINT submissions_jurisdiction_department_kind_period_sha256_key;
CREATE INDEX submissions_by_digest ON submissions (jurisdiction, department, kind, period, sha256);

-- Roster safety: a roster that would close more than the policy's share of a department's open identities is
-- held; nothing is closed until an operator confirms it (then it is current) or rejects it.
ALTER TABLE submissions DROP CONSTRAINT submissions_status_check;
ALTER TABLE submissions ADD CONSTRAINT submissions_status_check
  CHECK (status IN ('current', 'superseded', 'held', 'rejected'));
ALTER TABLE submissions
  ADD COLUMN would_close integer CHECK (would_close >= 0),
  ADD COLUMN open_before integer CHECK (open_before >= 0),
  -- a held roster: the day the identities it no longer lists would close (the policy's rule, when it arrived)
  ADD COLUMN closes_on date,
  ADD COLUMN decided_by text,
  ADD COLUMN decided_at timestamptz,
  ADD CONSTRAINT submissions_decision_recorded CHECK (status <> 'rejected' OR decided_by IS NOT NULL);
CREATE UNIQUE INDEX submissions_one_held
  ON submissions (jurisdiction, department, kind, period) WHERE status = 'held';

GRANT SELECT, INSERT, UPDATE ON uploaded_files, refused_files TO medins_operator;
GRANT SELECT ON refused_files TO medins_auditor;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO medins_operator, medins_department;

-- Down Migration
DROP INDEX submissions_one_held;
ALTER TABLE submissions DROP CONSTRAINT submissions_decision_recorded,
  DROP COLUMN would_close, DROP COLUMN open_before, DROP COLUMN closes_on, DROP COLUMN decided_by, DROP COLUMN decided_at;
ALTER TABLE submissions DROP CONSTRAINT submissions_status_check;
ALTER TABLE submissions ADD CONSTRAINT submissions_status_check CHECK (status IN ('current', 'superseded'));
DROP INDEX submissions_by_digest;
ALTER TABLE submissions ADD CONSTRAINT submissions_jurisdiction_department_kind_period_sha256_key
  UNIQUE (jurisdiction, department, kind, period, sha256);
DROP TABLE refused_files;
DROP TABLE uploaded_files;
