/**
 * 对账: the monthly reconciliation schedule of a jurisdiction (its Temporal Schedule: next and recent times
 * in Beijing time), each month's result, and the exceptions queue (ID numbers masked for every reader: the
 * audit view) with the operator's decision on each: who decided what, when and why (migration 0036).
 */
import { exceptionDetailText, EXCEPTION_KIND_NAMES, reconciliationSummaryText, zh } from '../../domain/words';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeSchedule, formatInZone } from '../../client/reconcile-commands';
import { beijing, csrfField, h, notice, page, raw } from '../html';
import {
  campaigns,
  decideException,
  EXCEPTION_DECISIONS,
  reconciliationExceptions,
  reconciliations,
  type ExceptionDecision,
} from '../queries';
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
    const policy = all.find((c) => c.jurisdiction === jurisdiction)?.policy ?? undefined;
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
      const role = login.identity.role === 'operator' ? 'operator' : 'auditor';
      const exceptions = await reconciliationExceptions(login.pool, jurisdiction, role);
      const csrf = ctx.csrf(reply);
      body = h`${form}<h3>月度对账计划</h3>${schedule}
<h3>各月对账结果</h3>${
        months.length
          ? h`<table class="months"><thead><tr><th>月份</th><th>工作流</th><th>开始（北京时间）</th><th>完成（北京时间）</th><th>结果</th></tr></thead><tbody>${months.map(
              (m) =>
                h`<tr><td>${m.month}</td><td>${m.workflowId}</td><td>${beijing(m.startedAt)}</td><td>${beijing(m.finishedAt)}</td><td>${
                  m.summary ? reconciliationSummaryText(m.summary, policy) : '进行中'
                }</td></tr>`,
            )}</tbody></table>`
          : notice('ok', '尚无对账记录')
      }
<h3>异常队列</h3>${
        exceptions.length
          ? h`<p>待处理 ${exceptions.filter((x) => !x.decision).length} 条，已处理 ${exceptions.filter((x) => x.decision).length} 条（处理决定由经办人员记录，留存决定人、时间与理由）</p>
<table class="exceptions"><thead><tr><th>编号</th><th>月份</th><th>类型</th><th>公民身份号码（脱敏）</th><th>详情</th><th>处理决定</th><th>理由</th><th>决定人</th><th>决定时间（北京时间）</th>${raw(role === 'operator' ? '<th>记录决定</th>' : '')}</tr></thead><tbody>${exceptions.map(
              (x) =>
                h`<tr data-exception="${x.id}"><td>${x.id}</td><td>${x.month}</td><td>${zh(EXCEPTION_KIND_NAMES, x.kind)}</td><td>${x.idNumber ?? ''}</td><td>${exceptionDetailText(x.detail as Record<string, unknown> | null, policy)}</td><td class="decision">${x.decision ? EXCEPTION_DECISIONS[x.decision.decision] : '待处理'}${x.decisions > 1 ? `（共 ${x.decisions} 次决定）` : ''}</td><td class="reason">${x.decision?.reason ?? ''}</td><td class="decided-by">${x.decision?.decidedBy ?? ''}</td><td>${x.decision ? beijing(x.decision.decidedAt) : ''}</td>${
                  role === 'operator'
                    ? h`<td><form method="post" action="/reconciliation/exceptions/${x.id}/decide" class="inline decide">${csrfField(csrf)}<input type="hidden" name="jurisdiction" value="${jurisdiction}"><select name="decision">${Object.entries(
                        EXCEPTION_DECISIONS,
                      ).map(
                        ([k, v]) => h`<option value="${k}">${v}</option>`,
                      )}</select> <input name="reason" required minlength="2" maxlength="500" placeholder="理由"> <button type="submit">记录</button></form></td>`
                    : ''
                }</tr>`,
            )}</tbody></table>`
          : notice('ok', '没有异常')
      }`;
    }
    return reply
      .type('text/html')
      .send(page({ title: '对账', who: login.identity, csrf: ctx.csrf(reply), body }));
  });

  /** An operator's decision on one exception, recorded under the operator's own login (migration 0036). */
  app.post(
    '/reconciliation/exceptions/:id/decide',
    { config: { roles: ['operator'] } },
    async (request, reply) => {
      const login = ctx.login(request);
      const id = z.coerce
        .number()
        .int()
        .positive()
        .parse((request.params as { id: string }).id);
      const form = z
        .object({
          jurisdiction: z.string().regex(/^[a-z]+$/),
          decision: z.enum(Object.keys(EXCEPTION_DECISIONS) as [ExceptionDecision, ...ExceptionDecision[]]),
          reason: z.string().trim().min(2).max(500),
        })
        .safeParse(request.body);
      if (!form.success)
        return reply
          .code(400)
          .type('text/html')
          .send(
            page({
              title: '对账',
              who: login.identity,
              csrf: ctx.csrf(reply),
              body: h`${notice('error', '请选择处理决定并填写理由（2 至 500 字）')}<p><a href="/reconciliation">返回对账</a></p>`,
            }),
          );
      const found = await decideException(login.pool, id, form.data.decision, form.data.reason);
      if (!found) return reply.code(404).send({ error: `没有编号为 ${id} 的对账异常` });
      request.log.info(
        { user: login.identity.user, exception: id, decision: form.data.decision },
        'exception decided',
      );
      return reply.redirect(`/reconciliation?jurisdiction=${form.data.jurisdiction}#exception-${id}`, 303);
    },
  );
}
