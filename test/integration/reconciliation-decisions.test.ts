/**
 * The reconciliation exceptions queue's decisions (issue 22, 对账; migration 0036) and the auditor's masked
 * phone (migration 0035), in plain SQL under each role's own login: the database, not the console, decides
 * who may record a decision, records who and when itself, keeps every decision, and masks what an auditor
 * reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideException, reconciliationExceptions } from '../../console/queries';
import { makeIdNumber } from '../../domain/id-number';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';

const idNumber = makeIdNumber('440783', '1958-04-04', 3);

describe('an operator decides on a reconciliation exception; the ledger keeps who, what, when and why', () => {
  let db: TestDatabase;
  let operator: Login;
  let auditor: Login;
  let civil: Login;
  let exceptionId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    [operator, auditor, civil] = await Promise.all([
      db.login('operator'),
      db.login('auditor'),
      db.login('department:civil-affairs'),
    ]);
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
    await db.pool.query(`INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '赤坎镇')`);
    await db.pool.query(
      `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id, phone)
       VALUES ('kaiping', $1, '关伟', 'M', '1958-04-04', 1, '13912345678'), ('kaiping', $2, '谢芳', 'F', '1960-01-01', 1, NULL)`,
      [idNumber, makeIdNumber('440783', '1960-01-01', 4)],
    );
    const x = await db.pool.query<{ id: string }>(
      `INSERT INTO reconciliation_exceptions (jurisdiction, month, kind, id_number, detail)
       VALUES ('kaiping', '2024-03', 'paid-but-not-enrolled', $1, '{"taxRecord": "T-1"}') RETURNING id`,
      [idNumber],
    );
    exceptionId = Number(x.rows[0]!.id);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('waits in the queue undecided, its ID masked for every reader', async () => {
    const [row] = await reconciliationExceptions(operator.pool, 'kaiping', 'operator');
    expect(row).toMatchObject({
      id: exceptionId,
      decision: null,
      decisions: 0,
      idNumber: '440783********' + idNumber.slice(-4),
    });
  });

  it('the operator’s decision is recorded under the operator’s own login and the database’s time, whatever the caller says', async () => {
    const before = new Date();
    expect(
      await decideException(operator.pool, exceptionId, 'referred', `请民政核实 ${idNumber} 的身份`),
    ).toBe(true);
    // naming someone else as the decider is overruled by the database
    await operator.pool.query(
      `INSERT INTO reconciliation_exception_decisions (exception_id, decision, reason, decided_by, decided_at)
       VALUES ($1, 'corrected', '已按税务记录补登参保', 'someone_else', '2000-01-01')`,
      [exceptionId],
    );
    const all = await db.pool.query<{ decision: string; decided_by: string; decided_at: Date }>(
      'SELECT decision, decided_by, decided_at FROM reconciliation_exception_decisions ORDER BY id',
    );
    expect(all.rows.map((r) => [r.decision, r.decided_by])).toEqual([
      ['referred', operator.user],
      ['corrected', operator.user],
    ]);
    expect(all.rows.every((r) => r.decided_at.getTime() >= before.getTime() - 5000)).toBe(true);
    const [row] = await reconciliationExceptions(operator.pool, 'kaiping', 'operator');
    expect(row!.decisions).toBe(2);
    expect(row!.decision).toMatchObject({
      decision: 'corrected',
      reason: '已按税务记录补登参保',
      decidedBy: operator.user,
    });
  });

  it('a decision is never changed or removed, and one on no exception or without a reason is refused', async () => {
    await expect(
      operator.pool.query(`UPDATE reconciliation_exception_decisions SET decision = 'no-action'`),
    ).rejects.toThrow(/permission denied/);
    await expect(operator.pool.query('DELETE FROM reconciliation_exception_decisions')).rejects.toThrow(
      /permission denied/,
    );
    expect(await decideException(operator.pool, exceptionId + 999, 'no-action', '无此异常')).toBe(false);
    await expect(decideException(operator.pool, exceptionId, 'no-action', ' ')).rejects.toThrow(
      /check constraint/,
    );
  });

  it('an auditor reads the decisions, an ID typed into a reason masked, and may not decide; a department sees none', async () => {
    const [row] = await reconciliationExceptions(auditor.pool, 'kaiping', 'auditor');
    expect(row!.decisions).toBe(2);
    const reasons = await auditor.pool.query<{ reason: string }>(
      'SELECT reason FROM audit.reconciliation_exception_decisions ORDER BY id',
    );
    expect(reasons.rows[0]!.reason).toBe(
      `请民政核实 ${idNumber.slice(0, 6)}********${idNumber.slice(-4)} 的身份`,
    );
    expect(JSON.stringify(reasons.rows)).not.toContain(idNumber);
    await expect(auditor.pool.query('SELECT * FROM reconciliation_exception_decisions')).rejects.toThrow(
      /permission denied/,
    );
    await expect(decideException(auditor.pool, exceptionId, 'no-action', '审计不应决定')).rejects.toThrow(
      /permission denied/,
    );
    await expect(decideException(civil.pool, exceptionId, 'no-action', '部门不应决定')).rejects.toThrow(
      /permission denied/,
    );
    await expect(civil.pool.query('SELECT * FROM audit.reconciliation_exception_decisions')).rejects.toThrow(
      /permission denied/,
    );
  });

  it('an auditor reads a resident’s phone masked to its last 4 digits (audit.residents), never in full', async () => {
    const r = await auditor.pool.query<{ name: string; phone: string | null }>(
      'SELECT name, phone FROM audit.residents ORDER BY id',
    );
    expect(r.rows).toEqual([
      { name: '关伟', phone: '*******5678' },
      { name: '谢芳', phone: null },
    ]);
    await expect(auditor.pool.query('SELECT phone FROM residents')).rejects.toThrow(/permission denied/);
  });
});
