/**
 * The exchange log (交换记录), part of the ledger: one append-only row per file that crossed a boundary,
 * in or out, with its digest; the database chains the rows by hash (migration 0004's trigger), and
 * `audit verify` checks the chain. Every adapter's files, and every report we send, are logged here.
 */
import type pg from 'pg';
import { sha256Hex, storeExchangeFile } from './registry/import-list';

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

/** Appends one entry to the exchange log: digest and size of `bytes`, never their content. */
export async function logExchange(pool: pg.Pool | pg.PoolClient, entry: ExchangeEntry): Promise<void> {
  await pool.query(
    `INSERT INTO exchange_log (jurisdiction, direction, department, kind, period, file_name, row_count, byte_size, sha256, stored_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      entry.jurisdiction,
      entry.direction,
      entry.department,
      entry.kind,
      entry.period,
      entry.fileName,
      entry.rowCount,
      entry.bytes.length,
      sha256Hex(entry.bytes),
      entry.storedAt,
    ],
  );
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
  const storedAt = storeExchangeFile(exchangeDir, entry.bytes, sha256Hex(entry.bytes));
  await logExchange(pool, { ...entry, storedAt });
  return storedAt;
}
