-- Up Migration
-- Per-town running tallies, so a coverage snapshot (000 六(四), 附件3) reads a few hundred rows instead of
-- the whole population (issue #23). Each of a year's 18 snapshots was a scan of every resident (registered
-- and to-enroll per town) plus a hash join of the year's enrollments to the residents (enrolled, subsidised,
-- failed, abandoned per town): 2.6 s each under EXPLAIN ANALYZE at Kaiping 1x, 0.04 s of rows written.
--
-- - enrollments.town_id: the enrollee's town, copied from the resident (a statement that opens enrollments
--   gives it; any other insert gets it from the resident by a trigger; a resident who moves town moves their
--   enrollments with them). No index and no foreign key: it is never searched by, and a status change still
--   leaves every index as it is (0030's heap-only updates). Not declared NOT NULL: an enrollment naming no
--   resident must reach the reference check (0009), which refuses it by name, not a null violation.
-- - town_enrollment_tallies: enrollments per (jurisdiction, year, town, status, with a subsidy or not),
--   kept by the statement triggers that already record the status history (0025, 0037), in the same
--   statement as the change: one join of the statement's old and new rows serves both.
-- - town_resident_tallies: residents per (jurisdiction, town, hukou or not, in employee insurance or not),
--   kept by statement triggers on residents (the register is loaded in bulk and changes rarely).
-- Both tables are written only by these triggers (the owner's functions); operators and auditors read them.
-- (No CHECK that a count is not negative: an INSERT ... ON CONFLICT checks the row it proposes, a signed
-- delta, before it finds the row to add it to.)

ALTER TABLE enrollments ADD COLUMN town_id integer;
UPDATE enrollments e SET town_id = p.town_id FROM residents p WHERE p.id = e.resident_id AND e.town_id IS DISTINCT FROM p.town_id;

CREATE TABLE town_enrollment_tallies (
  jurisdiction  text NOT NULL,
  campaign_year integer NOT NULL,
  town_id       integer NOT NULL,
  status        enrollment_status NOT NULL,
  subsidised    boolean NOT NULL,
  enrollments   bigint NOT NULL,
  PRIMARY KEY (jurisdiction, campaign_year, town_id, status, subsidised)
);
CREATE TABLE town_resident_tallies (
  jurisdiction     text NOT NULL,
  town_id          integer NOT NULL,
  hukou            boolean NOT NULL,
  employee_insured boolean NOT NULL,
  residents        bigint NOT NULL,
  PRIMARY KEY (jurisdiction, town_id, hukou, employee_insured)
);
INSERT INTO town_enrollment_tallies
SELECT jurisdiction, campaign_year, town_id, status, subsidy_fen > 0, count(*) FROM enrollments GROUP BY 1, 2, 3, 4, 5;
INSERT INTO town_resident_tallies
SELECT jurisdiction, town_id, residency = 'hukou', employee_insured, count(*) FROM residents GROUP BY 1, 2, 3, 4;

-- row security as on the other ledger tables (0020, 0021): operators and auditors read every row; departments
-- read no enrollments and no residents, so nothing here; nobody but the triggers writes
ALTER TABLE town_enrollment_tallies ENABLE ROW LEVEL SECURITY;
ALTER TABLE town_resident_tallies ENABLE ROW LEVEL SECURITY;
CREATE POLICY operator_reads ON town_enrollment_tallies FOR SELECT TO medins_operator USING (true);
CREATE POLICY auditor_reads ON town_enrollment_tallies FOR SELECT TO medins_auditor USING (true);
CREATE POLICY operator_reads ON town_resident_tallies FOR SELECT TO medins_operator USING (true);
CREATE POLICY auditor_reads ON town_resident_tallies FOR SELECT TO medins_auditor USING (true);
REVOKE ALL ON town_enrollment_tallies, town_resident_tallies FROM PUBLIC, medins_operator, medins_department;
GRANT SELECT ON town_enrollment_tallies, town_resident_tallies TO medins_operator, medins_auditor;

-- an enrollment's town is its resident's (its resident never changes: enrollments_keys_fixed, 0009)
CREATE FUNCTION enrollment_town_id() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  SELECT p.town_id INTO NEW.town_id FROM residents p WHERE p.id = NEW.resident_id;
  RETURN NEW;
END $$;
CREATE TRIGGER enrollments_town_id BEFORE INSERT ON enrollments
  FOR EACH ROW WHEN (NEW.town_id IS NULL) EXECUTE FUNCTION enrollment_town_id();

CREATE FUNCTION resident_town_moved() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE enrollments SET town_id = NEW.town_id WHERE resident_id = NEW.id AND town_id IS DISTINCT FROM NEW.town_id;
  RETURN NULL;
END $$;
CREATE TRIGGER residents_town_moved AFTER UPDATE OF town_id ON residents
  FOR EACH ROW WHEN (OLD.town_id IS DISTINCT FROM NEW.town_id) EXECUTE FUNCTION resident_town_moved();

-- The status history's triggers (0025, planned per statement as in 0037) also keep the tallies: the signed
-- counts of each statement's rows by key, added in key order (two statements adding to the same towns lock
-- their rows in the same order).
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

CREATE FUNCTION enrollment_tallies_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM town_enrollment_tallies;
    RETURN NULL;
  END IF;
  EXECUTE $q$
  UPDATE town_enrollment_tallies t SET enrollments = t.enrollments - d.n
  FROM (SELECT jurisdiction, campaign_year, town_id, status, subsidy_fen > 0 AS subsidised, count(*) AS n
        FROM gone GROUP BY 1, 2, 3, 4, 5) d
  WHERE (t.jurisdiction, t.campaign_year, t.town_id, t.status, t.subsidised) = (d.jurisdiction, d.campaign_year, d.town_id, d.status, d.subsidised)
  $q$;
  RETURN NULL;
END $$;
CREATE TRIGGER enrollments_tallies_deleted AFTER DELETE ON enrollments
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION enrollment_tallies_deleted();
CREATE TRIGGER enrollments_tallies_truncated AFTER TRUNCATE ON enrollments
  FOR EACH STATEMENT EXECUTE FUNCTION enrollment_tallies_deleted();

-- residents: the same, from each statement's old and new rows
CREATE FUNCTION resident_tallies_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM town_resident_tallies;
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    EXECUTE $q$
    INSERT INTO town_resident_tallies AS t (jurisdiction, town_id, hukou, employee_insured, residents)
    SELECT jurisdiction, town_id, residency = 'hukou', employee_insured, count(*) FROM added GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (jurisdiction, town_id, hukou, employee_insured) DO UPDATE SET residents = t.residents + EXCLUDED.residents
    $q$;
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE $q$
    UPDATE town_resident_tallies t SET residents = t.residents - d.n
    FROM (SELECT jurisdiction, town_id, residency = 'hukou' AS hukou, employee_insured, count(*) AS n FROM gone GROUP BY 1, 2, 3, 4) d
    WHERE (t.jurisdiction, t.town_id, t.hukou, t.employee_insured) = (d.jurisdiction, d.town_id, d.hukou, d.employee_insured)
    $q$;
  ELSE
    EXECUTE $q$
    WITH pairs AS MATERIALIZED (
      SELECT o.jurisdiction AS oj, o.town_id AS ot, o.residency = 'hukou' AS oh, o.employee_insured AS oe,
             n.jurisdiction AS nj, n.town_id AS nt, n.residency = 'hukou' AS nh, n.employee_insured AS ne
      FROM after_rows n JOIN before_rows o ON o.id = n.id
      WHERE (o.jurisdiction, o.town_id, o.residency = 'hukou', o.employee_insured)
            IS DISTINCT FROM (n.jurisdiction, n.town_id, n.residency = 'hukou', n.employee_insured)),
    delta AS (
      SELECT jurisdiction, town_id, hukou, employee_insured, sum(n) AS n
      FROM (SELECT oj, ot, oh, oe, -1 FROM pairs UNION ALL SELECT nj, nt, nh, ne, 1 FROM pairs)
           AS d (jurisdiction, town_id, hukou, employee_insured, n)
      GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0)
    INSERT INTO town_resident_tallies AS t (jurisdiction, town_id, hukou, employee_insured, residents)
    SELECT * FROM delta ORDER BY 1, 2, 3, 4
    ON CONFLICT (jurisdiction, town_id, hukou, employee_insured) DO UPDATE SET residents = t.residents + EXCLUDED.residents
    $q$;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER residents_tallies_added AFTER INSERT ON residents
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION resident_tallies_changed();
CREATE TRIGGER residents_tallies_changed AFTER UPDATE ON residents
  REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT EXECUTE FUNCTION resident_tallies_changed();
CREATE TRIGGER residents_tallies_deleted AFTER DELETE ON residents
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION resident_tallies_changed();
CREATE TRIGGER residents_tallies_truncated AFTER TRUNCATE ON residents
  FOR EACH STATEMENT EXECUTE FUNCTION resident_tallies_changed();

-- Down Migration
DROP TRIGGER residents_tallies_truncated ON residents;
DROP TRIGGER residents_tallies_deleted ON residents;
DROP TRIGGER residents_tallies_changed ON residents;
DROP TRIGGER residents_tallies_added ON residents;
DROP FUNCTION resident_tallies_changed();
DROP TRIGGER enrollments_tallies_truncated ON enrollments;
DROP TRIGGER enrollments_tallies_deleted ON enrollments;
DROP FUNCTION enrollment_tallies_deleted();
DROP TRIGGER residents_town_moved ON residents;
DROP FUNCTION resident_town_moved();
DROP TRIGGER enrollments_town_id ON enrollments;
DROP FUNCTION enrollment_town_id();
CREATE OR REPLACE FUNCTION enrollment_status_history_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE $q$
  WITH moved AS MATERIALIZED (SELECT n.id, n.status FROM created n),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id)
  INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
  SELECT m.id, c.id, NULL, m.status FROM moved m CROSS JOIN change c
  $q$;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION enrollment_status_history_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE $q$
  WITH moved AS MATERIALIZED (
    SELECT n.id, o.status AS from_status, n.status AS to_status
    FROM after_rows n JOIN before_rows o ON o.id = n.id WHERE o.status IS DISTINCT FROM n.status),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id)
  INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
  SELECT m.id, c.id, m.from_status, m.to_status FROM moved m CROSS JOIN change c
  $q$;
  RETURN NULL;
END $$;
DROP TABLE town_resident_tallies, town_enrollment_tallies;
ALTER TABLE enrollments DROP COLUMN town_id;
