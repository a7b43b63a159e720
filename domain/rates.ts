/**
 * The one way a rate is computed in this project: 完成率 (enrolled ÷ the 附件3 target, 000 附件3 (5)),
 * 参保率 (enrolled ÷ the residents to enroll, 附件3 (4); the plan's goal line is 95% of it, 000 一), and
 * the shares the target table is checked with. Every report and check calls it, so a rate printed in the
 * progress table, in the rehearsal summary and in the target check cannot disagree in its rounding.
 */

/**
 * `part` as a percent of `whole`, rounded half up to one decimal (1234 of 1300 → 94.9); null when either is
 * missing (an empty cell of 附件3) or `whole` is 0 (a town with no target). Counts of people in, percent out.
 */
export function completionRate(part: number | null, whole: number | null): number | null {
  if (part === null || whole === null || whole === 0) return null;
  return Math.round((part / whole) * 1000) / 10;
}
