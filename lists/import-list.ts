/**
 * Importing a department's list (a roster as of a date, or a monthly delta of additions and removals).
 *
 * Every row below the header ends accepted, rejected with a reason and the field at fault, or skipped as a
 * line that is no person (blank, totals, signature lines; submission_skipped_rows); accepted + rejected +
 * skipped = rows read, enforced by a CHECK. The file is read by openListTable (list-files.ts): the visible
 * sheet whose header matches, the header found below any title lines. Rows are validated as they stream (zod for the request, GB 11643 and the
 * policy for each row) and copied into `submission_rows` with COPY; duplicates, unknown residents and
 * the merge into identities are set-based SQL, all in one transaction with the exchange log entry.
 * The same file twice (same digest) changes nothing; a corrected resend supersedes the earlier file.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { z } from 'zod';
import { addDays, chinaDateOf, compareDates, isIsoDate } from '../domain/dates';
import { identityClosesOn } from '../domain/engine';
import { departmentName } from '../domain/departments';
import { checkIdNumber } from '../domain/id-number';
import { rosterIsHeld, type Policy } from '../domain/policy';
import formats from '../seeds/formats/department-lists.json';
import { detectFile, openListTable, type DetectedFile, type HeaderField } from './list-files';
import {
  cleanCategory,
  cleanIdCell,
  cleanText,
  notAPerson,
  SKIP_REASON_TEXT,
  type SkipReason,
} from './list-cells';
import { inTransaction } from '../ledger/transaction';
import { appendToExchangeLog } from '../ledger/exchange-log';
import { sha256Hex, storeExchangeFile } from '../ledger/exchange-store';
import { RefusedError } from '../domain/failures';
import { redact } from '../domain/personal-data';

export const ListImportRequest = z.object({
  jurisdiction: z.string().min(1),
  department: z.string().min(1),
  kind: z.enum(['roster', 'delta']),
  /** roster: its as-of date YYYY-MM-DD; delta: its month YYYY-MM */
  period: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/),
  /** The day the identities take effect (registration day); default: the roster date, or the import day. */
  effectiveOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  fileName: z.string().min(1),
  receivedBy: z.string().min(1),
});
export type ListImportRequest = z.infer<typeof ListImportRequest>;

export type RejectionCode =
  | 'missing-field'
  | 'invalid-id'
  | 'id-stored-as-number'
  | 'formula-error'
  | 'unknown-category'
  | 'category-not-certified-by-department'
  | 'invalid-action'
  | 'duplicate-in-file'
  | 'not-registered-resident'
  | 'resident-deceased'
  | 'remove-without-identity';

export interface ListImportResult {
  submissionId: number;
  /** true when this exact file is already the current (or held) one: nothing changed. */
  alreadyImported: boolean;
  /**
   * A roster that would close too many of the department's open identities (policy `rosterSafety`): its rows
   * are read and judged, nothing is closed or opened until an operator confirms it (confirmHeldRoster).
   */
  held: boolean;
  /** Held rosters (and every roster): open identities of the department it would close, of how many open. */
  wouldClose?: number;
  openBefore?: number;
  /** A roster: people it lists with no open identity of that category (it opens them). */
  wouldOpen?: number;
  /**
   * Why this roster never took effect: it is older than the department's current roster (it is kept,
   * superseded by that roster, and nothing changed).
   */
  notInForce?: string;
  supersededSubmissionId: number | null;
  format: DetectedFile['format'];
  encoding: string;
  sha256: string;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  /** Lines that are no person (blank, totals, signature and date lines, a lone 序号): not rejected people. */
  rowsSkipped: number;
  rejectedByReason: Record<string, number>;
  skippedByReason: Record<string, number>;
  /** The sheet the list was read from (.xlsx), by its tab name. */
  sheet?: string;
  identitiesOpened: number;
  identitiesClosed: number;
}

type Field = 'idNumber' | 'name' | 'category' | 'action';
const FIELD_HEADERS: Record<Field, string> = {
  idNumber: '身份证号码',
  name: '姓名',
  category: '特殊群体类别',
  action: '变动类型',
};

interface Aliases {
  default: Record<string, string[]>;
  departments: Record<string, Record<string, string[]>>;
  actions: { add: string[]; remove: string[] };
}
const ALIASES = formats as Aliases;

/** The columns a list must have, with the header texts that name them (this department's first). */
export function headerFields(department: string, kind: 'roster' | 'delta'): HeaderField[] {
  const required: Field[] =
    kind === 'delta' ? ['idNumber', 'name', 'category', 'action'] : ['idNumber', 'name', 'category'];
  return required.map((field) => ({
    key: field,
    label: FIELD_HEADERS[field],
    aliases: [
      ...new Set([...(ALIASES.departments[department]?.[field] ?? []), ...(ALIASES.default[field] ?? [])]),
    ],
  }));
}

/** COPY text format: backslash, tab, newline and carriage return escaped; \N is NULL. */
function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (!/[\\\t\n\r]/.test(value)) return value; // the common case: nothing to escape
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

// the exchange store's own functions, kept importable from here for older callers
export { sha256Hex, storeExchangeFile };

export interface ImportDeps {
  pool: pg.Pool;
  policy: Policy;
  exchangeDir: string;
  /** Told how long each step took (the benchmark prints them). */
  onStep?: (step: string, ms: number) => void;
  /**
   * Told after each chunk the reader hands over: the rows below the header read so far (people and skipped
   * lines alike; at the end it equals the result's rowsRead). The console shows it while a list imports.
   */
  onProgress?: (progress: { rowsRead: number }) => void;
}

