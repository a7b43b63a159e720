-- Up Migration
-- Issue #23: an enrollment's first status is recorded by reference to the enrollment itself.
--
-- Opening a year wrote one status-history row per new enrollment (0025, 0070: 428,041 of a Kaiping year's
-- 428,439 entries), each saying only "none -> the status it was created in, by the change of the statement
-- that created it". Both facts are now columns of the enrollment, written with the row itself and never
-- rewritten: opened_by (the change row of the creating statement) and opened_as (the status it was created
-- in). The history view (0070) derives the first move from them; the entries keep their own rows only for
-- enrollments created before this migration.
--
-- Enforced here, not by the caller:
-- - each INSERT or COPY into enrollments takes its change id from the changes' own sequence before its first
--   row (a statement trigger), which opened_by's default reads; a row trigger, fired only for a row whose
--   opened_as is not its own status or whose opened_by is missing (a row created as registered through the
--   column defaults never fires it), sets both;
-- - the statement's history trigger (after it) writes the change row with that id and refuses the statement
--   when a created row carries any other (an id written by the INSERT itself, a second INSERT in the same
--   statement): so opened_by and opened_as say what happened, or nothing is written;
-- - no statement may set either column afterwards (a statement trigger on UPDATE OF them), the owner's
--   included: the first move they stand for cannot be rewritten. An edit through the view (0070's INSTEAD OF
--   trigger) lists the enrollment in enrollment_status_unmoved, as for a batch's rows.

ALTER TABLE enrollments
  ADD COLUMN opened_by bigint DEFAULT nullif(current_setting('medins.opening', true), '')::bigint,
  ADD COLUMN opened_as enrollment_status,
  ADD CHECK ((opened_by IS NULL) = (opened_as IS NULL));
-- rows of earlier years keep opened_as NULL (their first move is an entry); new rows default to the status's
-- own default, so a registration through the defaults needs no row trigger
ALTER TABLE enrollments ALTER COLUMN opened_as SET DEFAULT 'registered';

-- Before a statement's first row: the change id that will record its openings.
CREATE FUNCTION enrollment_opening_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM set_config('medins.opening', nextval(pg_get_serial_sequence('enrollment_status_changes', 'id'))::text, true);
  RETURN NULL;
END $$;
CREATE TRIGGER enrollments_opening_change BEFORE INSERT ON enrollments
  FOR EACH STATEMENT EXECUTE FUNCTION enrollment_opening_change();

-- A row whose opened_as is not its own status, or that has no opened_by, gets the statement's change and its
-- status. (Comparing opened_by with the setting here too would read the setting a second time for every row,
-- 0.06 s a Kaiping opening; a wrong one is refused after the statement instead.)
CREATE FUNCTION enrollment_opened() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  NEW.opened_by := nullif(current_setting('medins.opening', true), '')::bigint;
  NEW.opened_as := CASE WHEN NEW.opened_by IS NOT NULL THEN NEW.status END;
  RETURN NEW;
END $$;
-- named to fire after enrollments_town_id (BEFORE row triggers fire in name order): the status it records is
-- the one the row is written with
CREATE TRIGGER enrollments_zz_opened BEFORE INSERT ON enrollments FOR EACH ROW
  WHEN (NEW.opened_as IS DISTINCT FROM NEW.status OR NEW.opened_by IS NULL)
  EXECUTE FUNCTION enrollment_opened();

CREATE FUNCTION enrollment_opening_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'an enrollment''s opening (opened_by, opened_as) is the first move of its status history: it is never rewritten'
    USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER enrollments_opening_kept BEFORE UPDATE OF opened_by, opened_as ON enrollments
  FOR EACH STATEMENT EXECUTE FUNCTION enrollment_opening_kept();

-- The opening statement's change row, under the id its rows carry; per-enrollment entries only when the
-- statement had no id (its statement trigger did not fire); the per-town tallies as before (0040, 0070), from
-- the same one pass over the new rows that finds a row naming another change (then nothing is written).
CREATE OR REPLACE FUNCTION enrollment_status_history_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  opening constant bigint := nullif(current_setting('medins.opening', true), '')::bigint;
  misnamed integer;
BEGIN
  -- the id serves this one statement
  PERFORM set_config('medins.opening', '', true);
  -- one pass over the new rows: the tallies' groups, each with its rows naming another change
  EXECUTE $q$
  WITH g AS MATERIALIZED (
    SELECT jurisdiction, campaign_year, town_id, status, subsidy_fen > 0 AS subsidised, count(*) AS n,
           count(*) FILTER (WHERE opened_by IS DISTINCT FROM $1) AS misnamed
    FROM created GROUP BY 1, 2, 3, 4, 5),
  counts AS MATERIALIZED (SELECT coalesce(sum(n), 0)::int AS moved, coalesce(sum(misnamed), 0)::int AS misnamed FROM g),
  change AS (
    INSERT INTO enrollment_status_changes (id, cause, made_by, moved, referenced) OVERRIDING SYSTEM VALUE
    SELECT coalesce($1, nextval(pg_get_serial_sequence('enrollment_status_changes', 'id'))),
           nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           k.moved, CASE WHEN $1 IS NULL THEN 0 ELSE k.moved END
    FROM counts k WHERE k.moved > 0 AND k.misnamed = 0 RETURNING id),
  history AS (
    INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
    SELECT m.id, c.id, NULL, m.status FROM created m CROSS JOIN change c WHERE $1 IS NULL),
  tallies AS (
    INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
    SELECT g.jurisdiction, g.campaign_year, g.town_id, g.status, g.subsidised, g.n FROM g
    WHERE (SELECT k.misnamed FROM counts k) = 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments)
  SELECT k.misnamed FROM counts k
  $q$ INTO misnamed USING opening;
  IF misnamed > 0 THEN
    RAISE EXCEPTION '% new enrollments name an opening change other than their statement''s', misnamed
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END $$;

-- 0070's view, and each enrollment's opening recorded on the enrollment (less one edited through the view).
CREATE OR REPLACE VIEW enrollment_status_history AS
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
WHERE NOT EXISTS (SELECT 1 FROM enrollment_status_unmoved u WHERE u.change_id = c.id AND u.enrollment_id = l.enrollment_id)
UNION ALL
SELECT e.id, e.opened_by, NULL::enrollment_status, e.opened_as
FROM enrollments e
WHERE e.opened_by IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM enrollment_status_unmoved u WHERE u.change_id = e.opened_by AND u.enrollment_id = e.id);

-- Down Migration
-- the openings recorded by reference become entries again
INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
SELECT e.id, e.opened_by, NULL, e.opened_as FROM enrollments e
WHERE e.opened_by IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM enrollment_status_unmoved u WHERE u.change_id = e.opened_by AND u.enrollment_id = e.id)
ON CONFLICT DO NOTHING;
DELETE FROM enrollment_status_unmoved u USING enrollments e
WHERE e.id = u.enrollment_id AND u.change_id = e.opened_by;
UPDATE enrollment_status_changes SET referenced = 0 WHERE batch_id IS NULL AND referenced > 0;
CREATE OR REPLACE VIEW enrollment_status_history AS
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
DROP TRIGGER enrollments_opening_kept ON enrollments;
DROP TRIGGER enrollments_zz_opened ON enrollments;
DROP TRIGGER enrollments_opening_change ON enrollments;
DROP FUNCTION enrollment_opening_kept(), enrollment_opened(), enrollment_opening_change();
ALTER TABLE enrollments DROP COLUMN opened_as, DROP COLUMN opened_by;
