-- Up Migration
-- A small list no longer reads the whole register (issue #23). A department's roster of 9,124 rows took
-- 2.5 s to import at Kaiping 1x, of which 1.1 s were two hashes of all 715,982 residents: the judging
-- statement's join (list_take_rows, 0045) and the identities' reference check (0066), because the planner
-- costs each index probe as a disk read while the register is in memory. The same monthly list in a ten
-- times larger city would hash ten times the register. A list, or a statement's identities, of fewer rows
-- than a quarter of the register now probes the register's key once per row; a larger one hashes it once, as
-- before (the same quarter as the levy lines' and results' checks, 0056). Same verdicts, same refusals.
CREATE OR REPLACE FUNCTION list_take_rows(submission bigint)
RETURNS TABLE (resident_id bigint, category text, action text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  s public.submissions%ROWTYPE;
  register real;
  small boolean;
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
  -- a list of fewer rows than a quarter of the register probes the register's key per row; a larger one
  -- hashes the register once (the planner, costing every probe as a disk read, hashed all 715,982 residents
  -- for a 9,124-row roster: 0.48 s of a 0.62 s statement, and ten times that in a ten times larger city)
  SELECT c.reltuples INTO register FROM pg_catalog.pg_class c WHERE c.oid = 'public.residents'::regclass;
  SELECT count(*) * 4 < register INTO small
  FROM (SELECT 1 FROM pg_temp.staged_rows LIMIT greatest(register, 0)::bigint / 4 + 1) x;
  RETURN QUERY EXECUTE format($q$
  WITH duplicated AS (
    SELECT t.id_number, t.category, min(t.row_no) AS first_row FROM pg_temp.staged_rows t
    WHERE t.accepted GROUP BY t.id_number, t.category HAVING count(*) > 1
  ), judged AS (
    SELECT t.row_no, t.id_number, t.name, t.category, t.action, t.field, t.reason, p.id AS resident_id,
           CASE WHEN NOT t.accepted THEN t.reason_code
                WHEN d.first_row IS NOT NULL AND t.row_no <> d.first_row THEN 'duplicate-in-file'
                WHEN p.id IS NULL THEN 'not-registered-resident'
                WHEN t.action <> 'remove' AND p.deceased_on IS NOT NULL AND p.deceased_on <= $3 THEN 'resident-deceased'
                WHEN t.action = 'remove' AND NOT EXISTS (
                  SELECT 1 FROM public.identities i WHERE i.resident_id = p.id AND i.category = t.category AND i.valid_to IS NULL)
                  THEN 'remove-without-identity'
           END AS code,
           t.accepted AS file_accepted, d.first_row, p.deceased_on
    FROM pg_temp.staged_rows t
    LEFT JOIN duplicated d ON t.accepted AND d.id_number = t.id_number AND d.category = t.category
    %s
  ), written AS (
    INSERT INTO public.submission_rows (submission_id, row_no, id_number, name, category, action, accepted, reason_code, field, reason)
    SELECT $1, j.row_no, j.id_number, j.name, j.category, j.action, j.code IS NULL, j.code,
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
  SELECT j.resident_id, j.category, j.action FROM judged j WHERE j.code IS NULL$q$,
    CASE WHEN small
      THEN 'LEFT JOIN LATERAL (SELECT p.id, p.deceased_on FROM public.residents p WHERE t.accepted AND p.jurisdiction = $2 AND p.id_number = t.id_number OFFSET 0) p ON true'
      ELSE 'LEFT JOIN public.residents p ON t.accepted AND p.jurisdiction = $2 AND p.id_number = t.id_number' END)
  USING submission, s.jurisdiction, s.effective_on;
END
$$;

CREATE OR REPLACE FUNCTION identities_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
  hashjoin text := current_setting('enable_hashjoin');
  mergejoin text := current_setting('enable_mergejoin');
BEGIN
  -- fewer identities than a quarter of the register: each probes the register's key, as for a levy line's
  -- enrollment (0056); the planner hashed all 715,982 residents for 9,044 identities (0.64 s)
  IF (SELECT count(*) FROM new_rows) * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'residents'::regclass) THEN
    PERFORM set_config('enable_hashjoin', 'off', true);
    PERFORM set_config('enable_mergejoin', 'off', true);
  END IF;
  EXECUTE $q$
    SELECT n.resident_id, n.jurisdiction
    FROM new_rows n LEFT JOIN residents r ON r.id = n.resident_id AND r.jurisdiction = n.jurisdiction
    WHERE r.id IS NULL ORDER BY n.resident_id LIMIT 1$q$ INTO bad;
  PERFORM set_config('enable_hashjoin', hashjoin, true);
  PERFORM set_config('enable_mergejoin', mergejoin, true);
  IF bad.resident_id IS NOT NULL THEN
    RAISE EXCEPTION 'an identity refers to resident %, who is no resident of %', bad.resident_id, bad.jurisdiction
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT s.id INTO bad
  FROM (SELECT opened_by_submission AS id FROM new_rows
        UNION SELECT closed_by_submission FROM new_rows WHERE closed_by_submission IS NOT NULL) s
  WHERE NOT EXISTS (SELECT 1 FROM submissions x WHERE x.id = s.id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'an identity refers to submission %, which does not exist', bad.id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION list_take_rows(submission bigint)
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


CREATE OR REPLACE FUNCTION identities_reference_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  bad record;
BEGIN
  EXECUTE $q$
    SELECT n.resident_id, n.jurisdiction
    FROM new_rows n LEFT JOIN residents r ON r.id = n.resident_id AND r.jurisdiction = n.jurisdiction
    WHERE r.id IS NULL ORDER BY n.resident_id LIMIT 1$q$ INTO bad;
  IF bad.resident_id IS NOT NULL THEN
    RAISE EXCEPTION 'an identity refers to resident %, who is no resident of %', bad.resident_id, bad.jurisdiction
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT s.id INTO bad
  FROM (SELECT opened_by_submission AS id FROM new_rows
        UNION SELECT closed_by_submission FROM new_rows WHERE closed_by_submission IS NOT NULL) s
  WHERE NOT EXISTS (SELECT 1 FROM submissions x WHERE x.id = s.id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'an identity refers to submission %, which does not exist', bad.id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