/**
 * A list's date must be a day of the calendar and must not lie ahead: a roster is a department's whole list
 * as of its date (a delta: of its month), and the newest roster is the one in force, so one dated in the
 * future by a typo (2093-08-31 for 2023-08-31) would take effect over every real roster sent after it, and
 * its identities, which are never deleted, would start on that day. Allowed up to the day after today in
 * China, for a drill whose compressed calendar crosses midnight. Throws RefusedError naming the field
 * (`--period`) and the file; nothing is read or written.
 */
function refuseImpossiblePeriod(request: ListImportRequest): void {
  const day = /^\d{4}-\d{2}$/.test(request.period) ? `${request.period}-01` : request.period;
  const field = request.kind === 'delta' ? 'month (--period YYYY-MM)' : 'as-of date (--period YYYY-MM-DD)';
  if (!isIsoDate(day))
    throw new RefusedError(
      `${request.fileName}: the list's ${field} ${request.period} is not a day of the calendar; nothing was imported`,
    );
  if (!isIsoDate(request.effectiveOn))
    throw new RefusedError(
      `${request.fileName}: the registration day (--effective-on) ${request.effectiveOn} is not a day of the calendar; nothing was imported`,
    );
  const today = chinaDateOf(Date.now());
  if (compareDates(day, addDays(today, 1)) > 0)
    throw new RefusedError(
      `${request.fileName}: the list's ${field} ${request.period} lies in the future (today in China is ${today}); a roster dated ahead would stay in force over every real one sent after it: check the date; nothing was imported`,
    );
}

export async function importDepartmentList(
  deps: ImportDeps,
  rawRequest: ListImportRequest,
  bytes: Buffer,
): Promise<ListImportResult> {
  const request = ListImportRequest.parse(rawRequest);
  refuseImpossiblePeriod(request);
  const { policy } = deps;
  if (request.jurisdiction !== policy.jurisdiction) {
    throw new RefusedError(`the policy is ${policy.jurisdiction}, the list is for ${request.jurisdiction}`);
  }
  if (!policy.departments.some((d) => d.id === request.department)) {
    throw new RefusedError(
      `${request.department} certifies no category in ${policy.jurisdiction} ${policy.year} (departments: ${policy.departments.map((d) => d.id).join(', ')})`,
    );
  }
  const sha256 = sha256Hex(bytes);
  try {
    return await importReadable(deps, request, bytes, sha256);
  } catch (error) {
    // a file that cannot be read as a list is refused, and the refusal kept: never retried, never lost
    if (error instanceof Error && error.name === 'ListFileError')
      await recordRefusal(deps, request, bytes, sha256, error);
    // the ledger's own rules, checked at commit (migration 0054): refused with the ledger's reason, not retried
    if ((error as { code?: string }).code === '55000') throw new RefusedError((error as Error).message);
    throw error;
  }
}

