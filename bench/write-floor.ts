/**
 * The write floor of `npm run bench` (issue #23): what PostgreSQL itself needs to write the rows a year
 * writes, measured in the same run on the same database copy the year just ran on.
 *
 * After the year, every row it wrote is exported (untimed) and then, timed, COPYed into an empty table of the
 * same shape (`CREATE TABLE ... (LIKE t INCLUDING ALL)`: the same columns, defaults, CHECK constraints,
 * primary keys, unique and other indexes, the same storage parameters; no triggers, so no status guard and no reference checks):
 * submission rows and identities (the roster import), enrollments in the state they were opened in and
 * their per-town tallies, levy lines, the simulated bureau's records, deduction results, follow-up tasks,
 * coverage snapshots, subsidy claims and their lines. Then the status changes the year must make, each as one set-based statement:
 * per deduction round, the round's outcome onto its enrollments (paid, or failed with the class); at the
 * cut-off, personal failures abandoned; each with an update of the year's tally rows. The floor's end
 * state is checked against the year's (enrollments by status), so the floor writes what the year wrote, no less.
 *
 * The floor tables are dropped afterwards; the database size is read before they exist.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

export interface FloorItem {
  /** The table (or the statement) the floor writes. */
  item: string;
  /** The year's step the rows belong to (bench/run.ts step names). */
  step: string;
  rows: number;
  seconds: number;
  /** One of the tables issue #23 names (enrollments, levy lines, deduction results, identities, claims). */
  named: boolean;
}

export interface WriteFloor {
  /** The floor the target is held to (the items below, the status history not among them). */
  seconds: number;
  /** Only the tables and updates issue #23 names. */
  namedSeconds: number;
  items: FloorItem[];
  /** The floor's enrollments by status equal the year's. */
  sameEnd: boolean;
  /**
   * The status history the year's triggers write for the per-person audit trail (migrations 0025, 0070: one
   * change row per statement, one entry per move its batch's levy lines or deduction results do not record,
   * one row per batch row the statement did not move), COPYed the same way after the floor above and reported
   * beside it, never added to `seconds`: the target is held to the stricter floor without it.
   */
  history: { rows: number; seconds: number };
}

/** Ids the template database already held before the year: rows above them are the year's. */
export interface FloorMarks {
  submissions: number;
  identities: number;
  followUps: number;
  claims: number;
}

export async function floorMarks(url: string): Promise<FloorMarks> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ s: string; i: string; f: string; c: string }>(
      `SELECT (SELECT coalesce(max(id), 0) FROM submissions)::text AS s, (SELECT coalesce(max(id), 0) FROM identities)::text AS i,
              (SELECT coalesce(max(id), 0) FROM follow_up_tasks)::text AS f, (SELECT coalesce(max(id), 0) FROM subsidy_claims)::text AS c`,
    );
    const row = r.rows[0]!;
    return {
      submissions: Number(row.s),
      identities: Number(row.i),
      followUps: Number(row.f),
      claims: Number(row.c),
    };
  } finally {
    await c.end();
  }
}

const ROUND1 = 'levy and deduction (tax simulated), round 1';
const LATER = 'levy and deduction (tax simulated), follow-up rounds';
const APPLY1 = 'apply deduction results, round 1';
const APPLY_LATER = 'apply deduction results, follow-up rounds';

/**
 * Creates the empty table `name` of `table`'s shape (dropping one left by an earlier run): `LIKE ...
 * INCLUDING ALL` (columns, defaults, CHECKs, keys, indexes; no triggers) and the same storage parameters,
 * which LIKE does not copy (enrollments' fillfactor).
 */
