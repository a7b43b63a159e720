-- Up Migration
-- A department imports its own lists under its own login (issue 18), and operators need no BYPASSRLS:
-- - the rows of a file are COPYed into a temporary staging table and inserted from there (PostgreSQL refuses
--   COPY FROM into a table under row-level security), so every login's rows pass the policies;
-- - matching a list against the household register is list_match_rows(), which runs as the schema's owner
--   and hands back only (resident_id, category, action) of the accepted rows: a department still cannot read
--   residents, and the rows' verdicts are written to its own submission's rows;
-- - the department's own identities (its certified categories), its own skipped lines and refused files are
--   its to read and write; every other department's stay out of its sight (row-level security);
-- - ANALYZE needs the table's owner: the work asks the owner (analyze_ledger) to analyze what it loaded.

-- A department changes its own submissions' status and counts as its import goes (never decided_by/at: the
-- decision on a held roster is an operator's).
GRANT UPDATE (status, superseded_by, would_close, open_before, closes_on, rows_read, rows_accepted,
              rows_rejected, rows_skipped) ON submissions TO medins_department;

-- Identities: a department opens and closes those of the categories it certifies, and sees no others.
GRANT SELECT, INSERT, UPDATE, DELETE ON identities TO medins_department;
ALTER TABLE identities ENABLE ROW LEVEL SECURITY;
CREATE POLICY operator_all ON identities TO medins_operator USING (true) WITH CHECK (true);
CREATE POLICY auditor_reads ON identities FOR SELECT TO medins_auditor USING (true);
CREATE POLICY department_own ON identities TO medins_department
  USING (department = ANY (medins_session_departments()))
  WITH CHECK (department = ANY (medins_session_departments()));

-- Skipped lines: its own submissions' only.
ALTER TABLE submission_skipped_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY operator_all ON submission_skipped_rows TO medins_operator USING (true) WITH CHECK (true);
CREATE POLICY auditor_reads ON submission_skipped_rows FOR SELECT TO medins_auditor USING (true);
CREATE POLICY department_own ON submission_skipped_rows TO medins_department
  USING (submission_id IN (SELECT id FROM submissions))
  WITH CHECK (submission_id IN (SELECT id FROM submissions));

-- Refused files: a department's import that cannot read its file records the refusal, in its own name.
GRANT SELECT, INSERT ON refused_files TO medins_department;
ALTER TABLE refused_files ENABLE ROW LEVEL SECURITY;
CREATE POLICY operator_all ON refused_files TO medins_operator USING (true) WITH CHECK (true);
CREATE POLICY auditor_reads ON refused_files FOR SELECT TO medins_auditor USING (true);
CREATE POLICY department_own ON refused_files TO medins_department
  USING (department = ANY (medins_session_departments()))
  WITH CHECK (department = ANY (medins_session_departments()));

