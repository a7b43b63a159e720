-- Up Migration
-- Issue #20: each enrollment status change kept as an entry of its own, and the refund path (退费).
--
-- 1. enrollment_status_history: one row per status an enrollment takes, written by the database itself
--    (statement-level triggers over the transition tables: one set-based INSERT per statement, not one per
--    row, so a deduction round of 400,000 lines writes its history in one statement), each row pointing at
--    its statement's enrollment_status_changes row: when, why (`cause`: a rule id the audit maps to the
--    plan's sentence) and who made it (`made_by`: the workflow run, activity type and activity id that ran
--    the transaction, set by activities/db/transaction.ts as the transaction-local setting medins.made_by;
--    an operator's command sets its login and command). Readers cannot write either table: the trigger
--    functions run with their owner's rights, and no role is granted INSERT, UPDATE or DELETE on them.
-- 2. refund_requests: an operator's refund request (000 五(七), 001 六(二), 003 附件1 教育部门), decided by the
--    policy engine under the campaign's policy snapshot and kept with the rule it followed; idempotent by a
--    request key; never two refunds for one payment (one approved or sent request per enrollment).

-- One row per statement that moved statuses: when, the cause the transaction named (NULL: each move's own
-- cause, enrollment_status_cause), who made it, and how many enrollments it moved. The per-enrollment rows
-- below only reference it, so a deduction round's 200,000 moves share one maker and stay narrow (measured
-- on 642,000 moves: 58 MB narrow against 188 MB with the maker on every row).
CREATE TABLE enrollment_status_changes (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  changed_at timestamptz NOT NULL DEFAULT now(),
  cause      text,
  -- {"workflowId","runId","activityType","activityId","attempt"} for an activity, {"login","command",...} for
  -- an operator's command; NULL when the change came from neither (e.g. a statement typed by hand)
  made_by    jsonb,
  moved      integer NOT NULL CHECK (moved > 0)
);

-- One row per status an enrollment took. from_status NULL: the enrollment was created in to_status (or
-- existed before this table: its change's cause is 'before-history'). No foreign keys: the rows are written
-- only by the triggers below, from rows that exist, and a foreign key would check each of them one by one.
CREATE TABLE enrollment_status_history (
  enrollment_id bigint NOT NULL,
  change_id     bigint NOT NULL,
  from_status   enrollment_status,
  to_status     enrollment_status NOT NULL,
  PRIMARY KEY (enrollment_id, change_id)
);

-- The cause of a move when the transaction did not name one: the move itself says which rule it follows.
CREATE FUNCTION enrollment_status_cause(from_status enrollment_status, to_status enrollment_status)
  RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN to_status = 'stopped' THEN 'household.stop'
    WHEN from_status IS NULL AND to_status = 'paid' THEN 'registration.subsidised'
    WHEN from_status IS NULL THEN 'registration'
    WHEN to_status = 'levied' THEN 'levy.sent'
    WHEN to_status = 'paid' AND from_status = 'registered' THEN 'registration.subsidised'
    WHEN to_status = 'paid' THEN 'deduction.success'
    WHEN to_status = 'failed' THEN 'deduction.failure'
    WHEN to_status = 'abandoned' THEN 'cutoff.abandoned'
    WHEN to_status = 'registered' THEN 'household.re-enrollment'
    WHEN to_status = 'refunded' THEN 'refund'
    ELSE 'status-change' END
$$;

CREATE FUNCTION enrollment_status_history_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  WITH moved AS MATERIALIZED (SELECT n.id, n.status FROM created n),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id)
  INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
  SELECT m.id, c.id, NULL, m.status FROM moved m CROSS JOIN change c;
  RETURN NULL;
END $$;

CREATE FUNCTION enrollment_status_history_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  WITH moved AS MATERIALIZED (
    SELECT n.id, o.status AS from_status, n.status AS to_status
    FROM after_rows n JOIN before_rows o ON o.id = n.id WHERE o.status IS DISTINCT FROM n.status),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id)
  INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
  SELECT m.id, c.id, m.from_status, m.to_status FROM moved m CROSS JOIN change c;
  RETURN NULL;
END $$;

