/**
 * The console's pages: one layout (navigation limited to the reader's role, the user's name, logout) and
 * small helpers. Pages are server-rendered; the only scripts are static files (no inline script: the
 * Content-Security-Policy forbids it).
 */
import type { Identity } from '../infra/roles';
import { escapeHtml } from '../documents/html';
import { departmentName } from '../domain/departments';
import { seedPolicies } from '../seeds';

export { escapeHtml };

export type Role = Identity['role'];

/** The pages and who may open each. */
export const PAGES: { path: string; title: string; roles: readonly Role[] }[] = [
  { path: '/', title: '工作台', roles: ['operator', 'auditor'] },
  { path: '/lists', title: '名单', roles: ['operator', 'auditor', 'department'] },
  { path: '/progress', title: '进度', roles: ['operator', 'auditor'] },
  { path: '/deductions', title: '扣费与跟进', roles: ['operator', 'auditor'] },
  { path: '/reconciliation', title: '对账', roles: ['operator', 'auditor'] },
  { path: '/audit', title: '审计', roles: ['operator', 'auditor'] },
];

export const ROLE_NAMES: Record<Role, string> = {
  operator: '医保经办',
  auditor: '审计',
  department: '认定部门',
};

/** Thousands separators, as Chinese statistical tables print them. */
export const n = (v: number | null | undefined) =>
  v === null || v === undefined ? '' : v.toLocaleString('en-US');

/** A tagged template whose ${} values are escaped unless wrapped in raw(). */
export class Raw {
  constructor(readonly html: string) {}
}
export const raw = (html: string) => new Raw(html);
type Piece = Raw | string | number | boolean | null | undefined;
export function h(strings: TemplateStringsArray, ...values: (Piece | Piece[])[]): Raw {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const piece =
      v instanceof Raw
        ? v.html
        : Array.isArray(v)
          ? v.map((x) => (x instanceof Raw ? x.html : escapeHtml(String(x ?? '')))).join('')
          : v === undefined || v === null || v === false
            ? ''
            : escapeHtml(String(v));
    out += piece + strings[i + 1]!;
  });
  return new Raw(out);
}

export function page(options: {
  title: string;
  who?: Identity;
  csrf?: string;
  body: Raw;
  scripts?: string[];
}): string {
  const { who } = options;
  const nav = who
    ? h`<nav>${PAGES.filter((p) => p.roles.includes(who.role)).map(
        (p) =>
          h`<a href="${p.path}"${raw(p.title === options.title ? ' class="current"' : '')}>${p.title}</a>`,
      )}<span class="who">${who.user}（${ROLE_NAMES[who.role]}${who.role === 'department' ? `：${departmentLabel(who.department ?? '', undefined)}` : ''}）</span>
      <form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${options.csrf ?? ''}"><button type="submit">退出登录</button></form></nav>`
    : h``;
  // the icon is inline: a browser's own /favicon.ico request would count as the person's activity and
  // could come after the idle timeout, ending the login before the page the person asked for says so
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} · 城乡居民医保参保征缴</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/console.css">
${(options.scripts ?? []).map((s) => `<script src="${escapeHtml(s)}" defer></script>`).join('\n')}
</head><body>
<header><h1>城乡居民基本医疗保险参保征缴</h1>${nav.html}</header>
<main><h2>${escapeHtml(options.title)}</h2>
${options.body.html}
</main></body></html>
`;
}

/** A hidden CSRF field for a form. */
export const csrfField = (token: string) => h`<input type="hidden" name="_csrf" value="${token}">`;

export const notice = (kind: 'ok' | 'error', text: string) =>
  h`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;

/** China date (UTC+8) and time of an instant, e.g. 2024-09-01 10:00. */
export const beijing = (at: Date | string | null | undefined) => {
  if (!at) return '';
  const d = new Date(typeof at === 'string' ? Date.parse(at) : at.getTime());
  return new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
};

// the documents' words for the ledger's codes: one dictionary (domain/words.ts) for pages and files alike
export {
  PHASE_NAMES,
  ROSTER_STATUS_NAMES,
  SUBMISSION_STATUS_NAMES,
  WORKFLOW_STATUS_NAMES,
  FUNDING_SOURCE_NAMES,
  zh,
} from '../domain/words';

/**
 * A department's Chinese name: the policy's own name when the page has the campaign's policy, else the name
 * the seeded plans give it (a department's login reads no policy), else the fixed names (税务局, 财政局).
 */
export function departmentLabel(id: string, policy: Parameters<typeof departmentName>[1]): string {
  if (policy) return departmentName(id, policy);
  const named = seedPolicies().find((p) => p.departments.some((d) => d.id === id));
  return departmentName(id, named);
}

/** A jurisdiction's Chinese name (开平市) from the seeded plans; the code itself if no plan names it. */
export function jurisdictionLabel(code: string): string {
  return seedPolicies().find((p) => p.jurisdiction === code)?.name ?? code;
}