-- The rows of one file being imported (status 'held' and no counts yet, i.e. inside its import), judged
-- against the whole file and the register, in one pass (as activities/registry/import-list.ts did under an
-- operator's privileges before): a duplicate of an earlier row, an ID no registered resident of the
-- jurisdiction has, a resident deceased by the effective day, a removal of someone without that identity.
-- The rejected rows get their verdict; the accepted ones come back as (resident_id, category, action), the
-- register's internal key and no personal data. Who may call it: an operator, or a login of the department the
-- submission is in (the session's user: inside the function the current user is the owner).
CREATE FUNCTION list_match_rows(submission bigint)
RETURNS TABLE (resident_id bigint, category text, action text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  s public.submissions%ROWTYPE;
BEGIN
  SELECT * INTO s FROM public.submissions WHERE id = submission;
  IF NOT FOUND OR s.status <> 'held' OR s.rows_read <> 0 THEN
    RAISE EXCEPTION 'submission % is not a list being imported', submission USING ERRCODE = '55000';
  END IF;
  IF NOT (pg_has_role(session_user, 'medins_operator', 'MEMBER')
          OR pg_has_role(session_user, 'medins_dept_' || replace(s.department, '-', '_'), 'MEMBER')) THEN
    RAISE EXCEPTION '% may not import the lists of %', session_user, s.department USING ERRCODE = '42501';
  END IF;
  -- fresh rows: let the planner see how many there are before it picks its joins (the owner may analyze)
  ANALYZE public.submission_rows;
  RETURN QUERY
  WITH duplicated AS (
    SELECT r.id_number, r.category, min(r.row_no) AS first_row FROM public.submission_rows r
    WHERE r.submission_id = submission AND r.accepted GROUP BY r.id_number, r.category HAVING count(*) > 1
  ), judged AS (
    SELECT r.row_no, p.id AS resident_id, r.category, r.action,
           CASE WHEN d.first_row IS NOT NULL AND r.row_no <> d.first_row THEN 'duplicate-in-file'
                WHEN p.id IS NULL THEN 'not-registered-resident'
                WHEN r.action <> 'remove' AND p.deceased_on IS NOT NULL AND p.deceased_on <= s.effective_on THEN 'resident-deceased'
                WHEN r.action = 'remove' AND NOT EXISTS (
                  SELECT 1 FROM public.identities i WHERE i.resident_id = p.id AND i.category = r.category AND i.valid_to IS NULL)
                  THEN 'remove-without-identity'
           END AS code,
           d.first_row, p.deceased_on
    FROM public.submission_rows r
    LEFT JOIN duplicated d ON d.id_number = r.id_number AND d.category = r.category
    LEFT JOIN public.residents p ON p.jurisdiction = s.jurisdiction AND p.id_number = r.id_number
    WHERE r.submission_id = submission AND r.accepted
  ), rejected AS (
    UPDATE public.submission_rows r SET accepted = false, reason_code = j.code,
           field = CASE WHEN j.code = 'remove-without-identity' THEN '变动类型' ELSE '身份证号码' END,
           reason = CASE j.code
             WHEN 'duplicate-in-file' THEN '与第' || j.first_row || '行重复 (the same person and category as row ' || j.first_row || ')'
             WHEN 'not-registered-resident' THEN '户籍登记中无此人 (no registered resident of this jurisdiction has this ID number)'
             WHEN 'resident-deceased' THEN '此人已于' || j.deceased_on || '死亡 (the resident is recorded as deceased)'
             ELSE '减员，但此人当前没有该类别的身份标识 (a removal of someone not listed in this category)' END
    FROM judged j
    WHERE r.submission_id = submission AND r.row_no = j.row_no AND j.code IS NOT NULL
  )
  SELECT j.resident_id, j.category, j.action FROM judged j WHERE j.code IS NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION list_match_rows(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION list_match_rows(bigint) TO medins_operator, medins_department;

-- Fresh statistics after a bulk load (the next roster's close step planned a nested loop over every open
-- identity when they were stale): ANALYZE is the table owner's, and a login skips it with a mere warning, so
-- the work asks the owner. Only the ledger's bulk-loaded tables; statistics reveal nothing a login may not
-- select (pg_stats shows only columns it may read).
CREATE FUNCTION analyze_ledger(tables text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY tables LOOP
    IF t NOT IN ('identities', 'submission_rows', 'enrollments', 'levy_lines', 'deduction_results',
                 'jurisdictions', 'towns', 'villages', 'households', 'residents', 'sim_bank_accounts') THEN
      RAISE EXCEPTION 'analyze_ledger: % is not a ledger table it analyzes', t USING ERRCODE = '42501';
    END IF;
    EXECUTE format('ANALYZE public.%I', t);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION analyze_ledger(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_ledger(text[]) TO medins_operator, medins_department;

-- Rehearsals (`rehearse`) run a whole year in a throwaway database of their own, under the operator's own
-- login: operators may SET ROLE medins_rehearsal, which may create databases (and so owns and drops them) and
-- nothing else. A role attribute is not inherited: the rehearsal sets the role to use it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'medins_rehearsal') THEN
    BEGIN
      CREATE ROLE medins_rehearsal NOLOGIN CREATEDB;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
  IF NOT pg_has_role('medins_operator', 'medins_rehearsal', 'MEMBER') THEN
    BEGIN
      GRANT medins_rehearsal TO medins_operator;
    EXCEPTION WHEN unique_violation OR internal_error THEN
      NULL; -- granted by a concurrent migration
    END;
  END IF;
END $$;

-- Down Migration
DROP FUNCTION analyze_ledger(text[]);
DROP FUNCTION list_match_rows(bigint);
DROP POLICY department_own ON refused_files;
DROP POLICY auditor_reads ON refused_files;
DROP POLICY operator_all ON refused_files;
ALTER TABLE refused_files DISABLE ROW LEVEL SECURITY;
REVOKE SELECT, INSERT ON refused_files FROM medins_department;
DROP POLICY department_own ON submission_skipped_rows;
DROP POLICY auditor_reads ON submission_skipped_rows;
DROP POLICY operator_all ON submission_skipped_rows;
ALTER TABLE submission_skipped_rows DISABLE ROW LEVEL SECURITY;
DROP POLICY department_own ON identities;
DROP POLICY auditor_reads ON identities;
DROP POLICY operator_all ON identities;
ALTER TABLE identities DISABLE ROW LEVEL SECURITY;
REVOKE SELECT, INSERT, UPDATE, DELETE ON identities FROM medins_department;
REVOKE UPDATE (status, superseded_by, would_close, open_before, closes_on, rows_read, rows_accepted,
               rows_rejected, rows_skipped) ON submissions FROM medins_department;
