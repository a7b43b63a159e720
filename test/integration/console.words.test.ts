/**
 * The console's words and refusals, through its routes (Fastify inject) against a real PostgreSQL: a
 * department's login is refused in Chinese when it posts a list in another department's name, when its 时点
 * is no date, and when its file is empty (recorded in refused_files, as `lists import` does); another
 * department's rejection report is 404 and tells nothing; the session cookie is SameSite=Strict; no page a
 * department reads carries an English word. The refusals that come from Temporal are mapped by the same
 * function (console/errors.ts explain), tested here on the errors the client really throws.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/server';
import { explain } from '../../console/errors';
import { reconciliationSummaryText } from '../../domain/words';
import { makeIdNumber } from '../../domain/id-number';
import { seedPolicy } from '../../seeds';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { testConsole } from '../support/console';

const HEADER = '序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别';
const person = makeIdNumber('440783', '1951-02-01', 1);

/**
 * Words a Chinese page may hold in Latin letters (6 or more in a row): the product's names, file names and
 * formats the clerk typed or must type, the date pattern, login names. Anything else is English left over.
 */
const ALLOWED = /^(ECharts|YYYY|Temporal|CSRF|xlsx|csv)$/;
function englishWords(html: string, allowed: string[] = []): string[] {
  const text = html
    .replace(/<script[\s\S]*?<\/script>/g, '')
    .replace(/<[^>]*>/g, ' ') // tags and attributes are markup, not words
    .replace(/&[a-z]+;|&#\d+;/g, ' ');
  return [...text.matchAll(/[A-Za-z]{6,}/g)]
    .map((m) => m[0])
    .filter((w) => !ALLOWED.test(w) && !allowed.some((a) => a.includes(w)));
}

/** A multipart body as a browser sends the upload form. */
function multipart(fields: Record<string, string>, file?: { name: string; bytes: Buffer }) {
  const boundary = '----medins-test-boundary';
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file)
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: text/csv\r\n\r\n`,
      ),
      file.bytes,
      Buffer.from('\r\n'),
    );
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

describe('the console refuses in Chinese, and its pages and files speak the documents’ words', () => {
  let db: TestDatabase;
  let civil: Login;
  let veterans: Login;
  let app: FastifyInstance;
  const log: string[] = [];
  let veteransList: number;

  /** A logged-in session: its cookie and a CSRF token for its forms. */
  async function logIn(who: Login) {
    const first = await app.inject({ method: 'GET', url: '/login' });
    const cookie0 = String(first.headers['set-cookie']).split(';')[0]!;
    const csrf0 = /name="_csrf" value="([^"]+)"/.exec(first.body)![1]!;
    const login = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: cookie0, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ user: who.user, password: who.password, _csrf: csrf0 }).toString(),
    });
    expect(login.statusCode).toBe(302);
    const setCookie = String(login.headers['set-cookie']);
    const cookie = setCookie.split(';')[0]!;
    const lists = await app.inject({ method: 'GET', url: '/lists', headers: { cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(lists.body)![1]!;
    return { cookie, csrf, setCookie, firstSetCookie: String(first.headers['set-cookie']) };
  }

  const upload = async (
    s: { cookie: string; csrf: string },
    fields: Record<string, string>,
    file?: { name: string; bytes: Buffer },
  ) => {
    const body = multipart(fields, file);
    const posted = await app.inject({
      method: 'POST',
      url: `/lists/department-upload?_csrf=${encodeURIComponent(s.csrf)}`,
      headers: { cookie: s.cookie, ...body.headers },
      payload: body.payload,
    });
    // a form the console takes is imported without the request (303 to the import's page): its outcome is
    // that page once the import has ended
    const importPage = posted.statusCode === 303 ? String(posted.headers['location']) : undefined;
    if (!importPage?.startsWith('/lists/imports/')) return posted;
    for (;;) {
      const progress = await app.inject({
        method: 'GET',
        url: `${importPage}/progress`,
        headers: { cookie: s.cookie },
      });
      if (progress.json<{ state: string }>().state !== 'importing') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return app.inject({ method: 'GET', url: importPage, headers: { cookie: s.cookie } });
  };
  const roster = (id: string) =>
    Buffer.from(
      `${HEADER}\r\n1,关伟,男,${id},开平市赤坎镇,13800000000,1\r\n2,李缺号,女,,开平市赤坎镇,13900000000,1\r\n`,
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    [civil, veterans] = await Promise.all([
      db.login('department:civil-affairs'),
      db.login('department:veterans-affairs'),
    ]);
    await db.pool.query(`INSERT INTO jurisdictions VALUES ('kaiping', '开平市', '广东省')`);
    await db.pool.query(`INSERT INTO towns (jurisdiction, name) VALUES ('kaiping', '赤坎镇')`);
    await db.pool.query(
      `INSERT INTO residents (jurisdiction, id_number, name, sex, birth_date, town_id)
       VALUES ('kaiping', $1, '关伟', 'M', '1951-02-01', 1)`,
      [person],
    );
    app = await buildConsole({
      ...testConsole(db.url),
      temporal: () => Promise.reject(new Error('no Temporal in this test')),
      taskQueue: 'unused',
      exchangeDir: mkdtempSync(join(tmpdir(), 'medins-console-words-')),
      logStream: { write: (line: string) => void log.push(line) },
    });
    await app.ready();
    // veterans' own list, with a rejected row: the list civil affairs must not reach
    const v = await logIn(veterans);
    const r = await upload(
      v,
      { department: 'veterans-affairs', policy: 'kaiping|2024', kind: 'roster', period: '2023-08-31' },
      { name: '退役军人名单.csv', bytes: roster(person) },
    );
    expect(r.statusCode).toBe(200);
    veteransList = Number(/data-submission="(\d+)"/.exec(r.body)![1]);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('the session cookie is HttpOnly and SameSite=Strict, before and after login, and the login still lands', async () => {
    const s = await logIn(civil);
    expect(s.firstSetCookie).toMatch(/medins_console=.*HttpOnly/);
    expect(s.firstSetCookie).toMatch(/SameSite=Strict/);
    expect(s.setCookie).toMatch(/SameSite=Strict/);
    const page = await app.inject({ method: 'GET', url: '/lists', headers: { cookie: s.cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('本部门报送记录');
  });

  it('a list in another department’s name is refused in Chinese (PostgreSQL refuses it; its words are not shown)', async () => {
    const s = await logIn(civil);
    const r = await upload(
      s,
      {
        department: 'disabled-persons-federation',
        policy: 'kaiping|2024',
        kind: 'roster',
        period: '2023-08-31',
      },
      { name: '残联名单.csv', bytes: roster(person) },
    );
    expect(r.statusCode).toBe(403);
    expect(r.body).toContain('名单未被接收：不能以其他部门的名义报送名单');
    expect(r.body).not.toMatch(/row-level security|violates|submissions/);
    expect(log.join('\n')).toMatch(/row-level security/); // the maintainer's log keeps the cause
  });

  it('a 时点 that is no date is refused by the form, naming the field, before PostgreSQL sees it', async () => {
    const s = await logIn(civil);
    for (const [kind, period] of [
      ['roster', '2023-13-45'],
      ['roster', '2023-02-30'],
      ['delta', '2023-13'],
    ] as const) {
      const r = await upload(
        s,
        { department: 'civil-affairs', policy: 'kaiping|2024', kind, period },
        { name: '民政名单.csv', bytes: roster(person) },
      );
      expect(r.statusCode, period).toBe(400);
      expect(r.body).toContain('上传失败：时点/月份填写有误');
      expect(r.body).not.toMatch(/out of range|date\/time|ZodError|"code"/);
    }
    const none = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM submissions WHERE department = 'civil-affairs'`,
    );
    expect(none.rows[0]?.n).toBe(0);
  });

  it('an empty file is refused naming the file and recorded in refused_files, as lists import does', async () => {
    const s = await logIn(civil);
    const r = await upload(
      s,
      { department: 'civil-affairs', policy: 'kaiping|2024', kind: 'roster', period: '2023-08-30' },
      { name: 'empty.csv', bytes: Buffer.alloc(0) },
    );
    expect(r.statusCode).toBe(422);
    expect(r.body).toContain('名单未被接收：empty.csv：文件是空的（0 字节）');
    expect(r.body).not.toContain('请选择名单文件');
    const refused = await db.pool.query(
      `SELECT department, file_name, byte_size::int AS bytes, failure_type FROM refused_files WHERE file_name = 'empty.csv'`,
    );
    expect(refused.rows).toEqual([
      { department: 'civil-affairs', file_name: 'empty.csv', bytes: 0, failure_type: 'ListFileError' },
    ]);
  });

  it('another department’s rejection report, a missing one and a bad number are 404 alike, in Chinese', async () => {
    const v = await logIn(veterans);
    const own = await app.inject({
      method: 'GET',
      url: `/lists/${veteransList}/rejections`,
      headers: { cookie: v.cookie },
    });
    expect(own.statusCode).toBe(200);
    const s = await logIn(civil);
    const answers = [];
    for (const id of [String(veteransList), '99999', 'abc', '-1', '1e3'] as const) {
      const r = await app.inject({
        method: 'GET',
        url: `/lists/${id}/rejections`,
        headers: { cookie: s.cookie },
      });
      expect(r.statusCode, id).toBe(404);
      expect(r.body).not.toMatch(/submission|stored file|ZodError|"code"|at .*\.ts/);
      answers.push(/<p class="notice error"[^>]*>([^<]*)</.exec(r.body)![1]);
    }
    expect(new Set(answers)).toEqual(new Set(['未找到该名单，或您无权查看'])); // the answer tells nothing
    const unknown = await app.inject({ method: 'GET', url: '/no-such-page', headers: { cookie: s.cookie } });
    expect(unknown.statusCode).toBe(404);
    expect(englishWords(unknown.body)).toEqual([]);
  });

  it('a department’s 名单 page carries no English word: its name, its lists’ department, region and status', async () => {
    const v = await logIn(veterans);
    const r = await app.inject({ method: 'GET', url: '/lists', headers: { cookie: v.cookie } });
    expect(r.body).toContain('（认定部门：退役军人事务局）');
    expect(r.body).toMatch(/<td>开平市<\/td><td>退役军人事务局<\/td>/);
    expect(r.body).toContain('<td>有效</td>');
    expect(englishWords(r.body, [veterans.user])).toEqual([]);
  });

  it('a list the campaign fetched through a department’s adapter names its receiver as that department’s 系统接口', async () => {
    await db.pool.query(`UPDATE submissions SET received_by = 'adapter:veterans-affairs' WHERE id = $1`, [
      veteransList,
    ]);
    try {
      const v = await logIn(veterans);
      const r = await app.inject({ method: 'GET', url: '/lists', headers: { cookie: v.cookie } });
      expect(r.body).toContain('<td>退役军人事务局（系统接口）</td>');
      expect(r.body).not.toContain('adapter:');
    } finally {
      await db.pool.query(`UPDATE submissions SET received_by = $2 WHERE id = $1`, [
        veteransList,
        veterans.user,
      ]);
    }
  });

  it('the Temporal client’s refusals are unwrapped and said in Chinese, naming the file and the line', () => {
    const refused = (message: string, type: string) =>
      new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.nonRetryable(message, type));
    expect(
      explain(
        refused(
          'notalist.txt, line 1: no delimiter found: no line of the file is split into cells by a comma (,), a semicolon (;) or a tab; save the list from Excel as CSV (逗号分隔) or .xlsx',
          'ListFileError',
        ),
      ),
    ).toEqual({
      status: 422,
      text: 'notalist.txt（第 1 行）：找不到分隔符：没有一行用逗号、分号或制表符分成列，请在 Excel 中另存为 CSV（逗号分隔）或 .xlsx',
      known: true,
    });
    expect(
      explain(
        refused(
          '15-biff8.xls: an Excel 97-2003 workbook (.xls, or an .xlsx protected with a password), which is not read',
          'ListFileError',
        ),
      ).text,
    ).toMatch(/^15-biff8\.xls：这是 Excel 97-2003 工作簿/);
    expect(
      explain(
        refused(
          'giant-cell.csv, line 2: more than 65536 characters in one row: not a row of a list (a quote left open?)',
          'ListFileError',
        ),
      ).text,
    ).toBe('giant-cell.csv（第 2 行）：一行超过 65536 个字符，不是名单的一行（可能有未结束的引号）');
    expect(
      explain(
        refused(
          'list.xlsx, sheet “名单”: the zip holds two parts named xl/worksheets/sheet1.xml (the same name twice, so which one is meant cannot be known): the .xlsx may be truncated or damaged; save it again and resend',
          'ListFileError',
        ),
      ).text,
    ).toBe(
      'list.xlsx（工作表“名单”）：.xlsx 文件中有两个同名（或仅大小写不同）的组成部分，无法确定应读哪一个：请在 Excel 中打开、另存为 .xlsx 后报送',
    );
    // a validator's refusal reaches the client as a plain ApplicationFailure without a type
    const late = explain(
      new WorkflowUpdateFailedError(
        'Workflow Update failed',
        ApplicationFailure.create({
          message:
            'the roster deadline has passed: the campaign is in changes-and-stops; send the list as a monthly delta',
        }),
      ),
    );
    expect(late.text).toBe('名单报送已截止（征缴年度现处于“变更与停保”阶段），请按月度增减名单报送');
    for (const said of [late, explain(new Error('something internal at /work/x.ts:1'))]) {
      expect(said.text).not.toMatch(/Workflow Update failed|[A-Za-z]{6,}/);
    }
    expect(explain(new Error('something internal')).status).toBe(500);
  });

  it('a stored file that is gone, a ledger that is gone and an unreachable Temporal are said in Chinese, not as an internal error', () => {
    const gone = Object.assign(
      new Error("ENOENT: no such file or directory, open '/tmp/medins-rehearsal-x/f.csv'"),
      {
        code: 'ENOENT',
      },
    );
    expect(explain(gone)).toMatchObject({ status: 404, text: expect.stringMatching(/^存档文件已不存在/) });
    const dropped = Object.assign(new Error('database "rehearsal_kaiping_2024_x" does not exist'), {
      code: '3D000',
    });
    expect(explain(dropped)).toMatchObject({
      status: 503,
      text: expect.stringMatching(/^该台账数据库已不存在/),
    });
    const noServer = new Error(
      'No Temporal server answers at 127.0.0.1:7233 (Failed to connect before the deadline). Start one with `npm run dev:server`',
    );
    expect(explain(noServer)).toMatchObject({
      status: 503,
      text: expect.stringMatching(/^工作流服务（Temporal）无法连接，本次报送未交给征缴年度/),
    });
    // the product's name aside, no English reaches the page
    for (const e of [gone, dropped, noServer])
      expect(explain(e).text.replace('Temporal', '')).not.toMatch(/[A-Za-z]{6,}/);
  });

  it('a month’s reconciliation result reads as Chinese, not JSON', () => {
    const text = reconciliationSummaryText(
      {
        exceptions: { 'not-registered-resident': 3 },
        departments: {
          'civil-affairs': { status: 'escalated' },
          'veterans-affairs': { status: 'imported', rows: 12, added: 2, removed: 1, rejected: 3 },
        },
        newlyRegistered: 0,
      },
      seedPolicy('kaiping', 2024),
    );
    expect(text).toBe(
      '民政局 逾期上报；退役军人事务局 已导入 12 行（增加 2，减少 1，拒收 3）；异常 非本地户籍人员 3 条；新登记资助对象 0 人',
    );
  });
});