async function importReadable(
  deps: ImportDeps,
  request: ListImportRequest,
  bytes: Buffer,
  sha256: string,
): Promise<ListImportResult> {
  const { policy } = deps;
  const detected = detectFile(bytes, request.fileName);

  let mark = Date.now();
  const step = (name: string) => {
    deps.onStep?.(name, Date.now() - mark);
    mark = Date.now();
  };
  // room for the hash joins of a large list (the default 4 MB pushes the planner to nested loops); like every
  // transaction of inTransaction, without JIT (it took 0.43 s of the judging statement's 2.2 s)
  const outcome = await inTransaction(
    deps.pool,
    async (client) => {
      // One import per department list at a time: a resend racing its original waits, then sees it.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `${request.jurisdiction}/${request.department}/${request.kind}/${request.period}`,
      ]);
      const existing = await client.query<{ id: string }>(
        `SELECT id FROM submissions WHERE jurisdiction = $1 AND department = $2 AND kind = $3 AND period = $4 AND sha256 = $5
           AND status IN ('current', 'held')`,
        [request.jurisdiction, request.department, request.kind, request.period, sha256],
      );
      // the same file as the current (or held) one: nothing is written (the transaction only held the lock).
      // An earlier file sent again after a later one is a resend like any other: it becomes current (A, B, A).
      if (existing.rows[0])
        return { kind: 'already-imported' as const, submissionId: Number(existing.rows[0].id) };
      mark = Date.now();
      const submissionId = Number(
        (
          await client.query<{ id: string }>(
            `SELECT nextval(pg_get_serial_sequence('submissions', 'id')) AS id`,
          )
        ).rows[0]!.id,
      );
      // a file sent while another of the same list is held for a decision replaces the held one
      await client.query(
        `UPDATE submissions SET status = 'superseded', superseded_by = $5
         WHERE jurisdiction = $1 AND department = $2 AND kind = $3 AND period = $4 AND status = 'held'`,
        [request.jurisdiction, request.department, request.kind, request.period, submissionId],
      );
      // held until judged: no identity moves before the rows are read and the roster's effect is known
      await client.query(
        `INSERT INTO submissions (id, jurisdiction, department, kind, period, effective_on, file_name, sha256, byte_size, format, encoding, received_by, status)
         OVERRIDING SYSTEM VALUE VALUES ($12, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'held')`,
        [
          request.jurisdiction,
          request.department,
          request.kind,
          request.period,
          request.effectiveOn,
          request.fileName,
          sha256,
          bytes.length,
          detected.format,
          detected.encoding,
          request.receivedBy,
          submissionId,
        ],
      );

      step('supersede');
      const copied = await copyRows(client, submissionId, request, bytes, detected, policy, deps.onProgress);
      step('parse, validate and COPY rows');
      const judged = await judgeInSql(client, submissionId);
      step('judge and write the rows; join the accepted to residents (SQL)');
      // 000 五(一) "从次月起…停止享受" (the engine's identityClosesOn): a roster closes what it no longer lists
      // with the month of its date; a monthly delta's removals close with the delta's own month (a September
      // removal ends on 09-30, whenever it is reconciled)
      const closesOn = identityClosesOn(
        policy,
        request.kind === 'delta' && /^\d{4}-\d{2}$/.test(request.period)
          ? `${request.period}-01`
          : request.effectiveOn,
      );
      const effect = request.kind === 'roster' ? await rosterEffect(client, request, closesOn) : undefined;
      // a roster older than the department's current one never takes effect: kept, superseded, with the reason
      const stale = request.kind === 'roster' ? await newerCurrentRoster(client, request) : undefined;
      const held =
        !stale &&
        effect !== undefined &&
        rosterIsHeld(policy, effect.wouldClose, effect.openBefore, effect.wouldOpen);
      let superseded: number | null = null;
      let opened = 0;
      let closed = 0;
      if (stale) {
        await client.query(
          `UPDATE submissions SET status = 'superseded', superseded_by = $2, decision_note = $3,
                  would_close = $4, open_before = $5, would_open = $6 WHERE id = $1`,
          [submissionId, stale.id, stale.note, effect!.wouldClose, effect!.openBefore, effect!.wouldOpen],
        );
        await client.query('DROP TABLE listed');
      } else if (held) {
        await client.query(
          `UPDATE submissions SET would_close = $2, open_before = $3, closes_on = $4, would_open = $5 WHERE id = $1`,
          [submissionId, effect.wouldClose, effect.openBefore, closesOn, effect.wouldOpen],
        );
        await client.query('DROP TABLE listed');
      } else {
        if (effect) refuseEndingBeforeStart(submissionId, request, effect);
        superseded = await supersedeCurrent(client, request, submissionId);
        await ledgerRule(() =>
          client.query(
            `UPDATE submissions SET status = 'current', would_close = $2, open_before = $3, would_open = $4 WHERE id = $1`,
            [submissionId, effect?.wouldClose ?? null, effect?.openBefore ?? null, effect?.wouldOpen ?? null],
          ),
        );
        // a roster that closes nothing (counted just now, and no earlier file undone, which could reopen some)
        // skips the close statement: a roster repeating the open identities writes only what it opens
        ({ opened, closed } = await mergeIdentities(client, submissionId, request, closesOn, step, {
          nothingToClose: effect?.wouldClose === 0 && superseded === null,
        }));
      }

      // every row below the header is read: a person accepted or rejected, or a line skipped. Each person's
      // row was written once by list_take_rows with its verdict; the accepted ones are those it handed back
      const c = {
        read: copied.persons + copied.skipped.length,
        accepted: judged.accepted,
        rejected: copied.persons - judged.accepted,
      };
      await client.query(
        `UPDATE submissions SET rows_read = $2, rows_accepted = $3, rows_rejected = $4, rows_skipped = $5 WHERE id = $1`,
        [submissionId, c.read, c.accepted, c.rejected, copied.skipped.length],
      );
      const stored = storeExchangeFile(deps.exchangeDir, bytes, sha256);
      await appendToExchangeLog(client, {
        jurisdiction: request.jurisdiction,
        direction: 'in',
        department: request.department,
        kind: held ? `${request.kind}-list-held` : `${request.kind}-list`,
        period: request.period,
        fileName: request.fileName,
        rowCount: c.read,
        byteSize: bytes.length,
        sha256,
        storedAt: stored,
      });
      return {
        kind: 'imported' as const,
        submissionId,
        superseded,
        opened,
        closed,
        held,
        effect,
        note: stale?.note,
        sheet: copied.sheet,
      };
    },
    // list_take_rows keeps its judged rows for two readers and hashes the file's (ID, category) pairs for
    // duplicates (114 MB for 700,000 rows): at 64MB both spilled to disk
    { workMem: '256MB' },
  );
  if (outcome.kind === 'already-imported') {
    return {
      ...(await submissionSummary(deps.pool, outcome.submissionId)),
      alreadyImported: true,
      supersededSubmissionId: null,
    };
  }
  step('count, store file, log exchange, commit');
  const summary = await submissionSummary(deps.pool, outcome.submissionId);
  return {
    ...summary,
    alreadyImported: false,
    held: outcome.held,
    ...(outcome.effect
      ? {
          wouldClose: outcome.effect.wouldClose,
          openBefore: outcome.effect.openBefore,
          wouldOpen: outcome.effect.wouldOpen,
        }
      : {}),
    ...(outcome.note ? { notInForce: outcome.note } : {}),
    supersededSubmissionId: outcome.superseded,
    identitiesOpened: outcome.opened,
    identitiesClosed: outcome.closed,
    ...(outcome.sheet !== undefined ? { sheet: outcome.sheet } : {}),
  };
}

/** What a roster would do to the department's identities against the ledger as it is now (rosterEffect). */
export interface RosterEffect {
  /** open identities of the department it does not list again */
  wouldClose: number;
  /** open identities of the department */
  openBefore: number;
  /** people it lists with no open identity of that category */
  wouldOpen: number;
  /** of wouldClose, identities that began after the roster's closing day (it is older than they are) */
  endsBeforeStart: number;
}

/**
 * What a roster would do to the department's identities, before it does anything: how many of the open
 * identities it would close (not listed again), how many are open, how many it would open, and how many of
 * those it would close began after `closesOn` (closing them would end them before they began). Reads
 * `listed` (judgeInSql); its (resident, category) pairs are unique (duplicates are rejected), so the
 * people it opens are the listed ones minus the open identities it keeps.
 */
