/**
 * Handing a file to the campaign: the operator's command reads the file on the operator's machine, refuses
 * anything but a regular file of a sane size (a FIFO, a device, a folder), and uploads the bytes into the
 * ledger's `uploaded_files`, named by SHA-256. The Update then carries the digest only: the worker never
 * opens a path someone typed, and a worker on another machine gets the same bytes.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type pg from 'pg';
import type { StoredFileRef } from '../ledger/exchange-store';

/** The largest list a department sends (a 700,000-row roster is about 60 MB as CSV, 40 MB as .xlsx). */
export const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

export class UploadRefused extends Error {
  override name = 'UploadRefused';
}

/**
 * The bytes of the list file at `path`, read whole. Throws UploadRefused, naming the path, for a missing
 * file, a folder, a special file (FIFO, socket, device) or a file over MAX_UPLOAD_BYTES, before reading it.
 */
export function readListFile(path: string): Buffer {
  let kind: string;
  try {
    const link = lstatSync(path);
    const target = link.isSymbolicLink() ? statSync(path) : link;
    kind = target.isFile()
      ? 'file'
      : target.isDirectory()
        ? 'a folder'
        : 'a special file (FIFO, socket or device)';
    if (target.isFile() && target.size > MAX_UPLOAD_BYTES)
      throw new UploadRefused(
        `${basename(path)}: ${target.size} bytes is more than a department list can be (${MAX_UPLOAD_BYTES} bytes at most)`,
      );
  } catch (error) {
    if (error instanceof UploadRefused) throw error;
    throw new UploadRefused(`${path}: no such file`);
  }
  if (kind !== 'file') throw new UploadRefused(`${path} is ${kind}, not a list file`);
  return readFileSync(path);
}

/**
 * Reads `path` and uploads it; returns its digest and name. Idempotent (the same bytes are stored once).
 * Throws UploadRefused for a missing file, a special file or a file over MAX_UPLOAD_BYTES (readListFile).
 */
export async function uploadFile(pool: pg.Pool, path: string, uploadedBy: string): Promise<StoredFileRef> {
  const bytes = readListFile(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await pool.query(
    `INSERT INTO uploaded_files (sha256, file_name, byte_size, bytes, uploaded_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (sha256) DO NOTHING`,
    [sha256, basename(path), bytes.length, bytes, uploadedBy],
  );
  return { sha256, fileName: basename(path) };
}
