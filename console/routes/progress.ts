/**
 * 进度: the per-town table (documents/progress.ts progressReport, the same figures as `report progress`) and an
 * ECharts chart of it against targets and the plan's goal line, week-on-week, for any snapshot date; the
 * .xlsx and the printable page are the report's own exports, downloaded as they are.
 */
import { snapshotLabel } from '../../domain/words';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { chinaDateOf } from '../../domain/dates';
import type { Policy } from '../../domain/policy';
import {
  NoProgressSnapshot,
  progressColumns,
  progressHtml,
  progressReport,
  progressXlsx,
  progressPdf,
} from '../../documents/progress';
import { makeProgressReport } from '../../application/reports';
import { seedPolicy } from '../../seeds';
import { h, n, notice, page, raw } from '../html';
import { campaigns } from '../queries';
import type { RouteContext } from '../server';

const Query = z.object({
  campaign: z
    .string()
    .regex(/^[a-z]+\|\d{4}\|(drill)?$/)
    .optional(),
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});

/** The JSON a page embeds for its chart: only inside a non-executed script element, "<" escaped. */
const jsonForPage = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function progressRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const roles = ['operator', 'auditor'] as const;

  /** The campaign asked for (or the first the ledger holds), its policy and the date. */
  const chosen = async (request: FastifyRequest) => {
    const login = ctx.login(request);
    const q = Query.parse(request.query);
    const all = await campaigns(login.pool);
    const key = (c: (typeof all)[number]) => `${c.jurisdiction}|${c.year}|${c.drill ? 'drill' : ''}`;
    const campaign = all.find((c) => key(c) === q.campaign) ?? all[0];
    const policy: Policy | undefined = campaign
      ? (campaign.policy ?? seedPolicy(campaign.jurisdiction, campaign.year))
      : undefined;
    return { login, all, key, campaign, policy, date: q.date ?? chinaDateOf(Date.now()) };
  };

  app.get('/progress', { config: { roles } }, async (request, reply) => {
    const { login, all, key, campaign, policy, date } = await chosen(request);
    const form = h`<form method="get" action="/progress" class="filters">
<label>征缴年度 <select name="campaign">${all.map(
      (c) =>
        h`<option value="${key(c)}"${raw(c === campaign ? ' selected' : '')}>${c.policy?.name ?? c.jurisdiction} ${c.year}${c.drill ? '（演练）' : ''}</option>`,
    )}</select></label>
<label>截至日期 <input type="date" name="date" value="${date}"></label><button type="submit">查看</button></form>`;
    let body = h`${form}`;
    if (campaign && policy) {
      try {
        const report = await progressReport(login.pool, policy, date);
        const columns = progressColumns(report);
        const query = `campaign=${encodeURIComponent(key(campaign))}&date=${date}`;
        const cell = (v: string | number | null, rate?: true) =>
          v === null ? '' : rate ? `${(v as number).toFixed(1)}%` : typeof v === 'number' ? n(v) : v;
        const chart = {
          towns: report.towns.map((t) => t.town),
          enrolled: report.towns.map((t) => t.enrolled),
          target: report.towns.map((t) => t.target),
          goal: report.towns.map((t) => t.goalEnrolled),
          previous: report.towns.map((t) => t.previousEnrolled),
          goalLabel: report.goal.label,
        };
        body = h`${form}
<p class="basis">数据时点：${report.snapshot.takenAt.slice(0, 10)}（${snapshotLabel(report.snapshot.key)}）${report.previous ? `；周增长对比 ${report.previous.takenAt.slice(0, 10)}` : '；无上周数据'}；目标线：${report.goal.label}（${report.goal.source}）</p>
<p class="downloads"><a href="/progress/xlsx?${query}" download>下载 .xlsx</a> · <a href="/progress/print?${query}" target="_blank">打印版</a> · <a href="/progress/pdf?${query}" download>下载 PDF</a></p>
<div id="progress-chart" class="chart" role="img" aria-label="各镇参保人数与目标"></div>
<script type="application/json" id="progress-data">${raw(jsonForPage(chart))}</script>
<table class="progress"><thead><tr><th>序号</th>${columns.map((c) => h`<th>${c.header}</th>`)}</tr></thead><tbody>${report.towns.map(
          (t, i) =>
            h`<tr data-town="${t.town}"><td>${i + 1}</td>${columns.map((c) => h`<td data-key="${c.key}">${cell(t[c.key], c.rate)}</td>`)}</tr>`,
        )}<tr class="total"><td></td>${columns.map(
          (c) =>
            h`<td data-key="${c.key}">${c.key === 'town' ? '合计' : cell(report.totals[c.key], c.rate)}</td>`,
        )}</tr></tbody></table>`;
      } catch (error) {
        if (!(error instanceof NoProgressSnapshot)) throw error;
        body = h`${form}${notice('error', `${date} 及以前没有进度快照：${error.message}`)}`;
      }
    } else body = h`${form}${notice('ok', '账本中还没有征缴年度')}`;
    return reply.type('text/html').send(
      page({
        title: '进度',
        who: login.identity,
        csrf: ctx.csrf(reply),
        body,
        scripts: ['/vendor/echarts/echarts.min.js', '/assets/progress-chart.js'],
      }),
    );
  });

  app.get('/progress/xlsx', { config: { roles } }, async (request, reply) => {
    const { login, policy, date } = await chosen(request);
    if (!policy) return reply.code(404).send('no campaign');
    const { report, filing } = await makeProgressReport(
      { pool: login.pool },
      { policy, date, filing: { date } },
    );
    return reply
      .header('content-disposition', `attachment; filename="progress-${policy.jurisdiction}-${date}.xlsx"`)
      .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .send(await progressXlsx(report, filing));
  });

  app.get('/progress/pdf', { config: { roles } }, async (request, reply) => {
    const { login, policy, date } = await chosen(request);
    if (!policy) return reply.code(404).send('no campaign');
    const { report, filing } = await makeProgressReport(
      { pool: login.pool },
      { policy, date, filing: { date } },
    );
    const pdf = await progressPdf(report, filing);
    return reply
      .header('content-disposition', `attachment; filename="progress-${policy.jurisdiction}-${date}.pdf"`)
      .type('application/pdf')
      .send(pdf);
  });

  app.get('/progress/print', { config: { roles } }, async (request, reply) => {
    const { login, policy, date } = await chosen(request);
    if (!policy) return reply.code(404).send('no campaign');
    const report = await progressReport(login.pool, policy, date);
    // the report's own page carries its chart script inline: this one response allows inline scripts
    return reply
      .header(
        'content-security-policy',
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
      )
      .type('text/html')
      .send(progressHtml(report));
  });
}
