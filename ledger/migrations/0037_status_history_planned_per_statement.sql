-- Up Migration
-- The status history's statement triggers (0025) joined their transition tables with a query PL/pgSQL
-- plans once per session and then reuses. A worker's connection that first updated one enrollment (a
-- household form) kept a nested-loop plan sized for one row, and the first levy of a full-scale year
-- (484,711 enrollments moved in one statement) then ran that plan: 484,711 x 484,711 row comparisons, a
-- levy step of minutes that never ended in the benchmark (issue #23). EXECUTE plans the statement each
-- time, with the transition tables' real sizes, so a large move gets a hash join. What is recorded is
-- unchanged.
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

-- Down Migration
CREATE OR REPLACE FUNCTION enrollment_status_history_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  WITH moved AS MATERIALIZED (SELECT n.id, n.status FROM created n),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id)
  INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
  SELECT m.id, c.id, NULL, m.status FROM moved m CROSS JOIN change c;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION enrollment_status_history_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  WITH moved AS MATERIALIZED (
    SELECT n.id, o.status AS from_status, n.status AS to_status
    FROM after_rows n JOIN before_rows o ON o.id = n.id WHERE o.status IS DISTINCT FROM n.status),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           count(*)
    FROM moved HAVING count(*) > 0 RETURNING id)
  INSERT INTO enrollment_status_history (enrollment_id, change_id, from_status, to_status)
  SELECT m.id, c.id, m.from_status, m.to_status FROM moved m CROSS JOIN change c;
  RETURN NULL;
END $$;
