/**
 * A roster is a department's whole list: what it leaves out is closed. These tests hold the ledger to the
 * promises around that: an earlier file sent again is current again (A, B, A); a roster that would close
 * most of a department's identities is held for an operator's decision; a file that cannot be read is
 * refused and kept on record; the worker reads only the exchange store, and an upload is a regular file.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStoredFile, storedFileRef } from '../../ledger/exchange-store';
import {
  decideHeldRoster,
  importDepartmentList,
  sha256Hex,
  type ListImportRequest,
} from '../../lists/import-list';
import { uploadFile, UploadRefused } from '../../application/uploads';
import { heldRosters, wouldBeClosed } from '../../client/held-rosters';
import { rosterIsHeld } from '../../domain/policy';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createTestDatabase, type TestDatabase } from '../support/database';

const policy = seedPolicy('kaiping', 2024);
const HEADER = ['序号', '姓名', '性别', '身份证号码', '户籍地址', '联系电话', '特殊群体类别'];
const DPF = 'disabled-persons-federation';

function csv(people: { id_number: string; name: string }[], category = '7'): Buffer {
  const lines = [HEADER, ...people.map((p, i) => [i + 1, p.name, '男', p.id_number, '', '', category])];
  return Buffer.from(lines.map((r) => r.join(',')).join('\r\n') + '\r\n', 'utf8');
}

describe('roster safety: resends, held rosters, refused files, the exchange store', () => {
  let db: TestDatabase;
  let exchangeDir: string;
  let people: { id_number: string; name: string }[];

  const request = (over: Partial<ListImportRequest> = {}): ListImportRequest => ({
    jurisdiction: 'kaiping',
    department: DPF,
    kind: 'roster',
    period: '2023-08-31',
    effectiveOn: '2023-08-31',
    fileName: 'dpf.csv',
    receivedBy: 'clerk-wang',
    ...over,
  });
  const importList = (bytes: Buffer, over: Partial<ListImportRequest> = {}) =>
    importDepartmentList({ pool: db.pool, policy, exchangeDir }, request(over), bytes);
  // the department's open identities, whichever of its rosters opened them
  const openIdentities = async () =>
    (
      await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM identities WHERE department = $1 AND valid_to IS NULL`,
        [DPF],
      )
    ).rows[0]!.n;
  const statuses = async (period: string) =>
    (
      await db.pool.query<{ id: string; status: string; sha256: string }>(
        `SELECT id, status, sha256 FROM submissions WHERE department = $1 AND period = $2 ORDER BY id`,
        [DPF, period],
      )
    ).rows.map((r) => ({ id: Number(r.id), status: r.status, sha256: r.sha256 }));

  beforeAll(async () => {
    db = await createTestDatabase();
    exchangeDir = mkdtempSync(join(tmpdir(), 'medins-exchange-'));
    await generatePopulation(db.pool, policy, {
      scale: 0.01,
      seed: 5,
      defectRate: 0,
      deltaMonths: 0,
      outDir: mkdtempSync(join(tmpdir(), 'medins-pop-')),
    });
    people = (
      await db.pool.query<{ id_number: string; name: string }>(
        `SELECT id_number, name FROM residents WHERE deceased_on IS NULL AND residency = 'hukou'
         AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.resident_id = residents.id) ORDER BY id LIMIT 53`,
      )
    ).rows;
    expect(people).toHaveLength(53);
  }, 300_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('A, then B, then A again: the third import makes A current again, as a submission of its own', async () => {
    const period = '2023-08-01';
    const a = csv(people);
    const b = csv(people.slice(0, 50)); // closes 3 of 53: not held
    const first = await importList(a, { period, effectiveOn: period });
    expect(first.identitiesOpened).toBe(53);
    const second = await importList(b, { period, effectiveOn: period, fileName: 'dpf-corrected.csv' });
    expect(second.held).toBe(false);
    expect(await openIdentities()).toBe(50);
    const third = await importList(a, { period, effectiveOn: period });
    expect(third.alreadyImported).toBe(false);
    expect(third.supersededSubmissionId).toBe(second.submissionId);
    expect(await openIdentities()).toBe(53);
    expect((await statuses(period)).map((s) => s.status)).toEqual(['superseded', 'superseded', 'current']);
    // each crossing has its own entry in the exchange log
    const logged = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM exchange_log WHERE kind = 'roster-list' AND period = $1 AND sha256 = $2`,
      [period, sha256Hex(a)],
    );
    expect(logged.rows[0]!.n).toBe(2);
    // the same file as the current one, once more: nothing changes
    const fourth = await importList(a, { period, effectiveOn: period });
    expect(fourth.alreadyImported).toBe(true);
    expect(fourth.submissionId).toBe(third.submissionId);
  });

  it('a roster dated in the future by a typo, or on a day the calendar lacks, is refused before anything is written', async () => {
    const submissions = async () =>
      (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM submissions`)).rows[0]!.n;
    const before = { submissions: await submissions(), open: await openIdentities() };
    // 2093 for 2023: once in force it would shut out every real roster of the department sent after it
    await expect(
      importList(csv(people), { period: '2093-08-31', effectiveOn: '2093-08-31', fileName: 'dpf-typo.csv' }),
    ).rejects.toThrow(
      /dpf-typo\.csv: the list's as-of date \(--period YYYY-MM-DD\) 2093-08-31 lies in the future/,
    );
    await expect(
      importList(csv(people), { period: '2023-02-30', effectiveOn: '2023-02-28', fileName: 'dpf-feb.csv' }),
    ).rejects.toThrow(
      /dpf-feb\.csv: the list's as-of date \(--period YYYY-MM-DD\) 2023-02-30 is not a day of the calendar/,
    );
    await expect(
      importList(csv(people), { kind: 'delta', period: '2023-13', effectiveOn: '2023-12-01' }),
    ).rejects.toThrow(/month \(--period YYYY-MM\) 2023-13 is not a day of the calendar/);
    expect({ submissions: await submissions(), open: await openIdentities() }).toEqual(before);
  });

  it('a roster that would close 51 of 53 identities is held: nothing closes until an operator confirms it', async () => {
    const period = '2023-08-02';
    await importList(csv(people), { period, effectiveOn: period });
    const short = await importList(csv(people.slice(0, 2)), {
      period,
      effectiveOn: period,
      fileName: 'dpf-short.csv',
    });
    expect(short).toMatchObject({ held: true, wouldClose: 51, openBefore: 53, identitiesClosed: 0 });
    expect(await openIdentities()).toBe(53);
    expect((await statuses(period)).map((s) => s.status)).toEqual(['current', 'held']);
    const heldLog = await db.pool.query(
      `SELECT 1 FROM exchange_log WHERE kind = 'roster-list-held' AND period = $1`,
      [period],
    );
    expect(heldLog.rowCount).toBe(1);

    // the operator sees who would lose the identity: names, and ID numbers masked
    const closing = await wouldBeClosed(db.pool, short.submissionId);
    expect(closing).toHaveLength(51);
    for (const p of closing) expect(p.idNumber).toMatch(/^\d{6}\*{8}\d{3}[\dX]$/);
    const listedAgain = new Set(people.slice(0, 2).map((p) => p.name));
    expect(
      closing.some((p) => listedAgain.has(p.name) && !people.slice(2).some((q) => q.name === p.name)),
    ).toBe(false);
    expect((await heldRosters(db.pool, 'kaiping')).map((h) => h.submissionId)).toEqual([short.submissionId]);

    const decided = await decideHeldRoster(db.pool, short.submissionId, 'confirm', 'operator-li');
    expect(decided).toMatchObject({ department: DPF, closed: 51 });
    expect(await openIdentities()).toBe(2);
    expect((await statuses(period)).map((s) => s.status)).toEqual(['superseded', 'current']);
    const confirmed = await db.pool.query<{ decided_by: string }>(
      `SELECT decided_by FROM submissions WHERE id = $1`,
      [short.submissionId],
    );
    expect(confirmed.rows[0]!.decided_by).toBe('operator-li');
    const log = await db.pool.query(
      `SELECT 1 FROM exchange_log WHERE kind = 'roster-list-confirmed' AND period = $1`,
      [period],
    );
    expect(log.rowCount).toBe(1);
    // a decision is taken once
    await expect(decideHeldRoster(db.pool, short.submissionId, 'reject', 'operator-li')).rejects.toThrow(
      /not held/,
    );
  });

  it('a held roster the operator rejects changes nothing, and the decision is on record', async () => {
    const period = '2023-08-03';
    // the department has 2 open identities (the test above): a roster opening 51 more is held as well
    const full = await importList(csv(people), { period, effectiveOn: period });
    expect(full).toMatchObject({ held: true, wouldOpen: 51, openBefore: 2 });
    await decideHeldRoster(db.pool, full.submissionId, 'confirm', 'operator-zhao');
    const short = await importList(csv(people.slice(0, 3)), {
      period,
      effectiveOn: period,
      fileName: 'dpf-short.csv',
    });
    expect(short.held).toBe(true);
    const decided = await decideHeldRoster(db.pool, short.submissionId, 'reject', 'operator-zhao');
    expect(decided).toMatchObject({ opened: 0, closed: 0 });
    expect(await openIdentities()).toBe(53);
    expect((await statuses(period)).map((s) => s.status)).toEqual(['current', 'rejected']);
    const log = await db.pool.query(
      `SELECT 1 FROM exchange_log WHERE kind = 'roster-list-rejected' AND period = $1`,
      [period],
    );
    expect(log.rowCount).toBe(1);
  });

  it('the safety rule: more than 10% of the open identities or more than 50 people is held; a handful never is', () => {
    expect(rosterIsHeld(policy, 51, 53)).toBe(true);
    expect(rosterIsHeld(policy, 3, 53)).toBe(false);
    expect(rosterIsHeld(policy, 6, 53)).toBe(true);
    expect(rosterIsHeld(policy, 60, 10_000)).toBe(true);
    expect(rosterIsHeld(policy, 40, 10_000)).toBe(false);
    expect(
      rosterIsHeld({ rosterSafety: { maxCloseShare: 1, maxClose: 1000, neverHoldAtOrBelow: 0 } }, 51, 53),
    ).toBe(false);
  });

  it('a file that cannot be read is refused as a ListFileError, kept in refused_files and the exchange log, once', async () => {
    const pdf = Buffer.from('%PDF-1.4\n%\u00e2\u00e3\n1 0 obj\n<<>>\nendobj\n', 'latin1');
    for (let i = 0; i < 2; i += 1) {
      const error = await importList(pdf, { period: '2023-08-04', fileName: '名单.pdf' }).catch(
        (e: unknown) => e,
      );
      expect((error as Error).name).toBe('ListFileError');
      expect((error as Error).message).toContain('名单.pdf');
    }
    const refused = await db.pool.query<{ failure_type: string; reason: string; received_by: string }>(
      `SELECT failure_type, reason, received_by FROM refused_files WHERE period = '2023-08-04'`,
    );
    expect(refused.rows).toEqual([
      {
        failure_type: 'ListFileError',
        reason: expect.stringContaining('名单.pdf'),
        received_by: 'clerk-wang',
      },
    ]);
    const log = await db.pool.query(
      `SELECT 1 FROM exchange_log WHERE kind = 'roster-list-refused' AND period = '2023-08-04'`,
    );
    expect(log.rowCount).toBe(1);
    expect((await statuses('2023-08-04')).length).toBe(0);
  });

  it('the worker reads only its exchange store, by digest: a path outside it is refused', async () => {
    expect(() => storedFileRef(exchangeDir, '/etc/passwd#passwd')).toThrow(
      /only files of its exchange store/,
    );
    const inside = join(exchangeDir, 'ab', 'ab'.repeat(32));
    expect(() =>
      storedFileRef(exchangeDir, `${join(exchangeDir, '..', 'x', 'ab'.repeat(32))}#x.csv`),
    ).toThrow();
    expect(storedFileRef(exchangeDir, `${inside}#名单.csv`)).toEqual({
      sha256: 'ab'.repeat(32),
      fileName: '名单.csv',
    });
    expect(() => storedFileRef(exchangeDir, { sha256: '../../etc/passwd', fileName: 'x' })).toThrow(
      /SHA-256 digest/,
    );
    await expect(
      readStoredFile(db.pool, exchangeDir, { sha256: 'cd'.repeat(32), fileName: 'x.csv' }),
    ).rejects.toThrow(/no file x\.csv/);
  });

  it('an upload is a regular file: a FIFO, a folder or a missing path is refused before anything is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medins-upload-'));
    const fifo = join(dir, 'roster.csv');
    execFileSync('mkfifo', [fifo]);
    await expect(uploadFile(db.pool, fifo, 'clerk')).rejects.toThrow(/special file/);
    mkdirSync(join(dir, 'folder.csv'));
    await expect(uploadFile(db.pool, join(dir, 'folder.csv'), 'clerk')).rejects.toThrow(/a folder/);
    await expect(uploadFile(db.pool, join(dir, 'nope.csv'), 'clerk')).rejects.toBeInstanceOf(UploadRefused);
    const real = join(dir, 'dpf.csv');
    writeFileSync(real, csv(people.slice(0, 5)));
    const ref = await uploadFile(db.pool, real, 'clerk');
    expect(ref.fileName).toBe('dpf.csv');
    // the worker takes the uploaded bytes by digest, and keeps them in its store
    const bytes = await readStoredFile(db.pool, exchangeDir, ref);
    expect(sha256Hex(bytes)).toBe(ref.sha256);
  });
});
