-- Up Migration
-- The reference check of new enrollments (0091) merges the new rows with the register on the resident's key
-- alone and compares the jurisdiction row by row (issue #23). 0091 meant the check to read the index of
-- (id, jurisdiction) in order, an index-only scan; that needs the register's visibility map, which a register
-- loaded or changed since its last vacuum does not have (a bench year, a city right after its register is
-- loaded: relallvisible 0). Then a merge on both columns sorted all 715,982 residents read by their key, where
-- the key's own order was enough: 0.6 s of the opening's 5.1 s in an auto_explain of a Kaiping 1x year.
-- `IS NOT DISTINCT FROM` is not a merge clause (both columns are NOT NULL, so it says what `=` says), so the
-- merge is on the id, and the register is read in key order either way: by the primary key, or by the index
-- of (id, jurisdiction) when the visibility map is set. Measured on a kept Kaiping 1x ledger, 428,041 rows
-- checked, jit off, 64 MB of work memory, three alternating runs each: unvacuumed 532-537 ms -> 341-377 ms;
-- vacuumed 286-296 ms -> 282-286 ms. Same check, same refusal; a small statement keeps its probes by key.
CREATE OR REPLACE FUNCTION enrollments_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  nestloop text := current_setting('enable_nestloop');
  hashjoin text := current_setting('enable_hashjoin');
  seqscan text := current_setting('enable_seqscan');
  register real;
  missing bigint;
  missing_in text;
BEGIN
  SELECT c.reltuples INTO register FROM pg_class c WHERE c.oid = 'residents'::regclass;
  -- more new rows than a quarter of the register: counted no further than that
  IF (SELECT count(*) FROM (SELECT FROM new_rows LIMIT floor(greatest(register, 0) / 4)::bigint + 1) s) * 4 > register THEN
    PERFORM set_config('enable_nestloop', 'off', true);
    PERFORM set_config('enable_hashjoin', 'off', true);
    PERFORM set_config('enable_seqscan', 'off', true);
  END IF;
  EXECUTE $q$SELECT n.resident_id, n.jurisdiction FROM new_rows n
             WHERE NOT EXISTS (SELECT 1 FROM residents r
                               WHERE r.id = n.resident_id AND r.jurisdiction IS NOT DISTINCT FROM n.jurisdiction)
             LIMIT 1$q$ INTO missing, missing_in;
  PERFORM set_config('enable_nestloop', nestloop, true);
  PERFORM set_config('enable_hashjoin', hashjoin, true);
  PERFORM set_config('enable_seqscan', seqscan, true);
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
  nestloop text := current_setting('enable_nestloop');
  hashjoin text := current_setting('enable_hashjoin');
  seqscan text := current_setting('enable_seqscan');
  register real;
  missing bigint;
  missing_in text;
BEGIN
  SELECT c.reltuples INTO register FROM pg_class c WHERE c.oid = 'residents'::regclass;
  IF (SELECT count(*) FROM (SELECT FROM new_rows LIMIT floor(greatest(register, 0) / 4)::bigint + 1) s) * 4 > register THEN
    PERFORM set_config('enable_nestloop', 'off', true);
    PERFORM set_config('enable_hashjoin', 'off', true);
    PERFORM set_config('enable_seqscan', 'off', true);
  END IF;
  EXECUTE $q$SELECT n.resident_id, n.jurisdiction FROM new_rows n
             WHERE NOT EXISTS (SELECT 1 FROM residents r WHERE r.id = n.resident_id AND r.jurisdiction = n.jurisdiction)
             LIMIT 1$q$ INTO missing, missing_in;
  PERFORM set_config('enable_nestloop', nestloop, true);
  PERFORM set_config('enable_hashjoin', hashjoin, true);
  PERFORM set_config('enable_seqscan', seqscan, true);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'an enrollment refers to resident %, who is no resident of %', missing, missing_in
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
