-- Up Migration
-- The reference check of new enrollments (0009) on a large statement reads the residents once instead of
-- probing their key once per row, as 0056 does for levy lines and deduction results (issue #23). Opening a
-- Kaiping year (428,041 enrollments) planned a nested loop (no statistics on the transition table, LIMIT 1):
-- 777 ms of openEnrollments' 4.5 s under EXPLAIN ANALYZE, the largest part of the statement that is no write.
-- When a statement writes more rows than a quarter of the residents, the check runs without nested loops (a
-- hash anti join: one scan of the residents), planned for that statement; a smaller one (a household form)
-- keeps its index probes. Same check, same refusal.
CREATE OR REPLACE FUNCTION enrollments_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  nestloop text := current_setting('enable_nestloop');
  missing bigint;
  missing_in text;
BEGIN
  IF (SELECT count(*) FROM new_rows) * 4 > (SELECT reltuples FROM pg_class WHERE oid = 'residents'::regclass) THEN
    PERFORM set_config('enable_nestloop', 'off', true);
  END IF;
  EXECUTE $q$SELECT n.resident_id, n.jurisdiction FROM new_rows n
             WHERE NOT EXISTS (SELECT 1 FROM residents r WHERE r.id = n.resident_id AND r.jurisdiction = n.jurisdiction)
             LIMIT 1$q$ INTO missing, missing_in;
  PERFORM set_config('enable_nestloop', nestloop, true);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'an enrollment refers to resident %, who is no resident of %', missing, missing_in
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION enrollments_reference_check() RETURNS trigger
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