-- (PostgreSQL refuses transition tables on a trigger with a column list, so the update trigger sees every
-- update of enrollments and keeps only the rows whose status moved.)
CREATE TRIGGER enrollments_status_history_created AFTER INSERT ON enrollments
  REFERENCING NEW TABLE AS created FOR EACH STATEMENT EXECUTE FUNCTION enrollment_status_history_created();
CREATE TRIGGER enrollments_status_history_changed AFTER UPDATE ON enrollments
  REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
  FOR EACH STATEMENT EXECUTE FUNCTION enrollment_status_history_changed();

-- what was there before: one entry with the status each enrollment had when history began
WITH change AS (
  INSERT INTO enrollment_status_changes (cause, moved)
  SELECT 'before-history', count(*) FROM enrollments HAVING count(*) > 0 RETURNING id)
INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
SELECT e.id, c.id, NULL, e.status FROM enrollments e CROSS JOIN change c;

GRANT SELECT ON enrollment_status_changes TO medins_operator, medins_auditor;
GRANT SELECT ON enrollment_status_history TO medins_operator, medins_auditor;

CREATE TYPE refund_request_status AS ENUM ('requested', 'approved', 'refused', 'sent');

CREATE TABLE refund_requests (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  jurisdiction   text NOT NULL REFERENCES jurisdictions (code),
  campaign_year  integer NOT NULL,
  -- the operator's key for the application (e.g. the form's number): asking twice records it once
  request_key    text NOT NULL CHECK (request_key ~ '^[A-Za-z0-9._:-]{1,80}$'),
  enrollment_id  bigint NOT NULL REFERENCES enrollments (id),
  -- the payment refunded: the levy line whose deduction succeeded
  batch_id       bigint,
  reason         text NOT NULL CHECK (reason ~ '^[a-z-]{1,60}$'),
  -- the day the death, duplicate payment or move to employee insurance happened (the plans judge on it)
  occurred_on    date NOT NULL,
  requested_on   date NOT NULL,
  -- what the decision was judged against: the enrollment's benefit start and what the person paid
  benefit_start  date,
  paid_fen       integer NOT NULL DEFAULT 0 CHECK (paid_fen >= 0),
  status         refund_request_status NOT NULL DEFAULT 'requested',
  policy_hash    text REFERENCES campaign_policies (policy_hash),
  decision       text CHECK (decision IN ('refund', 'no-refund', 'no-rule-stated')),
  rule_id        text,
  rule_source    text,
  says           text,
  -- returned to the person, fen; NULL until decided, and when the plan states no rule
  amount_fen     integer CHECK (amount_fen >= 0),
  -- the refund data (退费数据) sent to the tax bureau
  exchange_seq   bigint REFERENCES exchange_log (seq),
  requested_by   text NOT NULL DEFAULT session_user,
  requested_at   timestamptz NOT NULL DEFAULT now(),
  decided_at     timestamptz,
  UNIQUE (jurisdiction, request_key),
  CHECK ((status = 'requested') = (decision IS NULL)),
  CHECK (status <> 'approved' OR (decision = 'refund' AND amount_fen > 0 AND batch_id IS NOT NULL)),
  CHECK (status <> 'sent' OR (decision = 'refund' AND exchange_seq IS NOT NULL)),
  CHECK (status <> 'refused' OR decision <> 'refund'),
  FOREIGN KEY (batch_id, enrollment_id) REFERENCES levy_lines (batch_id, enrollment_id)
);
-- never two refunds for one payment
CREATE UNIQUE INDEX refund_requests_one_refund ON refund_requests (enrollment_id) WHERE status IN ('approved', 'sent');
CREATE INDEX refund_requests_enrollment ON refund_requests (enrollment_id);

CREATE FUNCTION refund_transition_allowed(from_status refund_request_status, to_status refund_request_status)
  RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (from_status, to_status) IN (('requested', 'approved'), ('requested', 'refused'), ('approved', 'sent'))
$$;
CREATE FUNCTION refund_status_refused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refund request % cannot go from % to %', OLD.id, OLD.status, NEW.status
    USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER refund_requests_status_guard BEFORE UPDATE OF status ON refund_requests
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NOT refund_transition_allowed(OLD.status, NEW.status))
  EXECUTE FUNCTION refund_status_refused();
