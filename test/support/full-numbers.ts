/**
 * Where a reader can see a full national ID or bank account: every table and view the connection may select
 * (from the catalog, so a table added later is checked too), each row as text searched for a run of 16-19
 * digits, or 17 digits and X, standing alone (an 18-character ID, a bank card number). Masked numbers
 * (440783********0015) and digests (hex) do not match.
 */
import type pg from 'pg';

export const FULL_NUMBER = '(^|[^0-9A-Za-z])([0-9]{16,19}|[0-9]{17}X)([^0-9A-Za-z]|$)';

export interface Exposure {
  relation: string;
  rows: number;
}

/** The relations this connection can select, and those in which it reads a full number (with a row count). */
export async function fullNumbersVisible(
  pool: pg.Pool,
): Promise<{ selectable: string[]; exposed: Exposure[] }> {
  const relations = await pool.query<{ relation: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS relation
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
       AND (has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT'))
     ORDER BY 1`,
  );
  const exposed: Exposure[] = [];
  for (const { relation } of relations.rows) {
    // a relation selectable only in some columns: read those columns
    const columns = await pool.query<{ name: string }>(
      `SELECT quote_ident(attname) AS name FROM pg_attribute
       WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
         AND has_column_privilege($1::regclass, attnum, 'SELECT')`,
      [relation],
    );
    if (!columns.rows.length) continue;
    const list = columns.rows.map((c) => c.name).join(', ');
    const r = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT ${list} FROM ${relation}) t WHERE t::text ~ $1`,
      [FULL_NUMBER],
    );
    if (r.rows[0]!.n > 0) exposed.push({ relation, rows: r.rows[0]!.n });
  }
  return { selectable: relations.rows.map((r) => r.relation), exposed };
}
