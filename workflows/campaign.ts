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
  defineSignal,
  defineUpdate,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure, defineSearchAttributeKey } from '@temporalio/common';
import { failureMessage, failureTypeOf, refusalOf } from './failures';
import type { CampaignActivities, CampaignRef, StoredFileRef } from '../activities/campaign';
import type { FormOutcome, HouseholdForm } from '../ledger/household-forms';
import { buildAgenda, type AgendaItem, type Phase } from '../domain/agenda';
import { MonthlyReconciliationWorkflow } from './reconciliation';
import { chinaDateOf, instantOf } from '../domain/dates';
import { FailureType, NON_RETRYABLE_FAILURES } from '../domain/failures';
import type { Policy } from '../domain/policy';

/**
 * Short ledger steps (an event, a snapshot, a policy, a household form). Ten attempts with backoff ride out a
 * database restart (about two minutes); past that the step reaches the operator (see `guarded`), never loops
 * unseen. The same bounds for the regular and the local ones.
 */
const QUICK_STEP = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
  },
} as const;
const quick = proxyActivities<CampaignActivities>(QUICK_STEP);
/**
 * The shortest ledger steps (a campaign event, a coverage snapshot with its progress report, the policy's
 * snapshot: a few small statements each, no department called) as local activities: the worker runs each
 * inside the workflow task that asks for it and the history keeps its result as a marker, where a regular
 * activity costs two more trips to the server and a workflow task of its own (issue #23: 13-31 ms each on
 * the time-skipping server, 26 of them a year). Retried as `quick` is (ten attempts, backoff to 30 seconds),
 * a wait past ten seconds on a durable timer. Department calls and batch steps stay regular activities: they
 * may be slow, and a local activity cannot heartbeat.
 */
const localLedger = proxyLocalActivities<CampaignActivities>({
  ...QUICK_STEP,
  localRetryThreshold: '10 seconds',
});

/**
 * The short ledger steps' proxy: local activities, except in a year whose history began before they were
 * (its events, snapshots and policy were recorded as regular activities, and replay must ask for them so).
 */
function ledgerSteps(): typeof quick {
  return patched('local-ledger-steps') ? localLedger : quick;
}

/**
 * Batch steps: one set-based transaction each, heartbeating while they run (worker/activity-boundary.ts), so a
 * worker lost mid-batch is noticed after the heartbeat timeout (a drill's is short) and the step runs again
 * elsewhere. Eight attempts (about ten minutes in a real year, two in a drill) ride out a worker or database
 * restart; bad input is not retried at all.
 */
const batchActivities = (drill: boolean) =>
  proxyActivities<CampaignActivities>({
    // a 700,000-row roster or levy at 10x Kaiping's population takes minutes, not half an hour
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: drill ? '10 seconds' : '2 minutes',
    retry: {
      initialInterval: drill ? '1 second' : '5 seconds',
      maximumInterval: drill ? '1 minute' : '5 minutes',
      maximumAttempts: 8,
      nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
    },
  });

/**
 * Waiting for a department's answer: asked again with backoff (DepartmentNotReady) for at most three days (ten
 * minutes in a drill); then the operator is told and decides when to ask again.
 */
const awaitingDepartment = (drill: boolean) =>
  proxyActivities<CampaignActivities>({
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: drill ? '10 minutes' : '3 days',
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumInterval: drill ? '30 seconds' : '30 minutes',
      nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
    },
  });

export const CampaignJurisdiction = defineSearchAttributeKey('CampaignJurisdiction', 'KEYWORD');
export const CampaignYear = defineSearchAttributeKey('CampaignYear', 'INT');
export const CampaignPhase = defineSearchAttributeKey('CampaignPhase', 'KEYWORD');

export interface RosterStatus {
  /**
   * requested → imported; reminded (not sent yet); refused (the file could not be read: asked again at the
   * deadline); held (it would close too many identities: an operator confirms or rejects it); escalated.
   */
  status: 'requested' | 'reminded' | 'imported' | 'refused' | 'held' | 'escalated';
  rowsRead?: number;
  rowsAccepted?: number;
  rowsRejected?: number;
  rowsSkipped?: number;
  submissionId?: number;
  /** Held rosters: how many open identities the roster would close, of how many; how many people it would open. */
  wouldClose?: number;
  openIdentities?: number;
  wouldOpen?: number;
  /** Why a file was refused (masked: no personal number), with its failure type. */
  refusal?: { type: string; message: string };
}

