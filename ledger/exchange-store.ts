/**
 * The exchange store: every file that crosses a boundary is kept by its SHA-256 digest, in the folder
 * MEDINS_EXCHANGE_DIR (`<dir>/<first two hex>/<digest>`). Activities name files by digest only; the worker
 * never opens a path a caller supplied. Files an operator hands in reach the store through the ledger: the
 * client uploads the bytes into `uploaded_files` (application/uploads.ts) and names them by digest; the worker
 * takes them from there, checks the digest and keeps them in the folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type pg from 'pg';
import { NotFoundError, RefusedError } from '../domain/failures';

/** The SHA-256 digest of `bytes`, 64 lower-case hex characters: a file's name in the store and the log. */
export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Content-addressed store of every exchanged file: the digest is the name, so a file is kept once.
 * Returns the path it is kept at (`<dir>/<first two hex>/<digest>`).
 */
export function storeExchangeFile(dir: string, bytes: Buffer, sha256: string): string {
  const path = join(dir, sha256.slice(0, 2), sha256);
  if (!existsSync(path)) {
    mkdirSync(join(dir, sha256.slice(0, 2)), { recursive: true });
    writeFileSync(path, bytes);
  }
  return path;
}

/** A file in the exchange store: its digest (64 lower-case hex) and the name its sender gave it. */
export interface StoredFileRef {
  sha256: string;
  fileName: string;
}

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * What a workflow passed as a file: a `StoredFileRef`, or (histories written before files were named by
 * digest) the string `<store path>#<file name>` where the path is a digest inside the store. Anything else,
 * a path outside the store above all, is refused.
 * Throws RefusedError.
 */
export function storedFileRef(exchangeDir: string, file: StoredFileRef | string): StoredFileRef {
  if (typeof file !== 'string') {
    if (!DIGEST.test(file.sha256)) throw new RefusedError('a stored file is named by its SHA-256 digest');
    return { sha256: file.sha256, fileName: basename(file.fileName || file.sha256) };
  }
  const [path = '', name] = file.split('#');
  const full = resolve(path);
  const digest = basename(full);
  if (!DIGEST.test(digest) || dirname(dirname(full)) !== resolve(exchangeDir)) {
    throw new RefusedError('the worker reads only files of its exchange store, named by digest');
  }
  return { sha256: digest, fileName: basename(name ?? digest) };
}

/**
 * The bytes of a stored file: from the store's folder, else from the uploads table (then kept in the folder).
 * The digest is checked either way. Throws NotFoundError when neither has it, RefusedError on a digest
 * mismatch.
 */
export async function readStoredFile(
  pool: pg.Pool,
  exchangeDir: string,
  ref: StoredFileRef,
): Promise<Buffer> {
  const path = join(exchangeDir, ref.sha256.slice(0, 2), ref.sha256);
  let bytes: Buffer | undefined;
  if (existsSync(path)) bytes = readFileSync(path);
  else {
    const r = await pool.query<{ bytes: Buffer }>(`SELECT bytes FROM uploaded_files WHERE sha256 = $1`, [
      ref.sha256,
    ]);
    if (!r.rows[0])
      throw new NotFoundError(`no file ${ref.fileName} (${ref.sha256.slice(0, 12)}…) was uploaded`);
    bytes = r.rows[0].bytes;
  }
  if (sha256Hex(bytes) !== ref.sha256)
    throw new RefusedError(`the stored file ${ref.fileName} does not match its digest`);
  storeExchangeFile(exchangeDir, bytes, ref.sha256);
  return bytes;
}
