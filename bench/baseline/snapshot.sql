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
-- a failed enrollment levied again and awaiting its result (a re-deduction batch without results) is not
-- failed (0075, as ledger/campaign.ts snapshotCoverage)
LEFT JOIN (SELECT t2.town_id, sum(t2.enrollments) FILTER (WHERE t2.status = 'paid') AS enrolled,
                  sum(t2.enrollments) FILTER (WHERE t2.status = 'paid' AND t2.subsidised) AS subsidised,
                  sum(t2.enrollments) FILTER (WHERE t2.status = 'failed') - coalesce(max(a.n), 0) AS failed,
                  sum(t2.enrollments) FILTER (WHERE t2.status = 'abandoned') AS abandoned
           FROM town_enrollment_tallies t2
           -- the batches without results first, then only their lines by key (as the campaign)
           LEFT JOIN (SELECT e.town_id, count(*) AS n
                      FROM (SELECT b.id, b.created_at FROM levy_batches b
                            WHERE b.jurisdiction = :'jurisdiction' AND b.campaign_year = :year AND b.kind = 're-deduction'
                              -- one probe of the results' key per batch, whatever the statistics (BATCH_HAS_RESULTS_SQL)
                              AND NOT EXISTS (SELECT 1 FROM deduction_results d WHERE d.batch_id = b.id ORDER BY d.batch_id, d.enrollment_id LIMIT 1 OFFSET 0) OFFSET 0) b
                      CROSS JOIN LATERAL (SELECT l.enrollment_id FROM levy_lines l WHERE l.batch_id = b.id OFFSET 0) l
                      JOIN enrollments e ON e.id = l.enrollment_id AND e.status = 'failed' AND e.status_changed_at <= b.created_at
                      GROUP BY e.town_id) a ON a.town_id = t2.town_id
           WHERE t2.jurisdiction = :'jurisdiction' AND t2.campaign_year = :year GROUP BY t2.town_id) e ON e.town_id = t.id
LEFT JOIN unnest(:'town_ids'::int[], :'targets'::int[]) AS tg(town_id, target) ON tg.town_id = t.id
WHERE t.jurisdiction = :'jurisdiction'
ON CONFLICT DO NOTHING;
COMMIT;