/** A step that failed past its retries: the campaign waits for an operator's `retryStep`. */
export interface Attention {
  step: string;
  type: string;
  message: string;
  since: string;
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
  /** Set while a step waits for an operator after its retries ran out. */
  attention?: Attention;
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
/**
 * An operator hands in a department's roster: the file was uploaded into the exchange store first (the
 * client stores its bytes by digest, application/uploads.ts); the Update carries the digest, never a path. The
 * answer is the import's counts, or the file's refusal as a failure of the Update (the campaign goes on).
 */
export const submitRosterUpdate = defineUpdate<
  RosterStatus,
  [{ department: string; file: StoredFileRef; operator: string }]
>('submitRoster');

/** After a step failed past its retries (`progress.attention`): the operator says to try it again. */
export const retryStepUpdate = defineUpdate<{ step: string }, [{ operator: string }]>('retryStep');

/** An operator decided a held roster (`lists confirm|reject`); the ledger already holds the decision. */
export const rosterDecidedSignal =
  defineSignal<
    [{ department: string; submissionId: number; decision: 'confirmed' | 'rejected'; operator: string }]
  >('rosterDecided');

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
  const awaiting = awaitingDepartment(policy.drill);
  const agenda = buildAgenda(policy, { withMonthlyDeltas: Boolean(input.reconcileMonthly) });
  const clockOffsetMs = input.clockOffsetMs ?? (input.rehearsal ? Date.now() - agenda[0]!.at : 0);
  const ref: CampaignRef = {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    policyHash: input.policyHash,
  };
  const campaignNow = () => Date.now() - clockOffsetMs;
  const agendaInstant = (spec: string) => instantOf(spec, 'end');
  const progress: CampaignProgress = input.progress ?? {
    jurisdiction: policy.jurisdiction,
    year: policy.year,
    phase: 'roster-submission',
    campaignDate: chinaDateOf(agenda[0]!.at),
    itemsDone: 0,
    itemsTotal: agenda.length,
    rosters: {},
    rounds: [],
    claims: [],
    claimReceipts: [],
    runs: 0,
  };
  progress.runs += 1;

  setHandler(progressQuery, () => ({ ...progress, campaignDate: chinaDateOf(campaignNow()) }));

  /**
   * Activities find the policy by its snapshot: an Update that arrives before the first run has stored it (an
   * operator's form right after the start) waits for it instead of failing as NotFound.
   */
  let policyStored = Boolean(input.progress);

  /** What an import returned, as the roster's status (held rosters wait for an operator's decision). */
  const rosterStatusOf = (r: {
    submissionId: number;
    rowsRead: number;
    rowsAccepted: number;
    rowsRejected: number;
    rowsSkipped?: number;
    held?: boolean;
    wouldClose?: number;
    openIdentities?: number;
    wouldOpen?: number;
  }): RosterStatus => ({
    status: r.held ? 'held' : 'imported',
    submissionId: r.submissionId,
    rowsRead: r.rowsRead,
    rowsAccepted: r.rowsAccepted,
    rowsRejected: r.rowsRejected,
    ...(r.rowsSkipped !== undefined ? { rowsSkipped: r.rowsSkipped } : {}),
    ...(r.held
      ? {
          wouldClose: r.wouldClose,
          openIdentities: r.openIdentities,
          ...(r.wouldOpen !== undefined ? { wouldOpen: r.wouldOpen } : {}),
        }
      : {}),
  });

  /** A roster file that could not be used: recorded, told to the operators, asked for again at the deadline. */
  const rosterRefused = async (
    department: string,
    refusal: { type: string; message: string },
    by: string,
  ): Promise<RosterStatus> => {
    const status: RosterStatus = { status: 'refused', refusal };
    // a bad file does not undo a good one: a roster already imported (or held) stays as it is
    const before = progress.rosters[department]?.status;
    if (before !== 'imported' && before !== 'held') progress.rosters[department] = status;
    await ledgerSteps().recordCampaignEvent(ref, {
      key: `roster-refused-${department}-${campaignNow()}`,
      kind: 'roster-refused',
      campaignAtMs: campaignNow(),
      detail: { department, by, type: refusal.type, reason: refusal.message },
    });
    return status;
  };

