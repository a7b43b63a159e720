-- Up Migration
-- A levy line names the resident and the household it levies (issue #23). The levy file for the tax bureau
-- (ID number, name, bank account) and the simulated bureau's deduction (the household's account) joined each
-- of round 1's 411,514 lines to the enrollments (a scan of the year's 187 MB at fillfactor 50), then to the
-- residents (411,514 index probes) and the households: 4.0 s under EXPLAIN ANALYZE for the file alone, and
-- the bureau did it again. The line is written from the enrollment and its resident once, by the statement
-- that levies; the file then joins residents and households only, the bureau households only.
-- Both columns are ids, no personal data: who may read levy lines could already read the enrollment's
-- resident. A line written without them (by hand, in tests) gets them from its enrollment by a trigger;
-- not NOT NULL, so a line naming no enrollment still meets the reference check's refusal (0009).
ALTER TABLE levy_lines ADD COLUMN resident_id bigint, ADD COLUMN household_id bigint;
UPDATE levy_lines l SET resident_id = e.resident_id, household_id = p.household_id
FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE e.id = l.enrollment_id;

CREATE FUNCTION levy_line_names_household() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  SELECT e.resident_id, p.household_id INTO NEW.resident_id, NEW.household_id
  FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE e.id = NEW.enrollment_id;
  RETURN NEW;
END $$;
CREATE TRIGGER levy_lines_name_household BEFORE INSERT ON levy_lines
  FOR EACH ROW WHEN (NEW.resident_id IS NULL) EXECUTE FUNCTION levy_line_names_household();

-- Down Migration
DROP TRIGGER levy_lines_name_household ON levy_lines;
DROP FUNCTION levy_line_names_household();
ALTER TABLE levy_lines DROP COLUMN household_id, DROP COLUMN resident_id;
