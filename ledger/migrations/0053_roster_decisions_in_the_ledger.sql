-- Up Migration
-- A department's roster is its whole list as of a date; the decisions about which roster is in force are the
-- ledger's, so that a department importing under its own login (or an operator's stale confirmation) cannot
-- go around them:
-- - exactly one roster is current per department (a newer roster supersedes the one in force, with a reason;
--   held rosters older than it are superseded too and can no longer be confirmed);
-- - a roster older than the department's current one never takes effect (it can only be rejected);
-- - a roster received before a subsidy claim of its department was sent to finance, or dated within a
--   campaign year whose claim was sent, never takes effect: 000 五(一) "市医保中心应在每年6月30日前会同相关
--   部门，核实符合资助…的困难居民名单，向财政部门申请个人缴费财政补助金" and "年度内不再退费或追缴": the claim
--   is made on the verified list, and the plan knows no 退/补 correction of it during the year;
-- - identities are closed with an end date, never deleted (no login but the schema's owner may delete one).

ALTER TABLE submissions
  -- a roster: identities it would open (people it lists with no open identity of that category)
  ADD COLUMN would_open integer CHECK (would_open >= 0),
  -- why a submission was superseded or refused by the ledger's own rule (newer roster, …)
  ADD COLUMN decision_note text;
GRANT UPDATE (would_open, decision_note) ON submissions TO medins_operator, medins_department;

-- Before the rule: a department could have several current rosters (one per date). The newest stays current.
UPDATE submissions s SET status = 'superseded', superseded_by = n.id,
       decision_note = 'superseded by the newer roster as of ' || n.period || ' (#' || n.id || ') when one current roster per department became the rule'
FROM (SELECT DISTINCT ON (jurisdiction, department) id, jurisdiction, department, period FROM submissions
      WHERE kind = 'roster' AND status = 'current' ORDER BY jurisdiction, department, period DESC, id DESC) n
WHERE s.kind = 'roster' AND s.status = 'current' AND s.jurisdiction = n.jurisdiction
  AND s.department = n.department AND s.id <> n.id;
-- superseded_by is checked at commit (0002): checked now, or its pending check forbids the index below in the
-- same transaction ("pending trigger events") on every ledger this UPDATE changes; deferred again after it
SET CONSTRAINTS submissions_superseded_by_fkey IMMEDIATE;
SET CONSTRAINTS submissions_superseded_by_fkey DEFERRED;
CREATE UNIQUE INDEX submissions_one_current_roster
  ON submissions (jurisdiction, department) WHERE kind = 'roster' AND status = 'current';

-- The campaign year a roster date belongs to: a roster as of 2023-08-31 is the 2024 year's (the year's rosters
-- are dated from July of the year before; its claim is due by 06-30 of the year itself). A period written as a
-- month (YYYY-MM, as a delta's is) is read as that month: its month and year are all this needs.
CREATE FUNCTION roster_campaign_year(period text) RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
  SELECT CASE WHEN extract(month FROM d) >= 7 THEN extract(year FROM d)::int + 1 ELSE extract(year FROM d)::int END
  FROM (SELECT CASE WHEN period ~ '^\d{4}-\d{2}$' THEN (period || '-01')::date ELSE left(period, 10)::date END AS d) p
$$;

-- A roster takes effect (status becomes current): the ledger's rules above, under one lock per department so
-- two confirmations or imports of one department's rosters never interleave. Runs as the schema's owner (it
-- reads subsidy claims and other submissions a department's login does not see); raises 55000 with a reason.
CREATE FUNCTION roster_takes_effect() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  newer public.submissions%ROWTYPE;
  claim record;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('roster-scope/' || NEW.jurisdiction || '/' || NEW.department));
  SELECT * INTO newer FROM public.submissions
  WHERE jurisdiction = NEW.jurisdiction AND department = NEW.department AND kind = 'roster'
    AND status = 'current' AND id <> NEW.id AND period > NEW.period
  ORDER BY period DESC LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'roster #% of % as of % is older than the department''s current roster #% as of %: it cannot take effect, only be rejected',
      NEW.id, NEW.department, NEW.period, newer.id, newer.period USING ERRCODE = '55000';
  END IF;
  SELECT c.id, c.campaign_year, c.submitted_at INTO claim FROM public.subsidy_claims c
  WHERE c.jurisdiction = NEW.jurisdiction AND c.department = NEW.department AND c.submitted_at IS NOT NULL
    AND (c.submitted_at > NEW.received_at OR c.campaign_year = public.roster_campaign_year(NEW.period))
  ORDER BY c.submitted_at DESC LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'roster #% of % as of % cannot take effect: the % subsidy claim #% of this department was sent to finance on % on the identities then in force (000 五(一): the claim is made on the verified list; no refund or back-collection during the year); reject it and send the change in the next year''s roster',
      NEW.id, NEW.department, NEW.period, claim.campaign_year, claim.id, claim.submitted_at USING ERRCODE = '55000';
  END IF;
  -- the roster in force for another date is replaced: its identities stay as they are (the new roster closes
  -- those it no longer lists, with an end date)
  UPDATE public.submissions SET status = 'superseded', superseded_by = NEW.id,
         decision_note = 'replaced by the roster as of ' || NEW.period || ' (#' || NEW.id || ')'
  WHERE jurisdiction = NEW.jurisdiction AND department = NEW.department AND kind = 'roster'
    AND status = 'current' AND id <> NEW.id;
  -- held rosters older than this one can no longer take effect
  UPDATE public.submissions SET status = 'superseded', superseded_by = NEW.id,
         decision_note = 'older than the roster as of ' || NEW.period || ' (#' || NEW.id || ') that took effect: it can no longer be confirmed'
  WHERE jurisdiction = NEW.jurisdiction AND department = NEW.department AND kind = 'roster'
    AND status = 'held' AND id <> NEW.id AND period < NEW.period;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION roster_takes_effect() FROM PUBLIC;
CREATE TRIGGER roster_takes_effect BEFORE UPDATE OF status ON submissions
  FOR EACH ROW WHEN (NEW.kind = 'roster' AND NEW.status = 'current' AND OLD.status <> 'current')
  EXECUTE FUNCTION roster_takes_effect();
-- a roster inserted as current directly (the import inserts 'held' first and decides after judging)
CREATE TRIGGER roster_inserted_current BEFORE INSERT ON submissions
  FOR EACH ROW WHEN (NEW.kind = 'roster' AND NEW.status = 'current')
  EXECUTE FUNCTION roster_takes_effect();

-- A held roster is confirmed by an operator, never by a department's login.
CREATE FUNCTION roster_confirmed_by_operator() RETURNS trigger
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF NOT pg_has_role(session_user, 'medins_operator', 'MEMBER') THEN
    RAISE EXCEPTION '% may not decide on a held roster: an operator decides', session_user USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER roster_confirmed_by_operator BEFORE UPDATE OF decided_by ON submissions
  FOR EACH ROW WHEN (NEW.decided_by IS DISTINCT FROM OLD.decided_by)
  EXECUTE FUNCTION roster_confirmed_by_operator();

-- Identities close with an end date; a row is never deleted by a login (the owner's maintenance only).
REVOKE DELETE ON identities FROM medins_operator, medins_department;

-- Down Migration
GRANT DELETE ON identities TO medins_operator, medins_department;
DROP TRIGGER roster_confirmed_by_operator ON submissions;
DROP FUNCTION roster_confirmed_by_operator();
DROP TRIGGER roster_inserted_current ON submissions;
DROP TRIGGER roster_takes_effect ON submissions;
DROP FUNCTION roster_takes_effect();
DROP FUNCTION roster_campaign_year(text);
DROP INDEX submissions_one_current_roster;
ALTER TABLE submissions DROP COLUMN decision_note, DROP COLUMN would_open;
