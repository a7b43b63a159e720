-- Up Migration
-- A round's follow-up tasks check their references once per statement, as the batch tables do since 0009
-- (issue #23). Round 1's results at Kaiping 1x open 22,549 tasks (a personal failure each, 000 五(五)); their
-- three foreign keys ran 67,647 lookups, each locking the referenced row (FOR KEY SHARE), among them the
-- enrollment the same statement had just moved: 0.56 s of the results statement under auto_explain, the
-- statement's largest cost after its own writes and the status history. Now:
--   follow_up_tasks.enrollment_id -> enrollments, town_id -> towns, village_id -> villages (when set)
-- each as one anti-join over the statement's new rows (by the enrollments' key for a statement of fewer rows
-- than a quarter of them, by one hash of them for a larger one: 0056's rule); a task's references never change
-- once written; and an enrollment, town or village a task names is not deleted. Same checks, same refusals
-- (foreign_key_violation, naming the missing or still-named row).
ALTER TABLE follow_up_tasks
  DROP CONSTRAINT follow_up_tasks_enrollment_id_fkey,
  DROP CONSTRAINT follow_up_tasks_town_id_fkey,
  DROP CONSTRAINT follow_up_tasks_village_id_fkey;

CREATE TRIGGER follow_up_tasks_keys_fixed BEFORE UPDATE OF enrollment_id, town_id, village_id ON follow_up_tasks
  FOR EACH ROW WHEN (NEW.enrollment_id IS DISTINCT FROM OLD.enrollment_id OR NEW.town_id IS DISTINCT FROM OLD.town_id
                     OR NEW.village_id IS DISTINCT FROM OLD.village_id)
  EXECUTE FUNCTION keys_never_change('enrollment_id, town_id, village_id');

CREATE FUNCTION follow_up_tasks_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  nestloop constant text := current_setting('enable_nestloop');
  missing bigint;
BEGIN
  SELECT n.town_id INTO missing FROM (SELECT DISTINCT town_id FROM new_rows) n
  WHERE NOT EXISTS (SELECT 1 FROM towns t WHERE t.id = n.town_id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a follow-up task refers to town %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT n.village_id INTO missing FROM (SELECT DISTINCT village_id FROM new_rows WHERE village_id IS NOT NULL) n
  WHERE NOT EXISTS (SELECT 1 FROM villages v WHERE v.id = n.village_id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'a follow-up task refers to village %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF (SELECT count(*) FROM new_rows) * 4 > (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass) THEN
    PERFORM set_config('enable_nestloop', 'off', true);
  END IF;
  EXECUTE $q$SELECT n.enrollment_id FROM new_rows n
             WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = n.enrollment_id) LIMIT 1$q$ INTO missing;
  PERFORM set_config('enable_nestloop', nestloop, true);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'a follow-up task refers to enrollment %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER follow_up_tasks_reference_on_insert AFTER INSERT ON follow_up_tasks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION follow_up_tasks_reference_check();

-- The referenced side: an enrollment, town or village a follow-up task names is not deleted.
CREATE FUNCTION follow_up_referenced_delete_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  named text;
BEGIN
  IF TG_TABLE_NAME = 'enrollments' THEN
    SELECT 'enrollment ' || f.enrollment_id INTO named FROM follow_up_tasks f JOIN gone g ON g.id = f.enrollment_id LIMIT 1;
  ELSIF TG_TABLE_NAME = 'towns' THEN
    SELECT 'town ' || f.town_id INTO named FROM follow_up_tasks f JOIN gone g ON g.id = f.town_id LIMIT 1;
  ELSIF TG_TABLE_NAME = 'villages' THEN
    SELECT 'village ' || f.village_id INTO named FROM follow_up_tasks f JOIN gone g ON g.id = f.village_id LIMIT 1;
  END IF;
  IF named IS NOT NULL THEN
    RAISE EXCEPTION '% is still named by a follow-up task: it is not deleted', named
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER enrollments_follow_up_delete_check AFTER DELETE ON enrollments
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION follow_up_referenced_delete_check();
CREATE TRIGGER towns_follow_up_delete_check AFTER DELETE ON towns
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION follow_up_referenced_delete_check();
CREATE TRIGGER villages_follow_up_delete_check AFTER DELETE ON villages
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION follow_up_referenced_delete_check();

-- Down Migration
DROP TRIGGER villages_follow_up_delete_check ON villages;
DROP TRIGGER towns_follow_up_delete_check ON towns;
DROP TRIGGER enrollments_follow_up_delete_check ON enrollments;
DROP FUNCTION follow_up_referenced_delete_check();
DROP TRIGGER follow_up_tasks_reference_on_insert ON follow_up_tasks;
DROP FUNCTION follow_up_tasks_reference_check();
DROP TRIGGER follow_up_tasks_keys_fixed ON follow_up_tasks;
ALTER TABLE follow_up_tasks
  ADD CONSTRAINT follow_up_tasks_enrollment_id_fkey FOREIGN KEY (enrollment_id) REFERENCES enrollments (id),
  ADD CONSTRAINT follow_up_tasks_town_id_fkey FOREIGN KEY (town_id) REFERENCES towns (id),
  ADD CONSTRAINT follow_up_tasks_village_id_fkey FOREIGN KEY (village_id) REFERENCES villages (id);
