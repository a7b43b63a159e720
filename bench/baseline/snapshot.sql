-- Per-town figures frozen under a key (a report date, or the cut-off): residents per town and this year's
-- enrollments per town, each aggregated apart (in parallel: CREATE TABLE AS may use workers, INSERT may not).
-- Variables: jurisdiction, year, key, taken_at, town_ids ('{...}'), targets ('{...}').
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
CREATE TEMP TABLE town_figures ON COMMIT DROP AS
SELECT t.id AS town_id, coalesce(r.registered, 0) AS registered, coalesce(r.to_enroll, 0) AS to_enroll,
       coalesce(e.enrolled, 0) AS enrolled, coalesce(e.subsidised, 0) AS subsidised,
       coalesce(e.failed, 0) AS failed, coalesce(e.abandoned, 0) AS abandoned
FROM towns t
LEFT JOIN (SELECT p.town_id, count(*) FILTER (WHERE p.residency = 'hukou') AS registered,
                  count(*) FILTER (WHERE p.residency = 'hukou' AND NOT p.employee_insured) AS to_enroll
           FROM residents p WHERE p.jurisdiction = :'jurisdiction' GROUP BY p.town_id) r ON r.town_id = t.id
LEFT JOIN (SELECT p.town_id, count(*) FILTER (WHERE e.status = 'paid') AS enrolled,
                  count(*) FILTER (WHERE e.status = 'paid' AND e.subsidy_fen > 0) AS subsidised,
                  count(*) FILTER (WHERE e.status = 'failed') AS failed,
                  count(*) FILTER (WHERE e.status = 'abandoned') AS abandoned
           FROM enrollments e JOIN residents p ON p.id = e.resident_id
           WHERE e.jurisdiction = :'jurisdiction' AND e.campaign_year = :year AND e.status IN ('paid', 'failed', 'abandoned')
           GROUP BY p.town_id) e ON e.town_id = t.id
WHERE t.jurisdiction = :'jurisdiction';
INSERT INTO coverage_snapshots (jurisdiction, campaign_year, snapshot_key, town_id, registered, to_enroll, target, enrolled, subsidised, failed, abandoned, taken_at)
SELECT :'jurisdiction', :year, :'key', f.town_id, f.registered, f.to_enroll, tg.target, f.enrolled, f.subsidised, f.failed, f.abandoned,
       :'taken_at'::timestamptz
FROM town_figures f LEFT JOIN unnest(:'town_ids'::int[], :'targets'::int[]) AS tg(town_id, target) ON tg.town_id = f.town_id
ON CONFLICT DO NOTHING;
COMMIT;
