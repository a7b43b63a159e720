-- Up Migration
-- Issue #23: the status history records a batch's moves by reference to the batch's own rows.
--
-- A year wrote 1.4-1.8 million per-enrollment history rows (0025), most of them the batch moves: each round
-- moves its enrollments to levied (one levy line each) and then to paid or failed (one deduction result each),
-- and both are already recorded row by row in levy_lines and deduction_results. Now a statement may name the
-- batch it applies (the transaction-local setting medins.batch, 'levy_lines:<batch id>' or
-- 'deduction_results:<batch id>', consumed by the statement's trigger); its change row names the batch, and
-- the history keeps its own per-enrollment rows only for the moves the batch's rows do not explain.
--
-- Enforced here, not by the caller: a move counts as explained only when the named batch holds a row for the
-- enrollment written in the same transaction (a levy line of a batch created in it; a deduction result
-- recorded in it) that stands for exactly that move: a levy line of a first batch for registered -> levied, of
-- a re-deduction batch for failed -> levied; a success for levied -> paid, a failure for levied -> failed.
-- Every other move of the statement (another batch, another status, an enrollment not in the batch, no batch
-- named, a second statement naming the same batch in one transaction) gets its own row as before. A batch row
-- of that transaction whose enrollment the statement did not move (a stopped enrollment's result) is listed
-- in enrollment_status_unmoved, so the history never shows a move that did not happen; and a batch row added
-- to a referenced batch afterwards is refused (statement triggers on both tables).
--
-- The per-enrollment table is renamed enrollment_status_entries; enrollment_status_history becomes a view of
-- the same columns (its rows, and the moves derived from the batches' rows joined to the change row that
-- names them), so every reader (audit.person_history, the tests, the bench) reads the same moves with the same
-- change row (time, cause, maker) as before.

ALTER TABLE enrollment_status_history RENAME TO enrollment_status_entries;
ALTER INDEX enrollment_status_history_pkey RENAME TO enrollment_status_entries_pkey;

ALTER TABLE enrollment_status_changes
  ADD COLUMN batch_id   bigint,
  -- which of the batch's rows stand for the moves: its levy lines or its deduction results
  ADD COLUMN batch_rows text CHECK (batch_rows IN ('levy_lines', 'deduction_results')),
  -- how many of `moved` the batch's rows record (the rest are enrollment_status_entries rows)
  ADD COLUMN referenced integer NOT NULL DEFAULT 0 CHECK (referenced >= 0),
  ADD CHECK ((batch_id IS NULL) = (batch_rows IS NULL));
CREATE INDEX enrollment_status_changes_batch ON enrollment_status_changes (batch_id) WHERE batch_id IS NOT NULL;

-- The named batch's rows, written in the change's transaction, whose enrollment the change did not move.
CREATE TABLE enrollment_status_unmoved (
  change_id     bigint NOT NULL,
  enrollment_id bigint NOT NULL,
  PRIMARY KEY (change_id, enrollment_id)
);

-- The moves a batch's rows stand for: a levy line of a first batch registered -> levied, of a re-deduction
-- failed -> levied; a success levied -> paid, a failure levied -> failed (0002, 000 五(三)-(五)).
CREATE FUNCTION levy_line_move_from(kind text) RETURNS enrollment_status
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE kind WHEN 'first' THEN 'registered'::enrollment_status ELSE 'failed'::enrollment_status END
$$;
CREATE FUNCTION deduction_result_move_to(outcome text) RETURNS enrollment_status
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE outcome WHEN 'success' THEN 'paid'::enrollment_status ELSE 'failed'::enrollment_status END
$$;

-- Every move, as before: the entries, and each referencing change's batch rows less its unmoved ones. Both
-- derived parts start from levy_lines, so a reader by enrollment uses levy_lines_enrollment.
CREATE VIEW enrollment_status_history AS
SELECT h.enrollment_id, h.change_id, h.from_status, h.to_status FROM enrollment_status_entries h
UNION ALL
SELECT l.enrollment_id, c.id, levy_line_move_from(b.kind), 'levied'::enrollment_status
FROM levy_lines l
JOIN enrollment_status_changes c ON c.batch_id = l.batch_id AND c.batch_rows = 'levy_lines'
JOIN levy_batches b ON b.id = l.batch_id AND b.created_at = c.changed_at
WHERE NOT EXISTS (SELECT 1 FROM enrollment_status_unmoved u WHERE u.change_id = c.id AND u.enrollment_id = l.enrollment_id)
UNION ALL
SELECT l.enrollment_id, c.id, 'levied'::enrollment_status, deduction_result_move_to(d.outcome)
FROM levy_lines l
JOIN deduction_results d ON d.batch_id = l.batch_id AND d.enrollment_id = l.enrollment_id
JOIN enrollment_status_changes c ON c.batch_id = d.batch_id AND c.batch_rows = 'deduction_results' AND c.changed_at = d.recorded_at
WHERE NOT EXISTS (SELECT 1 FROM enrollment_status_unmoved u WHERE u.change_id = c.id AND u.enrollment_id = l.enrollment_id);

-- Readers as before (0025): operators and auditors read; nobody but the owner writes. (The view gets no
-- default grants beyond these: writing it would edit the trail.)
REVOKE ALL ON enrollment_status_history, enrollment_status_unmoved FROM medins_operator, medins_auditor;
GRANT SELECT ON enrollment_status_history, enrollment_status_unmoved TO medins_operator, medins_auditor;

-- An administrator's edit of the history through the view (what the audit must then name as a mismatch) or the
-- drill's clearing (0050): an entry is changed in place; a move recorded by reference becomes an entry of its
-- own, its batch row listed as no longer standing for it.
CREATE FUNCTION enrollment_status_history_edited() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  DELETE FROM enrollment_status_entries WHERE enrollment_id = OLD.enrollment_id AND change_id = OLD.change_id;
  IF NOT FOUND THEN
    INSERT INTO enrollment_status_unmoved (change_id, enrollment_id) VALUES (OLD.change_id, OLD.enrollment_id);
    UPDATE enrollment_status_changes SET referenced = referenced - 1 WHERE id = OLD.change_id;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
    VALUES (NEW.enrollment_id, NEW.change_id, NEW.from_status, NEW.to_status);
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER enrollment_status_history_edited INSTEAD OF UPDATE OR DELETE ON enrollment_status_history
  FOR EACH ROW EXECUTE FUNCTION enrollment_status_history_edited();

-- One person's history (0025) read through the view by enrollment: each of the view's parts looked up by the
-- person's enrollment ids (levy_lines_enrollment, the entries' key), not the whole history joined to them.
CREATE OR REPLACE FUNCTION audit.person_history(p_id_number text, p_jurisdiction text, p_year integer)
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
    FROM e CROSS JOIN LATERAL (SELECT * FROM enrollment_status_history h WHERE h.enrollment_id = e.id OFFSET 0) h
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

-- A drill's clearing (0050) deletes the status history's rows from the tables the view reads, set-based.
CREATE OR REPLACE FUNCTION clear_drill_rows(p_jurisdiction text, p_year integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  held campaign_year_claims;
  counts jsonb := '{}';
  n bigint;
BEGIN
  SELECT * INTO held FROM campaign_year_claims
  WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year AND cleared_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the ledger holds no drill of % %: nothing to clear', p_jurisdiction, p_year
      USING ERRCODE = 'MD001';
  END IF;
  IF NOT held.drill THEN
    RAISE EXCEPTION 'the rows of % % are the real year''s: they are never cleared', p_jurisdiction, p_year
      USING ERRCODE = 'MD001';
  END IF;
  CREATE TEMP TABLE drill_enrollments ON COMMIT DROP AS
    SELECT id FROM enrollments WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  CREATE TEMP TABLE drill_batches ON COMMIT DROP AS
    SELECT id FROM levy_batches WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  CREATE TEMP TABLE drill_claims ON COMMIT DROP AS
    SELECT id FROM subsidy_claims WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;

  DELETE FROM deduction_results WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('deduction_results', n);
  DELETE FROM sim_tax_results WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('sim_tax_results', n);
  DELETE FROM levy_lines WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('levy_lines', n);
  DELETE FROM subsidy_claim_lines WHERE claim_id IN (SELECT id FROM drill_claims);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('subsidy_claim_lines', n);
  DELETE FROM subsidy_claims WHERE id IN (SELECT id FROM drill_claims);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('subsidy_claims', n);
  DELETE FROM follow_up_tasks WHERE enrollment_id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('follow_up_tasks', n);
  DELETE FROM refund_requests WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('refund_requests', n);
  -- the moves their levy lines and results stood for went with them; the entries and unmoved rows go here
  DELETE FROM enrollment_status_entries WHERE enrollment_id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('enrollment_status_history', n);
  DELETE FROM enrollment_status_unmoved WHERE enrollment_id IN (SELECT id FROM drill_enrollments);
  DELETE FROM enrollments WHERE id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('enrollments', n);
  DELETE FROM levy_batches WHERE id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('levy_batches', n);
  DELETE FROM campaign_events WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('campaign_events', n);
  DELETE FROM coverage_snapshots WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('coverage_snapshots', n);

  counts := counts || jsonb_build_object('exchangeLogKept', (
    SELECT jsonb_build_object('fromSeq', min(seq), 'toSeq', max(seq), 'entries', count(*))
    FROM exchange_log WHERE jurisdiction = p_jurisdiction AND logged_at >= held.claimed_at));
  UPDATE campaign_year_claims SET cleared_by = session_user, cleared_at = now(), cleared = counts
  WHERE id = held.id;
  RETURN counts;
END $$;

-- The status triggers (0025, planned per statement as in 0037, with the tallies of 0040).
CREATE OR REPLACE FUNCTION enrollment_status_history_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE $q$
  WITH moved AS MATERIALIZED (SELECT n.id, n.status FROM created n),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id),
  history AS (
    INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
    SELECT m.id, c.id, NULL, m.status FROM moved m CROSS JOIN change c)
  INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
  SELECT jurisdiction, campaign_year, town_id, status, subsidy_fen > 0, count(*) FROM created
  GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments
  $q$;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION enrollment_status_history_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  named constant text := coalesce(current_setting('medins.batch', true), '');
  part text;
  batch bigint;
  levied_from enrollment_status;
BEGIN
  IF named <> '' THEN
    -- the naming serves this one statement
    PERFORM set_config('medins.batch', '', true);
    IF named ~ '^(levy_lines|deduction_results):[0-9]{1,18}$' THEN
      part := split_part(named, ':', 1);
      batch := split_part(named, ':', 2)::bigint;
      -- a levy's lines stand for moves only in the transaction that created their batch
      IF part = 'levy_lines' THEN
        SELECT levy_line_move_from(b.kind) INTO levied_from FROM levy_batches b WHERE b.id = batch AND b.created_at = now();
        IF NOT FOUND THEN batch := NULL; END IF;
      END IF;
      -- one referencing change per batch's rows and transaction: a second statement records its moves itself
      IF EXISTS (SELECT 1 FROM enrollment_status_changes c
                 WHERE c.batch_id = batch AND c.batch_rows = part AND c.changed_at = now()) THEN
        batch := NULL;
      END IF;
    END IF;
  END IF;
  EXECUTE $q$
  WITH pairs AS MATERIALIZED (
    SELECT n.id, o.status AS from_status, n.status AS to_status,
           o.jurisdiction AS old_jurisdiction, o.campaign_year AS old_year, o.town_id AS old_town, o.subsidy_fen > 0 AS old_subsidised,
           n.jurisdiction AS new_jurisdiction, n.campaign_year AS new_year, n.town_id AS new_town, n.subsidy_fen > 0 AS new_subsidised
    FROM after_rows n JOIN before_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status OR o.town_id IS DISTINCT FROM n.town_id OR (o.subsidy_fen > 0) <> (n.subsidy_fen > 0)
       OR o.campaign_year <> n.campaign_year OR o.jurisdiction <> n.jurisdiction),
  moved AS MATERIALIZED (SELECT id, from_status, to_status FROM pairs WHERE from_status IS DISTINCT FROM to_status),
  -- the named batch's rows written in this transaction, each with the move it stands for
  batch_rows AS (
    SELECT l.enrollment_id, $3::enrollment_status AS from_status, 'levied'::enrollment_status AS to_status
    FROM levy_lines l WHERE $1 = 'levy_lines' AND l.batch_id = $2
    UNION ALL
    SELECT d.enrollment_id, 'levied'::enrollment_status, deduction_result_move_to(d.outcome)
    FROM deduction_results d WHERE $1 = 'deduction_results' AND d.batch_id = $2 AND d.recorded_at = now()),
  -- each of them, and whether this statement made the very move it stands for
  matched AS MATERIALIZED (
    SELECT r.enrollment_id, m.id IS NOT NULL AS moved
    FROM batch_rows r LEFT JOIN moved m
      ON m.id = r.enrollment_id AND m.from_status = r.from_status AND m.to_status = r.to_status),
  counts AS MATERIALIZED (
    SELECT (SELECT count(*) FROM moved)::int AS moved, count(*) FILTER (WHERE x.moved)::int AS referenced,
           count(*) FILTER (WHERE NOT x.moved)::int AS unmoved
    FROM matched x),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved, batch_id, batch_rows, referenced)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           n.moved, CASE WHEN n.referenced > 0 THEN $2 END, CASE WHEN n.referenced > 0 THEN $1 END, n.referenced
    FROM counts n WHERE n.moved > 0 RETURNING id, batch_id),
  -- every move the batch's rows do not stand for gets its own entry (none to look for when they stand for all)
  history AS (
    INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
    SELECT m.id, c.id, m.from_status, m.to_status
    FROM moved m CROSS JOIN change c LEFT JOIN matched x ON x.enrollment_id = m.id AND x.moved
    WHERE (SELECT n.moved > n.referenced FROM counts n) AND x.enrollment_id IS NULL),
  unmoved AS (
    INSERT INTO enrollment_status_unmoved (change_id, enrollment_id)
    SELECT c.id, x.enrollment_id FROM matched x CROSS JOIN change c
    WHERE (SELECT n.referenced > 0 AND n.unmoved > 0 FROM counts n) AND NOT x.moved),
  delta AS (
    SELECT jurisdiction, campaign_year, town_id, status, subsidised, sum(n) AS n
    FROM (SELECT old_jurisdiction, old_year, old_town, from_status, old_subsidised, -1 FROM pairs
          UNION ALL
          SELECT new_jurisdiction, new_year, new_town, to_status, new_subsidised, 1 FROM pairs)
         AS d (jurisdiction, campaign_year, town_id, status, subsidised, n)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0)
  INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
  SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments
  $q$ USING part, batch, levied_from;
  RETURN NULL;
