/**
 * 工作台: the campaigns per jurisdiction and year with their phase, the agenda as a timeline in the plan's
 * dates, the next deadlines, late departments; and starting a campaign (policy preview first; a closed year
 * is refused, as by the CLI: the same use case, application/campaigns.ts startCampaignYear).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { clearDrillYear, startCampaignYear } from '../../application/campaigns';
import {
  CampaignAlreadyRunning,
  CampaignYearHeld,
  campaignStatus,
} from '../../application/campaign-workflow';
import { buildAgenda, type AgendaItem } from '../../domain/agenda';
import { chinaDateOf } from '../../domain/dates';
import { departmentName } from '../../domain/departments';
import { formatYuan } from '../../domain/money';
import type { Policy } from '../../domain/policy';
import { seedPolicies, seedPolicy } from '../../seeds';
import { campaignWorkflowId, type CampaignProgress } from '../../workflows/campaign';
import {
  beijing,
  csrfField,
  FUNDING_SOURCE_NAMES,
  h,
  n,
  notice,
  page,
  PHASE_NAMES,
  ROSTER_STATUS_NAMES,
  WORKFLOW_STATUS_NAMES,
  zh,
  type Raw,
} from '../html';
import { campaigns } from '../queries';
import type { RouteContext } from '../server';

const AGENDA_NAMES: Record<AgendaItem['kind'], string> = {
  'request-rosters': '通知认定部门报送名单',
  'roster-deadline': '名单报送截止',
  'first-deduction': '首次批量扣费',
  're-deduction': '补扣',
  'progress-report': '参保进度通报',
  cutoff: '缴费截止',
  'subsidy-claim': '资助资金申报',
  'monthly-delta': '月度增减名单',
};

const agendaName = (item: AgendaItem) =>
  item.kind === 're-deduction' ? `第 ${item.round} 轮扣费（补扣）` : AGENDA_NAMES[item.kind];

const StartForm = z.object({
  jurisdiction: z.string().regex(/^[a-z]+$/),
  year: z.coerce.number().int().min(2000).max(2100),
  /** Minutes between the drill's calendar points; empty: the real year. */
  drill: z
    .string()
    .optional()
    .transform((v) => (v && v.trim() ? Number(v) : undefined))
    .pipe(z.number().positive().max(1440).optional()),
});

/** The seeds a campaign can start from: "kaiping-2024" and the like. */
const seedChoices = () =>
  seedPolicies().map((p) => ({ jurisdiction: p.jurisdiction, year: p.year, name: p.name }));

const ClearDrillForm = z.object({
  jurisdiction: z.string().regex(/^[a-z][a-z0-9-]{1,40}$/),
  year: z.coerce.number().int().min(2000).max(2100),
});

export function workflowIdOf(jurisdiction: string, year: number, drill: boolean) {
  return campaignWorkflowId(jurisdiction, year) + (drill ? '-drill' : '');
}

function agendaTimeline(policy: Policy, progress: CampaignProgress | null): Raw {
  const items = buildAgenda(policy);
  const now = Date.now();
  return h`<ol class="timeline">${items.map((item, i) => {
    const done = progress ? i < progress.itemsDone : item.at < now;
    return h`<li class="${done ? 'done' : 'todo'}"><time>${beijing(new Date(item.at))}</time> ${agendaName(item)}</li>`;
  })}</ol>`;
}

function lateDepartments(policy: Policy, progress: CampaignProgress | null): string[] {
  if (!progress) return [];
  const deadlinePassed = progress.phase !== 'roster-submission';
  return Object.entries(progress.rosters)
    .filter(
      ([, r]) =>
        r.status === 'escalated' ||
        r.status === 'reminded' ||
        r.status === 'refused' ||
        (deadlinePassed && r.status === 'requested'),
    )
    .map(([d, r]) => `${departmentName(d, policy)}（${ROSTER_STATUS_NAMES[r.status] ?? r.status}）`);
}

