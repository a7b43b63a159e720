-- Up Migration
-- The status history of a statement a batch's rows stand for (a levy, a round's results: 0070, 0075) in one
-- pass over its rows (issue #23). Round 1's results at Kaiping 1x move 411,514 enrollments, and the trigger
-- took 1.98 s of the 8.18 s statement under auto_explain: a merge join of the statement's old and new rows
-- that sorted both (0.6 s), the moves materialized and counted, the batch's rows joined to them and
-- materialized (0.85 s), and the town tallies' delta aggregated over 823,028 rows (0.5 s). Now the old and new
-- rows are joined by hashing, full-joined to the batch's rows once, and counted into a few groups (town,
-- status and subsidy before and after; whether a batch's row stands for the move): the change, its counts
-- and the tallies' delta follow from those groups. The entries of moves the batch's rows do not stand for,
-- and the batch's rows whose move the statement did not make, are looked for only when the counts say there
-- are some (as before, when they stood for every move, nothing was written for them). A statement no batch
-- names keeps 0075's statement. Same change row, entries, unmoved rows and tallies.
CREATE OR REPLACE FUNCTION enrollment_status_history_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  named constant text := coalesce(current_setting('medins.batch', true), '');
  part text;
  batch bigint;
  levied_from enrollment_status;
  mergejoin constant text := current_setting('enable_mergejoin');
  counted record;
BEGIN
  IF named <> '' THEN
    -- the naming serves this one statement
    PERFORM set_config('medins.batch', '', true);
    IF named ~ '^(levy_lines|deduction_results):[0-9]{1,18}$' THEN
      part := split_part(named, ':', 1);
      batch := split_part(named, ':', 2)::bigint;
      IF part = 'levy_lines' THEN
        -- a levy's lines stand for moves only in the transaction that created their batch
        SELECT levy_line_move_from(b.kind) INTO levied_from FROM levy_batches b WHERE b.id = batch AND b.created_at = now();
      ELSE
        -- the status a result's enrollment holds until it: the one its line was levied from
        SELECT levy_line_move_from(b.kind) INTO levied_from FROM levy_batches b WHERE b.id = batch;
      END IF;
      IF NOT FOUND THEN batch := NULL; END IF;
      -- one referencing change per batch's rows and transaction: a second statement records its moves itself
      IF EXISTS (SELECT 1 FROM enrollment_status_changes c
                 WHERE c.batch_id = batch AND c.batch_rows = part AND c.changed_at = now()) THEN
        batch := NULL;
      END IF;
    END IF;
  END IF;
  IF batch IS NULL THEN
    -- a statement no batch's rows stand for: every move its own entry (0070, 0075)
    EXECUTE $q$
    WITH pairs AS MATERIALIZED (
      SELECT n.id, o.status AS from_status, n.status AS to_status, o.status_changed_at AS old_changed_at,
             o.jurisdiction AS old_jurisdiction, o.campaign_year AS old_year, o.town_id AS old_town, o.subsidy_fen > 0 AS old_subsidised,
             n.jurisdiction AS new_jurisdiction, n.campaign_year AS new_year, n.town_id AS new_town, n.subsidy_fen > 0 AS new_subsidised
      FROM after_rows n JOIN before_rows o ON o.id = n.id
      WHERE o.status IS DISTINCT FROM n.status OR o.town_id IS DISTINCT FROM n.town_id OR (o.subsidy_fen > 0) <> (n.subsidy_fen > 0)
         OR o.campaign_year <> n.campaign_year OR o.jurisdiction <> n.jurisdiction
         -- a re-deduction failing again: the move its result stands for, though the status stays
         OR ($1 = 'deduction_results' AND $2 IS NOT NULL AND o.status = 'failed' AND n.status = 'failed')),
    moved AS MATERIALIZED (SELECT id, from_status, to_status, old_changed_at FROM pairs WHERE from_status IS DISTINCT FROM to_status),
    -- the named batch's rows written in this transaction, each with the move it stands for on the row
    batch_rows AS (
      SELECT l.enrollment_id, $3::enrollment_status AS from_status, 'levied'::enrollment_status AS to_status
      FROM levy_lines l WHERE $1 = 'levy_lines' AND l.batch_id = $2
      UNION ALL
      SELECT d.enrollment_id, $3::enrollment_status, deduction_result_move_to(d.outcome)
      FROM deduction_results d WHERE $1 = 'deduction_results' AND d.batch_id = $2 AND d.recorded_at = now()),
    -- each of them, and whether this statement made the very move it stands for (a result: from the status its
    -- line was levied from, or from levied for a batch in flight when 0075 ran)
    matched AS MATERIALIZED (
      SELECT r.enrollment_id, m.id IS NOT NULL AS moved, m.from_status = m.to_status AS same
      FROM batch_rows r LEFT JOIN pairs m
        ON m.id = r.enrollment_id AND m.to_status = r.to_status
       AND (m.from_status = r.from_status OR ($1 = 'deduction_results' AND m.from_status = 'levied'))),
    counts AS MATERIALIZED (
      SELECT (SELECT count(*) FROM moved)::int + count(*) FILTER (WHERE x.moved AND x.same)::int AS moved,
             count(*) FILTER (WHERE x.moved)::int AS referenced,
             count(*) FILTER (WHERE NOT x.moved)::int AS unmoved
      FROM matched x),
    change AS (
      INSERT INTO enrollment_status_changes (cause, made_by, moved, batch_id, batch_rows, referenced)
      SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
             n.moved, CASE WHEN n.referenced > 0 THEN $2 END, CASE WHEN n.referenced > 0 THEN $1 END, n.referenced
      FROM counts n WHERE n.moved > 0 RETURNING id, batch_id),
    -- every move the batch's rows do not stand for gets its own entry (none to look for when they stand for all);
    -- a registered or failed enrollment awaiting a result moves out of levied
    history AS (
      INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
      SELECT m.id, c.id, enrollment_status_shown(m.id, m.from_status, m.old_changed_at), m.to_status
      FROM moved m CROSS JOIN change c LEFT JOIN matched x ON x.enrollment_id = m.id AND x.moved
      WHERE (SELECT n.moved > n.referenced FROM counts n) AND x.enrollment_id IS NULL),
    unmoved AS (
      INSERT INTO enrollment_status_unmoved (change_id, enrollment_id)
      SELECT c.id, x.enrollment_id FROM matched x CROSS JOIN change c
      WHERE (SELECT n.referenced > 0 AND n.unmoved > 0 FROM counts n) AND NOT x.moved),
    delta AS (
      SELECT jurisdiction, campaign_year, town_id, status, subsidised, sum(n) AS n
      FROM (SELECT old_jurisdiction, old_year, old_town, from_status, old_subsidised, -1 FROM pairs
            UNION ALL
            SELECT new_jurisdiction, new_year, new_town, to_status, new_subsidised, 1 FROM pairs)
           AS d (jurisdiction, campaign_year, town_id, status, subsidised, n)
      GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0)
    INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
    SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments
    $q$ USING part, batch, levied_from;
    RETURN NULL;
  END IF;
  -- A statement the named batch's rows stand for (a levy, a round's results) in one pass over its rows
  -- (issue #23): its old and new rows joined by hashing (the merge join sorted both, 411,514 rows each at
  -- Kaiping 1x), full-joined to the batch's rows of this transaction, and counted by town, status and
  -- subsidy before and after and by whether the batch's row stands for the move: a few hundred groups,
  -- from which the change, its counts and the town tallies' delta follow. The rows themselves are read again
  -- only for what the batch's rows do not stand for (a move without its row, a row without its move), as
  -- before.
  PERFORM set_config('enable_mergejoin', 'off', true);
  EXECUTE $q$
  WITH pairs AS (
    SELECT n.id, o.status AS from_status, n.status AS to_status,
           o.jurisdiction AS old_jurisdiction, o.campaign_year AS old_year, o.town_id AS old_town, o.subsidy_fen > 0 AS old_subsidised,
           n.jurisdiction AS new_jurisdiction, n.campaign_year AS new_year, n.town_id AS new_town, n.subsidy_fen > 0 AS new_subsidised
    FROM after_rows n JOIN before_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status OR o.town_id IS DISTINCT FROM n.town_id OR (o.subsidy_fen > 0) <> (n.subsidy_fen > 0)
       OR o.campaign_year <> n.campaign_year OR o.jurisdiction <> n.jurisdiction
       -- a re-deduction failing again: the move its result stands for, though the status stays
       OR ($1 = 'deduction_results' AND o.status = 'failed' AND n.status = 'failed')),
  -- the named batch's rows written in this transaction, each with the move it stands for on the row
  batch_rows AS (
    SELECT l.enrollment_id, $3::enrollment_status AS from_status, 'levied'::enrollment_status AS to_status
    FROM levy_lines l WHERE $1 = 'levy_lines' AND l.batch_id = $2
    UNION ALL
    SELECT d.enrollment_id, $3::enrollment_status, deduction_result_move_to(d.outcome)
    FROM deduction_results d WHERE $1 = 'deduction_results' AND d.batch_id = $2 AND d.recorded_at = now()),
  -- each old and new row and each batch's row (one of each per enrollment at most), and whether this statement
  -- made the very move the row stands for (a result: from the status its line was levied from, or from levied
  -- for a batch in flight when 0075 ran)
  grouped AS MATERIALIZED (
    SELECT m.old_jurisdiction, m.old_year, m.old_town, m.from_status, m.old_subsidised,
           m.new_jurisdiction, m.new_year, m.new_town, m.to_status, m.new_subsidised,
           m.id IS NOT NULL AS paired, r.enrollment_id IS NOT NULL AS rowed,
           coalesce(m.to_status = r.to_status
                    AND (m.from_status = r.from_status OR ($1 = 'deduction_results' AND m.from_status = 'levied')), false) AS matched,
           count(*) AS n
    FROM pairs m FULL JOIN batch_rows r ON r.enrollment_id = m.id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13),
  counts AS MATERIALIZED (
    SELECT (coalesce(sum(n) FILTER (WHERE paired AND from_status IS DISTINCT FROM to_status), 0)
            + coalesce(sum(n) FILTER (WHERE matched AND from_status = to_status), 0))::int AS moved,
           coalesce(sum(n) FILTER (WHERE matched), 0)::int AS referenced,
           coalesce(sum(n) FILTER (WHERE rowed AND NOT matched), 0)::int AS unmoved
    FROM grouped),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved, batch_id, batch_rows, referenced)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           n.moved, CASE WHEN n.referenced > 0 THEN $2 END, CASE WHEN n.referenced > 0 THEN $1 END, n.referenced
    FROM counts n WHERE n.moved > 0 RETURNING id),
  delta AS (
    SELECT jurisdiction, campaign_year, town_id, status, subsidised, sum(n) AS n
    FROM (SELECT old_jurisdiction, old_year, old_town, from_status, old_subsidised, -n FROM grouped WHERE paired
          UNION ALL
          SELECT new_jurisdiction, new_year, new_town, to_status, new_subsidised, n FROM grouped WHERE paired)
         AS d (jurisdiction, campaign_year, town_id, status, subsidised, n)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0),
  tallied AS (
    INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
    SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments)
  SELECT n.moved, n.referenced, n.unmoved, (SELECT c.id FROM change c) AS change_id FROM counts n
  $q$ INTO counted USING part, batch, levied_from;
  PERFORM set_config('enable_mergejoin', mergejoin, true);
  -- every move the batch's rows do not stand for gets its own entry; a registered or failed enrollment awaiting
  -- a result moves out of levied
  IF counted.moved > counted.referenced THEN
    EXECUTE $q$
    INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
    SELECT n.id, $4, enrollment_status_shown(n.id, o.status, o.status_changed_at), n.status
    FROM after_rows n JOIN before_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status
      AND NOT EXISTS (
        SELECT 1 FROM levy_lines l
        WHERE $1 = 'levy_lines' AND l.batch_id = $2 AND l.enrollment_id = n.id
          AND n.status = 'levied' AND o.status = $3
        UNION ALL
        SELECT 1 FROM deduction_results d
        WHERE $1 = 'deduction_results' AND d.batch_id = $2 AND d.enrollment_id = n.id AND d.recorded_at = now()
          AND n.status = deduction_result_move_to(d.outcome) AND (o.status = $3 OR o.status = 'levied'))
    $q$ USING part, batch, levied_from, counted.change_id;
  END IF;
  -- the batch's rows whose move this statement did not make
  IF counted.referenced > 0 AND counted.unmoved > 0 THEN
    EXECUTE $q$
    INSERT INTO enrollment_status_unmoved (change_id, enrollment_id)
    SELECT $4, r.enrollment_id
    FROM (SELECT l.enrollment_id, $3::enrollment_status AS from_status, 'levied'::enrollment_status AS to_status
          FROM levy_lines l WHERE $1 = 'levy_lines' AND l.batch_id = $2
          UNION ALL
          SELECT d.enrollment_id, $3::enrollment_status, deduction_result_move_to(d.outcome)
          FROM deduction_results d WHERE $1 = 'deduction_results' AND d.batch_id = $2 AND d.recorded_at = now()) r
    WHERE NOT EXISTS (
      SELECT 1 FROM after_rows n JOIN before_rows o ON o.id = n.id
      WHERE n.id = r.enrollment_id AND n.status = r.to_status
        AND (o.status = r.from_status OR ($1 = 'deduction_results' AND o.status = 'levied'))
        AND (o.status IS DISTINCT FROM n.status OR o.town_id IS DISTINCT FROM n.town_id OR (o.subsidy_fen > 0) <> (n.subsidy_fen > 0)
             OR o.campaign_year <> n.campaign_year OR o.jurisdiction <> n.jurisdiction
             OR ($1 = 'deduction_results' AND o.status = 'failed' AND n.status = 'failed')))
    $q$ USING part, batch, levied_from, counted.change_id;
  END IF;
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION enrollment_status_history_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  named constant text := coalesce(current_setting('medins.batch', true), '');
  part text;
  batch bigint;
  levied_from enrollment_status;
