-- The subsidy claim: every paid enrollment with a subsidy from the given funds, checked against the
-- certifying department's identities, totalled by fund and department, the lines exported with COPY.
-- Variables: jurisdiction, year, funding_sources ('{...}'), due_on, exclude_invalid, benefit_start, claim_file.
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
CREATE TEMP TABLE claim_candidates ON COMMIT DROP AS
WITH c AS (
  SELECT e.id AS enrollment_id, e.resident_id, e.funding_source, pc.department, e.subsidy_fen, p.id_number, p.name, e.category, e.benefit_start
  FROM enrollments e JOIN residents p ON p.id = e.resident_id JOIN bl_policy_categories pc ON pc.category = e.category
  WHERE e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status = 'paid' AND e.subsidy_fen > 0
    AND e.funding_source = ANY (:'funding_sources'::text[])
), confirmed AS (
  SELECT DISTINCT c.enrollment_id FROM c
  JOIN identities i ON i.resident_id = c.resident_id AND i.category = c.category
  WHERE i.valid_from <= :'due_on'::date AND (i.valid_to IS NULL OR i.valid_to >= coalesce(c.benefit_start, :'benefit_start'::date))
)
SELECT c.enrollment_id, c.funding_source, c.department, c.subsidy_fen, c.id_number, c.name, c.category,
       CASE
         WHEN :exclude_invalid AND (c.id_number !~ '^[0-9]{17}[0-9X]$' OR coalesce(c.name, '') = '') THEN 'identity-information-invalid'
         WHEN f.enrollment_id IS NULL THEN 'identity-not-confirmed-by-department'
       END AS exclusion
FROM c LEFT JOIN confirmed f ON f.enrollment_id = c.enrollment_id;
INSERT INTO subsidy_claims (jurisdiction, campaign_year, funding_source, department, due_on)
SELECT DISTINCT :'jurisdiction', :year, funding_source, department, :'due_on'::date FROM claim_candidates WHERE exclusion IS NULL
ON CONFLICT DO NOTHING;
INSERT INTO subsidy_claim_lines (claim_id, enrollment_id, amount_fen)
SELECT c.id, k.enrollment_id, k.subsidy_fen FROM claim_candidates k
JOIN subsidy_claims c ON c.jurisdiction = :'jurisdiction' AND c.campaign_year = :year AND c.funding_source = k.funding_source AND c.department = k.department
WHERE k.exclusion IS NULL
ON CONFLICT DO NOTHING;
WITH t AS (SELECT claim_id, count(*)::int AS persons, sum(amount_fen) AS total FROM subsidy_claim_lines GROUP BY claim_id)
UPDATE subsidy_claims c SET person_count = t.persons, total_fen = t.total FROM t
WHERE t.claim_id = c.id AND c.jurisdiction = :'jurisdiction' AND c.campaign_year = :year AND c.funding_source = ANY (:'funding_sources'::text[]);
COMMIT;
\o :claim_file
COPY (SELECT funding_source, department, person_count, total_fen FROM subsidy_claims
      WHERE jurisdiction = :'jurisdiction' AND campaign_year = :year AND funding_source = ANY (:'funding_sources'::text[]) ORDER BY 1, 2)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o
