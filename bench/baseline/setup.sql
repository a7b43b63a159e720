-- The SQL baseline's own helpers, created once in the baseline's copy of the database (not timed).
-- GB 11643: 18 characters, a province code, a real birth date not after the list's date, the check character.
-- Nested CASEs, because SQL does not promise to evaluate AND from left to right.
CREATE OR REPLACE FUNCTION bl_id_ok(id text, on_date date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN id !~ '^[0-9]{17}[0-9X]$' THEN false
    WHEN substr(id, 1, 2) NOT IN ('11','12','13','14','15','21','22','23','31','32','33','34','35','36','37','41','42','43','44','45','46','50','51','52','53','54','61','62','63','64','65','71','81','82') THEN false
    WHEN substr(id, 7, 4)::int < 1890 OR substr(id, 11, 2)::int NOT BETWEEN 1 AND 12 THEN false
    WHEN substr(id, 13, 2)::int NOT BETWEEN 1 AND extract(day FROM make_date(substr(id, 7, 4)::int, substr(id, 11, 2)::int, 1) + interval '1 month - 1 day')::int THEN false
    WHEN make_date(substr(id, 7, 4)::int, substr(id, 11, 2)::int, substr(id, 13, 2)::int) > on_date THEN false
    ELSE substr('10X98765432', (
           (substr(id,1,1)::int*7 + substr(id,2,1)::int*9 + substr(id,3,1)::int*10 + substr(id,4,1)::int*5 +
            substr(id,5,1)::int*8 + substr(id,6,1)::int*4 + substr(id,7,1)::int*2 + substr(id,8,1)::int*1 +
            substr(id,9,1)::int*6 + substr(id,10,1)::int*3 + substr(id,11,1)::int*7 + substr(id,12,1)::int*9 +
            substr(id,13,1)::int*10 + substr(id,14,1)::int*5 + substr(id,15,1)::int*8 + substr(id,16,1)::int*4 +
            substr(id,17,1)::int*2) % 11) + 1, 1) = substr(id, 18, 1)
  END
$$;
-- The policy's tables (bl_policy_categories, bl_policy_conditions, bl_failure_classes) are written by the
-- benchmark from the same seed policy the campaign runs, into policy.sql.