  /** Departments whose roster an operator is handing in right now (the import is under way). */
  const handingIn = new Set<string>();
  setHandler(
    submitRosterUpdate,
    async ({ department, file, operator }) => {
      let status: RosterStatus;
      handingIn.add(department);
      await condition(() => policyStored);
      try {
        status = rosterStatusOf(await batch.importRoster(ref, { department, file, receivedBy: operator }));
      } catch (error) {
        const refusal = refusalOf(error);
        if (!refusal) throw error;
        await rosterRefused(department, refusal, operator);
        // the operator's command fails with the file's own error; the campaign goes on
        throw ApplicationFailure.nonRetryable(refusal.message, refusal.type);
      } finally {
        handingIn.delete(department);
      }
      progress.rosters[department] = status;
      await ledgerSteps().recordCampaignEvent(ref, {
        key: `roster-submitted-${department}-${status.submissionId}`,
        kind: status.status === 'held' ? 'roster-held' : 'operator-submitted-roster',
        campaignAtMs: campaignNow(),
        detail: {
          department,
          operator,
          submissionId: status.submissionId,
          ...(status.status === 'held'
            ? {
                wouldClose: status.wouldClose,
                openIdentities: status.openIdentities,
                wouldOpen: status.wouldOpen,
              }
            : {}),
        },
      });
      return status;
    },
    {
      validator: ({ department, file }: { department: string; file: StoredFileRef; operator: string }) => {
        if (!policy.departments.some((d) => d.id === department))
          throw new Error(
            `${department} is not a certifying department of ${policy.jurisdiction} ${policy.year}`,
          );
        if (progress.phase !== 'roster-submission')
          throw new Error(
            `the roster deadline has passed: the campaign is in ${progress.phase}; send the list as a monthly delta`,
          );
        if (!/^[0-9a-f]{64}$/.test(file.sha256))
          throw new Error('the roster must be uploaded first: the Update names its SHA-256 digest');
      },
    },
  );

  setHandler(rosterDecidedSignal, ({ department, submissionId, decision, operator }) => {
    const current = progress.rosters[department];
    if (current?.status !== 'held' || current.submissionId !== submissionId) return;
    progress.rosters[department] =
      decision === 'confirmed'
        ? {
            ...current,
            status: 'imported',
            wouldClose: undefined,
            openIdentities: undefined,
            wouldOpen: undefined,
          }
        : { status: 'refused', refusal: { type: 'RosterRejected', message: `rejected by ${operator}` } };
  });

  let retryRequested = false;
  setHandler(
    retryStepUpdate,
    ({ operator }) => {
      const step = progress.attention!.step;
      retryRequested = true;
      log.info('operator asked to retry a failed step', { step, operator });
      return { step };
    },
    {
      validator: (_request: { operator: string }) => {
        if (!progress.attention) throw new Error('no step of this campaign is waiting for a retry');
      },
    },
  );

  setHandler(
    householdFormUpdate,
    async (form) => {
      await condition(() => policyStored);
      const { operator, ...rest } = form;
      const outcome = await quick.applyHouseholdForm(ref, rest);
      await ledgerSteps().recordCampaignEvent(ref, {
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
    await ledgerSteps().recordCampaignEvent(ref, {
      key: `phase-${phase}`,
      kind: 'phase',
      campaignAtMs: campaignNow(),
      detail: { phase },
    });
  };

  // the first step claims the year's ledger rows for this campaign (a drill's or the real year's, never both)
  if (!input.progress)
    await ledgerSteps().storePolicySnapshot({ policy, hash: input.policyHash, claimYear: true });
  policyStored = true;

  /**
   * Runs one agenda step. A step whose activity failed past its retry bounds is not retried unseen: the
   * campaign records the failure (type and masked message), shows it in `progress.attention` and waits until
   * an operator asks for a retry (`campaign retry`). Every batch step is idempotent, so running it again is safe.
   */
  const guarded = async (step: string, run: () => Promise<void>): Promise<void> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await run();
        return;
      } catch (error) {
        if (!(error instanceof ActivityFailure)) throw error;
        const type = failureTypeOf(error) ?? FailureType.internal;
        const message = failureMessage(error);
        progress.attention = { step, type, message, since: chinaDateOf(campaignNow()) };
        log.warn('campaign step needs an operator', { step, type });
        await ledgerSteps().recordCampaignEvent(ref, {
          key: `step-failed-${step}-${attempt}`,
          kind: 'step-failed',
          campaignAtMs: campaignNow(),
          detail: { step, type, reason: message, attempt },
        });
        retryRequested = false;
        await condition(() => retryRequested);
        progress.attention = undefined;
      }
    }
  };

