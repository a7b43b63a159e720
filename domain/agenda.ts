/**
 * The campaign year as an agenda: every dated step of a policy, in time order. The campaign workflow
 * walks it with durable timers, carrying only its position across continue-as-new.
 */
import { monthlyDeltaPeriods, progressReportSchedule, reDeductionRounds } from './calendar';
import { instantOf } from './dates';
import type { Policy } from './policy';

export type AgendaItem =
  | { kind: 'request-rosters'; at: number; key: string }
  | { kind: 'roster-deadline'; at: number; key: string }
  | { kind: 'first-deduction'; at: number; key: string }
  | { kind: 're-deduction'; at: number; key: string; round: number }
  | { kind: 'progress-report'; at: number; key: string; nominal: string }
  | { kind: 'cutoff'; at: number; key: string }
  | { kind: 'subsidy-claim'; at: number; key: string; fundingSources: string[]; dueOn: string }
  | { kind: 'monthly-delta'; at: number; key: string; month: string };

export type Phase =
  | 'roster-submission'
  | 'changes-and-stops'
  | 'deduction'
  | 'follow-up'
  | 'cut-off'
  | 'subsidy-claim'
  | 'closed';

const ORDER: Record<AgendaItem['kind'], number> = {
  'request-rosters': 0,
  'roster-deadline': 1,
  'first-deduction': 2,
  're-deduction': 3,
  'progress-report': 4,
  cutoff: 5,
  'subsidy-claim': 6,
  'monthly-delta': 1,
};

/**
 * `withMonthlyDeltas`: a rehearsal reconciles the twelve months' deltas after the roster itself, each on its
 * due day (in production the per-jurisdiction Schedule does, and a month is reconciled once either way).
 */
export function buildAgenda(policy: Policy, options: { withMonthlyDeltas?: boolean } = {}): AgendaItem[] {
  const c = policy.calendar;
  const items: AgendaItem[] = [
    { kind: 'request-rosters', at: instantOf(c.rosterAsOf.at, 'start'), key: 'request-rosters' },
    { kind: 'roster-deadline', at: instantOf(c.rosterDeadline.at, 'end'), key: 'roster-deadline' },
    { kind: 'first-deduction', at: instantOf(c.firstBatchDeduction.at, 'start'), key: 'deduction-round-1' },
    ...reDeductionRounds(policy).map((at, i): AgendaItem => ({
      kind: 're-deduction',
      at,
      key: `deduction-round-${i + 2}`,
      round: i + 2,
    })),
    ...progressReportSchedule(policy).map((r): AgendaItem => ({
      kind: 'progress-report',
      at: instantOf(r.due, 'start'),
      key: `progress-${r.due}`,
      nominal: r.nominal,
    })),
    { kind: 'cutoff', at: instantOf(c.cutoff.at, 'end'), key: 'cutoff' },
    ...c.subsidyClaims.map((s): AgendaItem => ({
      kind: 'subsidy-claim',
      at: instantOf(s.at, 'start'),
      key: `claim-${s.fundingSources.join('+')}`,
      fundingSources: s.fundingSources,
      dueOn: s.at.slice(0, 10),
    })),
    ...(options.withMonthlyDeltas
      ? monthlyDeltaPeriods(policy, { months: 12 }).map((d): AgendaItem => ({
          kind: 'monthly-delta',
          at: instantOf(d.due, 'start') + 9 * 3600_000,
          key: `delta-${d.period}`,
          month: d.period,
        }))
      : []),
  ];
  return items.sort((a, b) => a.at - b.at || ORDER[a.kind] - ORDER[b.kind]);
}
