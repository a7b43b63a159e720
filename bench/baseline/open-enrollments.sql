-- Enrollments for the year: last year's payers renewed, holders of an open identity registered with the
-- category, shares and fund the policy decides. Variables: jurisdiction, year, as_of, subsidised_from, personal_fen.
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
WITH candidates AS (
  SELECT p.id AS resident_id, p.town_id,
         EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = :year - 1 AND e.status = 'paid') AS renewed
  FROM residents p
  WHERE p.jurisdiction = :'jurisdiction' AND NOT p.employee_insured AND (p.deceased_on IS NULL OR p.deceased_on > :'as_of'::date)
    AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.resident_id = p.id AND e.campaign_year = :year)
), holders AS (
  -- a category is decided only for the holders of an identity valid on the day, each read by key; the
  -- insert joins the decisions to the candidates
  SELECT p.id AS resident_id, p.birth_date, p.disability_grade, p.residency = 'hukou' AS local_hukou
  FROM (SELECT DISTINCT i.resident_id FROM identities i
        WHERE i.valid_from <= :'as_of'::date AND (i.valid_to IS NULL OR i.valid_to >= :'as_of'::date)
        ORDER BY i.resident_id) i
  CROSS JOIN LATERAL (SELECT p.id, p.birth_date, p.disability_grade, p.residency FROM residents p
                      WHERE p.id = i.resident_id OFFSET 0) p
), applicable AS (
  SELECT DISTINCT ON (c.resident_id) c.resident_id, pc.category, pc.subsidy_fen, pc.personal_fen, pc.funding_source
  FROM holders c
  JOIN identities i ON i.resident_id = c.resident_id AND i.valid_from <= :'as_of'::date AND (i.valid_to IS NULL OR i.valid_to >= :'as_of'::date)
  JOIN bl_policy_categories pc ON pc.category = i.category
  WHERE (NOT pc.local_hukou_only OR c.local_hukou)
    AND (NOT EXISTS (SELECT 1 FROM bl_policy_conditions k WHERE k.category = pc.category)
     OR EXISTS (SELECT 1 FROM bl_policy_conditions k WHERE k.category = pc.category
                AND (k.min_age IS NULL OR ((to_char(:'as_of'::date, 'YYYYMMDD')::int - to_char(c.birth_date, 'YYYYMMDD')::int) / 10000) >= k.min_age)
                AND (k.max_age IS NULL OR ((to_char(:'as_of'::date, 'YYYYMMDD')::int - to_char(c.birth_date, 'YYYYMMDD')::int) / 10000) <= k.max_age)
                AND (k.grades IS NULL OR c.disability_grade = ANY (k.grades))))
  ORDER BY c.resident_id, pc.rank DESC
)
INSERT INTO enrollments (jurisdiction, campaign_year, resident_id, town_id, status, category, total_fen, personal_fen, subsidy_fen, funding_source, benefit_start, opened_as)
SELECT :'jurisdiction', :year, c.resident_id, c.town_id,
       CASE WHEN a.personal_fen = 0 THEN 'paid'::enrollment_status ELSE 'registered'::enrollment_status END,
       a.category, :personal_fen, coalesce(a.personal_fen, :personal_fen), coalesce(a.subsidy_fen, 0), coalesce(a.funding_source, 'personal'),
       CASE WHEN a.personal_fen = 0 THEN :'subsidised_from'::date END,
       CASE WHEN a.personal_fen = 0 THEN 'paid'::enrollment_status ELSE 'registered'::enrollment_status END
FROM candidates c LEFT JOIN applicable a ON a.resident_id = c.resident_id
WHERE c.renewed OR a.resident_id IS NOT NULL;
ANALYZE enrollments;
COMMIT;
