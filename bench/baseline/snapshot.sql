-- Per-town figures frozen under a key (a report date, or the cut-off), from the per-town tallies the
-- ledger's statements keep (migration 0040: residents by town, enrollments by town and status).
-- Variables: jurisdiction, year, key, taken_at, town_ids ('{...}'), targets ('{...}').
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO coverage_snapshots (jurisdiction, campaign_year, snapshot_key, town_id, registered, to_enroll, target, enrolled, subsidised, failed, abandoned, taken_at)
SELECT :'jurisdiction', :year, :'key', t.id, coalesce(r.registered, 0), coalesce(r.to_enroll, 0), tg.target,
       coalesce(e.enrolled, 0), coalesce(e.subsidised, 0), coalesce(e.failed, 0), coalesce(e.abandoned, 0), :'taken_at'::timestamptz
FROM towns t
LEFT JOIN (SELECT town_id, sum(residents) FILTER (WHERE hukou) AS registered,
                  sum(residents) FILTER (WHERE hukou AND NOT employee_insured) AS to_enroll
           FROM town_resident_tallies WHERE jurisdiction = :'jurisdiction' GROUP BY town_id) r ON r.town_id = t.id
LEFT JOIN (SELECT town_id, sum(enrollments) FILTER (WHERE status = 'paid') AS enrolled,
                  sum(enrollments) FILTER (WHERE status = 'paid' AND subsidised) AS subsidised,
                  sum(enrollments) FILTER (WHERE status = 'failed') AS failed,
                  sum(enrollments) FILTER (WHERE status = 'abandoned') AS abandoned
           FROM town_enrollment_tallies WHERE jurisdiction = :'jurisdiction' AND campaign_year = :year GROUP BY town_id) e ON e.town_id = t.id
LEFT JOIN unnest(:'town_ids'::int[], :'targets'::int[]) AS tg(town_id, target) ON tg.town_id = t.id
WHERE t.jurisdiction = :'jurisdiction'
ON CONFLICT DO NOTHING;
COMMIT;
