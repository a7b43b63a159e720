-- Up Migration
-- A list's rows are judged as they are written (issue #23: the import against a bare COPY of its file).
-- Until now an import COPYed the file's rows into a staging table, inserted them into submission_rows, then
-- list_match_rows (0021) analyzed submission_rows, read the rows back, joined them to the register and
-- updated the rejected ones: every row written, read again, and some rewritten. list_take_rows reads the
-- staging table once, judges each row there (its file's own verdict, then duplicates, unknown and deceased
-- residents, removals of someone not listed, in that order as before) and writes it to submission_rows once,
-- with its final verdict; the accepted rows come back as (resident_id, category, action) for the merge.
--
-- The staging table is the caller's temporary `staged_rows` (row_no, id_number, name, category, action,
-- accepted, reason_code, field, reason: the file's own checks), which only the caller's session can see.
-- The function runs as the schema's owner like list_match_rows: a department still never reads residents,
-- and its rows go only into its own submission (checked here, as the policies would have checked them).
CREATE FUNCTION list_take_rows(submission bigint)
RETURNS TABLE (resident_id bigint, category text, action text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  s public.submissions%ROWTYPE;
BEGIN
  SELECT * INTO s FROM public.submissions WHERE id = submission;
  IF NOT FOUND OR s.status <> 'held' OR s.rows_read <> 0 THEN
    RAISE EXCEPTION 'submission % is not a list being imported', submission USING ERRCODE = '55000';
  END IF;
  IF NOT (pg_has_role(session_user, 'medins_operator', 'MEMBER')
          OR pg_has_role(session_user, 'medins_dept_' || replace(s.department, '-', '_'), 'MEMBER')) THEN
    RAISE EXCEPTION '% may not import the lists of %', session_user, s.department USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT 1 FROM public.submission_rows r WHERE r.submission_id = submission) THEN
    RAISE EXCEPTION 'submission % already has its rows', submission USING ERRCODE = '55000';
  END IF;
  RETURN QUERY
  WITH duplicated AS (
    SELECT t.id_number, t.category, min(t.row_no) AS first_row FROM pg_temp.staged_rows t
    WHERE t.accepted GROUP BY t.id_number, t.category HAVING count(*) > 1
  ), judged AS (
    SELECT t.row_no, t.id_number, t.name, t.category, t.action, t.field, t.reason, p.id AS resident_id,
           CASE WHEN NOT t.accepted THEN t.reason_code
                WHEN d.first_row IS NOT NULL AND t.row_no <> d.first_row THEN 'duplicate-in-file'
                WHEN p.id IS NULL THEN 'not-registered-resident'
                WHEN t.action <> 'remove' AND p.deceased_on IS NOT NULL AND p.deceased_on <= s.effective_on THEN 'resident-deceased'
                WHEN t.action = 'remove' AND NOT EXISTS (
                  SELECT 1 FROM public.identities i WHERE i.resident_id = p.id AND i.category = t.category AND i.valid_to IS NULL)
                  THEN 'remove-without-identity'
           END AS code,
           t.accepted AS file_accepted, d.first_row, p.deceased_on
    FROM pg_temp.staged_rows t
    LEFT JOIN duplicated d ON t.accepted AND d.id_number = t.id_number AND d.category = t.category
    LEFT JOIN public.residents p ON t.accepted AND p.jurisdiction = s.jurisdiction AND p.id_number = t.id_number
  ), written AS (
    INSERT INTO public.submission_rows (submission_id, row_no, id_number, name, category, action, accepted, reason_code, field, reason)
    SELECT submission, j.row_no, j.id_number, j.name, j.category, j.action, j.code IS NULL, j.code,
           CASE WHEN NOT j.file_accepted THEN j.field
                WHEN j.code IS NULL THEN NULL
                WHEN j.code = 'remove-without-identity' THEN '变动类型' ELSE '身份证号码' END,
           CASE WHEN NOT j.file_accepted THEN j.reason
                WHEN j.code IS NULL THEN NULL
                WHEN j.code = 'duplicate-in-file' THEN '与第' || j.first_row || '行重复 (the same person and category as row ' || j.first_row || ')'
                WHEN j.code = 'not-registered-resident' THEN '户籍登记中无此人 (no registered resident of this jurisdiction has this ID number)'
                WHEN j.code = 'resident-deceased' THEN '此人已于' || j.deceased_on || '死亡 (the resident is recorded as deceased)'
                ELSE '减员，但此人当前没有该类别的身份标识 (a removal of someone not listed in this category)' END
    FROM judged j
  )
  SELECT j.resident_id, j.category, j.action FROM judged j WHERE j.code IS NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION list_take_rows(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION list_take_rows(bigint) TO medins_operator, medins_department;

-- Down Migration
DROP FUNCTION list_take_rows(bigint);
