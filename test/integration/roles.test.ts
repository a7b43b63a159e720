import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('database roles: auditors read masked numbers and change nothing', () => {
  let db: TestDatabase;
  const idNumber = makeIdNumber('440783', '1960-01-01', 1);
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
    await db.pool.query(`INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '赤坎镇')`);
    await db.pool.query(
      `INSERT INTO households (jurisdiction, household_no, town_id, head_id_number, bank_account) VALUES ('kaiping', 'h1', 1, $1, '6217000011112222333')`,
      [idNumber],
    );
    await db.pool.query(
      `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id, household_id) VALUES ('kaiping', $1, '关伟', 'M', '1960-01-01', 1, 1)`,
      [idNumber],
    );
  });
  afterAll(async () => {
    await db?.drop();
  });

  const asRole = async (role: string, sql: string) => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL ROLE ${role}`);
      return await client.query(sql);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  };

  it('an auditor sees the resident with the ID number and bank account masked', async () => {
    const r = await asRole(
      'medins_auditor',
      `SELECT p.id_number, h.bank_account FROM audit.residents p JOIN audit.households h ON h.id = p.household_id`,
    );
    expect(r.rows).toEqual([{ id_number: '440783********0015', bank_account: '***************2333' }]);
  });

  it('an auditor cannot read the full numbers, nor change the ledger', async () => {
    await expect(asRole('medins_auditor', `SELECT id_number FROM residents`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(asRole('medins_auditor', `SELECT bank_account FROM households`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(asRole('medins_auditor', `UPDATE enrollments SET status = 'paid'`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(
      asRole(
        'medins_auditor',
        `INSERT INTO campaign_events (jurisdiction, campaign_year, event_key, kind, campaign_at) VALUES ('kaiping', 2024, 'x', 'x', now())`,
      ),
    ).rejects.toThrow(/permission denied/);
  });

  it('the exchange log is readable to auditors', async () => {
    await expect(asRole('medins_auditor', `SELECT count(*) FROM exchange_log`)).resolves.toBeDefined();
  });
});
