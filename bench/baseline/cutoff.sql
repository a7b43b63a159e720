-- The cut-off: personal-reason failures become voluntary abandonment where the plan says so.
-- Variables: jurisdiction, year, abandon ('true' or 'false').
\set ON_ERROR_STOP on
BEGIN;
WITH a AS (UPDATE enrollments SET status = 'abandoned', failure_class = NULL
           WHERE :abandon AND jurisdiction = :'jurisdiction' AND campaign_year = :year AND status = 'failed' AND failure_class = 'personal'
             -- one levied again and awaiting its result is not a failure yet (0075, as ledger/campaign.ts cutOff)
             AND NOT enrollment_awaiting_result(id, status, status_changed_at)
           RETURNING id)
UPDATE follow_up_tasks t SET closed_at = now(), outcome = 'abandoned' FROM a WHERE t.enrollment_id = a.id AND t.closed_at IS NULL;
COMMIT;
