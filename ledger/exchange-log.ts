/**
 * The exchange log (交换记录), part of the ledger: one append-only row per file that crossed a boundary,
 * in or out, with its digest; the database chains the rows by hash (migration 0004's trigger), and
 * `audit verify` checks the chain. Every adapter's files, and every report we send, are logged here.
 */
import type pg from 'pg';
import { sha256Hex, storeExchangeFile, storeExchangeFileFrom } from './exchange-store';

export interface ExchangeEntry {
  jurisdiction: string;
  direction: 'in' | 'out';
  /** The department on the other side (`tax`, `finance`, `civil-affairs`, ...). */
  department: string;
  /** What the file is (`levy-data`, `deduction-results`, `subsidy-claim`, `progress-report`, ...). */
  kind: string;
  /** The period or batch it belongs to (`2023-08-31`, `batch-7`). */
  period: string;
  fileName: string;
  /** Data rows the file holds (a header not counted). */
  rowCount: number;
  bytes: Buffer;
  /** Where the exchange store keeps it, or null when it is not kept. */
  storedAt: string | null;
}

/** An exchange-log row as stored: the file's size and digest stand for its content. */
export type ExchangeRecord = Omit<ExchangeEntry, 'bytes'> & { byteSize: number; sha256: string };

/**
 * Appends one row to the exchange log (the database chains it to the previous row). The one writer of
 * `exchange_log`: within a caller's transaction when given its client.
 */
export async function appendToExchangeLog(
  db: pg.Pool | pg.PoolClient,
  record: ExchangeRecord,
): Promise<void> {
  await db.query(
    `INSERT INTO exchange_log (jurisdiction, direction, department, kind, period, file_name, row_count, byte_size, sha256, stored_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      record.jurisdiction,
      record.direction,
      record.department,
      record.kind,
      record.period,
      record.fileName,
      record.rowCount,
      record.byteSize,
      record.sha256,
      record.storedAt,
    ],
  );
}

/** Appends one entry to the exchange log: digest and size of `bytes`, never their content. */
export async function logExchange(db: pg.Pool | pg.PoolClient, entry: ExchangeEntry): Promise<void> {
  const { bytes, ...rest } = entry;
  await appendToExchangeLog(db, { ...rest, byteSize: bytes.length, sha256: sha256Hex(bytes) });
}

/**
 * Keeps a file that crossed a boundary in the exchange store (by digest) and logs the crossing; returns
 * where it is kept.
 */
export async function keepAndLogExchange(
  pool: pg.Pool | pg.PoolClient,
  exchangeDir: string,
  entry: Omit<ExchangeEntry, 'storedAt'>,
): Promise<string> {
  // the digest once: a round 1 levy file is tens of megabytes
  const sha256 = sha256Hex(entry.bytes);
  const storedAt = storeExchangeFile(exchangeDir, entry.bytes, sha256);
  const { bytes, ...rest } = entry;
  await appendToExchangeLog(pool, { ...rest, storedAt, byteSize: bytes.length, sha256 });
  return storedAt;
}

/**
 * Keeps a file on disk that crossed a boundary in the exchange store and logs the crossing, streamed: the
 * file is hashed and copied (with `move`, renamed) piece by piece, never read whole, so a levy or result
 * file of a 7-million-person city costs the worker no memory (issue #23). Returns where it is kept and
 * its digest.
 */
export async function keepAndLogExchangeFile(
  pool: pg.Pool | pg.PoolClient,
  exchangeDir: string,
  entry: Omit<ExchangeEntry, 'storedAt' | 'bytes'> & { path: string; move?: boolean },
): Promise<{ storedAt: string; sha256: string }> {
  const { path, move, ...rest } = entry;
  const kept = await storeExchangeFileFrom(exchangeDir, path, move ? { move } : {});
  await appendToExchangeLog(pool, {
    ...rest,
    byteSize: kept.byteSize,
    sha256: kept.sha256,
    storedAt: kept.storedAt,
  });
  return { storedAt: kept.storedAt, sha256: kept.sha256 };
}
