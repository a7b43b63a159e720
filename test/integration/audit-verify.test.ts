import { appendFileSync, mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyExchangeLog } from '../../audit/verify';
import { seedPolicy } from '../../seeds';
import type { PopulationManifest } from '../../simulation/population';
import { populationWithRosters } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('audit verify: the exchange log’s hash chain and the stored files', () => {
  let db: TestDatabase;
  let manifest: PopulationManifest;
  const policy = seedPolicy('kaiping', 2024);
  const exchangeDir = mkdtempSync(join(tmpdir(), 'medins-audit-'));

  beforeAll(async () => {
    db = await createTestDatabase();
    manifest = await populationWithRosters(db, policy, { scale: 0.001, seed: 4, defectRate: 0, exchangeDir });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('an untouched log verifies: every link holds and every stored file matches', async () => {
    const r = await verifyExchangeLog(db.pool);
    expect(r).toMatchObject({
      entries: manifest.files.length,
      filesChecked: manifest.files.length,
      firstBrokenLink: null,
      tamperedFiles: [],
      ok: true,
    });
  });

  it('one byte appended to a stored file makes verify fail and name that file', async () => {
    const target = (
      await db.pool.query<{ seq: string; file_name: string; stored_at: string }>(
        `SELECT seq, file_name, stored_at FROM exchange_log ORDER BY seq LIMIT 1 OFFSET 1`,
      )
    ).rows[0]!;
    appendFileSync(target.stored_at, 'x');
    const r = await verifyExchangeLog(db.pool);
    expect(r.ok).toBe(false);
    expect(r.tamperedFiles).toEqual([
      expect.objectContaining({ seq: Number(target.seq), fileName: target.file_name, missing: false }),
    ]);
  });

  it('a stored file that is gone fails verify as missing, told apart from an altered one', async () => {
    const target = (
      await db.pool.query<{ seq: string; file_name: string; stored_at: string }>(
        `SELECT seq, file_name, stored_at FROM exchange_log ORDER BY seq LIMIT 1 OFFSET 2`,
      )
    ).rows[0]!;
    renameSync(target.stored_at, `${target.stored_at}.moved`);
    try {
      const r = await verifyExchangeLog(db.pool);
      expect(r.ok).toBe(false);
      expect(r.tamperedFiles).toContainEqual(
        expect.objectContaining({
          seq: Number(target.seq),
          missing: true,
          reason: 'the stored file is missing',
        }),
      );
      // the file altered in the test before is still told as altered, not missing
      expect(r.tamperedFiles.filter((f) => !f.missing)).toHaveLength(1);
    } finally {
      renameSync(`${target.stored_at}.moved`, target.stored_at);
    }
  });

  it('an entry edited behind the append-only trigger breaks the chain there, and verify names it', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('ALTER TABLE exchange_log DISABLE TRIGGER exchange_log_append_only');
      await client.query(
        `UPDATE exchange_log SET row_count = row_count + 1 WHERE seq = (SELECT min(seq) + 2 FROM exchange_log)`,
      );
      await client.query('ALTER TABLE exchange_log ENABLE TRIGGER exchange_log_append_only');
    } finally {
      client.release();
    }
    const third = (await db.pool.query<{ seq: string }>(`SELECT min(seq) + 2 AS seq FROM exchange_log`))
      .rows[0]!;
    const r = await verifyExchangeLog(db.pool);
    expect(r.firstBrokenLink).toEqual(
      expect.objectContaining({ seq: Number(third.seq), reason: 'its contents no longer match its digest' }),
    );
  });
});
