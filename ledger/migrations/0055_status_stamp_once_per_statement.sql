-- Up Migration
-- The stamp of an enrollment's status change (status_changed_at, 0011) without a PL/pgSQL call per row when
-- the statement stamped it itself (issue #23). The BEFORE ROW trigger ran its function for every moved
-- enrollment: EXPLAIN ANALYZE of round 1's levy on a kept Kaiping year (load ~15) gave 2.27 s for its
-- 411,514 calls, and round 1's results pay it again. The trigger now fires only when the new row does not
-- already carry the transaction's time; the ledger's bulk statements set `status_changed_at = now()` with the
-- status, so PostgreSQL evaluates the WHEN in C and calls nothing. Any other change of status (a household
-- form, an operator's statement, a hand-written UPDATE, one giving another time) is stamped as before: the
-- trigger sets now(), and where the row already holds now() setting it again would change nothing.
DROP TRIGGER enrollments_status_stamp ON enrollments;
CREATE TRIGGER enrollments_status_stamp BEFORE UPDATE OF status ON enrollments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status_changed_at IS DISTINCT FROM now())
  EXECUTE FUNCTION enrollment_status_stamp();

-- Down Migration
DROP TRIGGER enrollments_status_stamp ON enrollments;
CREATE TRIGGER enrollments_status_stamp BEFORE UPDATE OF status ON enrollments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION enrollment_status_stamp();