export async function createFloorTable(c: pg.ClientBase, table: string, name: string): Promise<void> {
  await c.query(`DROP TABLE IF EXISTS ${name}`);
  await c.query(`CREATE TABLE ${name} (LIKE ${table} INCLUDING ALL)`);
  const opts = await c.query<{ o: string[] | null }>(
    `SELECT reloptions AS o FROM pg_class WHERE oid = $1::regclass`,
    [table],
  );
  if (opts.rows[0]?.o?.length) await c.query(`ALTER TABLE ${name} SET (${opts.rows[0].o.join(', ')})`);
}

/** The rows `select` returns, exported to `file` in COPY's text format (untimed: the floors time copyRows). */
export async function exportRows(c: pg.ClientBase, select: string, file: string): Promise<void> {
  await pipeline(c.query(copyTo(`COPY (${select}) TO STDOUT`)), createWriteStream(file));
}

/**
 * COPYs `file` (as exportRows wrote it) into `table`, into `columns` where given (an identity column takes the
 * exported ids as they are). Returns the rows written.
 */
export async function copyRows(
  c: pg.ClientBase,
  table: string,
  file: string,
  columns?: string,
): Promise<number> {
  const copy = c.query(copyFrom(`COPY ${table}${columns ? ` (${columns})` : ''} FROM STDIN`));
  await pipeline(createReadStream(file), copy);
  return copy.rowCount;
}

/**
 * Measures the floor on the database at `url` (the year's copy), for `jurisdiction` and `year`, with scratch
 * files in `dir`. Throws when a COPY or statement fails.
 */
