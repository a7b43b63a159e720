-- Up Migration
-- What the annual campaign workflow records besides enrollments and deductions.

-- 残疾等级 from the disabled persons' federation, for categories conditional on it (003 三(三)2(3)).
ALTER TABLE residents ADD COLUMN disability_grade smallint CHECK (disability_grade BETWEEN 1 AND 4);

-- The policy snapshot each campaign runs under, by hash: activities load it from here rather than
-- receiving it in every call (the workflow history carries it once, in the campaign's input).
CREATE TABLE campaign_policies (
  policy_hash  text PRIMARY KEY CHECK (policy_hash ~ '^[0-9a-f]{64}$'),
  jurisdiction text NOT NULL,
  year         integer NOT NULL,
  policy       jsonb NOT NULL,
  stored_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per campaign run phase change, reminder, escalation or operator action: the campaign's diary.
CREATE TABLE campaign_events (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  jurisdiction  text NOT NULL REFERENCES jurisdictions (code),
  campaign_year integer NOT NULL,
  -- idempotency key: the workflow's agenda item, so a retried activity records its event once
  event_key     text NOT NULL,
  kind          text NOT NULL,
  campaign_at   timestamptz NOT NULL,
  detail        jsonb NOT NULL DEFAULT '{}',
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (jurisdiction, campaign_year, event_key)
);

-- Per-town figures frozen at a report or at the cut-off (000 六(四), 附件3).
CREATE TABLE coverage_snapshots (
  jurisdiction  text NOT NULL REFERENCES jurisdictions (code),
  campaign_year integer NOT NULL,
  snapshot_key  text NOT NULL,
  town_id       integer NOT NULL REFERENCES towns (id),
  registered    integer NOT NULL,
  to_enroll     integer NOT NULL,
  target        integer,
  enrolled      integer NOT NULL,
  subsidised    integer NOT NULL,
  failed        integer NOT NULL,
  abandoned     integer NOT NULL,
  taken_at      timestamptz NOT NULL,
  PRIMARY KEY (jurisdiction, campaign_year, snapshot_key, town_id)
);

-- The simulated tax bureau's own record of what it deducted: idempotent per levy line, so a resent
-- batch never debits an account twice.
CREATE TABLE sim_tax_results (
  batch_id      bigint NOT NULL,
  enrollment_id bigint NOT NULL,
  outcome       text NOT NULL CHECK (outcome IN ('success', 'failure')),
  failure_code  text,
  PRIMARY KEY (batch_id, enrollment_id)
);

-- Down Migration
DROP TABLE sim_tax_results, coverage_snapshots, campaign_events, campaign_policies;
ALTER TABLE residents DROP COLUMN disability_grade;
