/**
 * 扣费与跟进: the deduction rounds and their results, follow-up tasks by town and village, and the 附件2
 * mobilisation list (documents/exports.ts exportMobilisationList, downloaded as the export makes
 * it; operators only, since it names people and the auditor's login reads no register).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { exportMobilisationList } from '../../documents/exports';
import { formatYuan } from '../../domain/money';
import { seedPolicy } from '../../seeds';
import { beijing, h, n, notice, page, raw } from '../html';
import { campaigns, deductionRounds, followUpsByVillage } from '../queries';
import type { RouteContext } from '../server';

const Query = z.object({
  campaign: z
    .string()
    .regex(/^[a-z]+\|\d{4}\|(drill)?$/)
    .optional(),
  town: z.string().max(50).optional(),
});

export function deductionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const chosen = async (request: FastifyRequest) => {
    const login = ctx.login(request);
    const q = Query.parse(request.query);
    const all = await campaigns(login.pool);
    const key = (c: (typeof all)[number]) => `${c.jurisdiction}|${c.year}|${c.drill ? 'drill' : ''}`;
    const campaign = all.find((c) => key(c) === q.campaign) ?? all[0];
    return { login, all, key, campaign, town: q.town };
  };

  app.get('/deductions', { config: { roles: ['operator', 'auditor'] } }, async (request, reply) => {
    const { login, all, key, campaign } = await chosen(request);
    const form = h`<form method="get" action="/deductions" class="filters"><label>征缴年度 <select name="campaign">${all.map(
      (c) =>
        h`<option value="${key(c)}"${raw(c === campaign ? ' selected' : '')}>${c.policy?.name ?? c.jurisdiction} ${c.year}${c.drill ? '（演练）' : ''}</option>`,
    )}</select></label><button type="submit">查看</button></form>`;
    let body = h`${form}${notice('ok', '账本中还没有征缴年度')}`;
    if (campaign) {
      const rounds = await deductionRounds(login.pool, campaign.jurisdiction, campaign.year);
      const villages = await followUpsByVillage(login.pool, campaign.jurisdiction, campaign.year);
      const towns = [...new Set(villages.map((v) => v.town))];
      const q = `campaign=${encodeURIComponent(key(campaign))}`;
      body = h`${form}
<h3>扣费轮次</h3>
${
  rounds.length
    ? h`<table class="rounds"><thead><tr><th>轮次</th><th>类型</th><th>应征人数</th><th>应征金额（元）</th><th>扣费成功</th><th>个人原因失败</th><th>系统原因失败</th><th>待回盘</th><th>发送时间</th></tr></thead><tbody>${rounds.map(
        (r) =>
          h`<tr><td>第 ${r.round} 轮</td><td>${r.kind === 'first' ? '首次扣费' : '补扣'}</td><td>${n(r.lines)}</td><td>${formatYuan(r.totalFen)}</td><td>${n(r.paid)}</td><td>${n(r.personal)}</td><td>${n(r.systemic)}</td><td>${n(r.pending)}</td><td>${beijing(r.createdAt)}</td></tr>`,
      )}</tbody></table>`
    : notice('ok', '尚未扣费')
}
<h3>扣费失败跟进（按镇、村）</h3>
${
  villages.length
    ? h`<table class="follow-ups"><thead><tr><th>序号</th><th>镇(街)</th><th>村(居)委会</th><th>跟进中</th><th>已缴费</th><th>弃保</th><th>停保</th></tr></thead><tbody>${villages.map(
        (v, i) =>
          h`<tr><td>${i + 1}</td><td>${v.town}</td><td>${v.village}</td><td>${n(v.open)}</td><td>${n(v.paid)}</td><td>${n(v.abandoned)}</td><td>${n(v.stopped)}</td></tr>`,
      )}</tbody></table>`
    : notice('ok', '没有跟进任务')
}
${
  login.identity.role === 'operator'
    ? h`<h3>附件2 参保宣传发动名单</h3><p class="downloads"><a href="/deductions/mobilisation?${q}" download>全部镇（.xlsx）</a>${towns.map(
        (t) =>
          h` · <a href="/deductions/mobilisation?${q}&amp;town=${encodeURIComponent(t)}" download>${t}</a>`,
      )}</p>`
    : h`<p class="hint">附件2 载有个人信息，由经办下载发给各镇。</p>`
}`;
    }
    return reply
      .type('text/html')
      .send(page({ title: '扣费与跟进', who: login.identity, csrf: ctx.csrf(reply), body }));
  });

  app.get('/deductions/mobilisation', { config: { roles: ['operator'] } }, async (request, reply) => {
    const { login, campaign, town } = await chosen(request);
    if (!campaign) return reply.code(404).send('no campaign');
    const policy = campaign.policy ?? seedPolicy(campaign.jurisdiction, campaign.year);
    const r = await exportMobilisationList(login.pool, policy, {
      reader: 'town',
      ...(town ? { townName: town } : {}),
    });
    request.log.info({ user: login.identity.user, rows: r.rows }, 'mobilisation list exported');
    return reply
      .header(
        'content-disposition',
        `attachment; filename="mobilisation-${campaign.jurisdiction}-${campaign.year}.xlsx"; filename*=UTF-8''${encodeURIComponent(`附件2-${town ?? '全部'}.xlsx`)}`,
      )
      .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .send(r.bytes);
  });
}