async function rosterEffect(
  client: pg.PoolClient,
  request: Pick<ListImportRequest, 'jurisdiction' | 'department'>,
  closesOn: string,
): Promise<RosterEffect> {
  const r = await client.query<{
    would_close: number;
    open_before: number;
    ends_before_start: number;
    listed: number;
  }>(
    `WITH open AS (
       SELECT i.valid_from, EXISTS (SELECT 1 FROM listed l WHERE l.resident_id = i.resident_id AND l.category = i.category) AS kept
       FROM identities i WHERE i.jurisdiction = $1 AND i.department = $2 AND i.valid_to IS NULL)
     SELECT count(*) FILTER (WHERE NOT kept)::int AS would_close, count(*)::int AS open_before,
            count(*) FILTER (WHERE NOT kept AND valid_from > $3::date)::int AS ends_before_start,
            (SELECT count(*)::int FROM listed WHERE action IN ('listed', 'add')) AS listed
     FROM open`,
    [request.jurisdiction, request.department, closesOn],
  );
  const x = r.rows[0]!;
  return {
    wouldClose: x.would_close,
    openBefore: x.open_before,
    wouldOpen: Math.max(0, x.listed - (x.open_before - x.would_close)),
    endsBeforeStart: x.ends_before_start,
  };
}

/** A roster that would end identities before they began is older than what opened them: refused. */
function refuseEndingBeforeStart(
  submissionId: number,
  request: Pick<ListImportRequest, 'department' | 'period'>,
  effect: RosterEffect,
): void {
  if (effect.endsBeforeStart > 0)
    throw new RefusedError(
      `roster #${submissionId} of ${request.department} as of ${request.period} would end ${effect.endsBeforeStart} identities before they began (they were opened after its date by later lists): it is older than them; reject it, or send a roster as of a later date`,
    );
}

/** The department's current roster of a later date than this one, if any, and the reason this one yields. */
async function newerCurrentRoster(
  client: pg.PoolClient,
  request: Pick<ListImportRequest, 'jurisdiction' | 'department' | 'period'>,
): Promise<{ id: number; note: string } | undefined> {
  const r = await client.query<{ id: string; period: string }>(
    `SELECT id, period FROM submissions WHERE jurisdiction = $1 AND department = $2 AND kind = 'roster'
       AND status = 'current' AND period > $3 ORDER BY period DESC LIMIT 1`,
    [request.jurisdiction, request.department, request.period],
  );
  const newer = r.rows[0];
  return newer
    ? {
        id: Number(newer.id),
        note: `older than the department's current roster as of ${newer.period} (#${newer.id}): it never took effect`,
      }
    : undefined;
}

/** The ledger's own rules (migration 0053, SQLSTATE 55000) refuse with a reason: a RefusedError, never retried. */
async function ledgerRule<T>(statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (error) {
    if ((error as { code?: string }).code === '55000') throw new RefusedError((error as Error).message);
    throw error;
  }
}

/**
 * An operator's decision on a held roster (`lists confirm|reject`). Confirmed: what the roster would do is
 * counted again against the ledger as it is now, in the decision's own transaction, under the department's
 * roster lock (so two decisions never interleave). If the count differs from what the operator was shown
 * (`shown`, by default the figures the held page shows: would close N of M, would open K), nothing is
 * applied: the new figures are stored for the held page and a RefusedError says what changed. Otherwise it
 * supersedes the department's current roster and takes effect as any roster does (identities it no longer
 * lists close, with an end date, with the month of its date, 000 五(一); new ones open), and what it did is
 * checked to equal what was shown. The ledger refuses (migration 0053) a roster older than the department's
 * current one, and one received before its department's subsidy claim was sent (or of a claimed year).
 * Rejected: nothing changes. Either way the decision is logged with the operator's name.
 * Returns the identities opened and closed. Throws RefusedError when the submission is not a held roster,
 * when the ledger refuses it, or when its effect changed since it was shown.
 */