END $$;

-- A referenced batch's rows stay what its change saw: a row added to them afterwards would show a move
-- nobody made. Refused: any row of a part of which this transaction already referenced a batch (checked
-- before the statement writes: the referencing statement itself wrote its rows before its trigger ran), a
-- levy line of a batch referenced by an earlier transaction (the batch that change saw, created when it was
-- made: not a later batch given the same id after a TRUNCATE ... RESTART IDENTITY), a result carrying the
-- time of an earlier transaction's referencing change.
CREATE FUNCTION status_referenced_batch_before() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM enrollment_status_changes c WHERE c.batch_rows = TG_TABLE_NAME AND c.changed_at = now()) THEN
    RAISE EXCEPTION '% of a batch the status history references in this transaction cannot be added to', TG_TABLE_NAME
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION status_referenced_batch_kept() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  bad bigint;
BEGIN
  IF TG_TABLE_NAME = 'levy_lines' THEN
    EXECUTE $q$
      SELECT c.id FROM enrollment_status_changes c JOIN levy_batches b ON b.id = c.batch_id AND b.created_at = c.changed_at
      WHERE c.batch_rows = 'levy_lines' AND c.changed_at <> now() AND c.batch_id IN (SELECT DISTINCT batch_id FROM added)
      LIMIT 1 $q$ INTO bad;
  ELSE
    EXECUTE $q$
      SELECT c.id FROM added a
      JOIN enrollment_status_changes c ON c.batch_id = a.batch_id AND c.batch_rows = 'deduction_results' AND c.changed_at = a.recorded_at
      WHERE c.changed_at <> now() LIMIT 1 $q$ INTO bad;
  END IF;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION '% of a batch the status history references (change %) cannot be added to', TG_TABLE_NAME, bad
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER levy_lines_referenced_before BEFORE INSERT ON levy_lines
  FOR EACH STATEMENT EXECUTE FUNCTION status_referenced_batch_before();
