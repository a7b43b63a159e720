-- The enrollment status machine, checked without a table lookup per updated row (issue #9).
--
-- The guard looked up every status change in the enrollment_transitions table: one query per row, run for
-- every levied, paid and failed enrollment of a deduction round. On the Kaiping benchmark it took 45% of
-- an enrollment update (2.85 s against 1.56 s for 214,000 rows), and a round updates each enrollment
-- twice. The allowed moves now live in one immutable function, which PostgreSQL inlines and evaluates in
-- the trigger's WHEN clause: the guard's function runs only for a move the machine refuses, and a second
-- trigger stamps status_changed_at on every real change. enrollment_transitions stays, as a view derived
-- from the same function, for the auditors and operators who read it.

CREATE FUNCTION enrollment_transition_allowed(from_status enrollment_status, to_status enrollment_status)
  RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (from_status, to_status) IN (
    ('registered', 'levied'), ('registered', 'paid'), ('registered', 'stopped'),
    ('levied', 'paid'), ('levied', 'failed'), ('levied', 'stopped'),
    ('failed', 'levied'), ('failed', 'paid'), ('failed', 'abandoned'), ('failed', 'stopped'),
    ('paid', 'refunded'), ('paid', 'stopped'),
    ('abandoned', 'levied'), ('stopped', 'registered'))
$$;

-- the same moves as the table held (0002); refuse to go on if they differ
DO $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM unnest(enum_range(NULL::enrollment_status)) f(s) CROSS JOIN unnest(enum_range(NULL::enrollment_status)) t(s)
    WHERE enrollment_transition_allowed(f.s, t.s)
      IS DISTINCT FROM EXISTS (SELECT 1 FROM enrollment_transitions x WHERE x.from_status = f.s AND x.to_status = t.s)
  ) THEN
    RAISE EXCEPTION 'enrollment_transition_allowed differs from enrollment_transitions';
  END IF;
END $$;

DROP TRIGGER enrollments_status_guard ON enrollments;
DROP FUNCTION enrollment_status_guard();
DROP TABLE enrollment_transitions;

CREATE VIEW enrollment_transitions AS
  SELECT f.s AS from_status, t.s AS to_status
  FROM unnest(enum_range(NULL::enrollment_status)) f(s) CROSS JOIN unnest(enum_range(NULL::enrollment_status)) t(s)
  WHERE enrollment_transition_allowed(f.s, t.s);
GRANT SELECT ON enrollment_transitions TO medins_operator, medins_auditor;

CREATE FUNCTION enrollment_status_refused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'enrollment % cannot go from % to %', OLD.id, OLD.status, NEW.status
    USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER enrollments_status_guard BEFORE UPDATE OF status ON enrollments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NOT enrollment_transition_allowed(OLD.status, NEW.status))
  EXECUTE FUNCTION enrollment_status_refused();

CREATE FUNCTION enrollment_status_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.status_changed_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER enrollments_status_stamp BEFORE UPDATE OF status ON enrollments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION enrollment_status_stamp();
