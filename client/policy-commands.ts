/**
 * `policy explain`, `policy show` and `targets`: the policy engine and the target table, for operators
 * and reviewers, as readable text or JSON.
 */
import { readFileSync } from 'node:fs';
import { explain, ExplainInput, type Explanation } from '../domain/engine';
import { formatYuan } from '../domain/money';
import { loadPolicy, type Policy } from '../domain/policy';
import { progressReportSchedule } from '../domain/calendar';
import type { CheckedTargetTable } from '../domain/targets';
import { seedPolicy, seedTargets, WORKING_DAY_CALENDARS } from '../seeds';

/** A command's input is wrong: the message names the file and field. */
export class InputError extends Error {
  override name = 'InputError';
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(
      `${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (error) {
    throw new InputError(`${file}: not valid JSON (${(error as Error).message})`);
  }
}

export function policyFromFile(file: string): Policy {
  return loadPolicy(readJson(file), WORKING_DAY_CALENDARS, file);
}

export function explainFile(inputFile: string, policyFile?: string): Explanation {
  const parsed = ExplainInput.safeParse(readJson(inputFile));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InputError(`${inputFile}: ${issues.join('; ')}`);
  }
  const policy = policyFile
    ? policyFromFile(policyFile)
    : seedPolicy(parsed.data.jurisdiction, parsed.data.year);
  try {
    return explain(policy, parsed.data);
  } catch (error) {
    if (error instanceof Error && error.name === 'ExplainError')
      throw new InputError(`${inputFile}: ${error.message}`);
    throw error;
  }
}

export function formatExplanation(e: Explanation): string {
  const c = e.contribution;
  const lines = [
    `${e.jurisdiction} ${e.year} · ${e.event.kind} on ${e.event.date}${e.event.reason ? ` (${e.event.reason})` : ''}`,
    `Person ${e.person.idNumber}, born ${e.person.birthDate} (${e.person.sex}, ${e.person.ageOnEvent} on the event date)`,
    `Categories held: ${e.heldCategories.length ? e.heldCategories.map((h) => `${h.id} ${h.name} (${h.department}) ${h.eligible ? 'applies' : `does not apply: ${h.why}`}`).join('; ') : 'none'}`,
    `Effective category: ${e.effectiveCategory ? `${e.effectiveCategory} ${e.effectiveCategoryName}` : 'none (ordinary resident)'}`,
    `Contribution: ${formatYuan(c.totalFen)} yuan = personal ${formatYuan(c.personalFen)} + subsidy ${formatYuan(c.subsidyFen)} (${c.fundingSource})${e.levied ? '' : '; nothing to levy'}`,
    ...(c.reimbursedLater
      ? [`Reimbursed later by ${c.reimbursedLater.by} (${c.reimbursedLater.basis})`]
      : []),
    `Benefits from: ${e.benefitStart ?? '-'}${e.gapCoveredFrom ? ` (gap covered from ${e.gapCoveredFrom})` : ''}`,
    `Contribution years: ${e.contributionYears.join(', ') || '-'}`,
    ...(e.refund ? [`Refund: ${e.refund.eligible ? 'yes' : 'no'}: ${e.refund.reason}`] : []),
    ...(e.subsidyEndsFrom ? [`Subsidised standard ends from: ${e.subsidyEndsFrom}`] : []),
    'Rules:',
    ...e.rules.map((r) => `  ${r.id}: ${r.says}\n      [${r.source}]`),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatPolicy(p: Policy): string {
  const c = p.calendar;
  const lines = [
    `${p.name} ${p.year} (${p.jurisdiction})${p.drill ? ' DRILL' : ''}: ${p.document.title} [file ${p.document.file}]`,
    `Contribution ${formatYuan(p.contribution.personalFen)} yuan [${p.contribution.source}]`,
    'Calendar:',
    `  roster as of ${c.rosterAsOf.at}, due ${c.rosterDeadline.at}`,
    `  changes and stops by ${c.changeStopDeadline.at}; new enrollment by ${c.newEnrollmentDeadline.at}`,
    `  centralised period ${c.centralisedPeriod.from} .. ${c.centralisedPeriod.to}`,
    `  first batch deduction ${c.firstBatchDeduction.at}; re-deduction every ${c.reDeduction.everyMinutes} minutes`,
    ...(c.partialPaymentDeadline
      ? [`  partly subsidised pay their share by ${c.partialPaymentDeadline.at}`]
      : []),
    `  cut-off ${c.cutoff.at}; benefit year from ${c.benefitYearStart.date}`,
    ...c.subsidyClaims.map((s) => `  subsidy claim (${s.fundingSources.join(', ')}) by ${s.at}`),
    `  monthly delta by day ${c.monthlyDelta.day}`,
    `  progress reports: ${progressReportSchedule(p)
      .map((r) => (r.shifted ? `${r.due} (for ${r.nominal})` : r.due))
      .join(', ')}`,
    'Categories:',
    ...p.categories.map(
      (k) =>
        `  ${k.id.padEnd(7)} ${k.name} · ${k.department} · ${k.subsidyShareBp / 100}% · ${k.fundingSource}${k.paysFirstSubsidisedLater ? ' · pays first' : ''}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatTargets(t: CheckedTargetTable): string {
  const head = [
    '镇(街、场)',
    '户籍人口(1)',
    '职工医保(2)',
    '上年缴费(3)',
    '应参保(4)',
    '目标任务(5)',
    '目标/应参保',
    '上年/应参保',
  ];
  const cell = (n: number | null) => (n === null ? '' : String(n));
  const pctCell = (n: number | null) => (n === null ? '' : `${n.toFixed(1)}%`);
  const rows = t.towns.map((r) => [
    r.town,
    cell(r.registered),
    cell(r.employeeInsured),
    cell(r.paidLastYear),
    cell(r.toEnroll),
    cell(r.target),
    pctCell(r.targetShareOfToEnroll),
    pctCell(r.paidLastYearShareOfToEnroll),
  ]);
  rows.push([
    '合计 (printed)',
    ...(['registered', 'employeeInsured', 'paidLastYear', 'toEnroll', 'target'] as const).map((k) =>
      cell(t.printedTotal[k]),
    ),
    '',
    '',
  ]);
  rows.push([
    '合计 (computed)',
    ...(['registered', 'employeeInsured', 'paidLastYear', 'toEnroll', 'target'] as const).map((k) =>
      cell(t.computedTotal[k]),
    ),
    '',
    '',
  ]);
  const width = (v: string) => v.length + countWide(v);
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i]!))));
  const pad = (v: string, i: number) => ' '.repeat(widths[i]! - width(v));
  const fmt = (r: string[]) => r.map((v, i) => (i === 0 ? v + pad(v, i) : pad(v, i) + v)).join('  ');
  const findings = t.findings.length
    ? t.findings.map((f) => `  [${f.severity}] ${f.message}`)
    : ['  none: every row and the 合计 row add up'];
  return `${t.title}\n[${t.source}]\n${fmt(head)}\n${rows.map(fmt).join('\n')}\nFindings:\n${findings.join('\n')}\n`;
}

function countWide(s: string): number {
  return [...s].filter((ch) => ch.charCodeAt(0) > 0x2e80).length;
}

export { seedPolicy, seedTargets };