CREATE TRIGGER deduction_results_referenced_before BEFORE INSERT ON deduction_results
  FOR EACH STATEMENT EXECUTE FUNCTION status_referenced_batch_before();
CREATE TRIGGER levy_lines_referenced_kept AFTER INSERT ON levy_lines
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION status_referenced_batch_kept();
CREATE TRIGGER deduction_results_referenced_kept AFTER INSERT ON deduction_results
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION status_referenced_batch_kept();

-- Down Migration
DROP TRIGGER deduction_results_referenced_kept ON deduction_results;
DROP TRIGGER levy_lines_referenced_kept ON levy_lines;
DROP TRIGGER deduction_results_referenced_before ON deduction_results;
DROP TRIGGER levy_lines_referenced_before ON levy_lines;
DROP FUNCTION status_referenced_batch_kept(), status_referenced_batch_before();
-- the moves recorded by reference become rows again
INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
SELECT h.enrollment_id, h.change_id, h.from_status, h.to_status FROM enrollment_status_history h
JOIN enrollment_status_changes c ON c.id = h.change_id
WHERE c.batch_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM enrollment_status_entries e WHERE e.enrollment_id = h.enrollment_id AND e.change_id = h.change_id);
CREATE OR REPLACE FUNCTION audit.person_history(p_id_number text, p_jurisdiction text, p_year integer)
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

