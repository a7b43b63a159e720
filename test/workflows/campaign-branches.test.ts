/* eslint-disable @typescript-eslint/require-await -- the stand-in activities answer at once, as async functions like the real ones */
/**
 * The campaign workflow's branches with mocked activities on the time-skipping server: each case is a whole
 * year in seconds. The activities here are stand-ins that count and answer; the worker runs them through the
 * same failure boundary as production (worker/activity-boundary.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignActivities } from '../../activities/campaign';
import { policyHash } from '../../ledger/policy-hash';
import { FailureType } from '../../domain/failures';
import { seedPolicy } from '../../seeds';
import { activityBoundary } from '../../worker/activity-boundary';
import {
  AnnualCampaignWorkflow,
  householdFormUpdate,
  progressQuery,
  retryStepUpdate,
  submitRosterUpdate,
  type CampaignProgress,
} from '../../workflows/campaign';
import { timeSkippingEnvironment, uniqueTaskQueue, workflowBundle } from '../support/temporal';

const policy = seedPolicy('kaiping', 2024);
const DEPARTMENTS = policy.departments.map((d) => d.id);
const digest = (c: string) => c.repeat(64);

interface Recorded {
  events: { key: string; kind: string; detail: Record<string, unknown> }[];
  calls: Record<string, number>;
}

/**
 * Stand-in activities: every department sends a roster of 10 rows; round 1 levies 100 people, 90 pay, 6 fail for
 * a personal reason and 4 for a systemic one; each later round levies those still failed and they all pay.
 * `overrides` replace any of them.
 */
function mockActivities(
  recorded: Recorded,
  overrides: Partial<Record<keyof CampaignActivities, (...args: never[]) => unknown>> = {},
) {
  const count = (name: string) => {
    recorded.calls[name] = (recorded.calls[name] ?? 0) + 1;
  };
  let stillFailed = 10;
  const base: Record<string, (...args: never[]) => unknown> = {
    storePolicySnapshot: async () => undefined,
    recordCampaignEvent: async (
      _ref: unknown,
      e: { key: string; kind: string; detail: Record<string, unknown> },
    ) => {
      recorded.events.push({ key: e.key, kind: e.kind, detail: e.detail });
    },
    requestRoster: async (_ref: unknown, department: string) => ({
      sha256: digest('a'),
      fileName: `${department}.xlsx`,
    }),
    importRoster: async () => ({
      submissionId: 1,
      rowsRead: 10,
      rowsAccepted: 10,
      rowsRejected: 0,
      identitiesOpened: 10,
      alreadyImported: false,
      held: false,
    }),
    openEnrollments: async () => ({ renewed: 100, subsidisedRegistered: 5, fullySubsidised: 5 }),
    createLevyBatch: async (_ref: unknown, round: number) => ({
      batchId: round,
      lines: round === 1 ? 100 : stillFailed,
    }),
    sendLevyToTax: async (_ref: unknown, b: { batchId: number }) => ({
      batchId: b.batchId,
      rows: 1,
      sha256: digest('b'),
    }),
    fetchTaxResults: async () => ({ resultFile: digest('c'), rows: 1 }),
    applyDeductionResults: async (_ref: unknown, input: { batchId: number }) => {
      if (input.batchId === 1) return { success: 90, personal: 6, systemic: 4 };
      const paid = stillFailed;
      stillFailed = 0;
      return { success: paid, personal: 0, systemic: 0 };
    },
    snapshotCoverage: async () => ({
      enrolled: 100,
      to_enroll: 105,
      failed: 0,
      abandoned: 0,
      reportXlsx: 'r.xlsx',
      reportJson: 'r.json',
    }),
    cutOff: async () => ({ abandoned: 0, stillFailed: 0 }),
    claimSubsidies: async (_ref: unknown, input: { dueOn: string }) => ({
      claims: [],
      excludedCount: 0,
      receipt: `receipt-${input.dueOn}`,
      sha256: digest('d'),
    }),
    applyHouseholdForm: async () => ({ accepted: true, result: 'ok' }),
  };
  const all = { ...base, ...overrides };
  return Object.fromEntries(
    Object.entries(all).map(([name, fn]) => [
      name,
      (...args: never[]) => {
        count(name);
        return fn(...args);
      },
    ]),
  );
}

