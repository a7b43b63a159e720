-- Two indexes on identities that every imported row paid for and few queries used (issue #5): the
-- department's open identities and the identities a submission opened. Both are read once per list
-- (closing what a roster no longer lists, undoing a superseded list, counting for the summary), where a
-- scan of the jurisdiction's identities costs less than maintaining two more indexes on every insert of a
-- 700,000-row roster. The unique index of open identities per person and category stays.
DROP INDEX identities_department;
DROP INDEX identities_opened_by;
