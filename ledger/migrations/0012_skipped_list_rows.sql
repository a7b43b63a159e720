-- Lines of a department's list that are not people (issue 16): blank rows, totals rows (合计：15人), signature
-- and date lines (制表人/审核人), rows holding only a 序号. They were counted as rejected people; now each is
-- kept apart as skipped, with its reason, and a file's counts add up as accepted + rejected + skipped = rows
-- read. Files imported before this migration skipped nothing, so their rows stay valid with rows_skipped 0.

ALTER TABLE submissions ADD COLUMN rows_skipped integer NOT NULL DEFAULT 0 CHECK (rows_skipped >= 0);

DO $$
DECLARE
  old_check text;
BEGIN
  SELECT conname INTO old_check FROM pg_constraint
  WHERE conrelid = 'submissions'::regclass AND contype = 'c'
    AND pg_get_constraintdef(oid) ~ 'rows_accepted \+ rows_rejected\) = rows_read';
  IF old_check IS NULL THEN
    RAISE EXCEPTION 'the check rows_accepted + rows_rejected = rows_read of submissions was not found';
  END IF;
  EXECUTE format('ALTER TABLE submissions DROP CONSTRAINT %I', old_check);
END $$;

ALTER TABLE submissions ADD CONSTRAINT submissions_rows_add_up
  CHECK (rows_accepted + rows_rejected + rows_skipped = rows_read);

CREATE TABLE submission_skipped_rows (
  submission_id bigint NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
  -- the row number the clerk sees in Excel (for CSV, the record's number)
  row_no        integer NOT NULL CHECK (row_no >= 1),
  reason_code   text NOT NULL CHECK (reason_code IN ('blank-row', 'totals-row', 'signature-line', 'note-line', 'serial-number-only')),
  reason        text NOT NULL,
  PRIMARY KEY (submission_id, row_no)
);

GRANT SELECT ON submission_skipped_rows TO medins_auditor;
GRANT SELECT, INSERT, UPDATE ON submission_skipped_rows TO medins_operator;
GRANT SELECT, INSERT ON submission_skipped_rows TO medins_department;
