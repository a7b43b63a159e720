-- Up Migration
-- One person's ledger facts for a campaign year, for `audit person` (client/audit-person.ts): registry facts,
-- every list row that named them with its file and exchange-log entry, identities, enrollments, levy lines
-- and deduction results with the files that carried them, follow-ups and subsidy claim lines.
-- The database decides what the reader sees: the full ID number only for a session whose login is an
-- operator (or an administrator); every other reader (auditors) gets it masked. Bank accounts and phones are
-- always masked. The function runs with its owner's rights, so an auditor who is not granted the tables
-- holding full numbers can still be answered about one person, and only about that person.
CREATE FUNCTION audit.person_facts(p_id_number text, p_jurisdiction text, p_year integer)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
WITH reader AS (
  SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)
         OR pg_has_role(session_user, 'medins_operator', 'MEMBER') AS full_numbers
), person AS (
  SELECT r.* FROM residents r WHERE r.jurisdiction = p_jurisdiction AND r.id_number = p_id_number
), log_entry AS (
  SELECT x.seq, x.kind, x.period, x.sha256, x.file_name, x.department, x.direction, x.row_count,
         x.entry_digest, x.logged_at, x.stored_at IS NOT NULL AS stored
  FROM exchange_log x WHERE x.jurisdiction = p_jurisdiction
)
SELECT jsonb_build_object(
  'fullNumbers', (SELECT full_numbers FROM reader),
  'resident', (
    SELECT jsonb_build_object(
      'residentId', p.id,
      'idNumber', CASE WHEN (SELECT full_numbers FROM reader) THEN p.id_number ELSE mask_id(p.id_number) END,
      'name', p.name, 'sex', p.sex, 'birthDate', p.birth_date, 'residency', p.residency,
      'employeeInsured', p.employee_insured, 'deceasedOn', p.deceased_on,
      'town', t.name, 'village', v.name, 'phone', mask_account(p.phone),
      'householdNo', h.household_no, 'bankName', h.bank_name, 'bankAccount', mask_account(h.bank_account))
    FROM person p JOIN towns t ON t.id = p.town_id LEFT JOIN villages v ON v.id = p.village_id
    LEFT JOIN households h ON h.id = p.household_id),
  'lists', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'submissionId', s.id, 'department', s.department, 'kind', s.kind, 'period', s.period,
      'fileName', s.file_name, 'sha256', s.sha256, 'status', s.status, 'receivedAt', s.received_at,
      'receivedBy', s.received_by, 'effectiveOn', s.effective_on, 'rowNo', sr.row_no, 'accepted', sr.accepted,
      'category', sr.category, 'action', sr.action, 'reasonCode', sr.reason_code, 'field', sr.field,
      'reason', sr.reason,
      'exchange', (SELECT jsonb_build_object('seq', e.seq, 'entryDigest', e.entry_digest, 'loggedAt', e.logged_at, 'stored', e.stored)
                   FROM log_entry e WHERE e.sha256 = s.sha256 AND e.department = s.department
                     AND e.kind LIKE s.kind || '-list%' ORDER BY e.seq LIMIT 1))
      ORDER BY s.received_at, s.id, sr.row_no)
    FROM submission_rows sr JOIN submissions s ON s.id = sr.submission_id
    WHERE s.jurisdiction = p_jurisdiction AND sr.id_number = p_id_number), '[]'::jsonb),
  'identities', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'category', i.category, 'department', i.department, 'validFrom', i.valid_from, 'validTo', i.valid_to,
      'openedBy', i.opened_by_submission, 'closedBy', i.closed_by_submission) ORDER BY i.valid_from, i.id)
    FROM identities i JOIN person p ON p.id = i.resident_id), '[]'::jsonb),
  'enrollments', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'enrollmentId', e.id, 'status', e.status, 'failureClass', e.failure_class, 'category', e.category,
      'totalFen', e.total_fen, 'personalFen', e.personal_fen, 'subsidyFen', e.subsidy_fen,
      'fundingSource', e.funding_source, 'benefitStart', e.benefit_start, 'stopReason', e.stop_reason,
      'statusChangedAt', e.status_changed_at) ORDER BY e.id)
    FROM enrollments e JOIN person p ON p.id = e.resident_id WHERE e.campaign_year = p_year), '[]'::jsonb),
  'levies', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'batchId', b.id, 'round', b.round, 'createdAt', b.created_at, 'amountFen', l.amount_fen,
      'outcome', d.outcome, 'failureCode', d.failure_code, 'failureClass', d.failure_class,
      'recordedAt', d.recorded_at,
      'levyFile', (SELECT jsonb_build_object('seq', x.seq, 'sha256', x.sha256, 'fileName', x.file_name, 'loggedAt', x.logged_at, 'stored', x.stored)
                   FROM log_entry x WHERE x.kind = 'levy-data' AND x.period = 'batch-' || b.id ORDER BY x.seq LIMIT 1),
      'resultFile', (SELECT jsonb_build_object('seq', x.seq, 'sha256', x.sha256, 'fileName', x.file_name, 'loggedAt', x.logged_at, 'stored', x.stored)
                     FROM log_entry x WHERE x.kind = 'deduction-results' AND x.period = 'batch-' || b.id ORDER BY x.seq LIMIT 1))
      ORDER BY b.round)
    FROM levy_lines l JOIN levy_batches b ON b.id = l.batch_id
    JOIN enrollments e ON e.id = l.enrollment_id JOIN person p ON p.id = e.resident_id
    LEFT JOIN deduction_results d ON d.batch_id = l.batch_id AND d.enrollment_id = l.enrollment_id
    WHERE e.campaign_year = p_year), '[]'::jsonb),
  'followUps', coalesce((
    SELECT jsonb_agg(jsonb_build_object('reason', f.reason, 'openedAt', f.opened_at, 'closedAt', f.closed_at,
                                        'outcome', f.outcome) ORDER BY f.id)
    FROM follow_up_tasks f JOIN enrollments e ON e.id = f.enrollment_id JOIN person p ON p.id = e.resident_id
    WHERE e.campaign_year = p_year), '[]'::jsonb),
  'claims', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'fundingSource', c.funding_source, 'department', c.department, 'dueOn', c.due_on, 'amountFen', cl.amount_fen,
      'receipt', c.receipt, 'submittedAt', c.submitted_at,
      'claimFile', (SELECT jsonb_build_object('seq', x.seq, 'sha256', x.sha256, 'fileName', x.file_name, 'loggedAt', x.logged_at, 'stored', x.stored)
                    FROM log_entry x WHERE x.kind = 'subsidy-claim' AND x.period = c.due_on::text ORDER BY x.seq LIMIT 1))
      ORDER BY c.due_on)
    FROM subsidy_claim_lines cl JOIN subsidy_claims c ON c.id = cl.claim_id
    JOIN enrollments e ON e.id = cl.enrollment_id JOIN person p ON p.id = e.resident_id
    WHERE e.campaign_year = p_year), '[]'::jsonb)
)
$$;
REVOKE ALL ON FUNCTION audit.person_facts(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.person_facts(text, text, integer) TO medins_auditor, medins_operator;

-- Down Migration
DROP FUNCTION audit.person_facts(text, text, integer);
