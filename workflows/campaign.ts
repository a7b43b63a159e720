/**
 * AnnualCampaignWorkflow: one durable workflow per jurisdiction and campaign year (id
 * `campaign-<jurisdiction>-<year>`), walking the policy's agenda with durable timers: rosters from the
 * certifying departments, registration of subsidised residents, the first batch deduction, re-deduction
 * rounds until the cut-off, progress reports on the policy's cadence, the cut-off and the subsidy claims.
 * Every decision is made by an activity in PostgreSQL; the history carries references and counts only,
 * and the run continues as new before its history grows large.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  defineQuery,
  defineUpdate,
  log,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure, defineSearchAttributeKey } from '@temporalio/common';
import type { CampaignActivities, CampaignRef } from '../activities/campaign';
import type { FormOutcome, HouseholdForm } from '../activities/campaign/household-forms';
import { buildAgenda, type AgendaItem, type Phase } from '../domain/agenda';
import { MonthlyReconciliationWorkflow } from './reconciliation';
import { instantOf } from '../domain/dates';
import type { Policy } from '../domain/policy';

const quick = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
/** Batch steps heartbeat; a worker lost mid-batch is noticed after the heartbeat timeout (a drill's is short). */
const batchActivities = (drill: boolean) =>
  proxyActivities<CampaignActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: drill ? '10 seconds' : '2 minutes',
    retry: { initialInterval: drill ? '1 second' : '5 seconds', maximumInterval: '5 minutes' },
  });

/** Waiting for a department's answer: retried with backoff until it arrives (DepartmentNotReady). */
const awaitingDepartment = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 minutes',
    nonRetryableErrorTypes: ['DepartmentRejected'],
  },
});

export const CampaignJurisdiction = defineSearchAttributeKey('CampaignJurisdiction', 'KEYWORD');
export const CampaignYear = defineSearchAttributeKey('CampaignYear', 'INT');
export const CampaignPhase = defineSearchAttributeKey('CampaignPhase', 'KEYWORD');

export interface RosterStatus {
  status: 'requested' | 'reminded' | 'imported' | 'escalated';
  rowsRead?: number;
  rowsAccepted?: number;
  rowsRejected?: number;
}

export interface RoundSummary {
  round: number;
  lines: number;
  success: number;
  personal: number;
  systemic: number;
}

export interface CampaignProgress {
  jurisdiction: string;
  year: number;
  phase: Phase;
  /** The date in the campaign's own calendar (for a rehearsal, the policy's date, not today's). */
  campaignDate: string;
  itemsDone: number;
  itemsTotal: number;
  rosters: Record<string, RosterStatus>;
  enrollments?: { renewed: number; subsidisedRegistered: number; fullySubsidised: number };
  rounds: RoundSummary[];
  lastReport?: { key: string; enrolled: number; toEnroll: number; failed: number; abandoned: number };
  cutoff?: { abandoned: number; stillFailed: number; enrolled: number; toEnroll: number };
  claims: { fundingSource: string; department: string; persons: number; totalFen: number }[];
  claimReceipts: string[];
  /** Claims finance refused and that were sent again. */
  claimRejections?: number;
  runs: number;
  reconciledMonths?: string[];
}

export interface CampaignInput {
  policy: Policy;
  policyHash: string;
  operator: string;
  /** A rehearsal shifts the policy's calendar to start when the workflow starts. */
  rehearsal: boolean;
  /** Set by the first run: campaign time = wall time - offset. */
  clockOffsetMs?: number;
  /** Continue as new past this many history events (kept far below Temporal's limits). */
  maxHistoryEvents?: number;
  /** A rehearsal that also reconciles each month's delta (as child workflows) on its due day. */
  reconcileMonthly?: boolean;
  /** Whether the server knows the campaign search attributes (the time-skipping test server does not). */
  searchAttributes?: boolean;
  cursor?: number;
  progress?: CampaignProgress;
}

export const progressQuery = defineQuery<CampaignProgress>('progress');
/** An operator hands in a department's roster file (path on the worker's exchange inbox). */
export const submitRosterUpdate = defineUpdate<
  RosterStatus,
  [{ department: string; path: string; operator: string }]
>('submitRoster');

/** A 附件1 form (new enrollment, change of bank account, stop with reason), entered by a town. */
export const householdFormUpdate = defineUpdate<FormOutcome, [HouseholdForm & { operator: string }]>(
  'householdForm',
);

export function campaignWorkflowId(jurisdiction: string, year: number): string {
  return `campaign-${jurisdiction}-${year}`;
}

