/**
 * `lists import | status | rejections` and `population generate`: the registry's inbound lists and the
 * synthetic population, from the command line.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { importList, listSubmissions, reportPathFor, type ImportedList } from '../application/lists';
import {
  exportHouseholdForm,
  exportLedgers,
  exportLevyData,
  exportMobilisationList,
  exportMobilisationPdf,
  type Reader,
} from '../documents/exports';
import { writeMaskedRejections, writeRejectionReport } from '../documents/rejection-report';
import { userConnection } from '../provision/postgres';
import { stderrLogger } from '../infra/support';
import { seedPolicy } from '../seeds';
import { exchangeDirOf, loadConfig } from '../worker/config';

/**
 * The ledger under the person's own login (see {@link userConnection}: DATABASE_URL, PGSERVICE, PGHOST/PGUSER/
 * PGPASSWORD or ~/.pgpass, else the local cluster as PGUSER, default op_demo); never the admin connection, and
 * so never a migration: a ledger without its schema is an error naming `db migrate`.
 * Throws when the login fails, naming the user and how to give one's own.
 */
export async function openLedger(): Promise<{ pool: pg.Pool; exchangeDir: string }> {
  const config = loadConfig();
  const connection = await userConnection(config.MEDINS_DATABASE, 'op_demo', stderrLogger);
  const pool = new pg.Pool({ ...connection, max: 4 });
  try {
    const schema = await pool.query<{ ready: boolean }>(
      `SELECT to_regclass('public.submissions') IS NOT NULL AS ready`,
    );
    if (!schema.rows[0]?.ready)
      throw new Error(
        'the ledger has no schema yet: an administrator runs `npm run cli -- db migrate` (or starts the worker) first',
      );
  } catch (error) {
    await pool.end();
    const code = (error as { code?: string }).code;
    if (code === '3D000')
      throw new Error(
        `cannot open the ledger: ${(error as Error).message}. An administrator creates and migrates it: MEDINS_DATABASE=<its name> npm run db:migrate`,
      );
    if (code === '28P01' || code === '28000')
      throw new Error(
        `cannot open the ledger as ${connection.user ?? config.PGUSER ?? 'the given user'}: ${(error as Error).message}. ` +
          'Log in as yourself: PGUSER and PGPASSWORD, ~/.pgpass, PGSERVICE or DATABASE_URL (an administrator creates your login with `users add`)',
      );
    throw error;
  }
  return { pool, exchangeDir: exchangeDirOf(config) };
}

export function formatImport(r: ImportedList): string {
  const reasons = Object.entries(r.rejectedByReason)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const skipped = Object.entries(r.skippedByReason ?? {})
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return (
    [
      `submission ${r.submissionId}${r.alreadyImported ? ' (this exact file was imported before: nothing changed)' : ''}${r.supersededSubmissionId ? `, superseding ${r.supersededSubmissionId}` : ''}`,
      `${r.format} ${r.encoding}, sha256 ${r.sha256}`,
      ...(r.sheet !== undefined ? [`sheet “${r.sheet}”`] : []),
      `rows read ${r.rowsRead} = accepted ${r.rowsAccepted} + rejected ${r.rowsRejected}${reasons ? ` (${reasons})` : ''} + skipped ${r.rowsSkipped ?? 0}${skipped ? ` (${skipped})` : ''}`,
      r.held
        ? `HELD: it would close ${r.wouldClose} of the department's ${r.openBefore} open identities and open ${r.wouldOpen ?? 0}; nothing is opened or closed until an operator runs lists confirm (or lists reject) --submission ${r.submissionId}`
        : r.notInForce
          ? `NOT IN FORCE: ${r.notInForce}; nothing changed`
          : r.alreadyImported
            ? `identities unchanged by this import (submission ${r.submissionId} opened ${r.identitiesOpened} and closed ${r.identitiesClosed} when it was imported)`
            : `identities opened ${r.identitiesOpened}, closed ${r.identitiesClosed}`,
      ...(r.rejectionReport ? [`rejection report: ${r.rejectionReport}`] : []),
    ].join('\n') + '\n'
  );
}