export async function decideHeldRoster(
  pool: pg.Pool,
  submissionId: number,
  decision: 'confirm' | 'reject',
  decidedBy: string,
  shown?: { wouldClose: number; openBefore: number; wouldOpen?: number },
): Promise<{ jurisdiction: string; department: string; period: string; opened: number; closed: number }> {
  const outcome = await inTransaction(
    pool,
    async (client) => {
      const found = await client.query<{
        jurisdiction: string;
        department: string;
        kind: 'roster' | 'delta';
        period: string;
        effective_on: string;
        file_name: string;
        sha256: string;
        byte_size: string;
        rows_read: number;
        stored_at: string | null;
        status: string;
        received_by: string;
        closes_on: string | null;
      }>(
        `SELECT s.jurisdiction, s.department, s.kind, s.period, to_char(s.effective_on, 'YYYY-MM-DD') AS effective_on,
                s.file_name, s.sha256, s.byte_size, s.rows_read, s.status, s.received_by,
                to_char(s.closes_on, 'YYYY-MM-DD') AS closes_on,
                (SELECT stored_at FROM exchange_log x WHERE x.sha256 = s.sha256 AND x.stored_at IS NOT NULL LIMIT 1) AS stored_at
         FROM submissions s WHERE s.id = $1`,
        [submissionId],
      );
      const s = found.rows[0];
      if (!s) throw new RefusedError(`no submission ${submissionId}`);
      // the list's own lock (an import of the same list), then the department's roster lock (any roster of
      // it taking effect: the ledger's trigger takes the same one), then the row itself
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `${s.jurisdiction}/${s.department}/${s.kind}/${s.period}`,
      ]);
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `roster-scope/${s.jurisdiction}/${s.department}`,
      ]);
      const again = await client.query<{
        status: string;
        would_close: number | null;
        open_before: number | null;
        would_open: number | null;
        decision_note: string | null;
      }>(
        `SELECT status, would_close, open_before, would_open, decision_note FROM submissions WHERE id = $1 FOR UPDATE`,
        [submissionId],
      );
      const now = again.rows[0];
      if (now?.status !== 'held')
        throw new RefusedError(
          `submission ${submissionId} is ${now?.status ?? 'gone'}, not held: nothing to decide${now?.decision_note ? ` (${now.decision_note})` : ''}`,
        );
      const request: ListImportRequest = {
        jurisdiction: s.jurisdiction,
        department: s.department,
        kind: s.kind,
        period: s.period,
        effectiveOn: s.effective_on,
        fileName: s.file_name,
        receivedBy: s.received_by,
      };
      // the closing day was decided by the policy when the roster was held
      const closesOn = s.closes_on ?? s.effective_on;
      let opened = 0;
      let closed = 0;
      if (decision === 'confirm') {
        const older = await newerCurrentRoster(client, request);
        if (older)
          throw new RefusedError(
            `roster #${submissionId} of ${s.department} as of ${s.period} is ${older.note.replace(': it never took effect', '')}: it cannot be confirmed, only rejected`,
          );
        await client.query(
          `CREATE TEMP TABLE listed (resident_id bigint, category text, action text) ON COMMIT DROP`,
        );
        await client.query(
          `INSERT INTO listed SELECT p.id, r.category, r.action FROM submission_rows r
           JOIN residents p ON p.jurisdiction = $2 AND p.id_number = r.id_number
           WHERE r.submission_id = $1 AND r.accepted`,
          [submissionId, s.jurisdiction],
        );
        await client.query('ANALYZE listed');
        const effect = await rosterEffect(client, request, closesOn);
        const was = shown ?? {
          wouldClose: now.would_close ?? -1,
          openBefore: now.open_before ?? -1,
          ...(now.would_open !== null ? { wouldOpen: now.would_open } : {}),
        };
        if (
          effect.wouldClose !== was.wouldClose ||
          effect.openBefore !== was.openBefore ||
          (was.wouldOpen !== undefined && effect.wouldOpen !== was.wouldOpen)
        ) {
          // nothing applied; the held page shows what it would do now, and the operator decides on that
          await client.query(
            `UPDATE submissions SET would_close = $2, open_before = $3, would_open = $4 WHERE id = $1`,
            [submissionId, effect.wouldClose, effect.openBefore, effect.wouldOpen],
          );
          await client.query('DROP TABLE listed');
          return {
            kind: 'changed' as const,
            message: `roster #${submissionId} of ${s.department} as of ${s.period} was not applied: the ledger changed since it was shown (shown: would close ${was.wouldClose} of ${was.openBefore} open identities${was.wouldOpen !== undefined ? `, open ${was.wouldOpen}` : ''}; now: would close ${effect.wouldClose} of ${effect.openBefore}, open ${effect.wouldOpen}); look at lists held again and decide on what it would do now`,
          };
        }
        refuseEndingBeforeStart(submissionId, request, effect);
        await supersedeCurrent(client, request, submissionId);
        await ledgerRule(() =>
          client.query(
            `UPDATE submissions SET status = 'current', decided_by = $2, decided_at = now() WHERE id = $1`,
            [submissionId, decidedBy],
          ),
        );
        ({ opened, closed } = await mergeIdentities(client, submissionId, request, closesOn));
        // what it did is what the operator was shown: anything else undoes the decision
        if (opened !== effect.wouldOpen || closed !== effect.wouldClose)
          throw new Error(
            `roster #${submissionId}: confirmation would open ${opened} and close ${closed} where ${effect.wouldOpen} and ${effect.wouldClose} were counted; nothing applied`,
          );
      } else {
        await client.query(
          `UPDATE submissions SET status = 'rejected', decided_by = $2, decided_at = now() WHERE id = $1`,
          [submissionId, decidedBy],
        );
      }
      await appendToExchangeLog(client, {
        jurisdiction: s.jurisdiction,
        direction: 'in',
        department: s.department,
        kind: `${s.kind}-list-${decision === 'confirm' ? 'confirmed' : 'rejected'}`,
        period: s.period,
        fileName: s.file_name,
        rowCount: s.rows_read,
        byteSize: Number(s.byte_size),
        sha256: s.sha256,
        storedAt: s.stored_at,
      });
      return {
        kind: 'decided' as const,
        jurisdiction: s.jurisdiction,
        department: s.department,
        period: s.period,
        opened,
        closed,
      };
    },
    { workMem: '64MB' },
  );
  if (outcome.kind === 'changed') throw new RefusedError(outcome.message);
  const { kind: _kind, ...decided } = outcome;
  return decided;
}

/**
 * Records a file that could not be read as a list (after its import rolled back): the refusal with its
 * masked reason, and the crossing in the exchange log (kind `<kind>-list-refused`). Idempotent per file.
 */
