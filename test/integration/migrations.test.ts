import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../ledger/migrate';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { readdirSync } from 'node:fs';
import { MIGRATIONS_DIR } from '../../ledger/migrate';

describe('schema migrations on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
  });

  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort();

  it('a fresh database receives every migration once, in order, even when two processes start together', async () => {
    const [a, b] = await Promise.all([migrate(db.url), migrate(db.url)]);
    const applied = [...a.applied, ...b.applied].sort();
    expect(applied).toEqual(files.map((f) => f.replace(/\.sql$/, '')));
    const recorded = await db.pool.query('SELECT name FROM pgmigrations ORDER BY run_on, id');
    expect(recorded.rows.map((r: { name: string }) => r.name)).toEqual(
      files.map((f) => f.replace(/\.sql$/, '')),
    );
  });

  it('a second start-up applies nothing', async () => {
    expect((await migrate(db.url)).applied).toEqual([]);
  });

  it('the ledger refuses a second stack-check row for the same workflow', async () => {
    await db.pool.query("INSERT INTO stack_checks (workflow_id, requested_by) VALUES ('wf-1', 'op')");
    await expect(
      db.pool.query("INSERT INTO stack_checks (workflow_id, requested_by) VALUES ('wf-1', 'op')"),
    ).rejects.toThrow(/duplicate key/);
  });
});
