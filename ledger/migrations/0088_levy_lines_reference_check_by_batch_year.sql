-- Up Migration
-- The levy lines' reference check (0009, 0056) is stronger and cheaper (issue #23). Each line must name an
-- enrollment of its own batch's jurisdiction and year, not any enrollment of any year: a line of Kaiping's
-- 2024 batch naming a 2023 enrollment was accepted before. A large statement (more lines than a quarter of the
-- enrollments) hashed every enrollment of every year: round 1 at Kaiping 1x hashed 852,896 enrollments for
-- 411,514 new lines (0.78 s of the levy's INSERT under auto_explain). The lines a levy writes come in
-- enrollment order, so the check now merges them, sorted (a presorted sort is one pass), against the
-- enrollments' key from the batch's first enrollment on: no hash, and only the batch's own year's part of the
-- key read. On a clone after round 1 with the enrollments' visibility map cleared, as a year leaves it after
-- opening (three alternating runs, no per-node timing, load ~5): the check 0.87-1.08 s before, 0.25-0.37 s
-- after (the old hash read every enrollment of both years from the heap). A small statement
-- keeps its index probes. One plain pass over the new lines finds the batch, the count and the first enrollment.
CREATE OR REPLACE FUNCTION levy_lines_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  b record;
  nestloop text := current_setting('enable_nestloop');
  hashjoin text := current_setting('enable_hashjoin');
  missing bigint;
  lo bigint;
  hi bigint;
  total bigint;
  first bigint;
BEGIN
  -- one plain pass over the new lines; a statement of several batches (by hand) is counted per batch
  SELECT min(batch_id), max(batch_id), count(*), min(enrollment_id) INTO lo, hi, total, first FROM new_rows;
  FOR b IN SELECT n.batch_id, n.lines, n.first_enrollment, x.jurisdiction, x.campaign_year, x.id IS NOT NULL AS exists
           FROM (SELECT lo AS batch_id, total AS lines, first AS first_enrollment WHERE lo = hi
                 UNION ALL
                 SELECT r.batch_id, count(*), min(r.enrollment_id) FROM new_rows r WHERE lo <> hi GROUP BY r.batch_id) n
           LEFT JOIN levy_batches x ON x.id = n.batch_id
           ORDER BY n.batch_id LOOP
    IF NOT b.exists THEN
      RAISE EXCEPTION 'levy lines refer to levy batch %, which does not exist', b.batch_id
        USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF b.lines * 4 > (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass) THEN
      PERFORM set_config('enable_nestloop', 'off', true), set_config('enable_hashjoin', 'off', true);
    END IF;
    EXECUTE $q$SELECT n.enrollment_id FROM new_rows n
               WHERE n.batch_id = $1
                 AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = n.enrollment_id AND e.id >= $2
                                 AND e.jurisdiction = $3 AND e.campaign_year = $4) LIMIT 1$q$
      INTO missing USING b.batch_id, b.first_enrollment, b.jurisdiction, b.campaign_year;
    PERFORM set_config('enable_nestloop', nestloop, true), set_config('enable_hashjoin', hashjoin, true);
    IF missing IS NOT NULL THEN
      IF NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = missing) THEN
        RAISE EXCEPTION 'a levy line refers to enrollment %, which does not exist', missing
          USING ERRCODE = 'foreign_key_violation';
      END IF;
      RAISE EXCEPTION 'a levy line of levy batch % refers to enrollment %, which is not an enrollment of % %',
        b.batch_id, missing, b.jurisdiction, b.campaign_year USING ERRCODE = 'foreign_key_violation';
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION levy_lines_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
  nestloop text := current_setting('enable_nestloop');
  missing bigint;
  missing_batch bigint;
BEGIN
  SELECT b.batch_id INTO bad FROM (SELECT DISTINCT batch_id FROM new_rows) b
  WHERE NOT EXISTS (SELECT 1 FROM levy_batches x WHERE x.id = b.batch_id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'levy lines refer to levy batch %, which does not exist', bad.batch_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF (SELECT count(*) FROM new_rows) * 4 > (SELECT reltuples FROM pg_class WHERE oid = 'enrollments'::regclass) THEN
    PERFORM set_config('enable_nestloop', 'off', true);
  END IF;
  EXECUTE $q$SELECT n.enrollment_id FROM new_rows n
             WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = n.enrollment_id) LIMIT 1$q$ INTO missing;
  PERFORM set_config('enable_nestloop', nestloop, true);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'a levy line refers to enrollment %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