export async function AnnualCampaignWorkflow(input: CampaignInput): Promise<CampaignProgress> {
  const { policy } = input;
  const batch = batchActivities(policy.drill);
  const agenda = buildAgenda(policy, { withMonthlyDeltas: Boolean(input.reconcileMonthly) });
  const clockOffsetMs = input.clockOffsetMs ?? (input.rehearsal ? Date.now() - agenda[0]!.at : 0);
  const ref: CampaignRef = {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    policyHash: input.policyHash,
  };
  const campaignNow = () => Date.now() - clockOffsetMs;
  const agendaInstant = (spec: string) => instantOf(spec, 'end');
  const chinaDate = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
  const progress: CampaignProgress = input.progress ?? {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    phase: 'roster-submission',
    campaignDate: chinaDate(agenda[0]!.at),
    itemsDone: 0,
    itemsTotal: agenda.length,
    rosters: {},
    rounds: [],
    claims: [],
    claimReceipts: [],
    runs: 0,
  };
  progress.runs += 1;

  setHandler(progressQuery, () => ({ ...progress, campaignDate: chinaDate(campaignNow()) }));
  setHandler(
    submitRosterUpdate,
    async ({ department, path, operator }) => {
      const r = await batch.importRoster(ref, { department, path, receivedBy: operator });
      const status: RosterStatus = {
        status: 'imported',
        rowsRead: r.rowsRead,
        rowsAccepted: r.rowsAccepted,
        rowsRejected: r.rowsRejected,
      };
      progress.rosters[department] = status;
      await quick.recordCampaignEvent(ref, {
        key: `roster-submitted-${department}-${r.submissionId}`,
        kind: 'operator-submitted-roster',
        campaignAtMs: campaignNow(),
        detail: { department, operator, submissionId: r.submissionId },
      });
      return status;
    },
    {
      validator: ({ department }) => {
        if (!policy.departments.some((d) => d.id === department))
          throw new Error(
            `${department} is not a certifying department of ${policy.jurisdiction} ${policy.year}`,
          );
        if (progress.phase !== 'roster-submission')
          throw new Error(
            `the roster deadline has passed: the campaign is in ${progress.phase}; send the list as a monthly delta`,
          );
      },
    },
  );

  setHandler(
    householdFormUpdate,
    async (form) => {
      const { operator, ...rest } = form;
      const outcome = await quick.applyHouseholdForm(ref, rest);
      await quick.recordCampaignEvent(ref, {
        key: `household-form-${form.kind}-${form.idNumber.slice(-4)}-${campaignNow()}`,
        kind: `household-form-${form.kind}`,
        campaignAtMs: campaignNow(),
        detail: { operator, accepted: outcome.accepted, result: outcome.result },
      });
      return outcome;
    },
    {
      // 000 五(三)(四): changes and stops by the change deadline, new enrollments by the new-enrollment deadline
      validator: (form: HouseholdForm & { operator: string }) => {
        const deadline =
          form.kind === 'new'
            ? policy.calendar.newEnrollmentDeadline.at
            : policy.calendar.changeStopDeadline.at;
        const end = agendaInstant(deadline);
        if (campaignNow() >= end) {
          throw new Error(
            `${form.kind === 'new' ? 'new enrollment' : 'changes and stops'} closed on ${deadline} (${form.kind === 'new' ? policy.calendar.newEnrollmentDeadline.source : policy.calendar.changeStopDeadline.source})`,
          );
        }
      },
    },
  );

  const setPhase = async (phase: Phase) => {
    if (phase === progress.phase && progress.itemsDone > 0) return;
    progress.phase = phase;
    if (input.searchAttributes) {
      upsertSearchAttributes([
        { key: CampaignJurisdiction, value: policy.jurisdiction },
        { key: CampaignYear, value: policy.year },
        { key: CampaignPhase, value: phase },
      ]);
    }
    await quick.recordCampaignEvent(ref, {
      key: `phase-${phase}`,
      kind: 'phase',
      campaignAtMs: campaignNow(),
      detail: { phase },
    });
  };

  if (!input.progress) await quick.storePolicySnapshot({ policy, hash: input.policyHash });

  const deductionRound = async (round: number, at: number) => {
    const levy = await batch.createLevyBatch(ref, round, chinaDate(at));
    const summary: RoundSummary = { round, lines: levy.lines, success: 0, personal: 0, systemic: 0 };
    if (levy.lines > 0) {
      await batch.sendLevyToTax(ref, { batchId: levy.batchId, round });
      const results = await awaitingDepartment.fetchTaxResults(ref, levy.batchId);
      const applied = await batch.applyDeductionResults(ref, {
        batchId: levy.batchId,
        resultFile: results.resultFile,
        campaignAtMs: at,
      });
      summary.success = applied.success;
      summary.personal = applied.personal;
      summary.systemic = applied.systemic;
    }
    progress.rounds.push(summary);
    log.info('deduction round', { ...summary });
  };

  /** Imports a roster the department's adapter handed over, and records its counts. */
  const importRosterFrom = async (department: string, path: string) => {
    const r = await batch.importRoster(ref, { department, path, receivedBy: `adapter:${department}` });
    progress.rosters[department] = {
      status: 'imported',
      rowsRead: r.rowsRead,
      rowsAccepted: r.rowsAccepted,
      rowsRejected: r.rowsRejected,
    };
  };

  /**
   * A claim finance rejects (HTTP 4xx: refused, not unreachable) is recorded for the operators with finance's
   * reason and sent again a day later; the claim's lines are written once (by due date), so a resend
   * changes no amount. A finance bureau that is down is the activity's retry, not a rejection.
   */
  const claimUntilAccepted = async (fundingSources: string[], dueOn: string) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await awaitingDepartment.claimSubsidies(ref, { fundingSources, dueOn });
      } catch (error) {
        const cause = error instanceof ActivityFailure ? error.cause : undefined;
        if (!(cause instanceof ApplicationFailure) || cause.type !== 'DepartmentRejected') throw error;
        progress.claimRejections = (progress.claimRejections ?? 0) + 1;
        await quick.recordCampaignEvent(ref, {
          key: `claim-rejected-${dueOn}-${attempt}`,
          kind: 'claim-rejected',
          campaignAtMs: campaignNow(),
          detail: { dueOn, reason: cause.message.slice(0, 500) },
        });
        await sleep(policy.drill ? 10_000 : 24 * 3600_000);
      }
    }
  };

  const execute = async (item: AgendaItem) => {
    switch (item.kind) {
      case 'request-rosters': {
        await setPhase('roster-submission');
        for (const d of policy.departments) {
          const path = await quick.requestRoster(ref, d.id);
          if (path) {
            await importRosterFrom(d.id, path);
          } else {
            progress.rosters[d.id] = { status: 'reminded' };
            await quick.recordCampaignEvent(ref, {
              key: `roster-reminder-${d.id}`,
              kind: 'roster-reminder',
              campaignAtMs: campaignNow(),
              detail: { department: d.id },
            });
          }
        }
        return;
      }
      case 'roster-deadline': {
        for (const d of policy.departments) {
          if (progress.rosters[d.id]?.status === 'imported') continue;
          // asked again at the deadline: a late roster is still taken
          const late = await quick.requestRoster(ref, d.id);
          if (late) {
            await importRosterFrom(d.id, late);
            continue;
          }
          progress.rosters[d.id] = { status: 'escalated' };
          await quick.recordCampaignEvent(ref, {
            key: `roster-escalated-${d.id}`,
            kind: 'roster-escalated',
            campaignAtMs: campaignNow(),
            detail: { department: d.id },
          });
        }
        await setPhase('changes-and-stops');
        progress.enrollments = await batch.openEnrollments(ref, chinaDate(item.at));
        return;
      }
      case 'first-deduction':
        await setPhase('deduction');
        await deductionRound(1, item.at);
        await setPhase('follow-up');
        return;
      case 're-deduction':
        await deductionRound(item.round, item.at);
        return;
      case 'progress-report': {
        const t = await quick.snapshotCoverage(ref, { key: item.key, campaignAtMs: item.at });
        progress.lastReport = {
          key: item.key,
          enrolled: t.enrolled,
          toEnroll: t.to_enroll,
          failed: t.failed,
          abandoned: t.abandoned,
        };
        return;
      }
      case 'cutoff': {
        await setPhase('cut-off');
        const c = await batch.cutOff(ref);
        const t = await quick.snapshotCoverage(ref, { key: 'cutoff', campaignAtMs: item.at });
        progress.cutoff = { ...c, enrolled: t.enrolled, toEnroll: t.to_enroll };
        return;
      }
      case 'monthly-delta': {
        const r = await executeChild(MonthlyReconciliationWorkflow, {
          workflowId: `reconcile-${policy.jurisdiction}-${item.month}`,
          args: [
            {
              policy,
              policyHash: input.policyHash,
              month: item.month,
              graceMs: 0,
              effectiveOn: chinaDate(item.at),
            },
          ],
        });
        progress.reconciledMonths = [...(progress.reconciledMonths ?? []), item.month];
        log.info('monthly delta reconciled', { month: item.month, conflicts: r.conflicts ?? 0 });
        return;
      }
      case 'subsidy-claim': {
        await setPhase('subsidy-claim');
        const claim = await claimUntilAccepted(item.fundingSources, item.dueOn);
        progress.claims.push(
          ...claim.claims.map(({ fundingSource, department, persons, totalFen }) => ({
            fundingSource,
            department,
            persons,
            totalFen,
          })),
        );
        progress.claimReceipts.push(claim.receipt);
        return;
      }
    }
  };

  for (let i = input.cursor ?? 0; i < agenda.length; i += 1) {
    const item = agenda[i]!;
    const wait = item.at + clockOffsetMs - Date.now();
    if (wait > 0) await sleep(wait);
    progress.campaignDate = chinaDate(item.at);
    await execute(item);
    progress.itemsDone = i + 1;
    const info = workflowInfo();
    if (
      i + 1 < agenda.length &&
      (info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? 5000))
    ) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof AnnualCampaignWorkflow>({
        ...input,
        clockOffsetMs,
        cursor: i + 1,
        progress,
      });
    }
  }
  await setPhase('closed');
  return progress;
}
