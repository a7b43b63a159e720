-- A department's roster, as plain SQL: COPY the file, validate every row, reject duplicates and unknown
-- residents, open and close identities (ID numbers normalised as the app does: full-width digits, x, spaces). Variables: jurisdiction, department, period, effective_on,
-- closes_on (the engine's identityClosesOn of effective_on), encoding, file_name. The file arrives on standard input (an .xlsx is handed over as CSV: PostgreSQL reads no xlsx).
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL work_mem = '64MB';
SET client_encoding = :'encoding';
CREATE TEMP TABLE staging (seq text, name text, sex text, id_number text, address text, phone text, category text,
                           row_no int GENERATED ALWAYS AS IDENTITY (START 2)) ON COMMIT DROP;
\copy staging (seq, name, sex, id_number, address, phone, category) from pstdin with (format csv, header true)
RESET client_encoding;
INSERT INTO submissions (jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by)
VALUES (:'jurisdiction', :'department', 'roster', :'period', :'effective_on', :'file_name', encode(sha256(convert_to(:'file_name', 'UTF8')), 'hex'), 0, 'csv', 'utf-8', 'baseline')
RETURNING id AS submission_id \gset
INSERT INTO submission_rows (submission_id, row_no, id_number, name, category, action, accepted, reason_code, field, reason)
SELECT :submission_id, s.row_no, nullif(s.idn, ''), nullif(trim(s.name), ''), pc.category, 'listed',
       v.code IS NULL, v.code, v.field, v.code
FROM (SELECT t.*, regexp_replace(translate(coalesce(t.id_number, ''), '０１２３４５６７８９ｘＸx', '0123456789XXX'),
                                 '[[:space:]' || chr(12288) || ']', '', 'g') AS idn
      FROM staging t) s
LEFT JOIN bl_policy_categories pc ON pc.category = trim(s.category) OR pc.name = trim(s.category)
CROSS JOIN LATERAL (SELECT CASE
    WHEN s.idn = '' THEN 'missing-field'
    WHEN NOT bl_id_ok(s.idn, :'effective_on'::date) THEN 'invalid-id'
    WHEN coalesce(trim(s.name), '') = '' THEN 'missing-field'
    WHEN coalesce(trim(s.category), '') = '' THEN 'missing-field'
    WHEN pc.category IS NULL THEN 'unknown-category'
    WHEN pc.department <> :'department' THEN 'category-not-certified-by-department'
  END AS code,
  CASE WHEN s.idn = '' OR NOT bl_id_ok(s.idn, :'effective_on'::date) THEN '身份证号码'
       WHEN coalesce(trim(s.name), '') = '' THEN '姓名' ELSE '特殊群体类别' END AS field) v
WHERE coalesce(s.seq, '') <> '' OR coalesce(s.id_number, '') <> '' OR coalesce(s.name, '') <> '';
ANALYZE submission_rows;
UPDATE submission_rows r SET accepted = false, reason_code = 'duplicate-in-file', field = '身份证号码', reason = 'duplicate'
FROM (SELECT id_number, category, min(row_no) AS first_row FROM submission_rows
      WHERE submission_id = :submission_id AND accepted GROUP BY id_number, category HAVING count(*) > 1) d
WHERE r.submission_id = :submission_id AND r.accepted AND r.id_number = d.id_number AND r.category = d.category AND r.row_no <> d.first_row;
UPDATE submission_rows r SET accepted = false, reason_code = 'not-registered-resident', field = '身份证号码', reason = 'not registered'
WHERE r.submission_id = :submission_id AND r.accepted
  AND NOT EXISTS (SELECT 1 FROM residents p WHERE p.jurisdiction = :'jurisdiction' AND p.id_number = r.id_number);
UPDATE submission_rows r SET accepted = false, reason_code = 'resident-deceased', field = '身份证号码', reason = 'deceased'
FROM residents p
WHERE r.submission_id = :submission_id AND r.accepted AND p.jurisdiction = :'jurisdiction' AND p.id_number = r.id_number
  AND p.deceased_on IS NOT NULL AND p.deceased_on <= :'effective_on'::date;
CREATE TEMP TABLE listed ON COMMIT DROP AS
SELECT p.id AS resident_id, r.category FROM submission_rows r JOIN residents p ON p.jurisdiction = :'jurisdiction' AND p.id_number = r.id_number
WHERE r.submission_id = :submission_id AND r.accepted;
UPDATE identities i SET valid_to = greatest(:'closes_on'::date, i.valid_from - 1),
       closed_by_submission = :submission_id
WHERE i.jurisdiction = :'jurisdiction' AND i.department = :'department' AND i.valid_to IS NULL
  AND NOT EXISTS (SELECT 1 FROM listed l WHERE l.resident_id = i.resident_id AND l.category = i.category);
INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission)
SELECT :'jurisdiction', l.resident_id, l.category, :'department', :'effective_on'::date, :submission_id FROM listed l
WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = l.resident_id AND i.category = l.category AND i.valid_to IS NULL);
UPDATE submissions SET (rows_read, rows_accepted, rows_rejected) =
  (SELECT count(*), count(*) FILTER (WHERE accepted), count(*) FILTER (WHERE NOT accepted) FROM submission_rows WHERE submission_id = :submission_id)
WHERE id = :submission_id;
COMMIT;
