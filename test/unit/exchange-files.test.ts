/**
 * The tax bureau's files travel on disk and are counted, hashed and kept in pieces (issue #23: a levy or
 * result file is as long as the roll, and the worker's memory must not grow with the population).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvDataLinesOfFile } from '../../departments/formats';
import { sha256OfFile, storeExchangeFileFrom } from '../../ledger/exchange-store';

const dir = () => mkdtempSync(join(tmpdir(), 'medins-exchange-files-'));

/** A result file of `n` lines (header first), CRLF or LF, with blank lines among them. */
function resultFile(n: number, eol: string, trailing: boolean): string {
  const lines = ['enrollment_id,outcome,failure_code'];
  for (let i = 1; i <= n; i += 1) {
    lines.push(i % 7 === 0 ? `${i},failure,insufficient-balance` : `${i},success,`);
    if (i % 1000 === 0) lines.push('');
  }
  return lines.join(eol) + (trailing ? eol : '');
}

describe('a result file counted on disk', () => {
  it('counts the data lines of a file many pieces long, blank lines and the header not counted', async () => {
    const d = dir();
    for (const [eol, trailing] of [
      ['\n', true],
      ['\r\n', true],
      ['\n', false],
    ] as const) {
      const path = join(d, `results-${eol.length}-${trailing}.csv`);
      writeFileSync(path, resultFile(120_000, eol, trailing));
      expect(readFileSync(path).length).toBeGreaterThan(2 * 2 ** 20);
      expect(await csvDataLinesOfFile(path)).toBe(120_000);
    }
  });

  it('counts the same whatever the pieces, ending between CR and LF, inside a blank line or on a newline', async () => {
    const path = join(dir(), 'results.csv');
    writeFileSync(path, resultFile(2_500, '\r\n', false).replace(/\r\n\r\n/g, '\r\n\r\n\n\r\n'));
    for (const pieceBytes of [1, 2, 3, 7, 64]) expect(await csvDataLinesOfFile(path, pieceBytes)).toBe(2_500);
  });

  it('a file with only its header, or empty, holds no result lines', async () => {
    const d = dir();
    writeFileSync(join(d, 'header.csv'), 'enrollment_id,outcome,failure_code\n\n');
    writeFileSync(join(d, 'empty.csv'), '');
    expect(await csvDataLinesOfFile(join(d, 'header.csv'))).toBe(0);
    expect(await csvDataLinesOfFile(join(d, 'header.csv'), 1)).toBe(0);
    expect(await csvDataLinesOfFile(join(d, 'empty.csv'))).toBe(0);
  });
});

describe('a file kept in the exchange store from disk', () => {
  it('is named by the SHA-256 of its bytes, and a scratch file is moved in, not copied', async () => {
    const store = dir();
    const scratch = join(dir(), 'levy.csv');
    const text = resultFile(30_000, '\r\n', true);
    writeFileSync(scratch, text);
    const digest = createHash('sha256').update(text).digest('hex');
    expect(await sha256OfFile(scratch)).toEqual({ sha256: digest, byteSize: Buffer.byteLength(text) });
    const kept = await storeExchangeFileFrom(store, scratch, { move: true });
    expect(kept).toEqual({
      storedAt: join(store, digest.slice(0, 2), digest),
      sha256: digest,
      byteSize: Buffer.byteLength(text),
    });
    expect(readFileSync(kept.storedAt, 'utf8')).toBe(text);
    expect(existsSync(scratch)).toBe(false);
  });

  it('a file kept again is left as it is, and a department-owned file is copied, never moved', async () => {
    const store = dir();
    const inbox = join(dir(), 'tax-results-kaiping-batch-1.csv');
    writeFileSync(inbox, 'enrollment_id,outcome,failure_code\n1,success,\n');
    const first = await storeExchangeFileFrom(store, inbox);
    const again = await storeExchangeFileFrom(store, inbox);
    expect(again).toEqual(first);
    expect(existsSync(inbox)).toBe(true);
    expect(readFileSync(first.storedAt, 'utf8')).toBe(readFileSync(inbox, 'utf8'));
  });
});
