-- The campaign's batch tables check their references once per statement too (issue #9), as identities and
-- submission rows do since 0008. A deduction round writes 400,000 levy lines and as many results at Kaiping's
-- scale; each row's foreign key ran a lookup that also locked the referenced enrollment or levy line (FOR KEY
-- SHARE), and the same statement then updated those enrollments: a row lock and a lock record per person,
-- written and read again. Now:
--   enrollments.resident_id            -> residents, of the enrollment's own jurisdiction (stricter than before)
--   levy_lines.batch_id, enrollment_id -> levy_batches, enrollments
--   deduction_results (batch, enrollment) -> levy_lines
-- each as one anti-join over the statement's transition table; the keys of a written row never change; and a
-- resident, enrollment, batch or levy line that is still named is not deleted. (Nothing in the system deletes
-- them; the per-row lock that kept a concurrent delete out is not needed where deletes are refused.)

ALTER TABLE enrollments
  DROP CONSTRAINT enrollments_jurisdiction_fkey,
  DROP CONSTRAINT enrollments_resident_id_fkey;
ALTER TABLE levy_lines
  DROP CONSTRAINT levy_lines_batch_id_fkey,
  DROP CONSTRAINT levy_lines_enrollment_id_fkey;
ALTER TABLE deduction_results DROP CONSTRAINT deduction_results_batch_id_enrollment_id_fkey;

CREATE FUNCTION keys_never_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%: the references of a written row do not change (%)', TG_TABLE_NAME, TG_ARGV[0]
    USING ERRCODE = 'foreign_key_violation';
END $$;
CREATE TRIGGER enrollments_keys_fixed BEFORE UPDATE OF jurisdiction, resident_id ON enrollments
  FOR EACH ROW WHEN (NEW.jurisdiction IS DISTINCT FROM OLD.jurisdiction OR NEW.resident_id IS DISTINCT FROM OLD.resident_id)
  EXECUTE FUNCTION keys_never_change('jurisdiction, resident_id');
CREATE TRIGGER levy_lines_keys_fixed BEFORE UPDATE OF batch_id, enrollment_id ON levy_lines
  FOR EACH ROW WHEN (NEW.batch_id IS DISTINCT FROM OLD.batch_id OR NEW.enrollment_id IS DISTINCT FROM OLD.enrollment_id)
  EXECUTE FUNCTION keys_never_change('batch_id, enrollment_id');
CREATE TRIGGER deduction_results_keys_fixed BEFORE UPDATE OF batch_id, enrollment_id ON deduction_results
  FOR EACH ROW WHEN (NEW.batch_id IS DISTINCT FROM OLD.batch_id OR NEW.enrollment_id IS DISTINCT FROM OLD.enrollment_id)
  EXECUTE FUNCTION keys_never_change('batch_id, enrollment_id');

CREATE FUNCTION enrollments_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.resident_id, n.jurisdiction INTO bad FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM residents r WHERE r.id = n.resident_id AND r.jurisdiction = n.jurisdiction)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'an enrollment refers to resident %, who is no resident of %', bad.resident_id, bad.jurisdiction
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER enrollments_reference_on_insert AFTER INSERT ON enrollments
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION enrollments_reference_check();

CREATE FUNCTION levy_lines_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
BEGIN
  SELECT b.batch_id INTO bad FROM (SELECT DISTINCT batch_id FROM new_rows) b
  WHERE NOT EXISTS (SELECT 1 FROM levy_batches x WHERE x.id = b.batch_id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'levy lines refer to levy batch %, which does not exist', bad.batch_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT n.enrollment_id INTO bad FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = n.enrollment_id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a levy line refers to enrollment %, which does not exist', bad.enrollment_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER levy_lines_reference_on_insert AFTER INSERT ON levy_lines
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION levy_lines_reference_check();

CREATE FUNCTION deduction_results_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.batch_id, n.enrollment_id INTO bad FROM new_rows n
  WHERE NOT EXISTS (SELECT 1 FROM levy_lines l WHERE l.batch_id = n.batch_id AND l.enrollment_id = n.enrollment_id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a deduction result refers to enrollment % in levy batch %, which holds no such levy line',
      bad.enrollment_id, bad.batch_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER deduction_results_reference_on_insert AFTER INSERT ON deduction_results
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deduction_results_reference_check();

-- The referenced side.
CREATE FUNCTION campaign_rows_delete_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  named text;
BEGIN
  IF TG_TABLE_NAME = 'residents' THEN
    SELECT 'resident ' || e.resident_id INTO named FROM enrollments e JOIN gone g ON g.id = e.resident_id LIMIT 1;
  ELSIF TG_TABLE_NAME = 'enrollments' THEN
    SELECT 'enrollment ' || l.enrollment_id INTO named FROM levy_lines l JOIN gone g ON g.id = l.enrollment_id LIMIT 1;
  ELSIF TG_TABLE_NAME = 'levy_batches' THEN
    SELECT 'levy batch ' || l.batch_id INTO named FROM levy_lines l JOIN gone g ON g.id = l.batch_id LIMIT 1;
  ELSIF TG_TABLE_NAME = 'levy_lines' THEN
    SELECT 'levy line ' || d.batch_id || '/' || d.enrollment_id INTO named
    FROM deduction_results d JOIN gone g ON g.batch_id = d.batch_id AND g.enrollment_id = d.enrollment_id LIMIT 1;
  END IF;
  IF named IS NOT NULL THEN
    RAISE EXCEPTION '% is still named by the campaign''s records: it is not deleted', named
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER residents_enrollments_delete_check AFTER DELETE ON residents
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION campaign_rows_delete_check();
CREATE TRIGGER enrollments_delete_check AFTER DELETE ON enrollments
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION campaign_rows_delete_check();
CREATE TRIGGER levy_batches_delete_check AFTER DELETE ON levy_batches
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION campaign_rows_delete_check();
CREATE TRIGGER levy_lines_delete_check AFTER DELETE ON levy_lines
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION campaign_rows_delete_check();
