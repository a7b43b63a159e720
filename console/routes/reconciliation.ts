/**
 * 对账: the monthly reconciliation schedule of a jurisdiction (its Temporal Schedule: next and recent times
 * in Beijing time), each month's result, and the exceptions queue (ID numbers masked for every reader: the
 * audit view).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeSchedule, formatInZone } from '../../client/reconcile-commands';
import { beijing, h, notice, page, raw } from '../html';
import { campaigns, reconciliationExceptions, reconciliations } from '../queries';
import type { RouteContext } from '../server';

export function reconciliationRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/reconciliation', { config: { roles: ['operator', 'auditor'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const all = await campaigns(login.pool);
    const jurisdictions = [...new Set(all.map((c) => c.jurisdiction))];
    const q = z
      .object({
        jurisdiction: z
          .string()
          .regex(/^[a-z]+$/)
          .optional(),
      })
      .parse(request.query);
    const jurisdiction = q.jurisdiction ?? jurisdictions[0];
    const form = h`<form method="get" action="/reconciliation" class="filters"><label>地区 <select name="jurisdiction">${jurisdictions.map(
      (j) =>
        h`<option value="${j}"${raw(j === jurisdiction ? ' selected' : '')}>${all.find((c) => c.jurisdiction === j)?.policy?.name ?? j}</option>`,
    )}</select></label><button type="submit">查看</button></form>`;
    let body = h`${form}${notice('ok', '账本中还没有征缴年度')}`;
    if (jurisdiction) {
      let schedule = h`${notice('ok', '尚未建立月度对账计划（reconcile schedule create）')}`;
      try {
        const client = await ctx.deps.temporal();
        const d = await describeSchedule(client, jurisdiction);
        const zone = d.spec.timezone ?? 'UTC';
        const time = (t: Date) => formatInZone(t, zone).replace('Beijing time', '北京时间');
        schedule = h`<dl><dt>计划</dt><dd>${d.scheduleId}（${d.state.paused ? '已暂停' : '运行中'}）${d.state.note ? `：${d.state.note}` : ''}</dd>
<dt>下次对账</dt><dd>${d.info.nextActionTimes.slice(0, 3).map(time).join('；') || '无'}</dd>
<dt>最近对账</dt><dd>${d.info.recentActions.map((a) => `${time(a.scheduledAt)} ${a.action.workflow.workflowId}`).join('；') || '无'}</dd></dl>`;
      } catch {
        // no schedule yet (or no Temporal server): the ledger's results below still show
      }
      const months = await reconciliations(login.pool, jurisdiction);
      const exceptions = await reconciliationExceptions(login.pool, jurisdiction);
      body = h`${form}<h3>月度对账计划</h3>${schedule}
<h3>各月对账结果</h3>${
        months.length
          ? h`<table class="months"><thead><tr><th>月份</th><th>工作流</th><th>开始（北京时间）</th><th>完成（北京时间）</th><th>结果</th></tr></thead><tbody>${months.map(
              (m) =>
                h`<tr><td>${m.month}</td><td>${m.workflowId}</td><td>${beijing(m.startedAt)}</td><td>${beijing(m.finishedAt)}</td><td>${
                  m.summary
                    ? Object.entries(m.summary)
                        .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
                        .join('；')
                    : '进行中'
                }</td></tr>`,
            )}</tbody></table>`
          : notice('ok', '尚无对账记录')
      }
<h3>异常队列</h3>${
        exceptions.length
          ? h`<table class="exceptions"><thead><tr><th>月份</th><th>类型</th><th>公民身份号码（脱敏）</th><th>详情</th></tr></thead><tbody>${exceptions.map(
              (x) =>
                h`<tr><td>${x.month}</td><td>${x.kind}</td><td>${x.idNumber ?? ''}</td><td>${JSON.stringify(x.detail)}</td></tr>`,
            )}</tbody></table>`
          : notice('ok', '没有异常')
      }`;
    }
    return reply
      .type('text/html')
      .send(page({ title: '对账', who: login.identity, csrf: ctx.csrf(reply), body }));
  });
}
