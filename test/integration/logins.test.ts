import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceConnection, userConnection } from '../../provision/postgres';
import { sessionIdentity } from '../../infra/roles';

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['DATABASE_URL', 'PGSERVICE', 'PGSERVICEFILE', 'PGHOST', 'PGUSER', 'PGPASSWORD'])
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
});
const clear = () => {
  for (const k of ['DATABASE_URL', 'PGSERVICE', 'PGSERVICEFILE', 'PGHOST', 'PGUSER', 'PGPASSWORD'])
    delete process.env[k];
};

describe('how a person logs in, by the libpq conventions', () => {
  it('a service of pg_service.conf gives host, port, database, user and password', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'medins-svc-')), 'pg_service.conf');
    writeFileSync(
      file,
      '# the bureau\n[other]\nuser=x\n\n[medins]\nhost=db.example\nport=6543\ndbname=ledger\nuser=wang_li\npassword=s3cret\n',
    );
    expect(serviceConnection('medins', { PGSERVICEFILE: file, PGSYSCONFDIR: '/nonexistent' })).toEqual({
      host: 'db.example',
      port: 6543,
      database: 'ledger',
      user: 'wang_li',
      password: 's3cret',
    });
    expect(() => serviceConnection('nope', { PGSERVICEFILE: file, PGSYSCONFDIR: '/nonexistent' })).toThrow(
      /PGSERVICE=nope: no such service/,
    );
  });

  it('DATABASE_URL wins, then PGSERVICE, then PGHOST and the other PG variables', async () => {
    clear();
    process.env.DATABASE_URL = 'postgres://a:b@h:1/d';
    process.env.PGSERVICE = 'x';
    expect(await userConnection('medins')).toEqual({ connectionString: 'postgres://a:b@h:1/d' });
    delete process.env.DATABASE_URL;
    process.env.PGHOST = 'db.example';
    await expect(userConnection('medins')).rejects.toThrow(/PGSERVICE=x/);
    delete process.env.PGSERVICE;
    expect(await userConnection('medins')).toEqual({});
  });

  it('on the local cluster, PGUSER=audit_demo logs in as the development auditor with its cached password', async () => {
    clear();
    process.env.PGUSER = 'audit_demo';
    const config = await userConnection('postgres');
    expect(config).toMatchObject({ host: '127.0.0.1', user: 'audit_demo', database: 'postgres' });
    const pool = new pg.Pool({ ...config, max: 1 });
    try {
      expect(await sessionIdentity(pool)).toEqual({ user: 'audit_demo', role: 'auditor' });
    } finally {
      await pool.end();
    }
    delete process.env.PGUSER;
    const operator = new pg.Pool({ ...(await userConnection('postgres')), max: 1 });
    try {
      expect(await sessionIdentity(operator)).toEqual({ user: 'op_demo', role: 'operator' });
    } finally {
      await operator.end();
    }
  });
});
