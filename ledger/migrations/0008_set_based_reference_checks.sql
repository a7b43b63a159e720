-- References of the two tables a department list fills row by row are checked once per statement instead of
-- once per row (issue #5). A 700,000-row roster wrote 700,000 submission rows and up to 700,000 identities;
-- each row's foreign keys ran their own lookup with a row lock on the referenced resident and submission, and
-- those lookups took most of the import's time. The same rules now hold as one anti-join over the rows the
-- statement wrote (a transition table), and a delete on the referenced side is checked the same way:
--   submission_rows.submission_id  -> submissions
--   identities.resident_id         -> residents, in the identity's own jurisdiction (stricter than before)
--   identities.opened_by_submission, closed_by_submission -> submissions
-- What a per-row foreign key also gave, a lock that keeps a concurrent transaction from deleting the resident
-- or the submission while the row is written, is not needed here: residents and submissions are never deleted
-- by the system (a death is recorded on the resident, a corrected list supersedes), and a delete that would
-- orphan a row is refused by the triggers on those tables.

ALTER TABLE submission_rows DROP CONSTRAINT submission_rows_submission_id_fkey;
ALTER TABLE identities
  DROP CONSTRAINT identities_jurisdiction_fkey,
  DROP CONSTRAINT identities_resident_id_fkey,
  DROP CONSTRAINT identities_opened_by_submission_fkey,
  DROP CONSTRAINT identities_closed_by_submission_fkey;

CREATE FUNCTION submission_rows_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  missing bigint;
BEGIN
  SELECT n.submission_id INTO missing
  FROM (SELECT DISTINCT submission_id FROM new_rows) n
  WHERE NOT EXISTS (SELECT 1 FROM submissions s WHERE s.id = n.submission_id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'submission rows refer to submission %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER submission_rows_reference_on_insert AFTER INSERT ON submission_rows
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION submission_rows_reference_check();
-- a row's verdict changes (duplicates and unknown residents are rejected in SQL), its submission never does
CREATE FUNCTION submission_rows_keep_submission() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.submission_id IS DISTINCT FROM OLD.submission_id THEN
    RAISE EXCEPTION 'row % of submission % cannot move to another submission', OLD.row_no, OLD.submission_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER submission_rows_keep_submission BEFORE UPDATE OF submission_id ON submission_rows
  FOR EACH ROW EXECUTE FUNCTION submission_rows_keep_submission();

CREATE FUNCTION identities_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.resident_id, n.jurisdiction INTO bad FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM residents r WHERE r.id = n.resident_id AND r.jurisdiction = n.jurisdiction)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'an identity refers to resident %, who is no resident of %', bad.resident_id, bad.jurisdiction
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT s.id INTO bad
  FROM (SELECT opened_by_submission AS id FROM new_rows
        UNION SELECT closed_by_submission FROM new_rows WHERE closed_by_submission IS NOT NULL) s
  WHERE NOT EXISTS (SELECT 1 FROM submissions x WHERE x.id = s.id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'an identity refers to submission %, which does not exist', bad.id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER identities_reference_on_insert AFTER INSERT ON identities
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION identities_reference_check();
CREATE TRIGGER identities_reference_on_update AFTER UPDATE ON identities
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION identities_reference_check();

-- The referenced side: a resident or a submission that identities or submission rows still name is not
-- deleted (a deleted submission's own rows go with it, as ON DELETE CASCADE did).
CREATE FUNCTION residents_delete_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  named bigint;
BEGIN
  SELECT i.resident_id INTO named FROM identities i JOIN gone g ON g.id = i.resident_id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'resident % still has identities: a resident is not deleted', named
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER residents_delete_check AFTER DELETE ON residents
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION residents_delete_check();

CREATE FUNCTION submissions_delete_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  named bigint;
BEGIN
  SELECT g.id INTO named FROM gone g
  WHERE EXISTS (SELECT 1 FROM identities i WHERE i.opened_by_submission = g.id OR i.closed_by_submission = g.id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'submission % opened or closed identities: it is superseded, not deleted', named
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  DELETE FROM submission_rows r USING gone g WHERE r.submission_id = g.id;
  RETURN NULL;
END $$;
CREATE TRIGGER submissions_delete_check AFTER DELETE ON submissions
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION submissions_delete_check();
