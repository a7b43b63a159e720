-- Up Migration
-- Who a person is comes from their PostgreSQL login (issue 18): each person is a LOGIN role, a member of
-- medins_operator, medins_auditor, or one department's role medins_dept_<department> (itself a member of
-- medins_department). This migration gives each role what its work needs and nothing more:
-- - operators (and the worker's service login, an operator) read and write the ledger;
-- - auditors read only masked views or tables holding no full national ID or bank account;
-- - a department sees and hands in only its own submissions, their rows and its exchange-log entries
--   (row-level security), and never reads the residents table.

-- Cluster-wide roles; two databases migrating at once may both create one, so "already there" is not an error.
DO $$
DECLARE
  department text;
  role_name text;
BEGIN
  FOREACH department IN ARRAY ARRAY['civil-affairs', 'rural-revitalization', 'disabled-persons-federation',
                                     'veterans-affairs', 'health', 'natural-resources'] LOOP
    role_name := 'medins_dept_' || replace(department, '-', '_');
    -- checked first: a database's owner without CREATEROLE (a rehearsal's) migrates where the roles exist
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
                          JOIN pg_roles g ON g.oid = m.roleid
                          WHERE r.rolname = role_name AND g.rolname = 'medins_department');
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
    BEGIN
      EXECUTE format('GRANT medins_department TO %I', role_name);
    EXCEPTION WHEN unique_violation OR internal_error THEN
      NULL; -- granted by a concurrent migration
    END;
  END LOOP;
END $$;

-- The departments the current role belongs to (medins_dept_civil_affairs → civil-affairs).
CREATE FUNCTION medins_session_departments() RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(replace(substr(r.rolname, 13), '_', '-')), '{}')
  FROM pg_roles r
  WHERE r.rolname LIKE 'medins\_dept\_%' AND pg_has_role(current_user, r.oid, 'MEMBER')
$$;

-- Operators: the campaign's work (the worker runs as an operator login). An import replaces the identities a
-- superseded submission opened, so operators delete too; tables made by later migrations are granted alike.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO medins_operator;
-- the population generator sets its own sequences past the ids it copied in (setval)
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO medins_operator;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO medins_operator;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO medins_operator;

-- Auditors: reconciliation exceptions hold the full ID of each conflict; auditors read them masked.
REVOKE SELECT ON reconciliation_exceptions FROM medins_auditor;
CREATE VIEW audit.reconciliation_exceptions AS
  SELECT id, jurisdiction, month, kind, mask_id(id_number) AS id_number, detail
  FROM public.reconciliation_exceptions;
GRANT SELECT ON audit.reconciliation_exceptions TO medins_auditor, medins_operator;

-- A held roster's people, for the operator or auditor deciding on it: masked numbers from the full ones, so
-- the match is exact while the reader never holds a full number.
CREATE FUNCTION audit.held_roster_would_close(submission bigint, max_rows integer)
RETURNS TABLE (id_number text, name text, category text, opened_on text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT mask_id(p.id_number), p.name, i.category, i.valid_from::text
  FROM submissions s
  JOIN identities i ON i.jurisdiction = s.jurisdiction AND i.department = s.department AND i.valid_to IS NULL
  JOIN residents p ON p.id = i.resident_id
  WHERE s.id = submission AND s.status = 'held'
    AND NOT EXISTS (SELECT 1 FROM submission_rows r
                    WHERE r.submission_id = s.id AND r.accepted AND r.id_number = p.id_number AND r.category = i.category)
  ORDER BY p.name, i.category LIMIT max_rows
$$;
REVOKE EXECUTE ON FUNCTION audit.held_roster_would_close(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.held_roster_would_close(bigint, integer) TO medins_operator, medins_auditor;

-- Departments: no residents (matching a list against the register is the import's, under its own
-- privileges), and only their own rows of what they are granted.
REVOKE SELECT ON residents FROM medins_department;
REVOKE ALL ON uploaded_files, refused_files FROM medins_department;

ALTER TABLE submissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE exchange_log ENABLE ROW LEVEL SECURITY;

-- (Until migration 0021, which stages the COPY and takes BYPASSRLS away:) Operators' logins bypass row
-- security (BYPASSRLS, set by `users add|grant`, infra/roles.ts): the import
-- copies rows in bulk and PostgreSQL refuses COPY FROM where row security applies. The operator policies
-- below serve an operator login made without it (everything but COPY).
CREATE POLICY operator_all ON submissions TO medins_operator USING (true) WITH CHECK (true);
CREATE POLICY auditor_reads ON submissions FOR SELECT TO medins_auditor USING (true);
CREATE POLICY department_own ON submissions TO medins_department
  USING (department = ANY (medins_session_departments()))
  WITH CHECK (department = ANY (medins_session_departments()));

CREATE POLICY operator_all ON submission_rows TO medins_operator USING (true) WITH CHECK (true);
CREATE POLICY auditor_reads ON submission_rows FOR SELECT TO medins_auditor USING (true);
-- the subquery reads submissions under the department's own policy: its submissions only
CREATE POLICY department_own ON submission_rows TO medins_department
  USING (submission_id IN (SELECT id FROM submissions))
  WITH CHECK (submission_id IN (SELECT id FROM submissions));

CREATE POLICY operator_all ON exchange_log TO medins_operator USING (true) WITH CHECK (true);
CREATE POLICY auditor_reads ON exchange_log FOR SELECT TO medins_auditor USING (true);
CREATE POLICY department_own ON exchange_log TO medins_department
  USING (department = ANY (medins_session_departments()))
  WITH CHECK (department = ANY (medins_session_departments()));
-- The hash chain links every entry to the one before it, whoever's it is: the trigger reads the whole log
-- (as the schema's owner), so a department's entry still extends the one chain.
ALTER FUNCTION exchange_log_chain() SECURITY DEFINER;
ALTER FUNCTION exchange_log_chain() SET search_path = public, pg_temp;

-- Down Migration
ALTER FUNCTION exchange_log_chain() RESET search_path;
ALTER FUNCTION exchange_log_chain() SECURITY INVOKER;
DROP POLICY department_own ON exchange_log;
DROP POLICY auditor_reads ON exchange_log;
DROP POLICY operator_all ON exchange_log;
DROP POLICY department_own ON submission_rows;
DROP POLICY auditor_reads ON submission_rows;
DROP POLICY operator_all ON submission_rows;
DROP POLICY department_own ON submissions;
DROP POLICY auditor_reads ON submissions;
DROP POLICY operator_all ON submissions;
ALTER TABLE exchange_log DISABLE ROW LEVEL SECURITY;
ALTER TABLE submission_rows DISABLE ROW LEVEL SECURITY;
ALTER TABLE submissions DISABLE ROW LEVEL SECURITY;
GRANT SELECT ON residents TO medins_department;
DROP VIEW audit.reconciliation_exceptions;
GRANT SELECT ON reconciliation_exceptions TO medins_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM medins_operator;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM medins_operator;
REVOKE DELETE ON ALL TABLES IN SCHEMA public FROM medins_operator;
DROP FUNCTION medins_session_departments();
DROP FUNCTION audit.held_roster_would_close(bigint, integer);
