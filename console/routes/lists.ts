/**
 * 名单: the lists received (a department's login sees its own only: row-level security in the database, not
 * a filter here), their result (read = accepted + rejected + skipped), the rejection report to download,
 * held rosters to confirm or reject, and the operator's upload of a department's roster to a running
 * campaign: the same use case as the CLI's (application/campaigns.ts submitRosterFile: stored by digest, then
 * handed to the campaign by its Update), so the import runs in the worker as it does for the CLI.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { rejectionReport, writeMaskedRejections } from '../../documents/rejection-report';
import { importDepartmentList, type ListImportResult } from '../../lists/import-list';
import { decideRoster, submitRosterFile } from '../../application/campaigns';
import { listSubmissions } from '../../application/lists';
import { heldRosters, wouldBeClosed } from '../../client/held-rosters';
import { UploadRefused } from '../../application/uploads';
import { RefusedError } from '../../domain/failures';
import { explain, logged, NotVisible } from '../errors';
import { deltaRegistrationDay } from '../../domain/reconciliation';
import { seedPolicies, seedPolicy, seedPolicyKeys } from '../../seeds';
import { isIsoDate } from '../../domain/dates';
import { exchangeDirOf, loadConfig } from '../../worker/config';
import {
  beijing,
  csrfField,
  departmentLabel,
  h,
  jurisdictionLabel,
  n,
  notice,
  page,
  SUBMISSION_STATUS_NAMES,
  type Raw,
} from '../html';
import { campaigns, type CampaignRow } from '../queries';
import { ImportJobs } from '../imports';
import type { RouteContext } from '../server';
import { workflowIdOf } from './campaigns';

const JobId = z.string().regex(/^[0-9a-f]{24}$/);

/** A list's number in a path: anything but a positive integer is a list nobody can see (404, in Chinese). */
function listId(params: unknown): number {
  const id = z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1)
    .safeParse((params as { id: string }).id);
  if (!id.success) throw new NotVisible('未找到该名单，或您无权查看');
  return id.data;
}

/** The department's upload form: a seeded plan, its own department, the kind and a real 时点 or 月份. */
const DepartmentUpload = z
  .object({
    policy: z
      .string()
      .regex(/^[a-z]+\|\d{4}$/)
      .refine((p) => seedPolicyKeys().includes(p.replace('|', '-'))),
    department: z.string().min(1),
    kind: z.enum(['roster', 'delta']),
    period: z.string().trim(),
  })
  .superRefine((form, issues) => {
    // a 时点 that exists (2023-13-45 does not), checked before PostgreSQL sees it
    const ok = form.kind === 'roster' ? isIsoDate(form.period) : /^\d{4}-(0[1-9]|1[0-2])$/.test(form.period);
    if (!ok) issues.addIssue({ code: 'custom', path: ['period'], message: 'period' });
  });

/** The form's fault in Chinese, naming the field (时点/月份 says what a good one looks like). */
function uploadFormFault(error: z.ZodError, kind: string | undefined): string {
  const fields = new Set(error.issues.map((i) => String(i.path[0] ?? '')));
  if (fields.size === 1 && fields.has('period'))
    return kind === 'delta'
      ? '时点/月份填写有误：增减名单的月份应为 YYYY-MM（如 2023-09）'
      : '时点/月份填写有误：全量名单的时点应为真实存在的日期 YYYY-MM-DD（如 2023-08-31）';
  return explain(error).text;
}

