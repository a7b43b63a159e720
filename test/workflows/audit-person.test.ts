/**
 * `audit person` on a rehearsed Kaiping year with monthly deltas: for persons sampled from the ledger, the
 * trail's amounts, dates and rules equal the ledger and the engine; an altered amount or stored file is
 * named as a mismatch; a reader who is not an operator gets the ID number masked by the database.
 * After the year, operators file refund applications (`refund request`) for persons of the rehearsal: the
 * refunded person's trail shows the refund and each status change with the activity or command that made it.
 */
import { FUNDING_SOURCE_NAMES } from '../../domain/words';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRefund } from '../../ledger/refunds';
import { formatTrail, personTrail, trailHtml, type PersonTrail } from '../../audit/person';
import { chinaDateOf } from '../../domain/dates';
import { contributionFor, refundFor } from '../../domain/engine';
import { seedPolicy } from '../../seeds';
import { rehearse } from '../support/campaign';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { timeSkippingEnvironment } from '../support/temporal';

describe('audit person: one person’s year, in Chinese, cross-checked', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  const policy = seedPolicy('kaiping', 2024);
  const one = async (sql: string) => (await db.pool.query<{ id_number: string }>(sql)).rows[0]!.id_number;
  const trailOf = (idNumber: string, pool = db.pool) =>
    personTrail(pool, { idNumber, jurisdiction: 'kaiping', year: 2024, client: env.client });

  /** Every cross-check of the trail holds (a failing one is named in the assertion). */
  const expectAllHold = (t: PersonTrail) => {
    expect(
      t.entries.flatMap((e) =>
        e.checks.filter((c) => !c.ok).map((c) => `${e.kind} ${c.what}: ${c.detail ?? ''}`),
      ),
    ).toEqual([]);
    expect(t.mismatches).toBe(0);
  };

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
      `资助 ${(expected.subsidyFen / 100).toFixed(2)} 元（${FUNDING_SOURCE_NAMES[expected.fundingSource]}）`,
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
    const followUp = t.entries.find((e) => e.kind === '跟进')!;
    // the follow-up's reason and the enrollment's funding in Chinese: no code of the ledger reaches the trail
    expect(followUp.what).toContain('转镇村跟进：扣费失败（个人原因：余额不足或账户异常）');
    const enrolled = t.entries.find((e) => e.kind === '参保')!;
    expect(enrolled.what).not.toMatch(/未知（|personal/);
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
    // the levy file is every levied person's: put it back afterwards for the tests that follow
    const original = readFileSync(stored.rows[0]!.stored_at);
    writeFileSync(stored.rows[0]!.stored_at, 'altered after it crossed\n');
    try {
      const again = await trailOf(id);
      const check = again.entries
        .find((e) => e.kind === '应征数据')!
        .checks.find((c) => c.what.startsWith('交换日志'))!;
      expect(check.ok).toBe(false);
      expect(check.detail).toContain('存档文件与日志摘要不符');
    } finally {
      writeFileSync(stored.rows[0]!.stored_at, original);
    }
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

  describe('refunds (退费) and the status history', () => {
    const exchangeDir = mkdtempSync(join(tmpdir(), 'medins-refunds-'));
    const exec = promisify(execFile);
    const cliAs = (login: Login, ...args: string[]) =>
      exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
        cwd: process.cwd(),
        env: {
          ...process.env,
          DATABASE_URL: login.url,
          MEDINS_ADMIN_DATABASE_URL: 'postgres://medins_admin:x@127.0.0.1:9/nowhere',
          MEDINS_EXCHANGE_DIR: exchangeDir,
        },
      }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    /** A person of the rehearsal who paid 406 yuan by deduction, the n-th by enrollment id. */
    const paidPerson = async (n: number) =>
      (
        await db.pool.query<{ id_number: string; benefit_start: string; enrollment_id: string }>(
          `SELECT p.id_number, e.benefit_start::text, e.id AS enrollment_id FROM enrollments e JOIN residents p ON p.id = e.resident_id
           WHERE e.status = 'paid' AND e.personal_fen = 40600 AND e.benefit_start IS NOT NULL
             AND EXISTS (SELECT 1 FROM deduction_results d WHERE d.enrollment_id = e.id AND d.outcome = 'success')
           ORDER BY e.id OFFSET $1 LIMIT 1`,
          [n],
        )
      ).rows[0]!;
    const dayBefore = (d: string) =>
      new Date(Date.parse(`${d}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    const history = async (enrollmentId: string) =>
      (
        await db.pool.query<{
          change_id: string;
          from_status: string | null;
          to_status: string;
          made_by: Record<string, unknown> | null;
        }>(
          `SELECT h.change_id, h.from_status, h.to_status, c.made_by FROM enrollment_status_history h
           JOIN enrollment_status_changes c ON c.id = h.change_id WHERE h.enrollment_id = $1 ORDER BY h.change_id`,
          [enrollmentId],
        )
      ).rows;
    let operator: Login;
    let auditor: Login;
    let refunded: { id_number: string; benefit_start: string; enrollment_id: string };

    beforeAll(async () => {
      [operator, auditor] = await Promise.all([db.login('operator'), db.login('auditor')]);
      refunded = await paidPerson(5);
    });

    it('an operator’s refund request for a death before the benefit period: 406 yuan refunded under 000 五(七), sent to the tax bureau once, whatever is asked again', async () => {
      const occurredOn = dayBefore(refunded.benefit_start);
      const args = [
        'refund',
        'request',
        '--id',
        refunded.id_number,
        '--reason',
        'death',
        '--occurred-on',
        occurredOn,
        '--key',
        'TF-2024-0001',
        '--jurisdiction',
        'kaiping',
        '--year',
        '2024',
        '--json',
      ];
      const first = await cliAs(operator, ...args);
      expect(first.stderr).toBe('');
      const answer = JSON.parse(first.stdout) as Record<string, unknown>;
      // the engine, under the same policy, says the same
      const engine = refundFor(
        policy,
        'death',
        { occurredOn, requestedOn: chinaDateOf(Date.now()), benefitStart: refunded.benefit_start },
        40600,
      );
      expect(answer).toMatchObject({
        status: 'sent',
        decision: 'refund',
        amountFen: engine.refund.amountFen,
        paidFen: 40600,
        benefitStart: refunded.benefit_start,
        rule: { id: 'refund.before-benefit-start', source: policy.refunds.source },
        replayed: false,
      });
      expect(engine.refund.amountFen).toBe(40600);
      expect(first.stdout).not.toContain(refunded.id_number);

      // the same key again (in text this time): recorded once, nothing sent twice
      const again = await cliAs(operator, ...args.slice(0, -1));
      expect(again.stdout).toContain(
        `退费申请 TF-2024-0001（#${String(answer.requestId)}），此前已登记，未重复办理`,
      );
      expect(again.stdout).toContain('准予退费 406.00 元（个人缴费 406.00 元）');
      expect(again.stdout).toContain(`依据：${policy.refunds.source}`);
      expect(again.stdout).not.toContain(refunded.id_number);

      // another application for the same payment: never two refunds for one payment
      await expect(
        requestRefund(operator.pool, exchangeDir, {
          jurisdiction: 'kaiping',
          year: 2024,
          idNumber: refunded.id_number,
          reason: 'duplicate-payment',
          occurredOn,
          requestKey: 'TF-2024-0002',
        }),
      ).rejects.toThrow(/already refunded .*TF-2024-0001.*never two refunds for one payment/);
      const ledger = await db.pool.query<{ n: number; sent: number; status: string; amount_fen: number }>(
        `SELECT (SELECT count(*)::int FROM refund_requests) AS n,
                (SELECT count(*)::int FROM exchange_log WHERE kind = 'refund-data') AS sent,
                (SELECT status::text FROM enrollments WHERE id = $1) AS status,
                (SELECT amount_fen FROM refund_requests WHERE request_key = 'TF-2024-0001') AS amount_fen`,
        [refunded.enrollment_id],
      );
      expect(ledger.rows[0]).toEqual({ n: 1, sent: 1, status: 'refunded', amount_fen: 40600 });

      // an auditor may not request one: refused by the command line and by the database
      const byAuditor = await cliAs(auditor, ...args.slice(0, -1));
      expect(byAuditor.code).toBe(1);
      expect(byAuditor.stderr).toContain('is an auditor');
      await expect(
        requestRefund(auditor.pool, exchangeDir, {
          jurisdiction: 'kaiping',
          year: 2024,
          idNumber: refunded.id_number,
          reason: 'death',
          occurredOn,
          requestKey: 'TF-2024-0003',
        }),
      ).rejects.toThrow(/permission denied/);
    });

    it('the refunded person’s trail: 退费 with the amount, date and rule the ledger and the engine hold, and each status change its own entry with the activity that made it', async () => {
      const t = await trailOf(refunded.id_number);
      expectAllHold(t);
      const r = (
        await db.pool.query<{
          amount_fen: number;
          decided_at: Date;
          rule_source: string;
          occurred_on: string;
        }>(
          `SELECT amount_fen, decided_at, rule_source, occurred_on::text FROM refund_requests WHERE request_key = 'TF-2024-0001'`,
        )
      ).rows[0]!;
      const refund = t.entries.find((e) => e.kind === '退费')!;
      expect(refund.date).toBe(chinaDateOf(r.decided_at.getTime()));
      expect(refund.what).toContain(`准予退费 ${(r.amount_fen / 100).toFixed(2)} 元`);
      expect(refund.what).toContain(`事由 死亡，发生于 ${r.occurred_on}`);
      expect(refund.rule).toBe(policy.refunds.source);
      expect(refund.rule).toBe(r.rule_source);
      expect(refund.proof.operator).toMatchObject({ login: operator.user, requestKey: 'TF-2024-0001' });
      expect(refund.checks.map((c) => c.what)).toEqual(
        expect.arrayContaining([
          '按政策重算退费',
          '退费金额等于扣费成功的个人缴费',
          expect.stringMatching(/^交换日志 #\d+$/),
        ]),
      );

      // one entry per row of the ledger's status history, in its order
      const rows = await history(refunded.enrollment_id);
      const changes = t.entries.filter((e) => e.kind === '状态变更');
      expect(changes).toHaveLength(rows.length);
      expect(rows.map((x) => x.to_status).slice(-2)).toEqual(['paid', 'refunded']);
      const paid = changes.find((e) => e.what.includes('→ 已缴费（参保）；原因：扣费成功'))!;
      const paidRow = rows.find((x) => x.to_status === 'paid')!;
      expect(paid.rule).toBe(policy.benefitStart.centralised.source);
      // made by an activity of the campaign run, found in that run's history
      expect(paid.proof.workflow).toMatchObject({
        workflowId: 'campaign-kaiping-2024',
        runId: paidRow.made_by!.runId,
        activity: paidRow.made_by!.activityType,
      });
      expect(paid.proof.workflow!.eventId).toBeGreaterThan(0);
      expect(paid.checks).toContainEqual({ what: '工作流历史中有此活动', ok: true });
      const last = changes.at(-1)!;
      expect(last.what).toContain('已缴费（参保） → 已退费；原因：待遇享受期前依申请退费');
      expect(last.rule).toBe(policy.refunds.source);
      expect(last.proof.operator).toMatchObject({
        login: operator.user,
        command: 'refund request',
        requestKey: 'TF-2024-0001',
      });
      expect(formatTrail(t)).toContain('【退费】');
    });

    it('a refund asked for a death after the benefit period began is refused by the plan and recorded; the enrollment stays paid', async () => {
      const p = await paidPerson(6);
      const occurredOn = p.benefit_start; // the first day of benefits: no longer before it
      const r = await requestRefund(operator.pool, exchangeDir, {
        jurisdiction: 'kaiping',
        year: 2024,
        idNumber: p.id_number,
        reason: 'death',
        occurredOn,
        requestKey: 'TF-2024-0010',
      });
      expect(r).toMatchObject({ status: 'refused', decision: 'no-refund', amountFen: 0, refundFile: null });
      expect(r.rule.id).toBe('refund.after-benefit-start');
      const status = await db.pool.query<{ status: string }>(
        `SELECT status::text FROM enrollments WHERE id = $1`,
        [p.enrollment_id],
      );
      expect(status.rows[0]!.status).toBe('paid');
      const t = await trailOf(p.id_number);
      expectAllHold(t);
      const asked = t.entries.find((e) => e.kind === '退费申请')!;
      expect(asked.what).toContain('不予退费');
      expect(asked.rule).toBe(policy.refunds.source);
      expect(t.entries.some((e) => e.kind === '退费')).toBe(false);
    });

    it('an auditor gets the refunded person’s trail masked, refund and status changes included', async () => {
      const t: PersonTrail = await personTrail(auditor.pool, {
        idNumber: refunded.id_number,
        jurisdiction: 'kaiping',
        year: 2024,
      });
      expect(t.fullNumbers).toBe(false);
      expect(t.person.idNumber).toBe(
        `${refunded.id_number.slice(0, 6)}********${refunded.id_number.slice(-4)}`,
      );
      expect(JSON.stringify(t)).not.toContain(refunded.id_number);
      expect(t.entries.find((e) => e.kind === '退费')!.what).toContain('准予退费 406.00 元');
      expect(t.entries.filter((e) => e.kind === '状态变更').length).toBeGreaterThan(1);
      expectAllHold(t);
      await expect(
        auditor.pool.query('SELECT * FROM enrollment_status_history LIMIT 1'),
      ).resolves.toBeDefined();
      await expect(
        auditor.pool.query('UPDATE enrollment_status_history SET to_status = to_status'),
      ).rejects.toThrow(/permission denied/);
    });

    it('an altered refund amount and an altered status history row are named as mismatches', async () => {
      // going around the ledger's guard (which keeps a decided refund as it was) as only an administrator can
      const admin = await db.pool.connect();
      try {
        await admin.query('BEGIN');
        await admin.query(`SET LOCAL session_replication_role = replica`);
        await admin.query(`UPDATE refund_requests SET amount_fen = 30000 WHERE request_key = 'TF-2024-0001'`);
        await admin.query('COMMIT');
      } finally {
        admin.release();
      }
      const t = await trailOf(refunded.id_number);
      const refund = t.entries.find((e) => e.kind === '退费')!;
      expect(refund.checks.find((c) => c.what === '按政策重算退费')).toMatchObject({
        ok: false,
        detail: '政策：refund，406.00 元；台账：refund，300.00 元',
      });
      expect(refund.checks.find((c) => c.what === '退费金额等于扣费成功的个人缴费')!.ok).toBe(false);
      expect(t.mismatches).toBeGreaterThan(0);

      const p = await paidPerson(7);
      const rows = await history(p.enrollment_id);
      const paidRow = rows.find((x) => x.to_status === 'paid')!;
      await db.pool.query(
        `UPDATE enrollment_status_history SET to_status = 'failed' WHERE enrollment_id = $1 AND change_id = $2`,
        [p.enrollment_id, paidRow.change_id],
      );
      const altered = await trailOf(p.id_number);
      // the altered row is the person's last change: it no longer leaves the status the ledger holds
      const entry = altered.entries.filter((e) => e.kind === '状态变更').at(-1)!;
      expect(entry.what).toContain('→ 扣费失败');
      expect(entry.checks.find((c) => c.what === '状态变更前后相接')).toMatchObject({
        ok: false,
        detail: expect.stringContaining('最后一次变更为 扣费失败，台账现为 已缴费（参保）'),
      });
      expect(altered.mismatches).toBeGreaterThan(0);
      expect(formatTrail(altered)).toContain('✗ 不一致');
    });
  });
});
