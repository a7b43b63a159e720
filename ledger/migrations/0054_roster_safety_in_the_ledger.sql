-- Up Migration
-- Roster safety as a floor the ledger keeps (domain/policy.ts rosterHeldFor): a roster that takes effect
-- without an operator's decision must not have closed or opened more than the rule allows, whatever program
-- imported it (a department's own program under its own login could skip the importing program's check).
-- Checked at commit, on what the roster actually did: identities it closed and opened, against the
-- department's open identities before it. The bounds are the policy's `rosterSafety` in the jurisdiction's
-- latest campaign snapshot, else the defaults (ROSTER_SAFETY_DEFAULT). A corrected resend's reopened
-- identities count as open before it, so this floor is never stricter than the importing program's rule.
CREATE FUNCTION roster_safety_at_commit() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  s public.submissions%ROWTYPE;
  bounds jsonb;
  opened bigint;
  closed bigint;
  open_before bigint;
  max_close_share numeric;
  max_close bigint;
  never_at_or_below bigint;
  max_open bigint;
  max_open_growth numeric;
BEGIN
  SELECT * INTO s FROM public.submissions WHERE id = NEW.id;
  IF NOT FOUND OR s.status <> 'current' OR s.kind <> 'roster' OR s.decided_by IS NOT NULL THEN
    RETURN NULL; -- superseded again in the same transaction, or confirmed by an operator
  END IF;
  SELECT p.policy->'rosterSafety' INTO bounds FROM public.campaign_policies p
  WHERE p.jurisdiction = s.jurisdiction ORDER BY p.year DESC, p.stored_at DESC LIMIT 1;
  max_close_share := coalesce((bounds->>'maxCloseShare')::numeric, 0.1);
  max_close := coalesce((bounds->>'maxClose')::bigint, 50);
  never_at_or_below := coalesce((bounds->>'neverHoldAtOrBelow')::bigint, 5);
  max_open := coalesce((bounds->>'maxOpen')::bigint, 50);
  max_open_growth := coalesce((bounds->>'maxOpenGrowth')::numeric, 1);
  SELECT count(*) INTO opened FROM public.identities WHERE opened_by_submission = s.id;
  SELECT count(*) INTO closed FROM public.identities WHERE closed_by_submission = s.id;
  SELECT count(*) - opened + closed INTO open_before FROM public.identities
  WHERE jurisdiction = s.jurisdiction AND department = s.department AND valid_to IS NULL;
  IF (closed > never_at_or_below AND (closed > max_close OR closed > max_close_share * open_before))
     OR (open_before > 0 AND opened > max_open AND opened > max_open_growth * open_before) THEN
    RAISE EXCEPTION 'roster #% of % as of % closed % of % open identities and opened %: the roster safety rule holds such a roster for an operator''s decision; it cannot take effect without one',
      s.id, s.department, s.period, closed, open_before, opened USING ERRCODE = '55000';
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION roster_safety_at_commit() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER roster_safety_at_commit AFTER UPDATE OF status ON submissions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.kind = 'roster' AND NEW.status = 'current' AND OLD.status <> 'current')
  EXECUTE FUNCTION roster_safety_at_commit();
CREATE CONSTRAINT TRIGGER roster_safety_at_commit_inserted AFTER INSERT ON submissions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.kind = 'roster' AND NEW.status = 'current')
  EXECUTE FUNCTION roster_safety_at_commit();

-- Down Migration
DROP TRIGGER roster_safety_at_commit_inserted ON submissions;
DROP TRIGGER roster_safety_at_commit ON submissions;
DROP FUNCTION roster_safety_at_commit();
