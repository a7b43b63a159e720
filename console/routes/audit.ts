/**
 * 审计: a person's trail (audit/person.ts personTrail: masked for every reader but operators, by the
 * database role), the campaign timeline in Chinese (audit/history.ts), the exchange log's chain and
 * stored files re-checked (audit/verify.ts), and a file checked against the digest the log holds.
 * The ID number looked up travels in a POST body, never in a URL (URLs end up in logs and histories).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { verifyEntries } from '../../audit/verify';
import { explainPerson, verifyLog } from '../../application/audit';
import { campaignTimeline } from '../../audit/history';
import { PersonNotFound } from '../../audit/person';
import { beijing, csrfField, h, n, notice, page, type Raw } from '../html';
import { campaigns } from '../queries';
import type { RouteContext } from '../server';
import { workflowIdOf } from './campaigns';

export function auditRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const roles = ['operator', 'auditor'] as const;

  const auditPage = async (
    request: Parameters<RouteContext['login']>[0],
    reply: Parameters<RouteContext['csrf']>[0],
    result?: Raw,
    code = 200,
  ) => {
    const login = ctx.login(request);
    const all = await campaigns(login.pool);
    const csrf = ctx.csrf(reply);
    const options = all.map(
      (c) =>
        h`<option value="${c.jurisdiction}|${c.year}|${c.drill ? 'drill' : ''}">${c.policy?.name ?? c.jurisdiction} ${c.year}${c.drill ? '（演练）' : ''}</option>`,
    );
    return reply
      .code(code)
      .type('text/html')
      .send(
        page({
          title: '审计',
          who: login.identity,
          csrf,
          body: h`${result ?? ''}
<section><h3>个人审计轨迹</h3><form method="post" action="/audit/person" id="person-form">${csrfField(csrf)}
<label>公民身份号码 <input name="idNumber" required pattern="[0-9]{17}[0-9Xx]" autocomplete="off" size="20"></label>
<label>征缴年度 <select name="campaign">${options}</select></label><button type="submit">查询</button></form></section>
<section><h3>征缴年度时间线</h3><form method="get" action="/audit/timeline"><label>征缴年度 <select name="campaign">${options}</select></label><button type="submit">查看</button></form></section>
<section><h3>交换日志核验</h3><form method="post" action="/audit/verify">${csrfField(csrf)}<button type="submit">核验哈希链与存档文件</button></form>
<form method="post" action="/audit/digest?_csrf=${encodeURIComponent(csrf)}" enctype="multipart/form-data"><label>核对文件摘要 <input type="file" name="file" required></label><button type="submit">核对</button></form></section>`,
        }),
      );
  };

  app.get('/audit', { config: { roles } }, async (request, reply) => auditPage(request, reply));

  app.post('/audit/person', { config: { roles } }, async (request, reply) => {
    const login = ctx.login(request);
    const form = z
      .object({
        idNumber: z
          .string()
          .trim()
          .regex(/^\d{17}[\dXx]$/),
        campaign: z.string().regex(/^[a-z]+\|\d{4}\|(drill)?$/),
      })
      .safeParse(request.body);
    if (!form.success)
      return auditPage(request, reply, notice('error', '请输入 18 位公民身份号码并选择征缴年度'), 400);
    const [jurisdiction, year] = form.data.campaign.split('|') as [string, string];
    try {
      const t = await explainPerson(
        { pool: login.pool, temporal: ctx.deps.temporal },
        { idNumber: form.data.idNumber, jurisdiction, year: Number(year) },
      );
      request.log.info({ user: login.identity.user, entries: t.entries.length }, 'person trail read');
      const body = h`<section class="trail"><h3>个人审计轨迹：${t.person.name}（<span class="id-number">${t.person.idNumber}</span>）</h3>
<p>${jurisdiction} ${year} 年度${t.policyHash ? `，政策快照 ${t.policyHash.slice(0, 12)}` : ''}；${t.fullNumbers ? '显示完整号码（经办）' : '号码已脱敏'}；核对：${t.mismatches ? `${t.mismatches} 处不一致` : '全部一致'}${t.historyConsulted ? '（已对照工作流历史）' : ''}</p>
<table><thead><tr><th>序号</th><th>日期</th><th>事项</th><th>内容</th><th>凭证</th><th>核对</th></tr></thead><tbody>${t.entries.map(
        (e, i) =>
          h`<tr class="${e.checks.some((c) => !c.ok) ? 'mismatch' : ''}"><td>${i + 1}</td><td>${e.date}</td><td>${e.kind}</td><td>${e.what}${e.rule ? h`<div class="rule">依据：${e.rule}</div>` : ''}</td><td>${[
            e.proof.file ? `《${e.proof.file}》` : '',
            e.proof.row ? `第 ${e.proof.row} 行` : '',
            e.proof.sha256 ? `sha256 ${e.proof.sha256.slice(0, 16)}…` : '',
            e.proof.exchangeSeq !== undefined ? `交换日志 #${e.proof.exchangeSeq}` : '',
            e.proof.workflow ? `工作流 ${e.proof.workflow.workflowId}` : '',
          ]
            .filter(Boolean)
            .join(
              '，',
            )}</td><td>${e.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.what}${c.detail ? `：${c.detail}` : ''}`).join('；')}</td></tr>`,
      )}</tbody></table></section>`;
      return auditPage(request, reply, body);
    } catch (error) {
      // the message would quote the number looked up: say it in words instead
      if (error instanceof PersonNotFound)
        return auditPage(request, reply, notice('error', '在该征缴年度的账本中没有找到此人'), 404);
      throw error;
    }
  });

  app.get('/audit/timeline', { config: { roles } }, async (request, reply) => {
    const login = ctx.login(request);
    const q = z.object({ campaign: z.string().regex(/^[a-z]+\|\d{4}\|(drill)?$/) }).parse(request.query);
    const [jurisdiction, year, drill] = q.campaign.split('|') as [string, string, string];
    const workflowId = workflowIdOf(jurisdiction, Number(year), drill === 'drill');
    const client = await ctx.deps.temporal();
    const entries = await campaignTimeline(client, workflowId);
    return reply.type('text/html').send(
      page({
        title: '征缴年度时间线',
        who: login.identity,
        csrf: ctx.csrf(reply),
        body: h`<p>${workflowId}：${n(entries.length)} 条</p><table class="timeline"><thead><tr><th>序号</th><th>时间（北京时间）</th><th>征缴日历时间</th><th>事项</th><th>依据</th></tr></thead><tbody>${entries.map(
          (e, i) =>
            h`<tr><td>${i + 1}</td><td>${beijing(e.at)}</td><td>${e.campaignTime}</td><td>${e.zh}</td><td>${e.source ?? ''}</td></tr>`,
        )}</tbody></table><p><a href="/audit">返回审计</a></p>`,
      }),
    );
  });

  app.post('/audit/verify', { config: { roles } }, async (request, reply) => {
    const login = ctx.login(request);
    const r = await verifyLog({ pool: login.pool });
    request.log.info({ user: login.identity.user, ok: r.ok, entries: r.entries }, 'exchange log verified');
    return auditPage(
      request,
      reply,
      h`<section class="verify">${notice(r.ok ? 'ok' : 'error', r.ok ? `哈希链完整：${n(r.entries)} 条交换日志，${n(r.filesChecked)} 个存档文件与摘要一致` : `核验未通过：${n(r.entries)} 条交换日志`)}
${r.firstBrokenLink ? notice('error', `第 ${r.firstBrokenLink.seq} 条（${r.firstBrokenLink.fileName}）断链：${r.firstBrokenLink.reason}`) : ''}
${r.tamperedFiles.map((f) => notice('error', f.missing ? `第 ${f.seq} 条 ${f.fileName} 的存档文件缺失（${f.storedAt} 不存在，无法核对；并非内容被改动）` : `第 ${f.seq} 条 ${f.fileName} 被改动：存档文件的摘要与交换日志不一致`))}</section>`,
      r.ok ? 200 : 409,
    );
  });

  app.post('/audit/digest', { config: { roles } }, async (request, reply) => {
    const login = ctx.login(request);
    const file = await request.file();
    if (!file) return auditPage(request, reply, notice('error', '请选择文件'), 400);
    const hash = createHash('sha256');
    for await (const chunk of file.file) hash.update(chunk as Buffer);
    const sha256 = hash.digest('hex');
    const logged = await login.pool.query<{
      seq: string;
      file_name: string;
      department: string;
      direction: string;
      logged_at: Date;
    }>(
      `SELECT seq, file_name, department, direction, logged_at FROM exchange_log WHERE sha256 = $1 ORDER BY seq`,
      [sha256],
    );
    const checks = await verifyEntries(
      login.pool,
      logged.rows.map((r) => Number(r.seq)),
    );
    return auditPage(
      request,
      reply,
      logged.rows.length
        ? h`<section class="digest">${notice('ok', `文件摘要 ${sha256} 见于交换日志 ${logged.rows.length} 条`)}<table><thead><tr><th>序号</th><th>文件</th><th>部门</th><th>方向</th><th>记录时间</th><th>链与存档</th></tr></thead><tbody>${logged.rows.map(
            (r) => {
              const c = checks.get(Number(r.seq));
              return h`<tr><td>${r.seq}</td><td>${r.file_name}</td><td>${r.department}</td><td>${r.direction === 'in' ? '接收' : '发送'}</td><td>${beijing(r.logged_at)}</td><td>${c ? (c.ok ? '✓ 一致' : `✗ ${c.problem ?? ''}`) : ''}</td></tr>`;
            },
          )}</tbody></table></section>`
        : notice('error', `文件摘要 ${sha256} 不在交换日志中：此文件未经本系统交换，或已被改动`),
    );
  });
}
