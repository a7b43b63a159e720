/**
 * A drill policy: the rules of a real policy on a compressed calendar, so that a whole campaign year runs
 * through the same code in minutes on a real server. Every calendar point keeps its order; the k-th
 * distinct point of the year becomes `start + k * stepMinutes`.
 */
import { instantOf } from './dates';
import type { Policy } from './policy';

export function makeDrillPolicy(base: Policy, startMs: number, stepMinutes: number): Policy {
  const c = base.calendar;
  const points = [
    c.rosterAsOf.at,
    c.rosterDeadline.at,
    c.changeStopDeadline.at,
    c.newEnrollmentDeadline.at,
    c.centralisedPeriod.from,
    c.centralisedPeriod.to,
    c.firstBatchDeduction.at,
    c.cutoff.at,
    ...(c.partialPaymentDeadline ? [c.partialPaymentDeadline.at] : []),
    ...c.subsidyClaims.map((s) => s.at),
    ...base.milestones.map((m) => m.at),
  ];
  const distinct = [...new Set(points.map((p) => instantOf(p, 'start')))].sort((a, b) => a - b);
  const step = Math.round(stepMinutes * 60_000);
  const at = (spec: string) =>
    new Date(startMs + distinct.indexOf(instantOf(spec, 'start')) * step).toISOString();
  const drillSource = (s: string) => `${s}［演练：日程压缩为每步 ${stepMinutes} 分钟］`;
  const dated = (d: { at: string; source: string }) => ({ at: at(d.at), source: drillSource(d.source) });
  return {
    ...base,
    drill: true,
    jurisdiction: base.jurisdiction,
    calendar: {
      ...c,
      rosterAsOf: dated(c.rosterAsOf),
      rosterDeadline: dated(c.rosterDeadline),
      changeStopDeadline: dated(c.changeStopDeadline),
      newEnrollmentDeadline: dated(c.newEnrollmentDeadline),
      centralisedPeriod: {
        from: at(c.centralisedPeriod.from),
        to: at(c.centralisedPeriod.to),
        source: drillSource(c.centralisedPeriod.source),
      },
      firstBatchDeduction: dated(c.firstBatchDeduction),
      reDeduction: {
        everyMinutes: stepMinutes / 2,
        source: drillSource(c.reDeduction.source),
      },
      ...(c.partialPaymentDeadline
        ? {
            partialPaymentDeadline: {
              ...dated(c.partialPaymentDeadline),
              appliesTo: c.partialPaymentDeadline.appliesTo,
            },
          }
        : {}),
      cutoff: dated(c.cutoff),
      subsidyClaims: c.subsidyClaims.map((s) => ({ ...s, at: at(s.at), source: drillSource(s.source) })),
      progressReports: {
        kind: 'every-minutes',
        minutes: stepMinutes,
        from: at(c.centralisedPeriod.from),
        until: at(c.cutoff.at),
        source: drillSource(c.progressReports.source),
      },
    },
    milestones: base.milestones.map((m) => ({ ...m, at: at(m.at), source: drillSource(m.source) })),
  };
}