export async function importCommand(
  file: string,
  o: {
    jurisdiction: string;
    year: number;
    department: string;
    kind: 'roster' | 'delta';
    period: string;
    effectiveOn?: string;
    rejections?: string;
  },
  receivedBy: string,
): Promise<ImportedList> {
  const { pool, exchangeDir } = await openLedger();
  try {
    return await importList(
      { pool, exchangeDir },
      {
        policy: seedPolicy(o.jurisdiction, o.year),
        path: file,
        department: o.department,
        kind: o.kind,
        period: o.period,
        ...(o.effectiveOn ? { effectiveOn: o.effectiveOn } : {}),
        ...(o.rejections ? { rejections: o.rejections } : {}),
        receivedBy,
      },
    );
  } finally {
    await pool.end();
  }
}

export async function statusCommand(jurisdiction?: string): Promise<string> {
  const { pool } = await openLedger();
  try {
    const rows = await listSubmissions(pool, { jurisdiction });
    if (!rows.length) return 'no lists received yet\n';
    return (
      rows
        .map(
          (s) =>
            `${s.id}\t${s.jurisdiction}\t${s.department}\t${s.kind} ${s.period}\t${s.status}\tread ${s.rowsRead} = accepted ${s.rowsAccepted} + rejected ${s.rowsRejected} + skipped ${s.rowsSkipped}\t${s.fileName}\t${s.receivedAt.toISOString()}`,
        )
        .join('\n') + '\n'
    );
  } finally {
    await pool.end();
  }
}

/**
 * Writes a submission's rejection report; returns the rows written and the path, which is `out` with its
 * extension made the report's format where it named the other (`reportPathFor`). `masked` (an auditor's
 * report): a CSV built from the masked view only (row, masked ID, category, action, field, reason), never
 * from the department's file with its full numbers, names, addresses and phones; otherwise the department's
 * own format.
 */
export async function rejectionsCommand(
  submissionId: number,
  out: string,
  masked = false,
): Promise<{ rows: number; path: string }> {
  const { pool } = await openLedger();
  try {
    if (masked) {
      const path = reportPathFor(out, 'csv');
      return { rows: await writeMaskedRejections(pool, submissionId, path), path };
    }
    const s = await pool.query<{ format: 'xlsx' | 'csv' }>('SELECT format FROM submissions WHERE id = $1', [
      submissionId,
    ]);
    const path = s.rows[0] ? reportPathFor(out, s.rows[0].format) : out;
    return { rows: (await writeRejectionReport(pool, submissionId, path)).rows, path };
  } finally {
    await pool.end();
  }
}

export type ExportOptions = {
  jurisdiction: string;
  year: number;
  out: string;
  batch?: number;
  town?: string;
  household?: number;
  reader?: Reader;
  /** Also print 附件2 to this PDF (mobilisation only). */
  pdf?: string;
};

/** Writes the export to `o.out` (and, for 附件2, the PDF to `o.pdf`) under the person's login; returns the rows. */
export async function exportCommand(
  what: 'levy' | 'mobilisation' | 'household' | 'ledgers',
  o: ExportOptions,
): Promise<number> {
  if (o.pdf && what !== 'mobilisation') throw new Error('--pdf is for export mobilisation (附件2) only');
  const { pool } = await openLedger();
  try {
    const policy = seedPolicy(o.jurisdiction, o.year);
    const reader = o.reader ? { reader: o.reader } : {};
    if (what === 'levy') {
      if (!o.batch) throw new Error('--batch is required');
      const r = await exportLevyData(pool, { batchId: o.batch, ...reader });
      writeFileSync(o.out, r.bytes);
      return r.rows;
    }
    if (what === 'mobilisation') {
      const options = { ...(o.town ? { townName: o.town } : {}), ...reader };
      const r = await exportMobilisationList(pool, policy, options);
      writeFileSync(o.out, r.bytes);
      if (o.pdf) writeFileSync(o.pdf, (await exportMobilisationPdf(pool, policy, options)).bytes);
      return r.rows;
    }
    if (what === 'ledgers') {
      const r = await exportLedgers(pool, policy, reader);
      writeFileSync(o.out, r.bytes);
      return Object.values(r.rows).reduce((a, b) => a + b, 0);
    }
    if (!o.household) throw new Error('--household is required');
    const r = await exportHouseholdForm(pool, policy, { householdId: o.household, ...reader });
    writeFileSync(o.out, r.bytes);
    return r.members;
  } finally {
    await pool.end();
  }
}