async function recordRefusal(
  deps: ImportDeps,
  request: ListImportRequest,
  bytes: Buffer,
  sha256: string,
  error: Error,
): Promise<void> {
  const stored = storeExchangeFile(deps.exchangeDir, bytes, sha256);
  await inTransaction(deps.pool, async (client) => {
    const r = await client.query(
      `INSERT INTO refused_files (jurisdiction, department, kind, period, file_name, sha256, byte_size, failure_type, reason, received_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
      [
        request.jurisdiction,
        request.department,
        request.kind,
        request.period,
        request.fileName,
        sha256,
        bytes.length,
        error.name,
        redact(error.message).slice(0, 2_000),
        request.receivedBy,
      ],
    );
    if (!r.rowCount) return; // refused before: logged then
    await appendToExchangeLog(client, {
      jurisdiction: request.jurisdiction,
      direction: 'in',
      department: request.department,
      kind: `${request.kind}-list-refused`,
      period: request.period,
      fileName: request.fileName,
      rowCount: 0,
      byteSize: bytes.length,
      sha256,
      storedAt: stored,
    });
  });
}

/**
 * A corrected resend replaces the earlier file of the same department and period: the earlier file is
 * superseded, and its closures of people the resend lists again are undone. Returns the earlier file's id.
 */
async function supersedeCurrent(
  client: pg.PoolClient,
  request: ListImportRequest,
  replacementId: number,
): Promise<number | null> {
  const current = await client.query<{ id: string }>(
    `SELECT id FROM submissions WHERE jurisdiction = $1 AND department = $2 AND kind = $3 AND period = $4 AND status = 'current'`,
    [request.jurisdiction, request.department, request.kind, request.period],
  );
  if (!current.rows[0]) return null;
  const oldId = Number(current.rows[0].id);
  const later = await client.query(
    `SELECT 1 FROM identities i JOIN submissions s ON s.id IN (i.opened_by_submission, i.closed_by_submission)
     WHERE i.jurisdiction = $1 AND i.department = $2 AND s.id > $3 AND s.status = 'current' LIMIT 1`,
    [request.jurisdiction, request.department, oldId],
  );
  if (later.rowCount) {
    throw new RefusedError(
      `cannot supersede ${request.kind} ${request.period} of ${request.department}: later lists of this department have been applied since; send the correction as a delta`,
    );
  }
  // Nothing is deleted (migration 0053; no login may). Reads `listed`.
  if (request.kind === 'roster') {
    // A roster: the identities the earlier file opened stay, and the merge closes, with an end date, those the
    // resend no longer lists; what the earlier file closed and the resend lists again is open again.
    await client.query(
      `UPDATE identities i SET valid_to = NULL, closed_by_submission = NULL
       WHERE i.closed_by_submission = $1
         AND EXISTS (SELECT 1 FROM listed l WHERE l.resident_id = i.resident_id AND l.category = i.category)
         AND NOT EXISTS (SELECT 1 FROM identities o WHERE o.resident_id = i.resident_id AND o.category = i.category AND o.valid_to IS NULL)`,
      [oldId],
    );
  } else {
    // A delta is replaced whole: its removals are undone, and its additions the resend does not add again
    // are withdrawn (closed by the resend as never in force: ending the day before they began, which the
    // identities' CHECK allows for exactly this)
    await client.query(
      `UPDATE identities i SET valid_to = i.valid_from - 1, closed_by_submission = $2
       WHERE i.opened_by_submission = $1 AND i.valid_to IS NULL
         AND NOT EXISTS (SELECT 1 FROM listed l WHERE l.resident_id = i.resident_id AND l.category = i.category AND l.action = 'add')`,
      [oldId, replacementId],
    );
    await client.query(
      `UPDATE identities i SET valid_to = NULL, closed_by_submission = NULL
       WHERE i.closed_by_submission = $1
         AND NOT EXISTS (SELECT 1 FROM identities o WHERE o.resident_id = i.resident_id AND o.category = i.category AND o.valid_to IS NULL)`,
      [oldId],
    );
  }
  // the old file's own row verdicts stay, for the record
  await client.query(`UPDATE submissions SET status = 'superseded', superseded_by = $2 WHERE id = $1`, [
    oldId,
    replacementId,
  ]);
  return oldId;
}

/** What copyRows read: the sheet, the people's rows staged, and the lines that were no person (in order). */
interface CopiedRows {
  sheet?: string;
  /** Rows about a person, staged with the file's own verdict (list_take_rows writes them). */
  persons: number;
  skipped: { rowNo: number; reason: SkipReason }[];
}

/**
 * Reads the list (the sheet and header found by openListTable), classifies every row below the header
 * (a line that is no person is skipped with its reason; a person is accepted or rejected on the file's own
 * checks) and COPYs the people's rows into the temporary table `staged_rows`, which list_take_rows
 * (judgeInSql) writes to submission_rows. Throws ListFileError for a file that cannot be read right,
 * naming the file, sheet, row or line.
 */
async function copyRows(
  client: pg.PoolClient,
  submissionId: number,
  request: ListImportRequest,
  bytes: Buffer,
  detected: DetectedFile,
  policy: Policy,
  onProgress?: ImportDeps['onProgress'],
): Promise<CopiedRows> {
  const categories = new Map<string, { id: string; department: string }>();
  for (const c of policy.categories) {
    categories.set(c.id, c);
    categories.set(c.name, c);
  }
  const addWords = new Set(ALIASES.actions.add);
  const removeWords = new Set(ALIASES.actions.remove);
  const file = request.fileName;
  const table = await openListTable(bytes, file, detected, headerFields(request.department, request.kind));
  const columns = table.columns as Record<Field, number>;
  const fieldKeys = Object.keys(columns) as Field[];
  const skipped: CopiedRows['skipped'] = [];

  // a plain function, not a closure made per row (700,000 of those cost 0.1 s)
  const cellText = (cells: string[], column: number) => cleanText(cells[column] ?? '');

  // rows read below the header: counted here, and only here (an upload's progress can be told from here)
  let rowsRead = 0;
  async function* lines(): AsyncGenerator<string> {
    let buffered: string[] = [];
    for await (const batch of table.rows()) {
      rowsRead += batch.length;
      onProgress?.({ rowsRead });
      for (const row of batch) {
        const idCell = cleanIdCell(row.cells[columns.idNumber] ?? '');
        const idRaw = idCell.text;
        const name = cellText(row.cells, columns.name);
        const categoryRaw = cleanCategory(row.cells[columns.category] ?? '');
        const skip = notAPerson(row.cells, idRaw, name, categoryRaw);
        if (skip) {
          skipped.push({ rowNo: row.rowNo, reason: skip });
          continue;
        }
        let action: 'listed' | 'add' | 'remove' = 'listed';
        let verdict: { code: RejectionCode; field: string; reason: string } | undefined;
        let idNumber: string | null = idRaw || null;

        // the .xlsx reader sets the flags only where true: most rows have none to look through
        const errorIn = row.errors?.length ? fieldKeys.find((f) => row.errors![columns[f]]) : undefined;
        if (errorIn) {
          verdict = {
            code: 'formula-error',
            field: FIELD_HEADERS[errorIn],
            reason: `公式结果为错误值${(row.cells[columns[errorIn]] ?? '').slice(0, 8)}，请填写实际内容`,
          };
          idNumber = null;
        } else if (!idRaw)
          verdict = {
            code: 'missing-field',
            field: FIELD_HEADERS.idNumber,
            reason: '身份证号码为空',
          };
        else if (
          idCell.kind === 'stored-as-number' ||
          (idRaw.length >= 16 && columns.idNumber < row.numeric.length && row.numeric[columns.idNumber])
        ) {
          verdict = {
            code: 'id-stored-as-number',
            field: FIELD_HEADERS.idNumber,
            reason: '身份证号码被存为数字，末几位已丢失；请将该列设为文本后重新填写',
          };
        } else {
          const check = checkIdNumber(idRaw, request.effectiveOn);
          if (!check.ok)
            verdict = { code: 'invalid-id', field: FIELD_HEADERS.idNumber, reason: check.message };
          else idNumber = check.idNumber;
        }
        if (!verdict && !name)
          verdict = {
            code: 'missing-field',
            field: FIELD_HEADERS.name,
            reason: '姓名为空',
          };
        let categoryId: string | null = categoryRaw || null;
        if (!verdict) {
          const category = categories.get(categoryRaw);
          if (!categoryRaw)
            verdict = {
              code: 'missing-field',
              field: FIELD_HEADERS.category,
              reason: '特殊群体类别为空',
            };
          else if (!category)
            verdict = {
              code: 'unknown-category',
              field: FIELD_HEADERS.category,
              reason: `“${categoryRaw.slice(0, 40)}”不是${policy.name}${policy.year}年度方案中的类别 (not a category of the plan)`,
            };
          else if (category.department !== request.department) {
            verdict = {
              code: 'category-not-certified-by-department',
              field: FIELD_HEADERS.category,
              // the departments by the plan's own names (民政局, 退役军人事务局): the reason goes back to the clerk
              reason: `类别${category.id}由${departmentName(category.department, policy)}核定，不由${departmentName(request.department, policy)}报送 (certified by another department)`,
            };
          } else categoryId = category.id;
        }
        if (!verdict && request.kind === 'delta') {
          const a = cellText(row.cells, columns.action);
          if (addWords.has(a)) action = 'add';
          else if (removeWords.has(a)) action = 'remove';
          else
            verdict = {
              code: 'invalid-action',
              field: FIELD_HEADERS.action,
              reason: `变动类型“${a.slice(0, 20)}”应为“新增”或“减员” (must be an addition or a removal)`,
            };
        } else if (request.kind === 'delta') {
          const a = cellText(row.cells, columns.action);
          action = removeWords.has(a) ? 'remove' : 'add';
        }
        // an ID cell of a rejected row is kept only as far as an ID goes (a 1 MiB cell is not kept whole)
        if (verdict && idNumber && idNumber.length > 40) idNumber = idNumber.slice(0, 40);
        buffered.push(
          [
            String(row.rowNo),
            copyField(idNumber),
            copyField(name ? name.slice(0, 200) : null),
            copyField(categoryId ? categoryId.slice(0, 60) : null),
            action,
            verdict ? 'f' : 't',
            copyField(verdict?.code),
            copyField(verdict?.field),
            copyField(verdict?.reason),
          ].join('\t') + '\n',
        );
      }
      if (buffered.length >= 8000) {
        yield buffered.join('');
        buffered = [];
      }
    }
    if (buffered.length) yield buffered.join('');
  }

  // PostgreSQL refuses COPY FROM into a table under row-level security (every login's case since migration
  // 0021): the rows are COPYed into a staging table of this transaction, which list_take_rows (0045) judges
  // and writes to the login's own submission in one pass. Only this session sees a temporary table; the
  // function runs as the schema's owner, who is given its rows to read.
  await client.query(
    `CREATE TEMP TABLE staged_rows (row_no integer, id_number text, name text, category text, action text,
       accepted boolean, reason_code text, field text, reason text) ON COMMIT DROP`,
  );
  await client.query('GRANT SELECT ON staged_rows TO PUBLIC');
  const copy = client.query(
    copyFrom(
      `COPY staged_rows (row_no, id_number, name, category, action, accepted, reason_code, field, reason) FROM STDIN`,
    ),
  );
  await pipeline(Readable.from(lines()), copy);
  // the planner sizes list_take_rows' joins from these statistics (a temporary table has none of its own)
  await client.query('ANALYZE staged_rows');
  const persons = Number(copy.rowCount);
  if (persons + skipped.length !== rowsRead)
    throw new Error(`${file}: ${rowsRead} rows read, ${persons} staged and ${skipped.length} skipped`);
  for (let i = 0; i < skipped.length; i += 10_000) {
    const page = skipped.slice(i, i + 10_000);
    await client.query(
      `INSERT INTO submission_skipped_rows (submission_id, row_no, reason_code, reason)
       SELECT $1, r, c, t FROM unnest($2::int[], $3::text[], $4::text[]) AS x(r, c, t)`,
      [
        submissionId,
        page.map((s) => s.rowNo),
        page.map((s) => s.reason),
        page.map((s) => SKIP_REASON_TEXT[s.reason]),
      ],
    );
  }
  return { sheet: table.sheet, persons, skipped };
}

/**
 * The rejections that need the whole file or the registry (duplicates, unknown and deceased residents,
 * removals of someone not listed), in one pass over the staged rows: list_take_rows (migration 0045) joins
 * each row to the register once, decides its verdict in the order below the file's own, writes it to
 * submission_rows once, and hands back the accepted ones as (resident, category, action), kept in the temp
 * table `listed` for the merge. (Until 0045 the rows were inserted, analyzed, read back, joined and the
 * rejected ones updated: list_match_rows, 0021.) It runs as the schema's owner: a department never reads
 * residents. Returns how many rows were accepted.
 */
async function judgeInSql(client: pg.PoolClient, submissionId: number): Promise<{ accepted: number }> {
  await client.query(
    `CREATE TEMP TABLE listed (resident_id bigint, category text, action text) ON COMMIT DROP`,
  );
  const taken = await client.query(`INSERT INTO listed SELECT * FROM list_take_rows($1)`, [submissionId]);
  await client.query('DROP TABLE staged_rows');
  // no index: the merge's joins are hash joins over the whole list
  await client.query('ANALYZE listed');
  return { accepted: taken.rowCount ?? 0 };
}

/**
 * A roster is the department's whole list: identities it no longer lists end with the month (the
 * subsidised standard stops from the next month, 000 五(一)), new ones open on the effective day.
 * A delta adds and removes. Reads the accepted rows from `listed` (judgeInSql).
 */
async function mergeIdentities(
  client: pg.PoolClient,
  submissionId: number,
  request: ListImportRequest,
  /** The last day a removed identity counts (`identityClosesOn`, the engine's rule: 000 五(一)). */
  closesOn: string,
  step: (name: string) => void = () => undefined,
  /** The caller has counted no identity this roster closes (rosterEffect): the close statement is skipped. */
  options: { nothingToClose?: boolean } = {},
): Promise<{ opened: number; closed: number }> {
  const closing = `$2::date`;
  const closed = options.nothingToClose
    ? { rowCount: 0 }
    : request.kind === 'roster'
      ? await client.query(
          `UPDATE identities i SET valid_to = greatest(${closing}, i.valid_from - 1), closed_by_submission = $1
           WHERE i.jurisdiction = $3 AND i.department = $4 AND i.valid_to IS NULL
             AND NOT EXISTS (SELECT 1 FROM listed l WHERE l.resident_id = i.resident_id AND l.category = i.category)`,
          [submissionId, closesOn, request.jurisdiction, request.department],
        )
      : await client.query(
          `UPDATE identities i SET valid_to = greatest(${closing}, i.valid_from - 1), closed_by_submission = $1
           FROM listed l
           WHERE l.action = 'remove' AND i.resident_id = l.resident_id AND i.category = l.category AND i.valid_to IS NULL`,
          [submissionId, closesOn],
        );
  step('  close identities no longer listed');
  const opened = await client.query(
    `INSERT INTO identities (jurisdiction, resident_id, category, department, valid_from, opened_by_submission)
     SELECT $2, l.resident_id, l.category, $4, $3::date, $1
     FROM listed l
     WHERE l.action IN ('listed', 'add')
       AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = l.resident_id AND i.category = l.category AND i.valid_to IS NULL)`,
    [submissionId, request.jurisdiction, request.effectiveOn, request.department],
  );
  // fresh statistics for what was loaded: the next roster's close step planned a nested loop over every
  // open identity against its whole list when the planner still believed identities held none (a 100,000-
  // row roster after a 700,000-row one ran for more than 15 minutes). ANALYZE is the table owner's: its
  // analyze_ledger (migration 0021) runs it for any login
  if ((opened.rowCount ?? 0) > 0) await client.query(`SELECT analyze_ledger('{identities}')`);
  step('  open new identities');
  await client.query('DROP TABLE listed');
  return { opened: opened.rowCount ?? 0, closed: closed.rowCount ?? 0 };
}

async function submissionSummary(
  pool: pg.Pool,
  submissionId: number,
): Promise<Omit<ListImportResult, 'alreadyImported' | 'supersededSubmissionId'>> {
  const s = await pool.query<{
    format: 'xlsx' | 'csv';
    encoding: string;
    sha256: string;
    rows_read: number;
    rows_accepted: number;
    rows_rejected: number;
    rows_skipped: number;
    status: string;
    would_close: number | null;
    open_before: number | null;
  }>(
    `SELECT format, encoding, sha256, rows_read, rows_accepted, rows_rejected, rows_skipped, status, would_close, open_before FROM submissions WHERE id = $1`,
    [submissionId],
  );
  const reasons = await pool.query<{ reason_code: string; n: number }>(
    `SELECT reason_code, count(*)::int AS n FROM submission_rows WHERE submission_id = $1 AND NOT accepted GROUP BY reason_code ORDER BY reason_code`,
    [submissionId],
  );
  const skipped = await pool.query<{ reason_code: string; n: number }>(
    `SELECT reason_code, count(*)::int AS n FROM submission_skipped_rows WHERE submission_id = $1 GROUP BY reason_code ORDER BY reason_code`,
    [submissionId],
  );
  const opened = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM identities WHERE opened_by_submission = $1`,
    [submissionId],
  );
  const closed = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM identities WHERE closed_by_submission = $1`,
    [submissionId],
  );
  const row = s.rows[0]!;
  return {
    submissionId,
    format: row.format,
    encoding: row.encoding,
    sha256: row.sha256,
    rowsRead: row.rows_read,
    rowsAccepted: row.rows_accepted,
    rowsRejected: row.rows_rejected,
    rowsSkipped: row.rows_skipped,
    rejectedByReason: Object.fromEntries(reasons.rows.map((r) => [r.reason_code, r.n])),
    held: row.status === 'held',
    ...(row.would_close !== null ? { wouldClose: row.would_close } : {}),
    ...(row.open_before !== null ? { openBefore: row.open_before } : {}),
    skippedByReason: Object.fromEntries(skipped.rows.map((r) => [r.reason_code, r.n])),
    identitiesOpened: opened.rows[0]!.n,
    identitiesClosed: closed.rows[0]!.n,
  };
}
