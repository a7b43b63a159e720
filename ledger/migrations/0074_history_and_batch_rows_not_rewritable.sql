-- Up Migration
-- What happened to an enrollment is the status history (0025; by reference to a batch's levy lines and
-- deduction results since 0070) and the batch rows themselves. Operators' logins (the worker among them) had
-- INSERT, UPDATE and DELETE on all four through 0020's default privileges, though no code of theirs writes the
-- history (the statement triggers do, as the schema's owner) or changes a written levy line or result: an
-- operator's login could have rewritten a person's trail, and since 0070 an edited result would also have
-- rewritten the move it stands for. Now operators read the history and insert batch rows; nobody but the
-- owner changes or deletes them (the drill's clearing runs as the owner: clear_drill_rows).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON enrollment_status_entries, enrollment_status_changes FROM medins_operator;
REVOKE UPDATE, DELETE, TRUNCATE ON levy_lines, deduction_results FROM medins_operator;

-- Down Migration
GRANT INSERT, UPDATE, DELETE ON enrollment_status_entries, enrollment_status_changes TO medins_operator;
GRANT UPDATE, DELETE ON levy_lines, deduction_results TO medins_operator;
