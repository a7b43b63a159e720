-- Up Migration
-- A drill (domain/drill.ts: a real year's rules on a compressed calendar) writes its enrollments, levy
-- batches, claims and diary into the same ledger rows as the real year of that jurisdiction (enrollments
-- are keyed on year and resident, levy_batches on jurisdiction, year and round). Left there, a real year
-- started afterwards took the drill's batches and paid enrollments for its own and closed at once, and a
-- second drill found its rounds already made. The ledger statements stay as they are; instead the ledger
-- keeps, per jurisdiction and year, whose rows it holds: a real campaign's or one drill's, and refuses a
-- campaign of the other (claim_campaign_year), until an operator clears the drill's rows
-- (clear_drill_rows). A real year's rows are never cleared.

CREATE TABLE campaign_year_claims (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  jurisdiction  text NOT NULL,
  campaign_year integer NOT NULL,
  drill         boolean NOT NULL,
  -- the drill's policy snapshot (each drill has its own calendar, so its own hash); NULL for a real year
  policy_hash   text,
  workflow_id   text,
  claimed_by    text NOT NULL DEFAULT session_user,
  claimed_at    timestamptz NOT NULL DEFAULT now(),
  cleared_by    text,
  cleared_at    timestamptz,
  -- what the clearing deleted, per table, and the exchange log's entries of the drill's time (kept: the
  -- chain never loses an entry; they are named here as the drill's)
  cleared       jsonb,
  CHECK (drill OR (policy_hash IS NULL AND cleared_at IS NULL)),
  CHECK ((cleared_at IS NULL) = (cleared_by IS NULL))
);
-- one owner at a time of a jurisdiction-year's rows
CREATE UNIQUE INDEX campaign_year_claims_one_open ON campaign_year_claims (jurisdiction, campaign_year)
  WHERE cleared_at IS NULL;

-- what the ledger already holds: a year with a real policy is the real year's (its rows may already mix a
-- drill's: nothing tells them apart any more); a year with only drill policies is its last drill's
INSERT INTO campaign_year_claims (jurisdiction, campaign_year, drill, policy_hash, claimed_by, claimed_at)
SELECT DISTINCT ON (jurisdiction, year) jurisdiction, year, drill, CASE WHEN drill THEN policy_hash END,
       'migration-0050', stored_at
FROM (SELECT *, coalesce((policy->>'drill')::boolean, false) AS drill FROM campaign_policies) p
ORDER BY jurisdiction, year, drill, stored_at DESC;

REVOKE INSERT, UPDATE, DELETE ON campaign_year_claims FROM medins_operator;
GRANT SELECT ON campaign_year_claims TO medins_operator, medins_auditor;

-- Claims a jurisdiction-year's rows for a campaign about to write them: the CLI and the console call it
-- before the workflow starts (client/campaign-commands.ts, to say what to do), and the campaign workflow's
-- first activity calls it again (activities/campaign storePolicySnapshot), so a campaign started any other
-- way is held to it too. Nothing when the same owner holds the year (a real year; the same drill, by its
-- policy hash); SQLSTATE MD001 saying what to do when a drill's rows are there for a real year or another
-- drill, or the real year's for a drill. (Policy snapshots alone claim nothing: a monthly reconciliation
-- stores the real year's policy and writes none of these rows.)
CREATE FUNCTION claim_campaign_year(p_jurisdiction text, p_year integer, p_drill boolean,
                                    p_policy_hash text, p_workflow_id text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  held campaign_year_claims;
BEGIN
  SELECT * INTO held FROM campaign_year_claims
  WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year AND cleared_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO campaign_year_claims (jurisdiction, campaign_year, drill, policy_hash, workflow_id)
    VALUES (p_jurisdiction, p_year, p_drill, CASE WHEN p_drill THEN p_policy_hash END, p_workflow_id);
  ELSIF held.drill AND NOT p_drill THEN
    RAISE EXCEPTION 'the ledger holds the rows of a drill of % % (since %, by %): the real year does not start on them; once the drill is no longer running, clear its rows: npm run cli -- campaign clear-drill --jurisdiction % --year %',
      p_jurisdiction, p_year, held.claimed_at, held.claimed_by, p_jurisdiction, p_year USING ERRCODE = 'MD001';
  ELSIF NOT held.drill AND p_drill THEN
    RAISE EXCEPTION 'the real % % campaign is in this ledger (since %): a drill of that year does not run in it; rehearse the year in a database of its own: npm run cli -- rehearse --jurisdiction % --year %',
      p_jurisdiction, p_year, held.claimed_at, p_jurisdiction, p_year USING ERRCODE = 'MD001';
  ELSIF held.drill AND held.policy_hash IS DISTINCT FROM p_policy_hash THEN
    RAISE EXCEPTION 'the ledger holds the rows of an earlier drill of % % (since %, by %): once it is no longer running, clear them: npm run cli -- campaign clear-drill --jurisdiction % --year %',
      p_jurisdiction, p_year, held.claimed_at, held.claimed_by, p_jurisdiction, p_year USING ERRCODE = 'MD001';
  END IF;
END $$;

-- Deletes the rows a drill of a jurisdiction-year wrote (never a real year's: refused unless the year's
-- open claim is a drill's) and records who cleared them, when, and how many rows of each table. The
-- enrollments' status history goes with them (it would point at nothing); the exchange log keeps its
-- entries (its hash chain never loses one) and the clearing names the range logged while the drill held
-- the year. The caller makes sure the drill is no longer running (client/campaign-commands.ts).
CREATE FUNCTION clear_drill_rows(p_jurisdiction text, p_year integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  held campaign_year_claims;
  counts jsonb := '{}';
  n bigint;
BEGIN
  SELECT * INTO held FROM campaign_year_claims
  WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year AND cleared_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the ledger holds no drill of % %: nothing to clear', p_jurisdiction, p_year
      USING ERRCODE = 'MD001';
  END IF;
  IF NOT held.drill THEN
    RAISE EXCEPTION 'the rows of % % are the real year''s: they are never cleared', p_jurisdiction, p_year
      USING ERRCODE = 'MD001';
  END IF;
  CREATE TEMP TABLE drill_enrollments ON COMMIT DROP AS
    SELECT id FROM enrollments WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  CREATE TEMP TABLE drill_batches ON COMMIT DROP AS
    SELECT id FROM levy_batches WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  CREATE TEMP TABLE drill_claims ON COMMIT DROP AS
    SELECT id FROM subsidy_claims WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;

  DELETE FROM deduction_results WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('deduction_results', n);
  DELETE FROM sim_tax_results WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('sim_tax_results', n);
  DELETE FROM levy_lines WHERE batch_id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('levy_lines', n);
  DELETE FROM subsidy_claim_lines WHERE claim_id IN (SELECT id FROM drill_claims);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('subsidy_claim_lines', n);
  DELETE FROM subsidy_claims WHERE id IN (SELECT id FROM drill_claims);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('subsidy_claims', n);
  DELETE FROM follow_up_tasks WHERE enrollment_id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('follow_up_tasks', n);
  DELETE FROM refund_requests WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('refund_requests', n);
  DELETE FROM enrollment_status_history WHERE enrollment_id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('enrollment_status_history', n);
  DELETE FROM enrollments WHERE id IN (SELECT id FROM drill_enrollments);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('enrollments', n);
  DELETE FROM levy_batches WHERE id IN (SELECT id FROM drill_batches);
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('levy_batches', n);
  DELETE FROM campaign_events WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('campaign_events', n);
  DELETE FROM coverage_snapshots WHERE jurisdiction = p_jurisdiction AND campaign_year = p_year;
  GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('coverage_snapshots', n);

  counts := counts || jsonb_build_object('exchangeLogKept', (
    SELECT jsonb_build_object('fromSeq', min(seq), 'toSeq', max(seq), 'entries', count(*))
    FROM exchange_log WHERE jurisdiction = p_jurisdiction AND logged_at >= held.claimed_at));
  UPDATE campaign_year_claims SET cleared_by = session_user, cleared_at = now(), cleared = counts
  WHERE id = held.id;
  RETURN counts;
END $$;

REVOKE ALL ON FUNCTION claim_campaign_year(text, integer, boolean, text, text), clear_drill_rows(text, integer)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_campaign_year(text, integer, boolean, text, text), clear_drill_rows(text, integer)
  TO medins_operator;

-- Down Migration
DROP FUNCTION claim_campaign_year(text, integer, boolean, text, text),
  clear_drill_rows(text, integer);
DROP TABLE campaign_year_claims;