describe('the campaign workflow’s branches (mocked activities, time-skipping)', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await timeSkippingEnvironment();
  }, 300_000);
  afterAll(async () => {
    await env?.teardown();
  });

  async function runYear(
    activities: Record<string, unknown>,
    drive: (
      handle: Awaited<ReturnType<typeof env.client.workflow.start<typeof AnnualCampaignWorkflow>>>,
    ) => Promise<void> = async () => undefined,
    input: { maxHistoryEvents?: number } = {},
  ): Promise<CampaignProgress> {
    const taskQueue = uniqueTaskQueue('branches');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
      interceptors: { activity: [activityBoundary()] },
    });
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.start(AnnualCampaignWorkflow, {
        taskQueue,
        workflowId: `branches-${taskQueue}`,
        args: [
          {
            policy,
            policyHash: policyHash(policy),
            operator: 'tester',
            rehearsal: true,
            ...input,
          },
        ],
      });
      await drive(handle);
      return handle.result();
    });
  }

  it('a department file that cannot be read is refused, the department escalated at the deadline, and the year goes on to its claims', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    const progress = await runYear(
      mockActivities(recorded, {
        importRoster: async (_ref: unknown, input: { department: string }) => {
          if (input.department === 'civil-affairs')
            throw ApplicationFailure.nonRetryable(
              'civil-affairs.xlsx: sheet 名单, rows 1-20: no header row names 身份证号码',
              FailureType.listFile,
            );
          return { submissionId: 2, rowsRead: 10, rowsAccepted: 10, rowsRejected: 0, held: false };
        },
      }),
    );
    expect(progress.phase).toBe('closed');
    expect(progress.rosters['civil-affairs']).toMatchObject({
      status: 'escalated',
      refusal: { type: 'ListFileError', message: expect.stringContaining('no header row') },
    });
    // asked at the start and again at the deadline; never retried in between
    expect(recorded.calls.importRoster).toBe(DEPARTMENTS.length + 1);
    expect(recorded.events.filter((e) => e.kind === 'roster-refused')).toHaveLength(2);
    expect(recorded.events.find((e) => e.key === 'roster-escalated-civil-affairs')?.detail).toMatchObject({
      department: 'civil-affairs',
      was: 'refused',
    });
    expect(progress.claimReceipts.length).toBeGreaterThan(0);
  });

  it('an operator’s unreadable roster fails the Update with the file’s error within the Update, and the campaign goes on', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    let answer: unknown;
    const progress = await runYear(
      mockActivities(recorded, {
        requestRoster: async () => null,
        importRoster: async (_ref: unknown, input: { receivedBy: string }) => {
          if (input.receivedBy === 'clerk')
            throw ApplicationFailure.nonRetryable(
              'not-a-roster.txt: not a spreadsheet: the file holds no list',
              FailureType.listFile,
            );
          return { submissionId: 3, rowsRead: 1, rowsAccepted: 1, rowsRejected: 0, held: false };
        },
      }),
      async (handle) => {
        answer = await handle
          .executeUpdate(submitRosterUpdate, {
            args: [
              {
                department: 'veterans-affairs',
                file: { sha256: digest('e'), fileName: 'not-a-roster.txt' },
                operator: 'clerk',
              },
            ],
          })
          .catch((e: unknown) => e);
      },
    );
    expect(answer).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (answer as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('ListFileError');
    expect(cause.message).toContain('not-a-roster.txt');
    expect(recorded.calls.importRoster).toBe(1);
    expect(progress.phase).toBe('closed');
    expect(progress.rounds.length).toBeGreaterThan(1);
  });

  it('a roster handed in right after the start is not reminded nor escalated', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    let imported!: () => void;
    const importStarted = new Promise<void>((resolve) => (imported = resolve));
    const progress = await runYear(
      mockActivities(recorded, {
        // the department sends nothing through its adapter, and asking it waits until the hand-in began
        requestRoster: async (_ref: unknown, department: string) => {
          if (department === 'disabled-persons-federation') await importStarted;
          return null;
        },
        importRoster: async () => {
          imported();
          return { submissionId: 4, rowsRead: 53, rowsAccepted: 53, rowsRejected: 0, held: false };
        },
      }),
      async (handle) => {
        const status = await handle.executeUpdate(submitRosterUpdate, {
          args: [
            {
              department: 'disabled-persons-federation',
              file: { sha256: digest('f'), fileName: 'dpf.csv' },
              operator: 'clerk',
            },
          ],
        });
        expect(status).toMatchObject({ status: 'imported', rowsRead: 53 });
      },
    );
    expect(progress.rosters['disabled-persons-federation']).toMatchObject({ status: 'imported' });
    const about = recorded.events.filter((e) => e.detail.department === 'disabled-persons-federation');
    expect(about.map((e) => e.kind)).not.toContain('roster-reminder');
    expect(about.map((e) => e.kind)).not.toContain('roster-escalated');
    // the departments that sent nothing are reminded, then escalated
    expect(progress.rosters['civil-affairs']!.status).toBe('escalated');
  });

  it('a roster held for the people it would open says so: its status and the held event carry how many', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    const progress = await runYear(
      mockActivities(recorded, {
        importRoster: async () => ({
          submissionId: 6,
          rowsRead: 66,
          rowsAccepted: 66,
          rowsRejected: 0,
          held: true,
          // closes nobody: held only because it would open 60 where the department has 6 (rosterSafety.maxOpen)
          wouldClose: 0,
          openIdentities: 6,
          wouldOpen: 60,
        }),
      }),
      async (handle) => {
        const status = await handle.executeUpdate(submitRosterUpdate, {
          args: [
            {
              department: 'veterans-affairs',
              file: { sha256: digest('7'), fileName: 'veterans.csv' },
              operator: 'clerk',
            },
          ],
        });
        expect(status).toMatchObject({ status: 'held', wouldClose: 0, openIdentities: 6, wouldOpen: 60 });
      },
    );
    expect(progress.rosters['veterans-affairs']).toMatchObject({ status: 'held', wouldOpen: 60 });
    const held = recorded.events.find(
      (e) => e.kind === 'roster-held' && e.detail.department === 'veterans-affairs',
    );
    expect(held?.detail).toMatchObject({ wouldClose: 0, openIdentities: 6, wouldOpen: 60 });
  });

  it('a 附件1 form after the change deadline is refused by the Update’s validator, naming the deadline and its rule', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    let refusal: unknown;
    await runYear(mockActivities(recorded), async (handle) => {
      // wait until the first deduction has run: changes and stops closed on 10-07
      for (;;) {
        const p = await handle.query(progressQuery);
        if (p.rounds.length > 0) break;
        await env.sleep('1 day');
      }
      refusal = await handle
        .executeUpdate(householdFormUpdate, {
          args: [
            {
              kind: 'stop',
              idNumber: '440783196602100024',
              reason: 'death',
              operator: 'clerk',
            } as never,
          ],
        })
        .catch((e: unknown) => e);
    });
    expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String(((refusal as Error).cause as Error | undefined)?.message)).toMatch(
      /changes and stops closed on 2023-10-07/,
    );
    expect(recorded.calls.applyHouseholdForm ?? 0).toBe(0);
  });

  it('the follow-up loop re-deducts only those still failed, round after round, until nobody is left', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    const progress = await runYear(mockActivities(recorded));
    expect(progress.rounds[0]).toMatchObject({ round: 1, lines: 100, success: 90, personal: 6, systemic: 4 });
    expect(progress.rounds[1]).toMatchObject({ round: 2, lines: 10, success: 10 });
    // once nobody is left, a round levies nobody and sends nothing to the tax bureau
    for (const r of progress.rounds.slice(2)) expect(r.lines).toBe(0);
    expect(recorded.calls.sendLevyToTax).toBe(2);
  });

  it('a step that fails past its retries waits for the operator, who is told why, and runs again on `retryStep`', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    let failures = 0;
    let seen: CampaignProgress | undefined;
    const progress = await runYear(
      mockActivities(recorded, {
        createLevyBatch: async (_ref: unknown, round: number) => {
          if (round === 1 && failures === 0) {
            failures += 1;
            throw ApplicationFailure.nonRetryable(
              'levy amounts for 440783196602100024 do not add up',
              FailureType.invalidInput,
            );
          }
          return { batchId: round, lines: round === 1 ? 100 : 0 };
        },
        applyDeductionResults: async () => ({ success: 100, personal: 0, systemic: 0 }),
      }),
      async (handle) => {
        for (;;) {
          const p = await handle.query(progressQuery);
          if (p.attention) {
            seen = p;
            break;
          }
          await env.sleep('1 day');
        }
        await handle.executeUpdate(retryStepUpdate, { args: [{ operator: 'clerk' }] });
      },
    );
    expect(seen!.attention).toMatchObject({ step: 'deduction-round-1', type: 'InvalidInput' });
    // the message that reaches the operator and the history is masked
    expect(seen!.attention!.message).toContain('440783********0024');
    expect(seen!.attention!.message).not.toContain('440783196602100024');
    expect(recorded.events.filter((e) => e.kind === 'step-failed')).toHaveLength(1);
    expect(progress.attention).toBeUndefined();
    expect(progress.rounds[0]).toMatchObject({ round: 1, lines: 100, success: 100 });
    expect(progress.phase).toBe('closed');
  });

  it('a retryable failure is retried within its bounds, not forever: after eight attempts the operator is asked', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    let seen: CampaignProgress | undefined;
    await runYear(
      mockActivities(recorded, {
        cutOff: async () => {
          throw new Error('connection to the ledger lost');
        },
      }),
      async (handle) => {
        for (;;) {
          const p = await handle.query(progressQuery);
          if (p.attention) {
            seen = p;
            break;
          }
          await env.sleep('1 day');
        }
        await handle.terminate('test over');
      },
    ).catch(() => undefined);
    expect(seen!.attention).toMatchObject({ step: 'cutoff', type: 'InternalError' });
    expect(recorded.calls.cutOff).toBe(8);
  });

  it('continue-as-new waits for an Update under way, which completes, and the year goes on in the next run', async () => {
    const recorded: Recorded = { events: [], calls: {} };
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    let status: unknown;
    const progress = await runYear(
      mockActivities(recorded, {
        requestRoster: async () => null,
        importRoster: async () => {
          await slow;
          return { submissionId: 5, rowsRead: 7, rowsAccepted: 7, rowsRejected: 0, held: false };
        },
      }),
      async (handle) => {
        const update = handle.executeUpdate(submitRosterUpdate, {
          args: [
            {
              department: 'rural-revitalization',
              file: { sha256: digest('9'), fileName: 'rr.xlsx' },
              operator: 'clerk',
            },
          ],
        });
        // the history passes its (tiny) bound while the import is still running
        await new Promise((r) => setTimeout(r, 1_500));
        release();
        status = await update;
      },
      { maxHistoryEvents: 30 },
    );
    expect(status).toMatchObject({ status: 'imported', rowsRead: 7 });
    expect(progress.runs).toBeGreaterThan(1);
    expect(progress.rosters['rural-revitalization']).toMatchObject({ status: 'imported', rowsRead: 7 });
    expect(progress.phase).toBe('closed');
  });
});
