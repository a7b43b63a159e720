/**
 * The per-town target table of a plan (Kaiping 附件3), reproduced as printed and checked, never corrected:
 * (4) = (1) - (2) on every row, and the 合计 row against the sum of the rows. Each disagreement is a
 * finding with the numbers; derived coverage figures are computed from the rows.
 */
import { z } from 'zod';
import { completionRate } from './rates';

const Printed = z.string(); // a cell as printed: '114370', '681,503', or '' for an empty cell

export const TargetTableFile = z.object({
  jurisdiction: z.string(),
  year: z.number().int(),
  source: z.string().min(3),
  title: z.string(),
  columns: z.array(z.object({ key: z.string(), ordinal: z.string(), header: z.string(), basis: z.string() })),
  rows: z.array(
    z.object({
      town: z.string().min(1),
      registered: Printed,
      employeeInsured: Printed,
      paidLastYear: Printed,
      toEnroll: Printed,
      target: Printed,
    }),
  ),
  total: z.object({
    town: z.string(),
    registered: Printed,
    employeeInsured: Printed,
    paidLastYear: Printed,
    toEnroll: Printed,
    target: Printed,
  }),
  notes: z.array(z.string()).default([]),
});
export type TargetTableFile = z.infer<typeof TargetTableFile>;

export const TARGET_COLUMNS = [
  'registered',
  'employeeInsured',
  'paidLastYear',
  'toEnroll',
  'target',
] as const;
export type TargetColumn = (typeof TARGET_COLUMNS)[number];

export interface TownTarget {
  town: string;
  registered: number | null;
  employeeInsured: number | null;
  paidLastYear: number | null;
  toEnroll: number | null;
  target: number | null;
  /** target / toEnroll, percent with one decimal; null where a cell is empty */
  targetShareOfToEnroll: number | null;
  /** paidLastYear / toEnroll */
  paidLastYearShareOfToEnroll: number | null;
}

export interface Finding {
  kind: 'row-difference' | 'total-mismatch' | 'empty-row' | 'target-above-to-enroll';
  severity: 'error' | 'note';
  town?: string;
  column?: TargetColumn;
  expected?: number;
  printed?: number;
  difference?: number;
  message: string;
}

export interface CheckedTargetTable {
  title: string;
  source: string;
  towns: TownTarget[];
  printedTotal: Record<TargetColumn, number | null>;
  computedTotal: Record<TargetColumn, number>;
  findings: Finding[];
}

export function parsePrinted(cell: string): number | null {
  const trimmed = cell.replace(/[,，\s]/g, '');
  if (trimmed === '') return null;
  if (!/^\d+$/.test(trimmed)) throw new Error(`not a count: "${cell}"`);
  return Number(trimmed);
}

export function checkTargetTable(file: TargetTableFile): CheckedTargetTable {
  const findings: Finding[] = [];
  const towns: TownTarget[] = file.rows.map((row) => {
    const [registered, employeeInsured, paidLastYear, toEnroll, target] = TARGET_COLUMNS.map((c) =>
      parsePrinted(row[c]),
    );
    return {
      town: row.town,
      registered: registered ?? null,
      employeeInsured: employeeInsured ?? null,
      paidLastYear: paidLastYear ?? null,
      toEnroll: toEnroll ?? null,
      target: target ?? null,
      targetShareOfToEnroll: completionRate(target ?? null, toEnroll ?? null),
      paidLastYearShareOfToEnroll: completionRate(paidLastYear ?? null, toEnroll ?? null),
    };
  });
  for (const t of towns) {
    if (TARGET_COLUMNS.every((c) => t[c] === null)) {
      findings.push({
        kind: 'empty-row',
        severity: 'note',
        town: t.town,
        message: `${t.town}: every cell is empty in the printed table; counted as 0 in the sums`,
      });
      continue;
    }
    if (t.registered !== null && t.employeeInsured !== null && t.toEnroll !== null) {
      const expected = t.registered - t.employeeInsured;
      if (expected !== t.toEnroll) {
        findings.push({
          kind: 'row-difference',
          severity: 'error',
          town: t.town,
          column: 'toEnroll',
          expected,
          printed: t.toEnroll,
          difference: t.toEnroll - expected,
          message: `${t.town}: (4) printed ${t.toEnroll}, but (1)-(2) = ${t.registered}-${t.employeeInsured} = ${expected}`,
        });
      }
    }
    if (t.target !== null && t.toEnroll !== null && t.target > t.toEnroll) {
      findings.push({
        kind: 'target-above-to-enroll',
        severity: 'note',
        town: t.town,
        column: 'target',
        expected: t.toEnroll,
        printed: t.target,
        difference: t.target - t.toEnroll,
        message: `${t.town}: target (5) ${t.target} is above the ${t.toEnroll} residents to enroll (4) (${t.targetShareOfToEnroll}%; targets follow last year's Jiangmen allocation, 附件3 备注1)`,
      });
    }
  }
  const computedTotal = Object.fromEntries(
    TARGET_COLUMNS.map((c) => [c, towns.reduce((s, t) => s + (t[c] ?? 0), 0)]),
  ) as Record<TargetColumn, number>;
  const printedTotal = Object.fromEntries(
    TARGET_COLUMNS.map((c) => [c, parsePrinted(file.total[c])]),
  ) as Record<TargetColumn, number | null>;
  for (const c of TARGET_COLUMNS) {
    const printed = printedTotal[c];
    if (printed !== null && printed !== computedTotal[c]) {
      findings.push({
        kind: 'total-mismatch',
        severity: 'error',
        column: c,
        expected: computedTotal[c],
        printed,
        difference: printed - computedTotal[c],
        message: `${file.total.town} ${c}: printed ${printed}, but the towns add up to ${computedTotal[c]} (difference ${printed - computedTotal[c]})`,
      });
    }
  }
  return { title: file.title, source: file.source, towns, printedTotal, computedTotal, findings };
}
