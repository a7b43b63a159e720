/**
 * The console in a real browser (Debian's Chromium driven by playwright-core) against a real PostgreSQL and
 * the Temporal dev server, with a worker running the campaign against simulated departments: an operator,
 * an auditor and a department each log in with their own PostgreSQL user. Screenshots of the page a failed
 * test was on are kept in out/console-screenshots/.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import type { SimulationConfig } from '../../departments/simulated';
import { makeDrillPolicy } from '../../domain/drill';
import { seedPolicy } from '../../seeds';
import { generatePopulation } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import { buildConsole } from '../../console/server';
import { makeIdNumber } from '../../domain/id-number';
import { createTestDatabase, type Login, type TestDatabase } from '../support/database';
import { testConsole } from '../support/console';
import { devServerEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

const SCREENSHOTS = join(process.cwd(), 'out', 'console-screenshots');
/** The department whose roster the operator hands in through the console (the simulation never sends it). */
const UPLOADED_BY_OPERATOR = 'disabled-persons-federation';
/** Minutes between the drill's calendar points: long enough for a browser to hand in a roster in the window. */
const DRILL_STEP_MINUTES = '0.25';
/** People registered elsewhere added to the department's roster: rows for several of the reader's chunks. */
const ELSEWHERE = 8000;

describe('the console in Chromium: operator, auditor and department each see and may do what their role allows', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let worker: Worker;
  let running: Promise<void>;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let operator: Login;
  let auditor: Login;
  let civil: Login;
  let rosterWithBadRows: string;
  const requestLog: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [env, db] = await Promise.all([devServerEnvironment(), createTestDatabase()]);
    [operator, auditor, civil] = await Promise.all([
      db.login('operator'),
      db.login('auditor'),
      db.login('department:civil-affairs'),
    ]);
    const outDir = mkdtempSync(join(tmpdir(), 'medins-console-'));
    const manifest = await generatePopulation(
      db.pool,
      makeDrillPolicy(seedPolicy('kaiping', 2024), Date.now(), Number(DRILL_STEP_MINUTES)),
      { scale: 0.001, seed: 11, defectRate: 0.02, deltaMonths: 0, outDir },
    );
    // the roster the operator hands in: the department's own CSV with two bad rows added at the end
    const file = manifest.files.find((f) => f.department === UPLOADED_BY_OPERATOR && f.kind === 'roster')!;
    const text = readFileSync(file.path, 'utf8').replace(/\r\n$/, '');
    const category = text.split('\r\n').at(-1)!.split(',').at(-1)!;
    rosterWithBadRows = join(outDir, 'upload', `残联名单-${file.period}.csv`);
    mkdirSync(join(outDir, 'upload'));
    writeFileSync(
      rosterWithBadRows,
      `${text}\r\n9001,张校验,男,440783199901011230,开平市长沙街道,13800000000,${category}\r\n9002,李缺号,女,,开平市三埠街道,13900000000,${category}\r\n`,
    );
    const simulation: SimulationConfig = {
      seed: 11,
      populationDirs: { kaiping: outDir },
      systemicFailureRate: 0.02,
      topUpRate: 0.5,
      missingDepartments: [UPLOADED_BY_OPERATOR],
      exchangeDir: join(outDir, 'exchange'),
    };
    const taskQueue = uniqueTaskQueue('console');
    worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue,
      pool: db.pool,
      simulation,
      workflowBundle: await workflowBundle(),
    });
    running = worker.run();
    app = await buildConsole({
      ...testConsole(db.url),
      temporal: () => Promise.resolve(env.client),
      taskQueue,
      exchangeDir: join(outDir, 'exchange'),
      logStream: { write: (line: string) => void requestLog.push(line) },
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: inject('chromium'), args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
    worker?.shutdown();
    await running?.catch(() => undefined);
    await env?.teardown();
    await db?.drop();
  });

  /**
   * A fresh browser (its own cookies) logged in as `who`. A failed test leaves screenshots: of the page it
   * was on (`<name>-<time>.png`), then of every page the test had opened, opened again (`<name>-<time>-<n>.png`;
   * GET pages only: a form's answer is not sent again).
   */
  async function logIn(who: Login, name: string): Promise<Page> {
    const context = await browser.newContext({ locale: 'zh-CN', acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    const opened: string[] = [];
    page.on('response', (response) => {
      const r = response.request();
      if (r.isNavigationRequest() && r.method() === 'GET' && r.frame() === page.mainFrame())
        if (!opened.includes(r.url())) opened.push(r.url());
    });
    onTestFailed(async () => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const stamp = `${name}-${Date.now()}`;
      const shoot = (file: string) =>
        page.screenshot({ path: join(SCREENSHOTS, file), fullPage: true }).catch(() => undefined);
      await shoot(`${stamp}.png`);
      for (const [i, url] of opened.slice(0, 15).entries()) {
        if (url.endsWith('/login')) continue;
        await page.goto(url).catch(() => undefined);
        await shoot(`${stamp}-${i + 1}.png`);
      }
    });
    await page.goto(`${base}/login`);
    await page.fill('input[name=user]', who.user);
    await page.fill('input[name=password]', who.password);
    await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
    await page.waitForSelector('nav .who');
    expect(await page.locator('nav .who').textContent()).toContain(who.user);
    return page;
  }

  /** Calls `check` one call after another (each may navigate) until it holds; fails after `timeoutMs`. */
  async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not so after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  const number = (text: string | null) => Number((text ?? '').replace(/,/g, '').trim());

  it('an operator starts a drill year, hands in a roster with bad rows and downloads its rejection report, and the drill runs to its subsidy claims', async () => {
    const page = await logIn(operator, 'operator');
    expect(await page.locator('h2').textContent()).toBe('工作台');
    await page.selectOption('select[name=seed]', 'kaiping-2024');
    await page.fill('input[name=drill]', DRILL_STEP_MINUTES);
    await Promise.all([page.waitForURL('**/campaigns/preview?**'), page.click('text=预览政策')]);
    expect(await page.locator('h2').textContent()).toBe('启动征缴年度');
    expect(await page.content()).toContain('名单报送截止');
    await Promise.all([page.waitForURL(`${base}/campaigns/start`), page.click('text=确认启动演练')]);
    expect(await page.locator('.notice.ok').textContent()).toContain('已启动 campaign-kaiping-2024-drill');

    // the roster, during the roster window: the campaign stores its policy in the ledger within a second or so of starting; then it is offered
    await until(async () => {
      await page.goto(`${base}/lists`);
      return (await page.locator('select[name=campaign] option[value="kaiping|2024|drill"]').count()) === 1;
    }, 30_000);
    await page.selectOption('select[name=campaign]', 'kaiping|2024|drill');
    await page.selectOption('select[name=department]', UPLOADED_BY_OPERATOR);
    await page.setInputFiles('input[name=file]', rosterWithBadRows);
    await Promise.all([page.waitForURL(`${base}/lists/upload**`), page.click('text=上传并导入')]);
    const result = await page.locator('.result .notice').textContent();
    const counts = /读取 ([\d,]+) 行 = 接收 ([\d,]+) \+ 拒收 ([\d,]+) \+ 跳过 ([\d,]+)/.exec(result ?? '');
    expect(counts, result ?? '').not.toBeNull();
    const [read, accepted, rejected, skipped] = counts!.slice(1).map(number) as [
      number,
      number,
      number,
      number,
    ];
    expect(read).toBe(accepted + rejected + skipped);
    expect(rejected).toBeGreaterThanOrEqual(2);
    const submissionId = Number(await page.locator('.result').getAttribute('data-submission'));
    const stored = await db.pool.query<{ rows_read: number; rows_rejected: number; received_by: string }>(
      'SELECT rows_read, rows_rejected, received_by FROM submissions WHERE id = $1',
      [submissionId],
    );
    expect(stored.rows[0]).toEqual({ rows_read: read, rows_rejected: rejected, received_by: operator.user });

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.rejections')]);
    const report = readFileSync(await download.path(), 'utf8');
    expect(report).toContain('错误原因');
    expect(report).toContain('张校验');
    expect(report).toContain('李缺号');
    expect(report.trim().split(/\r?\n/).length).toBe(1 + rejected);

    // an empty file goes the CLI's way: the campaign's import refuses it, in Chinese and without Temporal's
    // wording; if the roster window is still open it is recorded in refused_files (else the deadline refuses)
    const empty = join(tmpdir(), 'empty.csv');
    writeFileSync(empty, '');
    await page.goto(`${base}/lists`);
    await page.selectOption('select[name=campaign]', 'kaiping|2024|drill');
    await page.selectOption('select[name=department]', UPLOADED_BY_OPERATOR);
    await page.setInputFiles('input[name=file]', empty);
    await Promise.all([page.waitForURL(`${base}/lists/upload**`), page.click('text=上传并导入')]);
    const refusal = (await page.locator('.notice.error').first().textContent()) ?? '';
    expect(refusal).toMatch(/^名单未被接收：/);
    expect(refusal).not.toMatch(/Workflow|请选择名单文件/);
    expect(refusal.replace('empty.csv', '')).not.toMatch(/[A-Za-z]{6,}/);
    if (refusal.includes('文件是空的')) {
      const kept = await db.pool.query(
        `SELECT byte_size::int AS bytes FROM refused_files WHERE file_name = 'empty.csv'`,
      );
      expect(kept.rows).toEqual([{ bytes: 0 }]);
    } else expect(refusal).toContain('名单报送已截止');

    // the drill year runs on, to its subsidy claims, seen on the 工作台: its last phase ends with the claim's event,
    // and the workflow completes a moment later (CI at ecc39e4 read the card in between: 进行中)
    await until(async () => {
      await page.goto(`${base}/`);
      const drill = page.locator('[data-workflow-id="campaign-kaiping-2024-drill"]');
      return (
        (await drill.locator('.phase').textContent()) === '已结束' &&
        ((await drill.textContent()) ?? '').includes('（已完成）')
      );
    }, 300_000);
    const card = page.locator('[data-workflow-id="campaign-kaiping-2024-drill"]');
    expect(await card.locator('table.claims tbody tr').count()).toBeGreaterThan(0);
    // the claims, the state and the departments in the documents' words
    const cardText = (await card.textContent()) ?? '';
    expect(cardText).toContain('个人缴费财政补助');
    expect(cardText).toContain('（已完成）');
    expect(cardText).not.toMatch(/fiscal-subsidy|COMPLETED|RUNNING|civil-affairs/);
    expect(await card.locator('.receipts').textContent()).toMatch(/申报回执：.+/);
    expect(await card.locator('table.rounds tbody tr').count()).toBeGreaterThanOrEqual(2);
    const events = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM campaign_events WHERE detail->>'operator' = $1`,
      [operator.user],
    );
    expect(events.rows[0]!.n).toBeGreaterThan(0);

    // the real year does not start on the drill's rows: refused in Chinese, saying how to clear them
    expect(await card.locator('form.clear-drill button').textContent()).toBe('清除演练数据');
    await page.selectOption('select[name=seed]', 'kaiping-2024');
    await Promise.all([page.waitForURL('**/campaigns/preview?**'), page.click('text=预览政策')]);
    await Promise.all([page.waitForURL(`${base}/campaigns/start`), page.click('button:text-is("确认启动")')]);
    expect(await page.locator('.notice.error').textContent()).toContain('正式年度不能在演练数据上启动');
    expect(await page.locator('.notice.error').textContent()).toContain('清除演练数据');
  }, 400_000);

  it('the progress chart’s bars equal the table', async () => {
    const page = await logIn(operator, 'progress');
    await page.goto(`${base}/progress?campaign=${encodeURIComponent('kaiping|2024|drill')}`);
    await page.waitForSelector('#progress-chart[data-rendered=true]');
    const rows = page.locator('table.progress tbody tr[data-town]');
    const towns: { town: string | null; enrolled: string | null }[] = [];
    for (let i = 0; i < (await rows.count()); i += 1)
      towns.push({
        town: await rows.nth(i).getAttribute('data-town'),
        enrolled: await rows.nth(i).locator('td[data-key=enrolled]').textContent(),
      });
    expect(towns.length).toBeGreaterThan(0);
    // the chart's own option, as ECharts holds it (a string: this project's TypeScript has no DOM types)
    const bars = await page.evaluate<{ towns: string[]; enrolled: number[] }>(`(() => {
      const option = echarts.getInstanceByDom(document.getElementById('progress-chart')).getOption();
      return { towns: option.xAxis[0].data, enrolled: option.series.find((s) => s.name === '参保人数').data };
    })()`);
    expect(bars.towns).toEqual(towns.map((t) => t.town));
    expect(bars.enrolled).toEqual(towns.map((t) => number(t.enrolled)));
    expect(bars.enrolled.some((v) => v > 0)).toBe(true);
  });

  it('an auditor finds a person’s trail, masked, and is refused uploads: no button, and 403 from the server', async () => {
    const person = await db.pool.query<{ id_number: string }>(
      // a person who paid by deduction
      `SELECT r.id_number FROM residents r JOIN enrollments e ON e.resident_id = r.id
       JOIN deduction_results d ON d.enrollment_id = e.id
       WHERE r.jurisdiction = 'kaiping' AND e.campaign_year = 2024 AND d.outcome = 'success' ORDER BY r.id LIMIT 1`,
    );
    const idNumber = person.rows[0]!.id_number;
    const page = await logIn(auditor, 'auditor');
    await page.goto(`${base}/audit`);
    await page.fill('input[name=idNumber]', idNumber);
    await page.selectOption('#person-form select[name=campaign]', 'kaiping|2024|drill');
    await page.click('#person-form button[type=submit]');
    const shown = await page.locator('.trail .id-number').textContent();
    expect(shown).toBe(`${idNumber.slice(0, 6)}********${idNumber.slice(14)}`);
    expect(await page.content()).not.toContain(idNumber);
    expect(await page.locator('.trail tbody tr').count()).toBeGreaterThan(1);
    expect(await page.locator('.trail').textContent()).toContain('扣费成功');

    await page.click('text=核验哈希链与存档文件');
    expect(await page.locator('.verify .notice').first().textContent()).toContain('哈希链完整');

    await page.goto(`${base}/lists`);
    expect(await page.locator('#upload-form').count()).toBe(0);
    expect(await page.getByRole('button', { name: '上传并导入' }).count()).toBe(0);
    expect(await page.locator('input[type=file]').count()).toBe(0);
    expect(await page.locator('table.submissions tbody tr').count()).toBeGreaterThan(0);
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const refused = await page.request.post(`${base}/lists/upload?_csrf=${encodeURIComponent(csrf)}`, {
      multipart: {
        campaign: 'kaiping|2024|drill',
        department: UPLOADED_BY_OPERATOR,
        file: { name: 'x.csv', mimeType: 'text/csv', buffer: readFileSync(rosterWithBadRows) },
      },
    });
    expect(refused.status()).toBe(403);
    const refusedAsDepartment = await page.request.post(
      `${base}/lists/department-upload?_csrf=${encodeURIComponent(csrf)}`,
      {
        multipart: {
          policy: 'kaiping|2024',
          department: 'civil-affairs',
          kind: 'roster',
          period: '2023-08-31',
          file: { name: 'x.csv', mimeType: 'text/csv', buffer: readFileSync(rosterWithBadRows) },
        },
      },
    );
    expect(refusedAsDepartment.status()).toBe(403);
    // nor may a form be posted without the session's CSRF token, whoever asks
    const forged = await page.request.post(`${base}/audit/verify`, { form: { _csrf: 'forged' } });
    expect(forged.status()).toBe(403);

    // the request log names routes and users, never a person's number
    const log = requestLog.join('');
    expect(log).toContain('"route":"/audit/person"');
    expect(log).not.toContain(idNumber);
    expect(log).not.toMatch(/\d{17}[\dX]/);
  });

  it('a department sees only its own lists, and no other page', async () => {
    const page = await logIn(civil, 'department');
    expect(page.url()).toBe(`${base}/lists`);
    const rows = page.locator('table.submissions tbody tr');
    const departments: (string | null)[] = [];
    for (let i = 0; i < (await rows.count()); i += 1)
      departments.push(await rows.nth(i).getAttribute('data-department'));
    const all = await db.pool.query<{ department: string }>('SELECT department FROM submissions');
    expect(new Set(all.rows.map((r) => r.department)).size).toBeGreaterThan(1);
    expect(departments.length).toBe(all.rows.filter((r) => r.department === 'civil-affairs').length);
    expect(departments.length).toBeGreaterThan(0);
    expect(new Set(departments)).toEqual(new Set(['civil-affairs']));
    expect(await page.locator('nav a').allTextContents()).toEqual(['名单']);
    // nor another department's rejection report, asked for by its number: no such list for this login
    const others = await db.pool.query<{ id: string }>(
      `SELECT id FROM submissions WHERE department <> 'civil-affairs' AND rows_rejected > 0 ORDER BY id LIMIT 1`,
    );
    const othersReport = await page.request.get(`${base}/lists/${others.rows[0]!.id}/rejections`);
    expect(othersReport.status()).toBe(404);
    expect(await othersReport.text()).not.toContain('张校验');

    // it hands in its own roster again, under its own login, as a CSV of the people of its current roster with
    // a person not in the register, a row without an ID number and a total line added at the end; and, for
    // rows enough that the reader hands them over in several chunks, 8,000 people registered elsewhere
    const current = await db.pool.query<{
      period: string;
      name: string;
      id_number: string;
      category: string;
    }>(
      `SELECT s.period, r.name, r.id_number, r.category FROM submission_rows r JOIN submissions s ON s.id = r.submission_id
       WHERE s.department = 'civil-affairs' AND s.kind = 'roster' AND s.status = 'current' AND r.accepted
       ORDER BY r.row_no`,
    );
    expect(current.rows.length).toBeGreaterThan(0);
    const civilPeriod = current.rows[0]!.period;
    const category = current.rows[0]!.category;
    const civilRosterWithBadRows = join(
      mkdtempSync(join(tmpdir(), 'medins-console-dept-')),
      `民政名单-${civilPeriod}.csv`,
    );
    writeFileSync(
      civilRosterWithBadRows,
      [
        '序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别',
        ...current.rows.map((r, i) => `${i + 1},${r.name},,${r.id_number},,,${r.category}`),
        `9101,王无籍,男,${makeIdNumber('440783', '1961-03-03', 7)},,,${category}`,
        `9102,赵缺号,女,,,,${category}`,
        ...Array.from(
          { length: ELSEWHERE },
          (_, i) =>
            `${9200 + i},外地人${i},男,${makeIdNumber('110101', new Date(Date.UTC(1950, 0, 1 + i)).toISOString().slice(0, 10), 1)},北京市东城区,,${category}`,
        ),
        `合计：${current.rows.length + 2 + ELSEWHERE}人,,,,,,`,
      ].join('\r\n') + '\r\n',
    );

    // read = accepted + rejected + skipped, and the rejection report
    expect(await page.locator('#upload-form input[name=department]').inputValue()).toBe('civil-affairs');
    await page.selectOption('select[name=policy]', 'kaiping|2024');
    await page.selectOption('select[name=kind]', 'roster');
    await page.fill('input[name=period]', civilPeriod);
    await page.setInputFiles('input[name=file]', civilRosterWithBadRows);
    // The import's progress, seen without timing it: the test holds the import back twice. First before it
    // reads a row (its list's advisory lock): the page shows 0 rows read. Then, let go, it reads and stops
    // at writing its rows (submission_rows locked against writes): only the page's asking can show the rows
    // read, and the import cannot end before the test lets it go.
    const gate = await db.pool.connect();
    const listLock = `kaiping/civil-affairs/roster/${civilPeriod}`;
    let progressSeen = 0;
    try {
      await gate.query('BEGIN');
      await gate.query('LOCK TABLE submission_rows IN SHARE MODE');
      await gate.query('SELECT pg_advisory_lock(hashtext($1))', [listLock]);
      await Promise.all([page.waitForURL(`${base}/lists/imports/*`), page.click('text=上传并导入')]);
      expect(await page.locator('.importing .rows-read').textContent()).toBe('0');
      await gate.query('SELECT pg_advisory_unlock(hashtext($1))', [listLock]);
      await until(async () => {
        progressSeen = number(await page.locator('.importing .rows-read').textContent());
        return progressSeen > 0;
      }, 120_000);
      expect(await page.locator('.result').count()).toBe(0);
      await gate.query('COMMIT');
    } finally {
      await gate.query('ROLLBACK').catch(() => undefined);
      gate.release();
    }
    // the page loads the result itself when the import ends
    await page.waitForSelector('.result .notice', { timeout: 300_000 });
    const result = await page.locator('.result .notice').textContent();
    const counts = /读取 ([\d,]+) 行 = 接收 ([\d,]+) \+ 拒收 ([\d,]+) \+ 跳过 ([\d,]+)/.exec(result ?? '');
    expect(counts, result ?? '').not.toBeNull();
    const [read, accepted, rejected, skipped] = counts!.slice(1).map(number) as [
      number,
      number,
      number,
      number,
    ];
    expect(read).toBe(accepted + rejected + skipped);
    expect(rejected).toBe(2 + ELSEWHERE);
    expect(accepted).toBe(current.rows.length);
    expect(skipped).toBe(1);
    expect(progressSeen).toBeLessThanOrEqual(read);
    const submissionId = Number(await page.locator('.result').getAttribute('data-submission'));
    const stored = await db.pool.query(
      `SELECT department, rows_read, rows_accepted, rows_rejected, rows_skipped, received_by
       FROM submissions WHERE id = $1`,
      [submissionId],
    );
    expect(stored.rows[0]).toEqual({
      department: 'civil-affairs',
      rows_read: read,
      rows_accepted: accepted,
      rows_rejected: rejected,
      rows_skipped: skipped,
      received_by: civil.user,
    });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.rejections')]);
    const report = readFileSync(await download.path(), 'utf8');
    expect(report).toContain('王无籍');
    expect(report).toContain('赵缺号');
    expect(report.trim().split(/\r?\n/).length).toBe(1 + rejected);
    // the new list is in its own history on the page
    expect(await page.locator(`table.submissions tr[data-submission="${submissionId}"]`).count()).toBe(1);

    // in another department's name: the form is the console's, the refusal is PostgreSQL's (row security)
    const before = await db.pool.query('SELECT count(*)::int AS n FROM submissions');
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const foreign = await page.request.post(
      `${base}/lists/department-upload?_csrf=${encodeURIComponent(csrf)}`,
      {
        maxRedirects: 0,
        multipart: {
          policy: 'kaiping|2024',
          department: 'veterans-affairs',
          kind: 'roster',
          period: civilPeriod,
          file: { name: 'x.csv', mimeType: 'text/csv', buffer: readFileSync(civilRosterWithBadRows) },
        },
      },
    );
    // the upload is taken (303 to its import's page); the import is refused there, in Chinese
    expect(foreign.status()).toBe(303);
    const importPage = `${base}${foreign.headers()['location']}`;
    expect(importPage).toMatch(/\/lists\/imports\/[0-9a-f]{24}$/);
    await until(
      async () =>
        ((await (await page.request.get(`${importPage}/progress`)).json()) as { state: string }).state !==
        'importing',
      60_000,
    );
    const refusal = await page.request.get(importPage);
    expect(refusal.status()).toBe(403);
    const refusalText = await refusal.text();
    expect(refusalText).toContain('名单未被接收：不能以其他部门的名义报送名单');
    expect(refusalText).not.toMatch(/row-level security|may not import|violates/);
    const after = await db.pool.query('SELECT count(*)::int AS n FROM submissions');
    expect(after.rows[0]).toEqual(before.rows[0]);
    const audit = await page.request.get(`${base}/audit`);
    expect(audit.status()).toBe(403);

    await page.click('text=退出登录');
    await page.waitForURL(`${base}/login`);
    const loggedOut = await page.request.get(`${base}/lists`, { maxRedirects: 0 });
    expect(loggedOut.status()).toBe(302);
  });

  it('a department’s import goes on when it logs out and closes the tab mid-import: the submission is kept, its counts adding up', async () => {
    const page = await logIn(civil, 'department-closed-tab');
    const current = await db.pool.query<{
      period: string;
      name: string;
      id_number: string;
      category: string;
    }>(
      `SELECT s.period, r.name, r.id_number, r.category FROM submission_rows r JOIN submissions s ON s.id = r.submission_id
       WHERE s.department = 'civil-affairs' AND s.kind = 'roster' AND s.status = 'current' AND r.accepted
       ORDER BY r.row_no`,
    );
    const period = current.rows[0]!.period;
    const file = join(mkdtempSync(join(tmpdir(), 'medins-console-tab-')), `民政名单-${period}-更正.csv`);
    writeFileSync(
      file,
      [
        '序号,姓名,性别,身份证号码,户籍地址,联系电话,特殊群体类别',
        ...current.rows.map((r, i) => `${i + 1},${r.name},,${r.id_number},,,${r.category}`),
      ].join('\r\n') + '\r\n',
    );
    const gate = await db.pool.connect();
    const listLock = `kaiping/civil-affairs/roster/${period}`;
    try {
      // the import waits at its list's lock while its person logs out and the tab goes
      await gate.query('SELECT pg_advisory_lock(hashtext($1))', [listLock]);
      await page.selectOption('select[name=policy]', 'kaiping|2024');
      await page.selectOption('select[name=kind]', 'roster');
      await page.fill('input[name=period]', period);
      await page.setInputFiles('input[name=file]', file);
      await Promise.all([page.waitForURL(`${base}/lists/imports/*`), page.click('text=上传并导入')]);
      await Promise.all([page.waitForURL(`${base}/login`), page.click('text=退出登录')]);
      await page.context().close();
    } finally {
      await gate.query('SELECT pg_advisory_unlock(hashtext($1))', [listLock]).catch(() => undefined);
      gate.release();
    }
    let kept:
      { rows_read: number; rows_accepted: number; rows_rejected: number; rows_skipped: number } | undefined;
    await until(async () => {
      const r = await db.pool.query<NonNullable<typeof kept>>(
        `SELECT rows_read, rows_accepted, rows_rejected, rows_skipped FROM submissions
         WHERE department = 'civil-affairs' AND file_name = $1 AND received_by = $2 AND status = 'current'`,
        [`民政名单-${period}-更正.csv`, civil.user],
      );
      kept = r.rows[0];
      return kept !== undefined;
    }, 120_000);
    expect(kept).toEqual({
      rows_read: current.rows.length,
      rows_accepted: current.rows.length,
      rows_rejected: 0,
      rows_skipped: 0,
    });
  });

  it('every page opens for the roles it is for, in Chinese, and its downloads are the existing exports', async () => {
    const campaign = encodeURIComponent('kaiping|2024|drill');
    const pages: [string, string][] = [
      ['/', '工作台'],
      ['/lists', '名单'],
      [`/progress?campaign=${campaign}`, '进度'],
      [`/deductions?campaign=${campaign}`, '扣费与跟进'],
      ['/reconciliation', '对账'],
      ['/audit', '审计'],
      [`/audit/timeline?campaign=${campaign}`, '征缴年度时间线'],
    ];
    for (const [who, name] of [
      [operator, 'pages-operator'],
      [auditor, 'pages-auditor'],
    ] as const) {
      const page = await logIn(who, name);
      for (const [path, title] of pages) {
        const response = await page.goto(`${base}${path}`);
        expect(response?.status(), path).toBe(200);
        expect(await page.locator('h2').textContent(), path).toBe(title);
      }
      expect(await page.locator('table.timeline tbody tr').count()).toBeGreaterThan(5);
      expect(await page.locator('table.timeline').textContent()).toContain('扣费');
      await page.goto(`${base}/deductions?campaign=${campaign}`);
      expect(await page.locator('table.rounds tbody tr').count()).toBeGreaterThanOrEqual(2);
      const mobilisation = await page.request.get(`${base}/deductions/mobilisation?campaign=${campaign}`);
      // 附件2 names people: operators download it, auditors are refused
      expect(mobilisation.status()).toBe(who === operator ? 200 : 403);
      if (who === operator) expect((await mobilisation.body()).subarray(0, 2).toString()).toBe('PK');
      const xlsx = await page.request.get(`${base}/progress/xlsx?campaign=${campaign}`);
      expect(xlsx.status()).toBe(200);
      expect((await xlsx.body()).subarray(0, 2).toString()).toBe('PK');
    }
  });

  it('对账: an operator records a decision on an exception; the auditor reads it, the ID in its reason masked, and may not decide', async () => {
    const idNumber = makeIdNumber('440783', '1958-04-04', 3);
    const x = await db.pool.query<{ id: string }>(
      `INSERT INTO reconciliation_exceptions (jurisdiction, month, kind, id_number, detail)
       VALUES ('kaiping', '2024-03', 'paid-but-not-enrolled', $1, '{}') RETURNING id`,
      [idNumber],
    );
    const id = x.rows[0]!.id;
    const page = await logIn(operator, 'operator-reconciliation');
    await page.goto(`${base}/reconciliation?jurisdiction=kaiping`);
    const row = page.locator(`tr[data-exception="${id}"]`);
    expect(await row.locator('.decision').textContent()).toBe('待处理');
    await row.locator('select[name=decision]').selectOption('referred');
    await row.locator('input[name=reason]').fill(`请民政核实 ${idNumber}`);
    await Promise.all([
      page.waitForURL(`${base}/reconciliation?jurisdiction=kaiping**`),
      row.locator('button').click(),
    ]);
    expect(await row.locator('.decision').textContent()).toBe('转部门核实');
    expect(await row.locator('.decided-by').textContent()).toBe(operator.user);
    const stored = await db.pool.query(
      'SELECT decision, decided_by FROM reconciliation_exception_decisions WHERE exception_id = $1',
      [id],
    );
    expect(stored.rows).toEqual([{ decision: 'referred', decided_by: operator.user }]);

    const audit = await logIn(auditor, 'auditor-reconciliation');
    await audit.goto(`${base}/reconciliation?jurisdiction=kaiping`);
    const seen = audit.locator(`tr[data-exception="${id}"]`);
    expect(await seen.locator('.decision').textContent()).toBe('转部门核实');
    expect(await seen.locator('.reason').textContent()).toBe(
      `请民政核实 ${idNumber.slice(0, 6)}********${idNumber.slice(-4)}`,
    );
    expect(await audit.content()).not.toContain(idNumber);
    expect(await seen.locator('form').count()).toBe(0);
    const csrf = await audit.locator('input[name=_csrf]').first().inputValue();
    const refused = await audit.request.post(`${base}/reconciliation/exceptions/${id}/decide`, {
      form: { _csrf: csrf, jurisdiction: 'kaiping', decision: 'no-action', reason: '审计不应决定' },
    });
    expect(refused.status()).toBe(403);
  });

  it('an operator clears the closed drill’s rows on the 工作台, recorded under the operator', async () => {
    const page = await logIn(operator, 'clear-drill');
    const card = page.locator('[data-workflow-id="campaign-kaiping-2024-drill"]');
    await Promise.all([
      page.waitForURL(`${base}/campaigns/clear-drill`),
      card.locator('form.clear-drill button').click(),
    ]);
    expect(await page.locator('.notice.ok').textContent()).toMatch(
      /已清除 kaiping 2024 年度演练写入的数据（参保 [\d,]+ 条，扣费批次 \d+ 个/,
    );
    const left = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM levy_batches WHERE jurisdiction = 'kaiping' AND campaign_year = 2024`,
    );
    expect(left.rows[0]!.n).toBe(0);
    const claims = await db.pool.query<{ cleared_by: string | null }>(
      `SELECT cleared_by FROM campaign_year_claims WHERE drill AND jurisdiction = 'kaiping' AND campaign_year = 2024`,
    );
    expect(claims.rows).toEqual([{ cleared_by: operator.user }]);
    await page.goto(`${base}/`);
    expect(await card.locator('form.clear-drill').count()).toBe(0);
  });

  it('a login ends after the idle timeout, and login attempts past the limit are refused with 429', async () => {
    // the idle timeout's clock is the test's own: it moves past the timeout at once, so neither a slow machine
    // (a login idle "too long" before its first page) nor a late request of the browser's (the favicon) decides
    let now = Date.now();
    const strict = await buildConsole({
      ...testConsole(db.url, {
        CONSOLE_SESSION_SECRET: 'another-test-secret-of-at-least-thirty-two-chars',
        CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: 3,
      }),
      temporal: () => Promise.resolve(env.client),
      taskQueue: 'unused',
      logStream: { write: () => undefined },
      clock: () => now,
    });
    const at = await strict.listen({ host: '127.0.0.1', port: 0 });
    try {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      const attempt = async (password: string) => {
        await page.goto(`${at}/login`);
        await page.fill('input[name=user]', auditor.user);
        await page.fill('input[name=password]', password);
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'POST'),
          page.click('button[type=submit]'),
        ]);
        return response.status();
      };
      expect(await attempt(auditor.password)).toBe(302);
      // the redirect's page, loaded (the login form's own h2 is still there until it is)
      await page.waitForURL(`${at}/`);
      expect(await page.locator('h2').textContent()).toBe('工作台');
      await page.goto(`${at}/lists`);
      expect(await page.locator('h2').textContent()).toBe('名单');
      now += 15 * 60_000 + 1;
      await page.goto(`${at}/lists`);
      expect(page.url()).toBe(`${at}/login?timeout=1`);
      expect(await page.locator('.notice.error').textContent()).toContain('长时间未操作');
      expect(await attempt('wrong-password-1')).toBe(401);
      // three attempts a minute from one address: the first login, one wrong password, a second; then 429
      expect(await attempt('wrong-password-2')).toBe(401);
      expect(await attempt('wrong-password-3')).toBe(429);
      expect(await page.locator('.notice.error').textContent()).toContain('登录尝试过于频繁');
    } finally {
      await strict.close();
    }
  });

  it('health answers without a login; a wrong password is refused', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', temporal: 'ok' });
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name=user]', operator.user);
    await page.fill('input[name=password]', 'not-the-password');
    await page.click('button[type=submit]');
    expect(await page.locator('.notice.error').textContent()).toBe('用户名或密码错误');
  });
});
