-- Up Migration
-- Issue #23: being levied (已发送应征数据) is derived from the levy lines, not written on the enrollment.
--
-- Round 1 updated every one of its 411,514 enrollments from registered to levied (with this status history's
-- trigger over the whole statement), and then again to paid or failed when the results came back: the year's
-- largest excess over its write floor. A levy line without a deduction result already says the enrollment is
-- levied. Now the levy writes its lines only; an enrollment keeps registered (round 1) or failed (a
-- re-deduction) until its result moves it, and it is levied while it holds a line of a batch created since its
-- status last changed that has no result yet (enrollment_awaiting_result). A status changed after the levy (a
-- household stop, a re-enrollment after it) ends the line's hold, as the move out of levied did before.
--
-- The value `levied` stays: an enrollment of a ledger migrated with a batch in flight holds it, and its result
-- moves it out as before (levied -> paid / failed / stopped stay allowed). Nothing writes it any more.
--
-- What keeps its meaning:
-- - the status machine (0011): a result moves registered -> paid (allowed before), registered -> failed (added
--   here: round 1's failure), failed -> paid (allowed), failed -> failed (a re-deduction that fails again: no
--   change of status, so nothing to allow);
-- - the status history (0070): a levy's moves (registered -> levied, failed -> levied) are its lines, recorded
--   by reference to them by the change row this migration's statement trigger on levy_lines writes in the
--   transaction that created their batch (the view's levy branch reads them as before); a result's move is
--   still levied -> paid / failed, matched against the statement's change of the row from the status it was
--   levied from (or from levied, for a batch in flight), failed -> failed included; any other move out of a
--   levied enrollment (a stop) is recorded as from levied;
-- - audit.person_history's `current` is the derived status, so a person's trail ends where the ledger stands.

-- A deduction round's failure of a first batch's line (round 1): registered -> failed (000 五(四)).
CREATE OR REPLACE FUNCTION enrollment_transition_allowed(from_status enrollment_status, to_status enrollment_status)
  RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (from_status, to_status) IN (
    ('registered', 'levied'), ('registered', 'paid'), ('registered', 'failed'), ('registered', 'stopped'),
    ('levied', 'paid'), ('levied', 'failed'), ('levied', 'stopped'),
    ('failed', 'levied'), ('failed', 'paid'), ('failed', 'abandoned'), ('failed', 'stopped'),
    ('paid', 'refunded'), ('paid', 'stopped'),
    ('abandoned', 'levied'), ('stopped', 'registered'))
$$;

-- Whether an enrollment (its id, status and status_changed_at) is levied and awaiting its result: it holds
-- `levied` (a batch in flight when this migration ran), or it is registered or failed and holds a levy line,
-- of a batch created since its status last changed, that has no deduction result yet.
CREATE FUNCTION enrollment_awaiting_result(p_enrollment bigint, p_status enrollment_status, p_since timestamptz)
  RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT p_status = 'levied' OR (p_status IN ('registered', 'failed') AND EXISTS (
    SELECT 1 FROM levy_lines l JOIN levy_batches b ON b.id = l.batch_id
    WHERE l.enrollment_id = p_enrollment AND b.created_at >= p_since
      AND NOT EXISTS (SELECT 1 FROM deduction_results d WHERE d.batch_id = l.batch_id AND d.enrollment_id = l.enrollment_id)))
$$;
-- The status an enrollment is in, in the documents' words: levied while it awaits a result, else its own.
CREATE FUNCTION enrollment_status_shown(p_enrollment bigint, p_status enrollment_status, p_since timestamptz)
  RETURNS enrollment_status LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN enrollment_awaiting_result(p_enrollment, p_status, p_since) THEN 'levied'::enrollment_status ELSE p_status END
$$;
GRANT EXECUTE ON FUNCTION enrollment_awaiting_result(bigint, enrollment_status, timestamptz),
  enrollment_status_shown(bigint, enrollment_status, timestamptz) TO medins_operator, medins_auditor;

-- A levy's lines are its moves: one change row per batch, written with the lines in the transaction that
-- created the batch (cause and maker as the transaction names them), recording every line by reference.
-- Lines added to a batch of an earlier transaction record nothing (and are refused once it is referenced:
-- status_referenced_batch_kept, 0070); a second statement adding lines in the same transaction is refused
-- before it writes (status_referenced_batch_before).
CREATE FUNCTION levy_lines_status_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO enrollment_status_changes (cause, made_by, moved, batch_id, batch_rows, referenced)
  SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
         a.n, a.batch_id, 'levy_lines', a.n
  FROM (SELECT batch_id, count(*)::int AS n FROM added GROUP BY batch_id) a
  JOIN levy_batches b ON b.id = a.batch_id AND b.created_at = now()
  WHERE NOT EXISTS (SELECT 1 FROM enrollment_status_changes c
                    WHERE c.batch_id = a.batch_id AND c.batch_rows = 'levy_lines' AND c.changed_at = now())
  ORDER BY a.batch_id;
  RETURN NULL;
END $$;
CREATE TRIGGER levy_lines_status_change AFTER INSERT ON levy_lines
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION levy_lines_status_change();

-- The status trigger (0070) with a result's move matched against the row's change from the status its line
-- was levied from (or from levied), a re-deduction's failure again (failed -> failed) included, and every
-- other move out of a levied enrollment recorded from levied.
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
      IF part = 'levy_lines' THEN
        -- a levy's lines stand for moves only in the transaction that created their batch
        SELECT levy_line_move_from(b.kind) INTO levied_from FROM levy_batches b WHERE b.id = batch AND b.created_at = now();
      ELSE
        -- the status a result's enrollment holds until it: the one its line was levied from
        SELECT levy_line_move_from(b.kind) INTO levied_from FROM levy_batches b WHERE b.id = batch;
      END IF;
      IF NOT FOUND THEN batch := NULL; END IF;
      -- one referencing change per batch's rows and transaction: a second statement records its moves itself
      IF EXISTS (SELECT 1 FROM enrollment_status_changes c
                 WHERE c.batch_id = batch AND c.batch_rows = part AND c.changed_at = now()) THEN
        batch := NULL;
      END IF;
    END IF;
  END IF;
  EXECUTE $q$
  WITH pairs AS MATERIALIZED (
    SELECT n.id, o.status AS from_status, n.status AS to_status, o.status_changed_at AS old_changed_at,
           o.jurisdiction AS old_jurisdiction, o.campaign_year AS old_year, o.town_id AS old_town, o.subsidy_fen > 0 AS old_subsidised,
           n.jurisdiction AS new_jurisdiction, n.campaign_year AS new_year, n.town_id AS new_town, n.subsidy_fen > 0 AS new_subsidised
    FROM after_rows n JOIN before_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status OR o.town_id IS DISTINCT FROM n.town_id OR (o.subsidy_fen > 0) <> (n.subsidy_fen > 0)
       OR o.campaign_year <> n.campaign_year OR o.jurisdiction <> n.jurisdiction
       -- a re-deduction failing again: the move its result stands for, though the status stays
       OR ($1 = 'deduction_results' AND $2 IS NOT NULL AND o.status = 'failed' AND n.status = 'failed')),
  moved AS MATERIALIZED (SELECT id, from_status, to_status, old_changed_at FROM pairs WHERE from_status IS DISTINCT FROM to_status),
  -- the named batch's rows written in this transaction, each with the move it stands for on the row
  batch_rows AS (
    SELECT l.enrollment_id, $3::enrollment_status AS from_status, 'levied'::enrollment_status AS to_status
    FROM levy_lines l WHERE $1 = 'levy_lines' AND l.batch_id = $2
    UNION ALL
    SELECT d.enrollment_id, $3::enrollment_status, deduction_result_move_to(d.outcome)
    FROM deduction_results d WHERE $1 = 'deduction_results' AND d.batch_id = $2 AND d.recorded_at = now()),
  -- each of them, and whether this statement made the very move it stands for (a result: from the status its
  -- line was levied from, or from levied for a batch in flight when 0075 ran)
  matched AS MATERIALIZED (
    SELECT r.enrollment_id, m.id IS NOT NULL AS moved, m.from_status = m.to_status AS same
    FROM batch_rows r LEFT JOIN pairs m
      ON m.id = r.enrollment_id AND m.to_status = r.to_status
     AND (m.from_status = r.from_status OR ($1 = 'deduction_results' AND m.from_status = 'levied'))),
  counts AS MATERIALIZED (
    SELECT (SELECT count(*) FROM moved)::int + count(*) FILTER (WHERE x.moved AND x.same)::int AS moved,
           count(*) FILTER (WHERE x.moved)::int AS referenced,
           count(*) FILTER (WHERE NOT x.moved)::int AS unmoved
    FROM matched x),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved, batch_id, batch_rows, referenced)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           n.moved, CASE WHEN n.referenced > 0 THEN $2 END, CASE WHEN n.referenced > 0 THEN $1 END, n.referenced
    FROM counts n WHERE n.moved > 0 RETURNING id, batch_id),
  -- every move the batch's rows do not stand for gets its own entry (none to look for when they stand for all);
  -- a registered or failed enrollment awaiting a result moves out of levied
  history AS (
    INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
    SELECT m.id, c.id, enrollment_status_shown(m.id, m.from_status, m.old_changed_at), m.to_status
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

-- One person's history (0070) with the enrollment's status as the documents say it: levied while it awaits a
-- result (the last move of its trail), else the status it holds.
CREATE OR REPLACE FUNCTION audit.person_history(p_id_number text, p_jurisdiction text, p_year integer)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
WITH e AS (
  SELECT e.id, enrollment_status_shown(e.id, e.status, e.status_changed_at) AS status FROM enrollments e JOIN residents p ON p.id = e.resident_id
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

-- Down Migration
DROP TRIGGER levy_lines_status_change ON levy_lines;
DROP FUNCTION levy_lines_status_change();
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
DROP FUNCTION enrollment_status_shown(bigint, enrollment_status, timestamptz);
DROP FUNCTION enrollment_awaiting_result(bigint, enrollment_status, timestamptz);
-- the machine of 0011 again (enrollments awaiting a result after this are registered or failed: rerun their
-- levy with the code of that version)
CREATE OR REPLACE FUNCTION enrollment_transition_allowed(from_status enrollment_status, to_status enrollment_status)
  RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (from_status, to_status) IN (
    ('registered', 'levied'), ('registered', 'paid'), ('registered', 'stopped'),
    ('levied', 'paid'), ('levied', 'failed'), ('levied', 'stopped'),
    ('failed', 'levied'), ('failed', 'paid'), ('failed', 'abandoned'), ('failed', 'stopped'),
    ('paid', 'refunded'), ('paid', 'stopped'),
    ('abandoned', 'levied'), ('stopped', 'registered'))
$$;