BEGIN
  IF named <> '' THEN
    -- the naming serves this one statement
    PERFORM set_config('medins.batch', '', true);
    IF named ~ '^(levy_lines|deduction_results):[0-9]{1,18}$' THEN
      part := split_part(named, ':', 1);
      batch := split_part(named, ':', 2)::bigint;
      IF part = 'levy_lines' THEN
        -- a levy's lines stand for moves only in the transaction that created their batch
        SELECT levy_line_move_from(b.kind) INTO levied_from FROM levy_batches b WHERE b.id = batch AND b.created_at = now();
      ELSE
        -- the status a result's enrollment holds until it: the one its line was levied from
        SELECT levy_line_move_from(b.kind) INTO levied_from FROM levy_batches b WHERE b.id = batch;
      END IF;
      IF NOT FOUND THEN batch := NULL; END IF;
      -- one referencing change per batch's rows and transaction: a second statement records its moves itself
      IF EXISTS (SELECT 1 FROM enrollment_status_changes c
                 WHERE c.batch_id = batch AND c.batch_rows = part AND c.changed_at = now()) THEN
        batch := NULL;
      END IF;
    END IF;
  END IF;
  EXECUTE $q$
  WITH pairs AS MATERIALIZED (
    SELECT n.id, o.status AS from_status, n.status AS to_status, o.status_changed_at AS old_changed_at,
           o.jurisdiction AS old_jurisdiction, o.campaign_year AS old_year, o.town_id AS old_town, o.subsidy_fen > 0 AS old_subsidised,
           n.jurisdiction AS new_jurisdiction, n.campaign_year AS new_year, n.town_id AS new_town, n.subsidy_fen > 0 AS new_subsidised
    FROM after_rows n JOIN before_rows o ON o.id = n.id
    WHERE o.status IS DISTINCT FROM n.status OR o.town_id IS DISTINCT FROM n.town_id OR (o.subsidy_fen > 0) <> (n.subsidy_fen > 0)
       OR o.campaign_year <> n.campaign_year OR o.jurisdiction <> n.jurisdiction
       -- a re-deduction failing again: the move its result stands for, though the status stays
       OR ($1 = 'deduction_results' AND $2 IS NOT NULL AND o.status = 'failed' AND n.status = 'failed')),
  moved AS MATERIALIZED (SELECT id, from_status, to_status, old_changed_at FROM pairs WHERE from_status IS DISTINCT FROM to_status),
  -- the named batch's rows written in this transaction, each with the move it stands for on the row
  batch_rows AS (
    SELECT l.enrollment_id, $3::enrollment_status AS from_status, 'levied'::enrollment_status AS to_status
    FROM levy_lines l WHERE $1 = 'levy_lines' AND l.batch_id = $2
    UNION ALL
    SELECT d.enrollment_id, $3::enrollment_status, deduction_result_move_to(d.outcome)
    FROM deduction_results d WHERE $1 = 'deduction_results' AND d.batch_id = $2 AND d.recorded_at = now()),
  -- each of them, and whether this statement made the very move it stands for (a result: from the status its
  -- line was levied from, or from levied for a batch in flight when 0075 ran)
  matched AS MATERIALIZED (
    SELECT r.enrollment_id, m.id IS NOT NULL AS moved, m.from_status = m.to_status AS same
    FROM batch_rows r LEFT JOIN pairs m
      ON m.id = r.enrollment_id AND m.to_status = r.to_status
     AND (m.from_status = r.from_status OR ($1 = 'deduction_results' AND m.from_status = 'levied'))),
  counts AS MATERIALIZED (
    SELECT (SELECT count(*) FROM moved)::int + count(*) FILTER (WHERE x.moved AND x.same)::int AS moved,
           count(*) FILTER (WHERE x.moved)::int AS referenced,
           count(*) FILTER (WHERE NOT x.moved)::int AS unmoved
    FROM matched x),
  change AS (
    INSERT INTO enrollment_status_changes (cause, made_by, moved, batch_id, batch_rows, referenced)
    SELECT nullif(current_setting('medins.cause', true), ''), nullif(current_setting('medins.made_by', true), '')::jsonb,
           n.moved, CASE WHEN n.referenced > 0 THEN $2 END, CASE WHEN n.referenced > 0 THEN $1 END, n.referenced
    FROM counts n WHERE n.moved > 0 RETURNING id, batch_id),
  -- every move the batch's rows do not stand for gets its own entry (none to look for when they stand for all);
  -- a registered or failed enrollment awaiting a result moves out of levied
  history AS (
    INSERT INTO enrollment_status_entries (enrollment_id, change_id, from_status, to_status)
    SELECT m.id, c.id, enrollment_status_shown(m.id, m.from_status, m.old_changed_at), m.to_status
    FROM moved m CROSS JOIN change c LEFT JOIN matched x ON x.enrollment_id = m.id AND x.moved
    WHERE (SELECT n.moved > n.referenced FROM counts n) AND x.enrollment_id IS NULL),
  unmoved AS (
    INSERT INTO enrollment_status_unmoved (change_id, enrollment_id)
    SELECT c.id, x.enrollment_id FROM matched x CROSS JOIN change c
    WHERE (SELECT n.referenced > 0 AND n.unmoved > 0 FROM counts n) AND NOT x.moved),
  delta AS (
    SELECT jurisdiction, campaign_year, town_id, status, subsidised, sum(n) AS n
    FROM (SELECT old_jurisdiction, old_year, old_town, from_status, old_subsidised, -1 FROM pairs
          UNION ALL
          SELECT new_jurisdiction, new_year, new_town, to_status, new_subsidised, 1 FROM pairs)
         AS d (jurisdiction, campaign_year, town_id, status, subsidised, n)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0)
  INSERT INTO town_enrollment_tallies AS t (jurisdiction, campaign_year, town_id, status, subsidised, enrollments)
  SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (jurisdiction, campaign_year, town_id, status, subsidised) DO UPDATE SET enrollments = t.enrollments + EXCLUDED.enrollments
  $q$ USING part, batch, levied_from;
  RETURN NULL;
END $$;