  const deductionRound = async (round: number, at: number) => {
    const levy = await batch.createLevyBatch(ref, round, chinaDateOf(at));
    const summary: RoundSummary = { round, lines: levy.lines, success: 0, personal: 0, systemic: 0 };
    if (levy.lines > 0) {
      await batch.sendLevyToTax(ref, { batchId: levy.batchId, round });
      const results = await awaiting.fetchTaxResults(ref, levy.batchId);
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

  /** Imports a roster the department's adapter handed over; a file that cannot be read is refused, not retried. */
  const importRosterFrom = async (department: string, file: StoredFileRef) => {
    try {
      const status = rosterStatusOf(
        await batch.importRoster(ref, { department, file, receivedBy: `adapter:${department}` }),
      );
      progress.rosters[department] = status;
      if (status.status === 'held') {
        await ledgerSteps().recordCampaignEvent(ref, {
          key: `roster-held-${department}-${status.submissionId}`,
          kind: 'roster-held',
          campaignAtMs: campaignNow(),
          detail: {
            department,
            submissionId: status.submissionId,
            wouldClose: status.wouldClose,
            openIdentities: status.openIdentities,
            wouldOpen: status.wouldOpen,
          },
        });
      }
    } catch (error) {
      const refusal = refusalOf(error);
      if (!refusal) throw error;
      await rosterRefused(department, refusal, `adapter:${department}`);
    }
  };

  /**
   * A claim finance rejects (HTTP 4xx: refused, not unreachable) is recorded for the operators with finance's
   * reason and sent again a day later; the claim's lines are written once (by due date), so a resend
   * changes no amount. A finance bureau that is down is the activity's retry, not a rejection.
   */
  const claimUntilAccepted = async (fundingSources: string[], dueOn: string) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await awaiting.claimSubsidies(ref, { fundingSources, dueOn });
      } catch (error) {
        const cause = error instanceof ActivityFailure ? error.cause : undefined;
        if (!(cause instanceof ApplicationFailure) || cause.type !== 'DepartmentRejected') throw error;
        progress.claimRejections = (progress.claimRejections ?? 0) + 1;
        await ledgerSteps().recordCampaignEvent(ref, {
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
          // a list an operator handed in already (right after the start) is not asked for again
          const handedIn = progress.rosters[d.id]?.status;
          if (handingIn.has(d.id) || handedIn === 'imported' || handedIn === 'held') continue;
          const file = await quick.requestRoster(ref, d.id);
          if (file) {
            await importRosterFrom(d.id, file);
          } else if (!handingIn.has(d.id) && progress.rosters[d.id] === undefined) {
            progress.rosters[d.id] = { status: 'reminded' };
            await ledgerSteps().recordCampaignEvent(ref, {
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
          if (progress.rosters[d.id]?.status !== 'held') {
            // asked again at the deadline: a late (or corrected) roster is still taken
            const late = await quick.requestRoster(ref, d.id);
            if (late) await importRosterFrom(d.id, late);
          }
          const now = progress.rosters[d.id];
          if (now?.status === 'imported') continue;
          // still missing, refused or held: the operators are told; the identities stand as they are
          const was = now?.status;
          progress.rosters[d.id] =
            was === 'held'
              ? now!
              : { status: 'escalated', ...(now?.refusal ? { refusal: now.refusal } : {}) };
          await ledgerSteps().recordCampaignEvent(ref, {
            key: `roster-escalated-${d.id}`,
            kind: 'roster-escalated',
            campaignAtMs: campaignNow(),
            detail: { department: d.id, ...(was && was !== 'reminded' ? { was } : {}) },
          });
        }
        await setPhase('changes-and-stops');
        progress.enrollments = await batch.openEnrollments(ref, chinaDateOf(item.at));
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
        const t = await ledgerSteps().snapshotCoverage(ref, { key: item.key, campaignAtMs: item.at });
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
        const t = await ledgerSteps().snapshotCoverage(ref, { key: 'cutoff', campaignAtMs: item.at });
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
              effectiveOn: chinaDateOf(item.at),
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
    progress.campaignDate = chinaDateOf(item.at);
    await guarded(item.key, () => execute(item));
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
