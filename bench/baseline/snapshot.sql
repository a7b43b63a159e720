-- Per-town figures frozen under a key (a report date, or the cut-off).
-- Variables: jurisdiction, year, key, taken_at, town_ids ('{...}'), targets ('{...}').
\set ON_ERROR_STOP on
INSERT INTO coverage_snapshots (jurisdiction, campaign_year, snapshot_key, town_id, registered, to_enroll, target, enrolled, subsidised, failed, abandoned, taken_at)
SELECT :'jurisdiction', :year, :'key', t.id,
       count(p.id) FILTER (WHERE p.residency = 'hukou'),
       count(p.id) FILTER (WHERE p.residency = 'hukou' AND NOT p.employee_insured),
       tg.target,
       count(e.id) FILTER (WHERE e.status = 'paid'),
       count(e.id) FILTER (WHERE e.status = 'paid' AND e.subsidy_fen > 0),
       count(e.id) FILTER (WHERE e.status = 'failed'),
       count(e.id) FILTER (WHERE e.status = 'abandoned'),
       :'taken_at'::timestamptz
FROM towns t
LEFT JOIN residents p ON p.town_id = t.id
LEFT JOIN enrollments e ON e.resident_id = p.id AND e.campaign_year = :year
LEFT JOIN unnest(:'town_ids'::int[], :'targets'::int[]) AS tg(town_id, target) ON tg.town_id = t.id
WHERE t.jurisdiction = :'jurisdiction'
GROUP BY t.id, tg.target
ON CONFLICT DO NOTHING;
