/**
 * `audit person` on a rehearsed Kaiping year with monthly deltas: for persons sampled from the ledger, the
 * trail's amounts, dates and rules equal the ledger and the engine; an altered amount or stored file is
 * named as a mismatch; a reader who is not an operator gets the ID number masked by the database.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTrail, personTrail, trailHtml } from '../../client/audit-person';
import { contributionFor } from '../../domain/engine';
import { seedPolicy } from '../../seeds';
import { rehearse } from '../support/campaign';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { timeSkippingEnvironment } from '../support/temporal';

describe('audit person: one person’s year, in Chinese, cross-checked', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  const policy = seedPolicy('kaiping', 2024);
  const one = async (sql: string) => (await db.pool.query<{ id_number: string }>(sql)).rows[0]!.id_number;
  const trailOf = (idNumber: string, pool = db.pool) =>
    personTrail(pool, { idNumber, jurisdiction: 'kaiping', year: 2024, client: env.client });

  beforeAll(async () => {
    [env, db] = await Promise.all([timeSkippingEnvironment(), createTestDatabase()]);
    await rehearse(env, db, policy, 0.003, { deltaMonths: 12, reconcileMonthly: true });
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
    await db?.drop();
  });

  it('a paid person: 参保 at 406 yuan under 000 三, the levy line and its success with the files that carried them', async () => {
    const id = await one(
      `SELECT p.id_number FROM enrollments e JOIN residents p ON p.id = e.resident_id
       WHERE e.status = 'paid' AND e.personal_fen = 40600 AND EXISTS (SELECT 1 FROM levy_lines l WHERE l.enrollment_id = e.id)
       ORDER BY e.id LIMIT 1`,
    );
    const t = await trailOf(id);
    expect(t.fullNumbers).toBe(true);
    expect(t.person.idNumber).toBe(id);
    expect(t.mismatches).toBe(0);
    const enrolled = t.entries.find((e) => e.kind === '参保')!;
    expect(enrolled.what).toContain('个人缴费 406.00 元');
    expect(enrolled.rule).toBe(policy.contribution.source);
    const levy = t.entries.filter((e) => e.kind === '应征数据');
    const ledger = await db.pool.query<{ round: number; amount_fen: number; sha256: string }>(
      `SELECT b.round, l.amount_fen, x.sha256 FROM levy_lines l JOIN levy_batches b ON b.id = l.batch_id
       JOIN enrollments e ON e.id = l.enrollment_id JOIN residents p ON p.id = e.resident_id
       JOIN exchange_log x ON x.kind = 'levy-data' AND x.period = 'batch-' || b.id
       WHERE p.id_number = $1 ORDER BY b.round`,
      [id],
    );
    expect(levy.map((e) => e.proof.sha256)).toEqual(ledger.rows.map((r) => r.sha256));
    expect(levy[0]!.what).toContain(`第 ${ledger.rows[0]!.round} 轮批量扣费：应缴 406.00 元`);
    // the run that sent the file is named from the workflow history
    expect(levy[0]!.proof.workflow?.workflowId).toBe('campaign-kaiping-2024');
    expect(t.entries.some((e) => e.kind === '扣费成功')).toBe(true);
    expect(formatTrail(t)).toContain('核对结果：全部一致（已对照工作流历史）');
  });

  it('a fully subsidised person: the list row that named them, their identity, 资助参保 with the engine’s amounts, and the June 30 claim', async () => {
    const id = await one(
      `SELECT p.id_number FROM enrollments e JOIN residents p ON p.id = e.resident_id
       WHERE e.personal_fen = 0 AND EXISTS (SELECT 1 FROM subsidy_claim_lines c WHERE c.enrollment_id = e.id)
       ORDER BY e.id LIMIT 1`,
    );
    const t = await trailOf(id);
    expect(t.mismatches).toBe(0);
    const row = t.entries.find((e) => e.kind === '名单')!;
    const listed = await db.pool.query<{ row_no: number; file_name: string }>(
      `SELECT r.row_no, s.file_name FROM submission_rows r JOIN submissions s ON s.id = r.submission_id
       WHERE r.id_number = $1 AND r.accepted ORDER BY s.id LIMIT 1`,
      [id],
    );
    expect(row.proof).toMatchObject({ row: listed.rows[0]!.row_no, file: listed.rows[0]!.file_name });
    expect(row.proof.exchangeSeq).toBeGreaterThan(0);
    const enrolled = t.entries.find((e) => e.kind === '资助参保')!;
    const e = (
      await db.pool.query<{ category: string; subsidy_fen: number; funding_source: string }>(
        `SELECT e.category, e.subsidy_fen, e.funding_source FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE p.id_number = $1`,
        [id],
      )
    ).rows[0]!;
    const expected = contributionFor(
      policy,
      policy.categories.find((c) => c.id === e.category),
    ).contribution;
    expect(e.subsidy_fen).toBe(expected.subsidyFen);
    expect(enrolled.what).toContain(
      `资助 ${(expected.subsidyFen / 100).toFixed(2)} 元（${expected.fundingSource}）`,
    );
    const claim = t.entries.find((x) => x.kind === '财政补助')!;
    expect(claim.what).toContain(`财政补助 ${(expected.subsidyFen / 100).toFixed(2)} 元`);
    expect(claim.what).toMatch(/回执 \S+/);
    expect(t.entries.find((x) => x.kind === '身份标识')!.what).toContain(`类别 ${e.category}`);
  });

  it('a person abandoned at the cut-off: each failed round, the follow-up and 弃保 with the plan’s rule', async () => {
    const id = await one(
      `SELECT p.id_number FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE e.status = 'abandoned' ORDER BY e.id LIMIT 1`,
    );
    const t = await trailOf(id);
    expect(t.mismatches).toBe(0);
    expect(t.entries.some((e) => e.kind === '扣费失败' && e.what.includes('个人原因'))).toBe(true);
    expect(t.entries.some((e) => e.kind === '跟进')).toBe(true);
    const abandoned = t.entries.find((e) => e.kind === '弃保')!;
    expect(abandoned.rule).toBe(policy.deductionFailures.source);
  });

  it('a person added by a monthly delta: the delta row and an identity from that month’s registration day', async () => {
    const added = (
      await db.pool.query<{ id_number: string; period: string; valid_from: string }>(
        `SELECT p.id_number, s.period, i.valid_from::text FROM identities i JOIN submissions s ON s.id = i.opened_by_submission AND s.kind = 'delta'
         JOIN residents p ON p.id = i.resident_id ORDER BY i.id LIMIT 1`,
      )
    ).rows[0]!;
    const t = await trailOf(added.id_number);
    const row = t.entries.find((e) => e.kind === '名单' && e.what.includes(`${added.period} 月度增减名单`))!;
    expect(row.what).toContain('新增');
    expect(t.entries.find((e) => e.kind === '身份标识')!.what).toContain(`自 ${added.valid_from} 起`);
  });

  it('an altered levy amount and an altered stored file are named as mismatches', async () => {
    const id = await one(
      `SELECT p.id_number FROM enrollments e JOIN residents p ON p.id = e.resident_id
       WHERE e.status = 'paid' AND e.personal_fen = 40600 AND e.campaign_year = 2024
         AND EXISTS (SELECT 1 FROM levy_lines l WHERE l.enrollment_id = e.id) ORDER BY e.id DESC LIMIT 1`,
    );
    await db.pool.query(
      `UPDATE levy_lines SET amount_fen = amount_fen + 100 WHERE enrollment_id IN (
         SELECT e.id FROM enrollments e JOIN residents p ON p.id = e.resident_id WHERE p.id_number = $1 AND e.campaign_year = 2024)`,
      [id],
    );
    const t = await trailOf(id);
    const levy = t.entries.find((e) => e.kind === '应征数据')!;
    expect(levy.checks.find((c) => !c.ok)).toMatchObject({
      what: '应征金额等于个人缴费部分',
      detail: '应征 407.00 元，台账个人缴费 406.00 元',
    });
    expect(t.mismatches).toBeGreaterThan(0);
    expect(trailHtml(t)).toContain('class="mismatch"');

    const stored = await db.pool.query<{ stored_at: string }>(
      `SELECT stored_at FROM exchange_log WHERE seq = $1`,
      [levy.proof.exchangeSeq],
    );
    writeFileSync(stored.rows[0]!.stored_at, 'altered after it crossed\n');
    const again = await trailOf(id);
    const check = again.entries
      .find((e) => e.kind === '应征数据')!
      .checks.find((c) => c.what.startsWith('交换日志'))!;
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('存档文件与日志摘要不符');
  });

  it('a reader who is not an operator gets the ID number masked by the database, whatever the client asks', async () => {
    const id = await one(
      `SELECT p.id_number FROM enrollments e JOIN residents p ON p.id = e.resident_id LIMIT 1`,
    );
    const role = `audit_reader_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE medins_auditor`);
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    const auditor = new pg.Pool({ connectionString: url.toString(), max: 1 });
    try {
      const t = await personTrail(auditor, { idNumber: id, jurisdiction: 'kaiping', year: 2024 });
      expect(t.fullNumbers).toBe(false);
      expect(t.person.idNumber).toBe(`${id.slice(0, 6)}********${id.slice(-4)}`);
      expect(JSON.stringify(t)).not.toContain(id);
      // the auditor cannot read the table holding the full numbers directly
      await expect(auditor.query('SELECT id_number FROM residents LIMIT 1')).rejects.toThrow(
        /permission denied/,
      );
    } finally {
      await auditor.end();
      await db.pool.query(`DROP ROLE ${role}`);
    }
  });
});