export function campaignRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const roles = ['operator', 'auditor'] as const;

  app.get('/', { config: { roles } }, async (request, reply) => {
    const login = ctx.login(request);
    const rows = await campaigns(login.pool);
    // the jurisdiction-years whose ledger rows a drill wrote and nobody cleared yet (0050)
    const drillRows = new Set(
      (
        await login.pool.query<{ key: string }>(
          `SELECT jurisdiction || '|' || campaign_year AS key FROM campaign_year_claims WHERE drill AND cleared_at IS NULL`,
        )
      ).rows.map((r) => r.key),
    );
    const client = await ctx.deps.temporal().catch(() => undefined);
    const cards: Raw[] = [];
    for (const c of rows) {
      const id = workflowIdOf(c.jurisdiction, c.year, c.drill);
      let status: Awaited<ReturnType<typeof campaignStatus>> | null = null;
      try {
        if (client) status = await campaignStatus(client, id);
      } catch {
        status = null;
      }
      const p = status?.progress ?? null;
      const late = c.policy ? lateDepartments(c.policy, p) : [];
      const next = c.policy
        ? buildAgenda(c.policy)
            .filter((item, i) => (p ? i >= p.itemsDone : item.at >= Date.now()))
            .slice(0, 3)
        : [];
      cards.push(h`<section class="campaign" data-workflow-id="${id}">
<h3>${c.policy?.name ?? c.jurisdiction} ${c.year} 年度${c.drill ? '（演练）' : ''}</h3>
<dl>
<dt>工作流</dt><dd>${id}（${status ? zh(WORKFLOW_STATUS_NAMES, status.status) : 'Temporal 未找到'}）</dd>
<dt>阶段</dt><dd class="phase">${p ? (PHASE_NAMES[p.phase] ?? p.phase) : '—'}</dd>
<dt>日程</dt><dd>${p ? `已完成 ${p.itemsDone} / ${p.itemsTotal} 项` : ''}</dd>
<dt>政策快照</dt><dd><code>${c.policyHash.slice(0, 12)}</code></dd>
<dt>下一期限</dt><dd>${next.length ? next.map((item) => `${beijing(new Date(item.at))} ${agendaName(item)}`).join('；') : '无'}</dd>
<dt>逾期部门</dt><dd class="late">${late.length ? late.join('、') : '无'}</dd>
</dl>
${
  p
    ? h`<table><thead><tr><th>认定部门</th><th>名单状态</th><th>读取</th><th>接收</th><th>拒收</th><th>跳过</th></tr></thead><tbody>${Object.entries(
        p.rosters,
      ).map(
        ([d, r]) =>
          h`<tr><td>${departmentName(d, c.policy ?? undefined)}</td><td>${ROSTER_STATUS_NAMES[r.status] ?? r.status}</td><td>${n(r.rowsRead)}</td><td>${n(r.rowsAccepted)}</td><td>${n(r.rowsRejected)}</td><td>${n(r.rowsSkipped)}</td></tr>`,
      )}</tbody></table>
${
  p.rounds.length
    ? h`<table class="rounds"><thead><tr><th>扣费轮次</th><th>应征人数</th><th>扣费成功</th><th>个人原因失败</th><th>系统原因失败</th></tr></thead><tbody>${p.rounds.map(
        (r) =>
          h`<tr><td>第 ${r.round} 轮</td><td>${n(r.lines)}</td><td>${n(r.success)}</td><td>${n(r.personal)}</td><td>${n(r.systemic)}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${
  p.claims.length
    ? h`<table class="claims"><thead><tr><th>资助资金申报</th><th>部门</th><th>人数</th><th>金额（元）</th></tr></thead><tbody>${p.claims.map(
        (x) =>
          h`<tr><td>${zh(FUNDING_SOURCE_NAMES, x.fundingSource)}</td><td>${departmentName(x.department, c.policy ?? undefined)}</td><td>${n(x.persons)}</td><td>${formatYuan(x.totalFen)}</td></tr>`,
      )}</tbody></table><p class="receipts">申报回执：${p.claimReceipts.join('、')}</p>`
    : ''
}
${p.attention ? notice('error', `步骤 ${p.attention.step} 重试后仍失败：${p.attention.message}`) : ''}`
    : ''
}
${c.policy ? h`<details><summary>日程（按方案日期）</summary>${agendaTimeline(c.policy, p)}</details>` : ''}
${
  c.drill &&
  status?.status !== 'RUNNING' &&
  drillRows.has(`${c.jurisdiction}|${c.year}`) &&
  login.identity.role === 'operator'
    ? h`<form method="post" action="/campaigns/clear-drill" class="clear-drill">${csrfField(ctx.csrf(reply))}
<input type="hidden" name="jurisdiction" value="${c.jurisdiction}"><input type="hidden" name="year" value="${c.year}">
<button type="submit">清除演练数据</button> 演练写入的参保、扣费和申报数据清除后，才能启动正式年度或再次演练</form>`
    : ''
}
</section>`);
    }
    const who = login.identity;
    const startForm =
      who.role === 'operator'
        ? h`<section class="start"><h3>启动征缴年度</h3>
<form method="get" action="/campaigns/preview">
<label>地区与年度 <select name="seed">${seedChoices().map((s) => h`<option value="${s.jurisdiction}-${s.year}">${s.name} ${s.year}</option>`)}</select></label>
<label>演练（每个日程点间隔分钟，留空为正式年度） <input name="drill" inputmode="decimal" size="6"></label>
<button type="submit">预览政策</button></form></section>`
        : h``;
    return reply.type('text/html').send(
      page({
        title: '工作台',
        who,
        csrf: ctx.csrf(reply),
        body: h`${cards.length ? cards : notice('ok', '账本中还没有征缴年度')}${startForm}`,
      }),
    );
  });

  app.get('/campaigns/preview', { config: { roles: ['operator'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const q = request.query as { seed?: string; drill?: string };
    const [jurisdiction, year] = (q.seed ?? '').split('-');
    const form = StartForm.parse({ jurisdiction, year, drill: q.drill });
    const base = seedPolicy(form.jurisdiction, form.year);
    const c = base.calendar;
    const rows: [string, string, string][] = [
      ['名单截止日期（名单时点）', c.rosterAsOf.at, c.rosterAsOf.source],
      ['名单报送截止', c.rosterDeadline.at, c.rosterDeadline.source],
      ['变更与停保截止', c.changeStopDeadline.at, c.changeStopDeadline.source],
      ['新参保登记截止', c.newEnrollmentDeadline.at, c.newEnrollmentDeadline.source],
      ['集中征缴期', `${c.centralisedPeriod.from} 至 ${c.centralisedPeriod.to}`, c.centralisedPeriod.source],
      ['首次批量扣费', c.firstBatchDeduction.at, c.firstBatchDeduction.source],
      ['缴费截止', c.cutoff.at, c.cutoff.source],
      ...c.subsidyClaims.map((s): [string, string, string] => ['资助资金申报', s.at, s.source]),
    ];
    return reply.type('text/html').send(
      page({
        title: '启动征缴年度',
        who: login.identity,
        csrf: ctx.csrf(reply),
        body: h`<p>${base.name} ${base.year} 年度：${base.document.title}</p>
<p>个人缴费标准：${formatYuan(base.contribution.personalFen)} 元（${base.contribution.source}）</p>
${form.drill ? notice('ok', `演练：同一套规则，日程点压缩为每 ${form.drill} 分钟一个，启动后 10 秒开始`) : ''}
<table><thead><tr><th>日程</th><th>日期</th><th>依据</th></tr></thead><tbody>${rows.map(
          ([what, at, source]) => h`<tr><td>${what}</td><td>${at}</td><td>${source}</td></tr>`,
        )}</tbody></table>
<table><thead><tr><th>参保类别</th><th>认定部门</th><th>资助比例</th></tr></thead><tbody>${base.categories.map(
          (k) =>
            h`<tr><td>${k.name}</td><td>${departmentName(k.department, base)}</td><td>${k.subsidyShareBp / 100}%</td></tr>`,
        )}</tbody></table>
<form method="post" action="/campaigns/start">${csrfField(ctx.csrf(reply))}
<input type="hidden" name="jurisdiction" value="${form.jurisdiction}"><input type="hidden" name="year" value="${form.year}">
<input type="hidden" name="drill" value="${form.drill ?? ''}">
<button type="submit">确认启动${form.drill ? '演练' : ''}</button></form>`,
      }),
    );
  });

  app.post('/campaigns/start', { config: { roles: ['operator'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const form = StartForm.parse(request.body);
    const policy = seedPolicy(form.jurisdiction, form.year);
    const client = await ctx.deps.temporal();
    let body: Raw;
    let code = 200;
    try {
      const started = await startCampaignYear(
        { pool: login.pool, client, taskQueue: ctx.deps.taskQueue },
        {
          policy,
          operator: login.identity.user,
          ...(form.drill ? { drillMinutes: form.drill } : {}),
        },
      );
      request.log.info({ user: login.identity.user, workflowId: started.workflowId }, 'campaign started');
      body = h`${started.clearedDrill ? notice('ok', `已先清除上一次演练写入的数据（参保 ${n(Number(started.clearedDrill.enrollments ?? 0))} 条，扣费批次 ${n(Number(started.clearedDrill.levy_batches ?? 0))} 个）`) : ''}${notice('ok', `已启动 ${started.workflowId}${started.drill ? '（演练）' : ''}，政策快照 ${started.policyHash.slice(0, 12)}，启动人 ${login.identity.user}，${chinaDateOf(Date.now())}`)}
<p><a href="/">返回工作台</a> · <a href="/lists">报送名单</a></p>`;
    } catch (error) {
      if (!(error instanceof CampaignAlreadyRunning)) throw error;
      code = 409;
      const text = error instanceof CampaignYearHeld ? error.zh : error.message;
      body = h`${notice('error', `不能启动：${text}`)}<p><a href="/">返回工作台</a></p>`;
    }
    return reply
      .code(code)
      .type('text/html')
      .send(page({ title: '启动征缴年度', who: login.identity, csrf: ctx.csrf(reply), body }));
  });

  app.post('/campaigns/clear-drill', { config: { roles: ['operator'] } }, async (request, reply) => {
    const login = ctx.login(request);
    const form = ClearDrillForm.parse(request.body);
    const client = await ctx.deps.temporal();
    let body: Raw;
    let code = 200;
    try {
      const cleared = await clearDrillYear({ pool: login.pool, client }, form);
      request.log.info({ user: login.identity.user, ...form }, 'drill rows cleared');
      body = h`${notice('ok', `已清除 ${form.jurisdiction} ${form.year} 年度演练写入的数据（参保 ${n(Number(cleared.enrollments ?? 0))} 条，扣费批次 ${n(Number(cleared.levy_batches ?? 0))} 个，资助申报 ${n(Number(cleared.subsidy_claims ?? 0))} 份），操作人 ${login.identity.user}；交换日志的记录保留`)}
<p><a href="/">返回工作台</a></p>`;
    } catch (error) {
      if (!(error instanceof CampaignYearHeld)) throw error;
      code = 409;
      body = h`${notice('error', `不能清除：${error.zh}`)}<p><a href="/">返回工作台</a></p>`;
    }
    return reply
      .code(code)
      .type('text/html')
      .send(page({ title: '清除演练数据', who: login.identity, csrf: ctx.csrf(reply), body }));
  });
}