/** The result of a department's own import, in the words of the 名单 page. */
function importedNotice(fileName: string, r: ListImportResult): Raw {
  if (r.held)
    return notice(
      'error',
      `名单 ${fileName} 待确认：将关闭本部门 ${n(r.openBefore ?? 0)} 个现有身份中的 ${n(r.wouldClose ?? 0)} 个，将开启 ${n(r.wouldOpen ?? 0)} 个，经办确认前不作变更（编号 ${r.submissionId}）`,
    );
  if (r.notInForce)
    return notice('error', `名单 ${fileName} 未生效（编号 ${r.submissionId}）：${r.notInForce}`);
  return h`<div class="result" data-submission="${r.submissionId}">${notice(
    'ok',
    `名单 ${fileName} ${r.alreadyImported ? '此前已导入，未作变更' : '已导入'}（编号 ${r.submissionId}）：读取 ${n(r.rowsRead)} 行 = 接收 ${n(r.rowsAccepted)} + 拒收 ${n(r.rowsRejected)} + 跳过 ${n(r.rowsSkipped)}；开启身份 ${n(r.identitiesOpened)}，关闭 ${n(r.identitiesClosed)}`,
  )}${r.rowsRejected > 0 ? h`<p><a href="/lists/${r.submissionId}/rejections" download class="rejections">下载拒收报告</a></p>` : ''}</div>`;
}

/**
 * Who received a list, as the page says it: a person's login as it is; `adapter:<department>` (a list the
 * campaign fetched through the department's adapter, workflows/campaign.ts) as 民政局（系统接口）.
 */
function receiverLabel(receivedBy: string, policy?: Parameters<typeof departmentLabel>[1]): string {
  const m = /^adapter:(.+)$/.exec(receivedBy);
  return m ? `${departmentLabel(m[1]!, policy)}（系统接口）` : receivedBy;
}

