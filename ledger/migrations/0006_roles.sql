-- Up Migration
-- Roles in the database itself (issue: auditors read, operators steer, departments submit their own
-- lists). The roles are cluster-wide and made once; grants are per database. Auditors never see a full
-- national ID or bank account: they read masked views in the `audit` schema, and the tables holding those
-- numbers are not granted to them.
-- Roles are shared by every database of the cluster; two databases migrating at once may both try to
-- create one, so "already there" is not an error.
DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['medins_operator', 'medins_auditor', 'medins_department'] LOOP
    -- checked first: a database's owner without CREATEROLE (a rehearsal's) migrates where the roles exist
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name);
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END LOOP;
END $$;

CREATE FUNCTION mask_id(id text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT CASE WHEN id IS NULL THEN NULL WHEN length(id) < 10 THEN repeat('*', length(id))
                 ELSE left(id, 6) || repeat('*', length(id) - 10) || right(id, 4) END $$;
CREATE FUNCTION mask_account(account text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT CASE WHEN account IS NULL THEN NULL WHEN length(account) <= 4 THEN '****'
                 ELSE repeat('*', length(account) - 4) || right(account, 4) END $$;

CREATE SCHEMA audit;
CREATE VIEW audit.residents AS
  SELECT id, jurisdiction, mask_id(id_number) AS id_number, name, sex, birth_date, household_id, town_id, village_id,
         residency, employee_insured, deceased_on
  FROM public.residents;
CREATE VIEW audit.households AS
  SELECT id, jurisdiction, household_no, town_id, village_id, mask_id(head_id_number) AS head_id_number, bank_name,
         mask_account(bank_account) AS bank_account
  FROM public.households;
CREATE VIEW audit.submission_rows AS
  SELECT submission_id, row_no, mask_id(id_number) AS id_number, name, category, action, accepted, reason_code, field, reason
  FROM public.submission_rows;

GRANT USAGE ON SCHEMA audit TO medins_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO medins_auditor;
GRANT EXECUTE ON FUNCTION mask_id(text), mask_account(text) TO medins_auditor;
GRANT SELECT ON jurisdictions, towns, villages, submissions, identities, enrollments, levy_batches, levy_lines,
  deduction_results, follow_up_tasks, subsidy_claims, subsidy_claim_lines, exchange_log, campaign_events,
  coverage_snapshots, campaign_policies, reconciliations, reconciliation_exceptions TO medins_auditor;

GRANT USAGE ON SCHEMA public TO medins_operator, medins_department;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO medins_operator;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO medins_operator, medins_department;
GRANT SELECT, INSERT ON submissions, submission_rows, exchange_log TO medins_department;
GRANT SELECT ON jurisdictions, residents TO medins_department;

-- Down Migration
DROP SCHEMA audit CASCADE;
DROP FUNCTION mask_id(text), mask_account(text);
