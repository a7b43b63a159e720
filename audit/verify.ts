/**
 * `audit verify`: re-checks the exchange log's hash chain (each entry's digest covers the previous one's)
 * and every stored file against the digest logged when it crossed, and names the first broken link.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import type pg from 'pg';

export interface VerifyReport {
  entries: number;
  filesChecked: number;
  /** The first entry whose digest or link to its predecessor does not hold. */
  firstBrokenLink: { seq: number; fileName: string; reason: string } | null;
  /**
   * Stored files that do not match the log: `missing` when the file is gone (e.g. a rehearsal's folder went
   * with its run), otherwise altered (its digest differs). Both fail the verification; only the second is
   * evidence that a file was changed.
   */
  tamperedFiles: { seq: number; fileName: string; storedAt: string; reason: string; missing: boolean }[];
  ok: boolean;
}

/** Every entry of the log with the digest it should have and the digest its predecessor has. */
const CHAIN = `WITH chain AS (
  SELECT seq, file_name, prev_digest, entry_digest, stored_at, sha256,
         coalesce(lag(entry_digest) OVER (ORDER BY seq), repeat('0', 64)) AS expected_prev,
         encode(sha256(convert_to(concat_ws('|', prev_digest, jurisdiction, direction, department, kind, period, file_name,
           row_count::text, byte_size::text, sha256,
           to_char(logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), 'UTF8')), 'hex') AS recomputed
  FROM exchange_log
)`;

/** One exchange-log entry checked: its link to the entry before it, its own digest, and its stored file. */
export interface EntryCheck {
  seq: number;
  ok: boolean;
  /** Why it does not hold, in Chinese for the auditor's trail; absent when it holds. */
  problem?: string;
}

/**
 * Checks the given exchange-log entries (by seq): each entry's link to its predecessor, its own digest, and
 * the stored file against the digest logged when it crossed. Returns one EntryCheck per seq found.
 */
export async function verifyEntries(pool: pg.Pool, seqs: number[]): Promise<Map<number, EntryCheck>> {
  const out = new Map<number, EntryCheck>();
  if (!seqs.length) return out;
  const rows = await pool.query<{
    seq: string;
    linked: boolean;
    intact: boolean;
    stored_at: string | null;
    sha256: string;
  }>(
    `${CHAIN}
     SELECT seq, prev_digest = expected_prev AS linked, recomputed = entry_digest AS intact, stored_at, sha256
     FROM chain WHERE seq = ANY ($1::bigint[])`,
    [seqs],
  );
  for (const r of rows.rows) {
    const seq = Number(r.seq);
    const problems: string[] = [];
    if (!r.linked) problems.push('交换日志链接断开 (does not link to the entry before it)');
    if (!r.intact) problems.push('交换日志条目已被改动 (its contents no longer match its digest)');
    if (r.stored_at) {
      const actual = existsSync(r.stored_at) ? await fileSha256(r.stored_at) : 'missing';
      if (actual === 'missing') problems.push('存档文件缺失');
      else if (actual !== r.sha256)
        problems.push(`存档文件与日志摘要不符（存档文件摘要为 ${actual.slice(0, 12)}…）`);
    }
    out.set(seq, {
      seq,
      ok: problems.length === 0,
      ...(problems.length ? { problem: problems.join('；') } : {}),
    });
  }
  return out;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function verifyExchangeLog(pool: pg.Pool): Promise<VerifyReport> {
  const broken = await pool.query<{ seq: string; file_name: string; reason: string }>(
    `${CHAIN}
     SELECT seq, file_name,
            CASE WHEN prev_digest <> expected_prev THEN 'does not link to the entry before it'
                 ELSE 'its contents no longer match its digest' END AS reason
     FROM chain WHERE prev_digest <> expected_prev OR recomputed <> entry_digest
     ORDER BY seq LIMIT 1`,
  );
  const count = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM exchange_log`);
  const stored = await pool.query<{ seq: string; file_name: string; stored_at: string; sha256: string }>(
    `SELECT seq, file_name, stored_at, sha256 FROM exchange_log WHERE stored_at IS NOT NULL ORDER BY seq`,
  );
  const tamperedFiles: VerifyReport['tamperedFiles'] = [];
  const seen = new Map<string, string>();
  for (const row of stored.rows) {
    let actual = seen.get(row.stored_at);
    if (actual === undefined) {
      actual = existsSync(row.stored_at) ? await fileSha256(row.stored_at) : 'missing';
      seen.set(row.stored_at, actual);
    }
    if (actual !== row.sha256) {
      tamperedFiles.push({
        seq: Number(row.seq),
        fileName: row.file_name,
        storedAt: row.stored_at,
        missing: actual === 'missing',
        reason:
          actual === 'missing'
            ? 'the stored file is missing'
            : `the stored file's digest is ${actual}, the log says ${row.sha256}`,
      });
    }
  }
  const first = broken.rows[0];
  return {
    entries: count.rows[0]!.n,
    filesChecked: seen.size,
    firstBrokenLink: first
      ? { seq: Number(first.seq), fileName: first.file_name, reason: first.reason }
      : null,
    tamperedFiles,
    ok: !first && tamperedFiles.length === 0,
  };
}