export async function measureWriteFloor(
  url: string,
  jurisdiction: string,
  year: number,
  marks: FloorMarks,
  dir: string,
): Promise<WriteFloor> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const items: FloorItem[] = [];
  const tables: string[] = [];
  try {
    await c.query('SET jit = off');
    await c.query(`SET client_min_messages = warning`);
    const batches = (
      await c.query<{ id: string; round: number }>(
        `SELECT id, round FROM levy_batches WHERE jurisdiction = $1 AND campaign_year = $2 ORDER BY round`,
        [jurisdiction, year],
      )
    ).rows.map((b) => ({ id: Number(b.id), round: b.round }));
    const ids = (round: (r: number) => boolean) =>
      `{${batches
        .filter((b) => round(b.round))
        .map((b) => b.id)
        .join(',')}}`;
    const sources: {
      table: string;
      part: string;
      step: string;
      named: boolean;
      select: string;
      columns?: string;
      /** The status history (reported beside the floor, never in it: WriteFloor.history). */
      history?: true;
    }[] = [
      {
        table: 'submission_rows',
        part: '',
        step: 'roster import',
        named: false,
        select: `SELECT * FROM submission_rows WHERE submission_id > ${marks.submissions}`,
      },
      {
        table: 'identities',
        part: '',
        step: 'roster import',
        named: true,
        select: `SELECT * FROM identities WHERE id > ${marks.identities} OR closed_by_submission > ${marks.submissions}`,
      },
      {
        // as opened: registered, or paid at once when fully subsidised (never levied)
        table: 'enrollments',
        part: '',
        step: 'open enrollments',
        named: true,
        columns:
          'id, jurisdiction, campaign_year, resident_id, town_id, status, failure_class, category, total_fen, personal_fen, subsidy_fen, funding_source, benefit_start, stop_reason, status_changed_at, opened_by, opened_as',
        select: `SELECT id, jurisdiction, campaign_year, resident_id, town_id,
                        CASE WHEN personal_fen = 0 AND NOT EXISTS (SELECT 1 FROM levy_lines l WHERE l.enrollment_id = e.id) THEN 'paid' ELSE 'registered' END,
                        NULL, category, total_fen, personal_fen, subsidy_fen, funding_source,
                        CASE WHEN personal_fen = 0 AND NOT EXISTS (SELECT 1 FROM levy_lines l WHERE l.enrollment_id = e.id) THEN benefit_start END,
                        stop_reason, status_changed_at, opened_by, opened_as
                 FROM enrollments e WHERE jurisdiction = '${jurisdiction}' AND campaign_year = ${year}`,
      },
      {
        // the per-town tallies of the year's enrollments (migration 0040): written when they are opened, and
        // again with each status change below
        table: 'town_enrollment_tallies',
        part: '',
        step: 'open enrollments',
        named: false,
        select: `SELECT * FROM town_enrollment_tallies WHERE jurisdiction = '${jurisdiction}' AND campaign_year = ${year}`,
      },
      ...(
        [
          [ROUND1, APPLY1, (r: number) => r === 1, ' round 1'],
          [LATER, APPLY_LATER, (r: number) => r > 1, ' follow-up rounds'],
        ] as const
      ).flatMap(([levy, apply, which, part]) => [
        {
          table: 'levy_lines',
          part,
          step: levy,
          named: true,
          select: `SELECT * FROM levy_lines WHERE batch_id = ANY ('${ids(which)}'::bigint[])`,
        },
        {
          table: 'sim_tax_results',
          part,
          step: levy,
          named: false,
          select: `SELECT * FROM sim_tax_results WHERE batch_id = ANY ('${ids(which)}'::bigint[])`,
        },
        {
          table: 'deduction_results',
          part,
          step: apply,
          named: true,
          select: `SELECT * FROM deduction_results WHERE batch_id = ANY ('${ids(which)}'::bigint[])`,
        },
      ]),
      {
        table: 'follow_up_tasks',
        part: '',
        step: APPLY1,
        named: false,
        select: `SELECT * FROM follow_up_tasks WHERE id > ${marks.followUps}`,
      },
      {
        table: 'coverage_snapshots',
        part: '',
        step: 'coverage snapshots',
        named: false,
        select: `SELECT * FROM coverage_snapshots WHERE jurisdiction = '${jurisdiction}' AND campaign_year = ${year}`,
      },
      {
        table: 'subsidy_claims',
        part: '',
        step: 'subsidy claim',
        named: true,
        select: `SELECT * FROM subsidy_claims WHERE id > ${marks.claims}`,
      },
      {
        table: 'subsidy_claim_lines',
        part: '',
        step: 'subsidy claim',
        named: true,
        select: `SELECT * FROM subsidy_claim_lines WHERE claim_id > ${marks.claims}`,
      },
      // the status history the year wrote (0070): its change rows (each naming the batch whose rows record its
      // moves, if any), the per-enrollment entries of the moves no batch row records, and the batch rows a
      // referencing statement did not move; the moves recorded by reference are the levy lines and results
      // above, and each enrollment's opening (its opened_by and opened_as, migration 0078)
      {
        table: 'enrollment_status_changes',
        part: '',
        step: '',
        named: false,
        history: true,
        select: `SELECT * FROM enrollment_status_changes c
                 WHERE c.batch_id = ANY ('${ids(() => true)}'::bigint[])
                    OR c.id IN (SELECT opened_by FROM enrollments WHERE jurisdiction = '${jurisdiction}' AND campaign_year = ${year})
                    OR EXISTS (SELECT 1 FROM enrollment_status_entries h JOIN enrollments e ON e.id = h.enrollment_id
                               WHERE h.change_id = c.id AND e.jurisdiction = '${jurisdiction}' AND e.campaign_year = ${year})`,
      },
      {
        table: 'enrollment_status_entries',
        part: '',
        step: '',
        named: false,
        history: true,
        select: `SELECT h.* FROM enrollment_status_entries h JOIN enrollments e ON e.id = h.enrollment_id
                 WHERE e.jurisdiction = '${jurisdiction}' AND e.campaign_year = ${year}`,
      },
      {
        table: 'enrollment_status_unmoved',
        part: '',
        step: '',
        named: false,
        history: true,
        select: `SELECT u.* FROM enrollment_status_unmoved u JOIN enrollments e ON e.id = u.enrollment_id
                 WHERE e.jurisdiction = '${jurisdiction}' AND e.campaign_year = ${year}`,
      },
    ];
    // the empty tables, then every export (untimed)
    for (const t of new Set(sources.map((s) => s.table))) {
      await createFloorTable(c, t, `floor_${t}`);
      tables.push(`floor_${t}`);
    }
    const files: string[] = [];
    for (const [i, s] of sources.entries()) {
      const file = join(dir, `floor-${i}.copy`);
      files.push(file);
      await exportRows(c, s.select, file);
    }
    const timed = async (
      item: FloorItem['item'],
      step: string,
      named: boolean,
      fn: () => Promise<number>,
    ) => {
      const t = performance.now();
      const rows = await fn();
      items.push({ item, step, rows, seconds: (performance.now() - t) / 1000, named });
    };
    const history = { rows: 0, seconds: 0 };
    for (const [i, s] of sources.entries()) {
      // an identity column takes the exported ids as they are, as the year's rows have them
      const copied = () => copyRows(c, `floor_${s.table}`, files[i]!, s.columns);
      if (s.history) {
        const t = performance.now();
        history.rows += await copied();
        history.seconds += (performance.now() - t) / 1000;
      } else await timed(`COPY ${s.table}${s.part}`, s.step, s.named, copied);
    }
    // the status changes, one statement each, and with each the tallies it moves (every one of the year's
    // tally rows rewritten: a few hundred rows, more than a statement moves)
    const tallies = async () =>
      (await c.query(`UPDATE floor_town_enrollment_tallies SET enrollments = enrollments`)).rowCount ?? 0;
    for (const b of batches) {
      await timed(
        `UPDATE enrollments: round ${b.round}'s outcome`,
        b.round === 1 ? APPLY1 : APPLY_LATER,
        true,
        async () =>
          ((
            await c.query(
              `UPDATE floor_enrollments e SET status = CASE WHEN d.outcome = 'success' THEN 'paid'::enrollment_status ELSE 'failed'::enrollment_status END,
                      failure_class = d.failure_class,
                      benefit_start = CASE WHEN d.outcome = 'success' THEN $2::date END
               FROM floor_deduction_results d
               WHERE d.batch_id = $1 AND e.id = d.enrollment_id`,
              [b.id, `${year}-01-01`],
            )
          ).rowCount ?? 0) + (await tallies()),
      );
    }
    const abandons = await c.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM enrollments WHERE jurisdiction = $1 AND campaign_year = $2 AND status = 'abandoned'`,
      [jurisdiction, year],
    );
    if (Number(abandons.rows[0]!.n) > 0)
      await timed('UPDATE enrollments: abandoned at the cut-off', 'cut-off', true, async () => {
        return (
          ((
            await c.query(
              `UPDATE floor_enrollments SET status = 'abandoned', failure_class = NULL WHERE status = 'failed' AND failure_class = 'personal'`,
            )
          ).rowCount ?? 0) + (await tallies())
        );
      });
    const end = await c.query<{ same: boolean }>(
      `SELECT NOT EXISTS (
         (SELECT status, count(*) FROM floor_enrollments GROUP BY 1
          EXCEPT SELECT status, count(*) FROM enrollments WHERE jurisdiction = $1 AND campaign_year = $2 GROUP BY 1)
         UNION ALL
         (SELECT status, count(*) FROM enrollments WHERE jurisdiction = $1 AND campaign_year = $2 GROUP BY 1
          EXCEPT SELECT status, count(*) FROM floor_enrollments GROUP BY 1)) AS same`,
      [jurisdiction, year],
    );
    return {
      history,
      seconds: items.reduce((s, x) => s + x.seconds, 0),
      namedSeconds: items.filter((x) => x.named).reduce((s, x) => s + x.seconds, 0),
      items,
      sameEnd: end.rows[0]!.same,
    };
  } finally {
    for (const t of tables) await c.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
    await c.end();
  }
}