DROP VIEW enrollment_status_history;
DROP FUNCTION enrollment_status_history_edited();
DROP FUNCTION levy_line_move_from(text), deduction_result_move_to(text);
DROP TABLE enrollment_status_unmoved;
ALTER TABLE enrollment_status_changes DROP COLUMN referenced, DROP COLUMN batch_rows, DROP COLUMN batch_id;
ALTER INDEX enrollment_status_entries_pkey RENAME TO enrollment_status_history_pkey;
ALTER TABLE enrollment_status_entries RENAME TO enrollment_status_history;
CREATE OR REPLACE FUNCTION enrollment_status_history_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE $q$
  WITH moved AS MATERIALIZED (SELECT n.id, n.status FROM created n),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id),
  history AS (
    INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
    SELECT m.id, c.id, NULL, m.status FROM moved m CROSS JOIN change c)
  INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
  SELECT jurisdiction, campaign_year, town_id, status, subsidy_fen > 0, count(*) FROM created
  GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments
  $q$;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION enrollment_status_history_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE $q$
  WITH pairs AS MATERIALIZED (
    SELECT n.id, o.status AS from_status, n.status AS to_status,
           o.jurisdiction AS old_jurisdiction, o.campaign_year AS old_year, o.town_id AS old_town, o.subsidy_fen > 0 AS old_subsidised,
           n.jurisdiction AS new_jurisdiction, n.campaign_year AS new_year, n.town_id AS new_town, n.subsidy_fen > 0 AS new_subsidised
    FROM after_rows n JOIN before_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status OR o.town_id IS DISTINCT FROM n.town_id OR (o.subsidy_fen > 0) <> (n.subsidy_fen > 0)
       OR o.campaign_year <> n.campaign_year OR o.jurisdiction <> n.jurisdiction),
  moved AS (SELECT id, from_status, to_status FROM pairs WHERE from_status IS DISTINCT FROM to_status),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id),
  history AS (
    INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
    SELECT m.id, c.id, m.from_status, m.to_status FROM moved m CROSS JOIN change c),
  delta AS (
    SELECT jurisdiction, campaign_year, town_id, status, subsidised, sum(n) AS n
    FROM (SELECT old_jurisdiction, old_year, old_town, from_status, old_subsidised, -1 FROM pairs
          UNION ALL
          SELECT new_jurisdiction, new_year, new_town, to_status, new_subsidised, 1 FROM pairs)
         AS d (jurisdiction, campaign_year, town_id, status, subsidised, n)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0)
  INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
  SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments
  $q$;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION clear_drill_rows(p_jurisdiction text, p_year integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  held campaign_year_claims;
  counts jsonb := '{}';
  n bigint;
BEGIN
  SELECT * INTO held FROM campaign_year_claims
  WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year AND cleared_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the ledger holds no drill of % %: nothing to clear', p_jurisdiction, p_year
      USING ERRCODE = 'MD001';
  END IF;
  IF NOT held.drill THEN
    RAISE EXCEPTION 'the rows of % % are the real year''s: they are never cleared', p_jurisdiction, p_year
      USING ERRCODE = 'MD001';
  END IF;
  CREATE TEMP TABLE drill_enrollments ON COMMIT DROP AS
    SELECT id FROM enrollments WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  CREATE TEMP TABLE drill_batches ON COMMIT DROP AS
    SELECT id FROM levy_batches WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  CREATE TEMP TABLE drill_claims ON COMMIT DROP AS
    SELECT id FROM subsidy_claims WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;

  DELETE FROM deduction_results WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('deduction_results', n);
  DELETE FROM sim_tax_results WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('sim_tax_results', n);
  DELETE FROM levy_lines WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('levy_lines', n);
  DELETE FROM subsidy_claim_lines WHERE claim_id IN (SELECT id FROM drill_claims);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('subsidy_claim_lines', n);
  DELETE FROM subsidy_claims WHERE id IN (SELECT id FROM drill_claims);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('subsidy_claims', n);
  DELETE FROM follow_up_tasks WHERE enrollment_id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('follow_up_tasks', n);
  DELETE FROM refund_requests WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('refund_requests', n);
  DELETE FROM enrollment_status_history WHERE enrollment_id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('enrollment_status_history', n);
  DELETE FROM enrollments WHERE id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('enrollments', n);
  DELETE FROM levy_batches WHERE id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('levy_batches', n);
  DELETE FROM campaign_events WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('campaign_events', n);
  DELETE FROM coverage_snapshots WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('coverage_snapshots', n);

  counts := counts || jsonb_build_object('exchangeLogKept', (
    SELECT jsonb_build_object('fromSeq', min(seq), 'toSeq', max(seq), 'entries', count(*))
    FROM exchange_log WHERE jurisdiction = p_jurisdiction AND logged_at >= held.claimed_at));
  UPDATE campaign_year_claims SET cleared_by = session_user, cleared_at = now(), cleared = counts
  WHERE id = held.id;
  RETURN counts;
END $$;