-- a decision, once made, is kept: only the status may move on (approved -> sent) with the file's entry
CREATE FUNCTION refund_decision_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.decision IS NOT NULL AND (NEW.decision, NEW.amount_fen, NEW.rule_id, NEW.reason, NEW.occurred_on, NEW.enrollment_id)
       IS DISTINCT FROM (OLD.decision, OLD.amount_fen, OLD.rule_id, OLD.reason, OLD.occurred_on, OLD.enrollment_id) THEN
    RAISE EXCEPTION 'refund request % was decided: its decision and amount are kept', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refund_requests_decision_kept BEFORE UPDATE ON refund_requests
  FOR EACH ROW EXECUTE FUNCTION refund_decision_kept();

GRANT SELECT, INSERT, UPDATE ON refund_requests TO medins_operator;
GRANT SELECT ON refund_requests TO medins_auditor;
GRANT USAGE ON SEQUENCE refund_requests_id_seq TO medins_operator;

-- One person's status history and refunds for a campaign year, for `audit person` beside audit.person_facts
-- (0014). Returns no personal number: enrollments are named by id, files by name and digest.
CREATE FUNCTION audit.person_history(p_id_number text, p_jurisdiction text, p_year integer)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
WITH e AS (
  SELECT e.id, e.status FROM enrollments e JOIN residents p ON p.id = e.resident_id
  WHERE p.jurisdiction = p_jurisdiction AND p.id_number = p_id_number AND e.campaign_year = p_year
)
SELECT jsonb_build_object(
  'statusHistory', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'changeId', c.id, 'enrollmentId', h.enrollment_id, 'from', h.from_status, 'to', h.to_status,
      'changedAt', c.changed_at, 'cause', coalesce(c.cause, enrollment_status_cause(h.from_status, h.to_status)),
      'madeBy', c.made_by, 'expectedCause', enrollment_status_cause(h.from_status, h.to_status),
      'allowed', h.from_status IS NULL OR enrollment_transition_allowed(h.from_status, h.to_status),
      'current', e.status) ORDER BY h.enrollment_id, h.change_id)
    FROM enrollment_status_history h JOIN e ON e.id = h.enrollment_id
    JOIN enrollment_status_changes c ON c.id = h.change_id), '[]'::jsonb),
  'refunds', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'id', r.id, 'requestKey', r.request_key, 'enrollmentId', r.enrollment_id, 'batchId', r.batch_id,
      'reason', r.reason, 'occurredOn', r.occurred_on, 'requestedOn', r.requested_on,
      'benefitStart', r.benefit_start, 'paidFen', r.paid_fen, 'status', r.status, 'policyHash', r.policy_hash,
      'decision', r.decision, 'ruleId', r.rule_id, 'ruleSource', r.rule_source, 'says', r.says,
      'amountFen', r.amount_fen, 'requestedBy', r.requested_by, 'requestedAt', r.requested_at,
      'decidedAt', r.decided_at,
      'paymentFen', (SELECT l.amount_fen FROM levy_lines l JOIN deduction_results d USING (batch_id, enrollment_id)
                     WHERE l.batch_id = r.batch_id AND l.enrollment_id = r.enrollment_id AND d.outcome = 'success'),
      'refundFile', (SELECT jsonb_build_object('seq', x.seq, 'sha256', x.sha256, 'fileName', x.file_name,
                                               'loggedAt', x.logged_at, 'stored', x.stored_at IS NOT NULL)
                     FROM exchange_log x WHERE x.seq = r.exchange_seq)) ORDER BY r.id)
    FROM refund_requests r JOIN e ON e.id = r.enrollment_id), '[]'::jsonb)
)
$$;
REVOKE ALL ON FUNCTION audit.person_history(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.person_history(text, text, integer) TO medins_auditor, medins_operator;

-- Down Migration
DROP FUNCTION audit.person_history(text, text, integer);
DROP TABLE refund_requests;
DROP FUNCTION refund_decision_kept(), refund_status_refused(), refund_transition_allowed(refund_request_status, refund_request_status);
DROP TYPE refund_request_status;
DROP TRIGGER enrollments_status_history_changed ON enrollments;
DROP TRIGGER enrollments_status_history_created ON enrollments;
DROP FUNCTION enrollment_status_history_changed(), enrollment_status_history_created(),
  enrollment_status_cause(enrollment_status, enrollment_status);
DROP TABLE enrollment_status_history, enrollment_status_changes;