export function listRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const imports = new ImportJobs();
  const jobOf = (request: Parameters<RouteContext['login']>[0]) => {
    const id = JobId.safeParse((request.params as { job: string }).job);
    return id.success ? imports.get(id.data, ctx.login(request).identity.user) : undefined;
  };
  const listPage = async (
    request: Parameters<RouteContext['login']>[0],
    reply: FastifyReply,
    result?: Raw,
    code = 200,
  ) => {
    const login = ctx.login(request);
    const who = login.identity;
    const rows = await listSubmissions(login.pool, { newestFirst: true, limit: 200 });
    // departments read no policies; their lists name their own department only
    const known: CampaignRow[] = who.role === 'department' ? [] : await campaigns(login.pool);
    const policyOf = (jurisdiction: string) =>
      known.find((c) => c.jurisdiction === jurisdiction)?.policy ?? undefined;
    const csrf = ctx.csrf(reply);
    const held = who.role === 'department' ? [] : await heldRosters(login.pool);
    const uploadForm =
      who.role === 'operator'
        ? h`<section class="upload"><h3>报送名单（交给正在进行的征缴年度）</h3>
<form method="post" action="/lists/upload?_csrf=${encodeURIComponent(csrf)}" enctype="multipart/form-data" id="upload-form">
<label>征缴年度 <select name="campaign">${known.map(
            (c) =>
              h`<option value="${c.jurisdiction}|${c.year}|${c.drill ? 'drill' : ''}">${c.policy?.name ?? c.jurisdiction} ${c.year}${c.drill ? '（演练）' : ''}</option>`,
          )}</select></label>
<label>认定部门 <select name="department">${(known.find((c) => c.policy)?.policy?.departments ?? []).map(
            (d) => h`<option value="${d.id}">${d.name}</option>`,
          )}</select></label>
<label>名单文件（.xlsx 或 .csv） <input type="file" name="file" required accept=".xlsx,.csv"></label>
<button type="submit">上传并导入</button> <span class="progress" id="upload-progress" hidden>正在上传并导入，请稍候……</span>
</form></section>`
        : who.role === 'department'
          ? h`<section class="upload"><h3>报送本部门名单（以本部门账号导入，比对户籍在数据库内进行）</h3>
<form method="post" action="/lists/department-upload?_csrf=${encodeURIComponent(csrf)}" enctype="multipart/form-data" id="upload-form">
<input type="hidden" name="department" value="${who.department}">
<label>征缴年度 <select name="policy">${seedPolicies().map(
              (p) => h`<option value="${p.jurisdiction}|${p.year}">${p.name} ${p.year}</option>`,
            )}</select></label>
<label>名单类型 <select name="kind"><option value="roster">全量名单</option><option value="delta">月度增减</option></select></label>
<label>时点/月份（全量名单填截止日期 YYYY-MM-DD，增减填月份 YYYY-MM） <input name="period" required pattern="\\d{4}-\\d{2}(-\\d{2})?"></label>
<label>名单文件（.xlsx 或 .csv） <input type="file" name="file" required accept=".xlsx,.csv"></label>
<button type="submit">上传并导入</button> <span class="progress" id="upload-progress" hidden>正在上传并导入，请稍候……</span>
</form></section>`
          : h``;
    const table = h`<table class="submissions"><thead><tr><th>编号</th><th>地区</th><th>认定部门</th><th>类型</th><th>时点/月份</th><th>文件</th><th>读取</th><th>接收</th><th>拒收</th><th>跳过</th><th>状态</th><th>接收人</th><th>接收时间</th><th>拒收报告</th></tr></thead><tbody>${rows.map(
      (s) =>
        h`<tr data-submission="${s.id}" data-department="${s.department}"><td>${s.id}</td><td>${jurisdictionLabel(s.jurisdiction)}</td><td>${departmentLabel(s.department, policyOf(s.jurisdiction))}</td><td>${s.kind === 'roster' ? '全量名单' : '月度增减'}</td><td>${s.period}</td><td>${s.fileName}</td><td class="read">${n(s.rowsRead)}</td><td class="accepted">${n(s.rowsAccepted)}</td><td class="rejected">${n(s.rowsRejected)}</td><td class="skipped">${n(s.rowsSkipped)}</td><td>${SUBMISSION_STATUS_NAMES[s.status] ?? s.status}</td><td>${receiverLabel(s.receivedBy, policyOf(s.jurisdiction))}</td><td>${beijing(s.receivedAt)}</td><td>${s.rowsRejected > 0 ? h`<a href="/lists/${s.id}/rejections" download>下载</a>` : ''}</td></tr>`,
    )}</tbody></table>`;
    const heldTable = held.length
      ? h`<section class="held"><h3>待确认的名单（将关闭过多身份，须经办确认）</h3><table><thead><tr><th>编号</th><th>认定部门</th><th>时点</th><th>文件</th><th>将关闭</th><th>现有身份</th><th>将开启</th><th></th></tr></thead><tbody>${held.map(
          (x) =>
            h`<tr><td>${x.submissionId}</td><td>${departmentLabel(x.department, policyOf(x.jurisdiction))}</td><td>${x.period}</td><td>${x.fileName}</td><td>${n(x.wouldClose)}</td><td>${n(x.openBefore)}</td><td>${x.wouldOpen === null ? '—' : n(x.wouldOpen)}</td><td><a href="/lists/held/${x.submissionId}">查看将关闭的人员</a>${
              who.role === 'operator'
                ? h` <form method="post" action="/lists/held/${x.submissionId}/decide" class="inline">${csrfField(csrf)}<input type="hidden" name="wouldClose" value="${x.wouldClose}"><input type="hidden" name="openBefore" value="${x.openBefore}">${x.wouldOpen === null ? '' : h`<input type="hidden" name="wouldOpen" value="${x.wouldOpen}">`}<button name="decision" value="confirm">确认</button> <button name="decision" value="reject">退回</button></form>`
                : ''
            }</td></tr>`,
        )}</tbody></table></section>`
      : h``;
    return reply
      .code(code)
      .type('text/html')
      .send(
        page({
          title: '名单',
          who,
          csrf,
          scripts: who.role === 'auditor' ? [] : ['/assets/upload.js'],
          body: h`${result ?? ''}${uploadForm}${heldTable}<h3>${who.role === 'department' ? '本部门报送记录' : '已接收的名单'}</h3>${rows.length ? table : notice('ok', '尚未收到名单')}`,
        }),
      );
  };

  app.get('/lists', async (request, reply) => listPage(request, reply));

  app.post('/lists/upload', { config: { roles: ['operator'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const fields: Record<string, string> = {};
    const dir = mkdtempSync(join(tmpdir(), 'medins-console-upload-'));
    let path: string | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          // the department's own file name is kept (the exchange log and the trail name it); never a path
          const name = basename(part.filename || 'list').replace(/[^\p{L}\p{N}._()（）-]/gu, '_');
          path = join(dir, name);
          await pipeline(part.file, createWriteStream(path));
          if (part.file.truncated) throw new UploadRefused(`${name}：文件超过上限`);
        } else fields[part.fieldname] = String(part.value);
      }
      const form = z
        .object({ campaign: z.string().regex(/^[a-z]+\|\d{4}\|(drill)?$/), department: z.string().min(1) })
        .parse(fields);
      // an empty file is handed in like any other: the import refuses it and records it in refused_files,
      // as `campaign submit-list` does (the same use case); only no file at all is the form's fault
      if (!path) return listPage(request, reply, notice('error', '请选择名单文件'), 400);
      const [jurisdiction, year, drill] = form.campaign.split('|') as [string, string, string];
      const workflowId = workflowIdOf(jurisdiction, Number(year), drill === 'drill');
      // the file's upload and the connection fail as the page's own errors; the Update's refusal is the result
      let updating = false;
      try {
        const { stored, status: r } = await submitRosterFile(
          {
            pool: login.pool,
            temporal: async () => {
              const client = await ctx.deps.temporal();
              updating = true;
              return client;
            },
          },
          { workflowId, department: form.department, path, operator: login.identity.user },
        );
        request.log.info(
          { user: login.identity.user, workflowId, submission: r.submissionId, status: r.status },
          'roster submitted',
        );
        const result =
          r.status === 'held'
            ? notice(
                'error',
                `名单 ${stored.fileName} 待确认：将关闭本部门 ${n(r.openIdentities)} 个现有身份中的 ${n(r.wouldClose)} 个${r.wouldOpen !== undefined ? `，新增 ${n(r.wouldOpen)} 个` : ''}，经办确认前不作变更（编号 ${r.submissionId}）`,
              )
            : h`<div class="result" data-submission="${r.submissionId}">${notice(
                'ok',
                `名单 ${stored.fileName} 已导入（编号 ${r.submissionId}）：读取 ${n(r.rowsRead)} 行 = 接收 ${n(r.rowsAccepted)} + 拒收 ${n(r.rowsRejected)} + 跳过 ${n(r.rowsSkipped ?? 0)}`,
              )}${(r.rowsRejected ?? 0) > 0 ? h`<p><a href="/lists/${r.submissionId}/rejections" download class="rejections">下载拒收报告</a></p>` : ''}</div>`;
        return listPage(request, reply, result);
      } catch (error) {
        if (!updating) throw error;
        const said = explain(error);
        request.log.warn(
          { user: login.identity.user, workflowId, err: logged(error, !said.known) },
          'roster refused',
        );
        return listPage(request, reply, notice('error', `名单未被接收：${said.text}`), said.status);
      }
    } catch (error) {
      if (error instanceof UploadRefused)
        return listPage(request, reply, notice('error', `上传失败：${error.message}`), 400);
      if (error instanceof z.ZodError)
        return listPage(request, reply, notice('error', `上传失败：${explain(error).text}`), 400);
      throw error;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /**
   * A certifying department hands in its own list (issue 18's import under its own login): the file is read
   * and judged here, as `lists import` does, through the department's own connection pool, so the rows it
   * writes pass its row-level security and the register is matched inside the database (list_match_rows).
   * The department named comes from the form; a list in another department's name is refused by PostgreSQL,
   * not by this code. Once the file is received the import runs on without the request (ImportJobs): the
   * answer is a 303 to its page (/lists/imports/:job), which shows the rows read so far and then the result
   * (read = accepted + rejected + skipped) with the rejection report link, or the refusal (422).
   */
  app.post('/lists/department-upload', { config: { roles: ['department'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const fields: Record<string, string> = {};
    let bytes: Buffer | undefined;
    let fileName = 'list';
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          fileName = basename(part.filename || 'list').replace(/[^\p{L}\p{N}._()（）-]/gu, '_');
          bytes = await part.toBuffer();
        } else fields[part.fieldname] = String(part.value);
      }
      const parsed = DepartmentUpload.safeParse(fields);
      if (!parsed.success)
        return listPage(
          request,
          reply,
          notice('error', `上传失败：${uploadFormFault(parsed.error, fields.kind)}`),
          400,
        );
      const form = parsed.data;
      // an empty file is read and refused like any other, and recorded in refused_files (as lists import)
      if (!bytes) return listPage(request, reply, notice('error', '请选择名单文件'), 400);
      const [jurisdiction, year] = form.policy.split('|') as [string, string];
      const policy = seedPolicy(jurisdiction, Number(year));
      const file = bytes;
      const exchangeDir = ctx.deps.exchangeDir ?? exchangeDirOf(loadConfig());
      const log = request.log;
      const user = login.identity.user;
      // the import goes on without this request: the page that follows asks for its rows read by the job's id
      const job = imports.start(
        login,
        fileName,
        async (onProgress) => {
          const r = await importDepartmentList(
            { pool: login.pool, policy, exchangeDir, onProgress },
            {
              jurisdiction,
              department: form.department,
              kind: form.kind,
              period: form.period,
              effectiveOn: form.kind === 'roster' ? form.period : deltaRegistrationDay(policy, form.period),
              fileName,
              receivedBy: user,
            },
            file,
          );
          log.info({ user, submission: r.submissionId, held: r.held }, 'department list imported');
          return r;
        },
        (error) => {
          const said = explain(error);
          log.warn(
            { user, department: form.department, err: logged(error, !said.known) },
            'department list refused',
          );
          return { status: said.status, text: said.text };
        },
      );
      return reply.redirect(`/lists/imports/${job.id}`, 303);
    } catch (error) {
      if (error instanceof Error && /file too large/i.test(error.message))
        return listPage(request, reply, notice('error', '上传失败：文件过大'), 413);
      throw error;
    }
  });

  /**
   * A department's import under way or done: rows read so far while it imports (upload.js asks the progress
   * route every second and shows the result when it ends), then read = accepted + rejected + skipped and the
   * rejection report, or why it was refused (422 for a file that cannot be read, 403 for a list in another
   * department's name: console/errors.ts). Only the login that started it may see it (else 404).
   */
  app.get('/lists/imports/:job', { config: { roles: ['department'] } }, async (request, reply) => {
    const job = jobOf(request);
    if (!job)
      return listPage(request, reply, notice('error', '没有这次导入（已过一小时或不是本账号的导入）'), 404);
    if (job.state === 'imported') return listPage(request, reply, importedNotice(job.fileName, job.result!));
    if (job.state === 'refused')
      return listPage(
        request,
        reply,
        notice('error', `名单未被接收：${job.refusal?.text ?? ''}`),
        job.refusal?.status ?? 422,
      );
    return listPage(
      request,
      reply,
      h`<div class="importing" data-progress="/lists/imports/${job.id}/progress" role="status"><p class="notice ok">名单 ${job.fileName} 正在导入：已读取 <span class="rows-read">${n(job.rowsRead)}</span> 行……（关闭本页不影响导入，结果见下方报送记录）</p></div>`,
    );
  });

  /** The rows read so far of an import, as JSON: { state, rowsRead } (state importing, imported or refused). */
  app.get('/lists/imports/:job/progress', { config: { roles: ['department'] } }, async (request, reply) => {
    const job = jobOf(request);
    if (!job) return reply.code(404).send({ state: 'unknown' });
    return reply.send({ state: job.state, rowsRead: job.rowsRead });
  });

  app.get('/lists/:id/rejections', async (request, reply) => {
    const login = ctx.login(request);
    const id = listId(request.params);
    // a list the reader's login cannot see (another department's: row-level security) and a list with no
    // stored file are answered alike, 404, so the answer does not tell whether it exists
    const visible = await login.pool.query('SELECT 1 FROM submissions WHERE id = $1', [id]);
    if (!visible.rowCount) throw new NotVisible('未找到该名单，或您无权查看');
    if (login.identity.role === 'auditor') {
      // the auditor's report: the masked view only (no full ID, name, address or phone)
      const dir = mkdtempSync(join(tmpdir(), 'medins-console-rejections-'));
      try {
        const file = join(dir, 'rejections.csv');
        await writeMaskedRejections(login.pool, id, file);
        return reply
          .header('content-disposition', `attachment; filename="submission-${id}-rejections-masked.csv"`)
          .type('text/csv; charset=utf-8')
          .send(readFileSync(file));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const report = await rejectionReport(login.pool, id).catch((error: unknown) => {
      if (error instanceof Error && /has no stored file/.test(error.message))
        throw new NotVisible('未找到该名单的原始文件，无法生成拒收报告');
      throw error;
    });
    return reply
      .header(
        'content-disposition',
        `attachment; filename="rejections-${id}.${report.format}"; filename*=UTF-8''${encodeURIComponent(report.fileName)}`,
      )
      .type(
        report.format === 'xlsx'
          ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
          : 'text/csv',
      )
      .send(report.bytes);
  });

  app.get('/lists/held/:id', { config: { roles: ['operator', 'auditor'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const id = listId(request.params);
    const people = await wouldBeClosed(login.pool, id);
    return reply.type('text/html').send(
      page({
        title: '待确认名单将关闭的人员',
        who: login.identity,
        csrf: ctx.csrf(reply),
        body: h`<p>名单编号 ${id}：${n(people.length)} 个身份将关闭（身份证号已脱敏）</p>
<table><thead><tr><th>序号</th><th>公民身份号码</th><th>姓名</th><th>类别</th><th>起始日期</th></tr></thead><tbody>${people.map(
          (p, i) =>
            h`<tr><td>${i + 1}</td><td>${p.idNumber}</td><td>${p.name}</td><td>${p.category}</td><td>${p.openedOn}</td></tr>`,
        )}</tbody></table><p><a href="/lists">返回名单</a></p>`,
      }),
    );
  });

  app.post('/lists/held/:id/decide', { config: { roles: ['operator'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const id = listId(request.params);
    const { decision, wouldClose, openBefore, wouldOpen } = z
      .object({
        decision: z.enum(['confirm', 'reject']),
        // the figures the page showed: the roster is applied only if it would still do exactly that
        wouldClose: z.coerce.number().int().min(0).optional(),
        openBefore: z.coerce.number().int().min(0).optional(),
        wouldOpen: z.coerce.number().int().min(0).optional(),
      })
      .parse(request.body);
    const shown =
      wouldClose !== undefined && openBefore !== undefined
        ? { wouldClose, openBefore, ...(wouldOpen !== undefined ? { wouldOpen } : {}) }
        : undefined;
    // the ledger first, under the operator's own login; then the campaign that imported it, if running
    let decided: Awaited<ReturnType<typeof decideRoster>>;
    try {
      decided = await decideRoster(
        { pool: login.pool, temporal: ctx.deps.temporal },
        { submissionId: id, decision, operator: login.identity.user, ...(shown ? { shown } : {}) },
      );
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      return listPage(request, reply, notice('error', `名单 ${id} 未作变更：${error.message}`), 409);
    }
    const told = decided.campaign ?? '';
    request.log.info({ user: login.identity.user, submission: id, decision }, 'held roster decided');
    return listPage(
      request,
      reply,
      notice(
        'ok',
        decision === 'confirm'
          ? `名单 ${id} 已由 ${login.identity.user} 确认：开启 ${n(decided.opened)} 个身份，关闭 ${n(decided.closed)} 个${told ? `；已通知 ${told}` : ''}`
          : `名单 ${id} 已由 ${login.identity.user} 退回：不作变更，请部门重新报送${told ? `；已通知 ${told}` : ''}`,
      ),
    );
  });
}
