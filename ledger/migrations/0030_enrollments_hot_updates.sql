-- Up Migration
-- A deduction round changes an enrollment's status twice (registered -> levied when the levy is written,
-- levied -> paid or failed when the result comes back; a failed one again in each later round), and each
-- change rewrote the row's entries in all three of the table's indexes, because one of them held the status
-- (issue #23: round 1 alone updated every enrollment twice, at the cost of a fresh row and three index
-- entries each time). Now:
-- - no index holds the status, so a status change leaves every index as it is;
-- - the year's pages are written half full (fillfactor 50), so the new version of a row fits on its own
--   page and PostgreSQL updates it in place (a heap-only tuple): the page is pruned of the version before
--   when it is next read, which leaves room for the round's second change.
-- The index gave the year's enrollments of one status; every query that filters on the status reads most
-- of the year's rows (a round, the cut-off, the snapshots), where a scan of the table costs less than the
-- index did on every change. Rows already written keep their pages; the next year's are written half full.
DROP INDEX enrollments_year_status;
ALTER TABLE enrollments SET (fillfactor = 50);

-- Down Migration
ALTER TABLE enrollments RESET (fillfactor);
CREATE INDEX enrollments_year_status ON enrollments (jurisdiction, campaign_year, status);
