/**
 * The exchange store: every file that crosses a boundary is kept by its SHA-256 digest, in the folder
 * MEDINS_EXCHANGE_DIR (`<dir>/<first two hex>/<digest>`). Activities name files by digest only; the worker
 * never opens a path a caller supplied. Files an operator hands in reach the store through the ledger: the
 * client uploads the bytes into `uploaded_files` (application/uploads.ts) and names them by digest; the worker
 * takes them from there, checks the digest and keeps them in the folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { copyFile, open, rename, stat, unlink } from 'node:fs/promises';
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

/**
 * Reads the file at `path` front to back into one reused buffer of `pieceBytes` (default 1 MiB), handing
 * each piece to `visit`, which must not keep it: the memory is that one buffer whatever the file's size
 * (no garbage per piece for the collector to catch up with).
 */
export async function forEachPieceOf(
  path: string,
  visit: (piece: Buffer) => void,
  pieceBytes = 1 << 20,
): Promise<void> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(pieceBytes);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, pieceBytes, null);
      if (bytesRead === 0) return;
      visit(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
}

/**
 * The SHA-256 digest (64 lower-case hex) and size in bytes of the file at `path`, read in 1 MiB pieces:
 * a levy or result file is as long as the roll, never held in memory.
 */
export async function sha256OfFile(path: string): Promise<{ sha256: string; byteSize: number }> {
  const hash = createHash('sha256');
  let byteSize = 0;
  await forEachPieceOf(path, (piece) => {
    hash.update(piece);
    byteSize += piece.length;
  });
  return { sha256: hash.digest('hex'), byteSize };
}

/**
 * Keeps the file at `path` in the store by its digest, streamed (the file is never read whole): hashed
 * piece by piece, then copied in; with `move`, renamed in (the caller's own scratch file, e.g. a levy file
 * just written) and a copy already kept is left as it is. Returns where it is kept, its digest and size.
 */
export async function storeExchangeFileFrom(
  dir: string,
  path: string,
  options: { move?: boolean } = {},
): Promise<{ storedAt: string; sha256: string; byteSize: number }> {
  const { sha256, byteSize } = await sha256OfFile(path);
  const storedAt = join(dir, sha256.slice(0, 2), sha256);
  if (resolve(storedAt) === resolve(path)) return { storedAt, sha256, byteSize };
  if (existsSync(storedAt) && (await stat(storedAt)).size === byteSize) {
    if (options.move) await unlink(path);
    return { storedAt, sha256, byteSize };
  }
  mkdirSync(join(dir, sha256.slice(0, 2)), { recursive: true });
  // a partial copy never carries the digest's name: written beside it, then renamed
  const partial = `${storedAt}.${process.pid}.partial`;
  if (options.move) {
    try {
      await rename(path, storedAt);
      return { storedAt, sha256, byteSize };
    } catch {
      // another file system: copied below, then the scratch file removed
    }
  }
  await copyFile(path, partial);
  await rename(partial, storedAt);
  if (options.move) await unlink(path);
  return { storedAt, sha256, byteSize };
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
