/**
 * The campaign's activities, built from injected dependencies. Each takes references and counts (a
 * jurisdiction, a year, a policy hash, a batch id) and returns counts: never lists of people.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { chinaDateOf } from '../domain/dates';
import { policyHash } from '../ledger/policy-hash';
import { PolicySchema, WorkingDayCalendar, type Policy } from '../domain/policy';
import { notReady, type DepartmentPorts, type ExchangedFile } from '../departments/ports';
import { keepAndLogExchange, keepAndLogExchangeFile } from '../ledger/exchange-log';
import { importDepartmentList, sha256Hex, storeExchangeFile } from '../lists/import-list';
import {
  applyDeductionResults,
  writeLevyFile,
  claimSubsidies,
  createLevyBatch,
  cutOff,
  openEnrollments,
  snapshotCoverage,
} from '../ledger/campaign';
import { createReconciliationActivities } from './reconciliation';
import { applyHouseholdForm, type HouseholdForm } from '../ledger/household-forms';
import { writeProgressReport } from '../documents/progress-report';
import { faultPoint } from './faults';
import { NotFoundError, RefusedError } from './failures';
import { readStoredFile, storedFileRef, type StoredFileRef } from '../ledger/exchange-store';

export type { StoredFileRef };

export interface CampaignDeps {
  pool: pg.Pool;
  /** Where every exchanged file is kept, by digest (ledger/exchange-store.ts). */
  exchangeDir: string;
  /** How each department role is reached: chosen per role in the composition root (worker/departments.ts). */
  ports: DepartmentPorts;
}

export interface CampaignRef {
  jurisdiction: string;
  year: number;
  policyHash: string;
}

export function createCampaignActivities(deps: CampaignDeps) {
  const { pool, ports, exchangeDir } = deps;
  /** Keeps a file that crossed a boundary (by digest) and logs the crossing. */
  const exchanged = (
    ref: CampaignRef,
    direction: 'in' | 'out',
    department: string,
    kind: string,
    period: string,
    file: ExchangedFile,
    rowCount: number,
  ): Promise<string> =>
    keepAndLogExchange(pool, exchangeDir, {
      ...exchangeEntry(ref, direction, department, kind, period, file.fileName, rowCount),
      bytes: file.bytes,
    });
  /** The exchange log's fields of a crossing: a file in memory (above) or on disk (keepAndLogExchangeFile). */
  function exchangeEntry(
    ref: CampaignRef,
    direction: 'in' | 'out',
    department: string,
    kind: string,
    period: string,
    fileName: string,
    rowCount: number,
  ) {
    return { jurisdiction: ref.jurisdiction, direction, department, kind, period, fileName, rowCount };
  }
  const cache = new Map<string, Policy>();
  async function policyOf(ref: CampaignRef): Promise<Policy> {
    const hit = cache.get(ref.policyHash);
    if (hit) return hit;
    const r = await pool.query<{ policy: Policy }>(
      `SELECT policy FROM campaign_policies WHERE policy_hash = $1`,
      [ref.policyHash],
    );
    if (!r.rows[0]) throw new NotFoundError(`no policy snapshot ${ref.policyHash}`);
    const stored = r.rows[0].policy;
    const policy: Policy = {
      ...PolicySchema.parse(stored),
      workingDays: WorkingDayCalendar.parse(stored.workingDays),
    };
    cache.set(ref.policyHash, policy);
    return policy;
  }

  return {
    ...createReconciliationActivities({ pool, ports, exchangeDir, policyOf }),

    /**
     * Stores the policy snapshot the campaign runs under (idempotent on its hash). With `claimYear` (the
     * campaign workflow's first step), also claims the jurisdiction-year's ledger rows for this campaign
     * (claim_campaign_year, migration 0050): Refused, not retried, when a drill's rows are there for the real
     * year or another drill, or the real year's for a drill; the message names the command to run.
     */
    async storePolicySnapshot(input: { policy: Policy; hash: string; claimYear?: boolean }): Promise<void> {
      if (policyHash(input.policy) !== input.hash)
        throw new RefusedError('the policy does not match its hash');
      await pool.query(
        `INSERT INTO jurisdictions (code, name, province) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING`,
        [input.policy.jurisdiction, input.policy.name, input.policy.province],
      );
      if (input.claimYear)
        await pool.query(`SELECT claim_campaign_year($1, $2, $3, $4, $5)`, [
          input.policy.jurisdiction,
          input.policy.year,
          input.policy.drill,
          input.hash,
          Context.current().info.workflowExecution?.workflowId ?? null,
        ]);
      await pool.query(
        `INSERT INTO campaign_policies (policy_hash, jurisdiction, year, policy) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [input.hash, input.policy.jurisdiction, input.policy.year, JSON.stringify(input.policy)],
      );
    },

    /**
     * Records a campaign event in campaign_events (once per key). Returns the event as recorded (key, kind,
     * detail: references and masked text only): run as a local activity, its marker in the history keeps this
     * result and not the input, and the audit's timeline reads the event from it (audit/history.ts).
     */
    async recordCampaignEvent(
      ref: CampaignRef,
      event: { key: string; kind: string; campaignAtMs: number; detail: Record<string, unknown> },
    ): Promise<{ key: string; kind: string; detail: Record<string, unknown> }> {
      await pool.query(
        `INSERT INTO campaign_events (jurisdiction, campaign_year, event_key, kind, campaign_at, detail) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [
          ref.jurisdiction,
          ref.year,
          event.key,
          event.kind,
          new Date(event.campaignAtMs),
          JSON.stringify(event.detail),
        ],
      );
      // the event as recorded: run as a local activity, the history keeps this result and not the input
      return { key: event.key, kind: event.kind, detail: event.detail };
    },

    /**
     * Asks a certifying department for its roster as of the policy's roster date; the file it sent, kept in the
     * exchange store and named by digest, or null if it has not sent one.
     */
    async requestRoster(ref: CampaignRef, department: string): Promise<StoredFileRef | null> {
      const policy = await policyOf(ref);
      const file = await ports.certifying.fetchRoster(
        ref.jurisdiction,
        department,
        policy.calendar.rosterAsOf.at.slice(0, 10),
      );
      if (!file) return null;
      const sha256 = sha256Hex(file.bytes);
      storeExchangeFile(exchangeDir, file.bytes, sha256);
      return { sha256, fileName: file.fileName };
    },

    /**
     * Imports a roster from the exchange store (by digest: an operator's upload or a department's file). A file
     * that cannot be read is recorded as refused and fails as ListFileError (not retried); a roster that would
     * close too many identities is held (`held: true`) for an operator's decision.
     */
    async importRoster(
      ref: CampaignRef,
      input: { department: string; file: StoredFileRef | string; receivedBy: string },
    ) {
      const policy = await policyOf(ref);
      const period = policy.calendar.rosterAsOf.at.slice(0, 10);
      const file = storedFileRef(exchangeDir, input.file);
      const bytes = await readStoredFile(pool, exchangeDir, file);
      const r = await importDepartmentList(
        {
          pool,
          policy,
          exchangeDir,
          onStep: () => Context.current().heartbeat(),
        },
        {
          jurisdiction: ref.jurisdiction,
          department: input.department,
          kind: 'roster',
          period,
          effectiveOn: period,
          fileName: file.fileName,
          receivedBy: input.receivedBy,
        },
        bytes,
      );
      await faultPoint('importRoster:after-commit');
      return {
        submissionId: r.submissionId,
        rowsRead: r.rowsRead,
        rowsAccepted: r.rowsAccepted,
        rowsRejected: r.rowsRejected,
        rowsSkipped: r.rowsSkipped ?? 0,
        identitiesOpened: r.identitiesOpened,
        alreadyImported: r.alreadyImported,
        held: r.held,
        ...(r.held
          ? { wouldClose: r.wouldClose ?? 0, openIdentities: r.openBefore ?? 0, wouldOpen: r.wouldOpen ?? 0 }
          : {}),
      };
    },

    /** A 附件1 case from a town: new enrollment, change of bank account, or stop with its reason. */
    async applyHouseholdForm(ref: CampaignRef, form: HouseholdForm) {
      return applyHouseholdForm(pool, await policyOf(ref), form);
    },

    async openEnrollments(ref: CampaignRef, asOf: string) {
      return openEnrollments(pool, await policyOf(ref), asOf);
    },

    async createLevyBatch(ref: CampaignRef, round: number, asOf: string) {
      return createLevyBatch(pool, await policyOf(ref), round, asOf, () =>
        faultPoint('createLevyBatch:before-commit'),
      );
    },

    /**
     * Sends the levy data of a batch to the tax bureau and returns the result file it sends back. The levy
     * file is streamed from the ledger to disk, hashed and moved into the exchange store in pieces, and
     * handed to the bureau as a path: a batch is as long as the roll, never held in memory (issue #23).
     */
    async sendLevyToTax(ref: CampaignRef, batch: { batchId: number; round: number }) {
      const dir = join(exchangeDir, 'outgoing');
      mkdirSync(dir, { recursive: true });
      const layout = ports.tax.levyFile(ref.jurisdiction, batch.batchId);
      const path = join(dir, `${ref.year}-${layout.fileName}`);
      const rows = await writeLevyFile(pool, batch.batchId, layout, path);
      const kept = await keepAndLogExchangeFile(pool, exchangeDir, {
        ...exchangeEntry(ref, 'out', 'tax', 'levy-data', `batch-${batch.batchId}`, layout.fileName, rows),
        path,
        move: true,
      });
      await ports.tax.submitLevy(ref.jurisdiction, batch.batchId, batch.round, {
        fileName: layout.fileName,
        path: kept.storedAt,
      });
      // what crossed, for the auditor's timeline: rows and digest, never a person
      return { batchId: batch.batchId, rows, sha256: kept.sha256 };
    },

    /** The tax bureau's result file for a batch; not there yet is retried by the activity's policy. */
    async fetchTaxResults(ref: CampaignRef, batchId: number): Promise<{ resultFile: string; rows: number }> {
      const file = await ports.tax.fetchResults(ref.jurisdiction, batchId);
      if (!file) throw notReady(`the tax bureau's results of levy batch ${batchId}`);
      // counted, hashed and kept in pieces: a result file is as long as its levy
      const rows = await ports.tax.countResults(file);
      const kept = await keepAndLogExchangeFile(pool, exchangeDir, {
        ...exchangeEntry(ref, 'in', 'tax', 'deduction-results', `batch-${batchId}`, file.fileName, rows),
        path: file.path,
        ...(file.temporary ? { move: true } : {}),
      });
      return { resultFile: kept.storedAt, rows };
    },

    async applyDeductionResults(
      ref: CampaignRef,
      input: { batchId: number; resultFile: string; campaignAtMs: number },
    ) {
      const applied = await applyDeductionResults(
        pool,
        await policyOf(ref),
        input.batchId,
        ports.tax.readResults(input.resultFile),
        chinaDateOf(input.campaignAtMs),
      );
      await faultPoint('applyDeductionResults:after-commit');
      return applied;
    },

    async cutOff(ref: CampaignRef) {
      return cutOff(pool, await policyOf(ref));
    },

    async snapshotCoverage(ref: CampaignRef, input: { key: string; campaignAtMs: number }) {
      const policy = await policyOf(ref);
      // the targets of the snapshot the campaign runs under (none where the plan sets none)
      const targets = new Map((policy.targets?.towns ?? []).map((t) => [t.town, t.target]));
      await snapshotCoverage(pool, policy, input.key, new Date(input.campaignAtMs), targets);
      const files = await writeProgressReport(pool, policy, input.key, exchangeDir);
      const totals = await pool.query<{
        enrolled: number;
        to_enroll: number;
        abandoned: number;
        failed: number;
      }>(
        `SELECT sum(enrolled)::int AS enrolled, sum(to_enroll)::int AS to_enroll, sum(abandoned)::int AS abandoned, sum(failed)::int AS failed
         FROM coverage_snapshots WHERE jurisdiction = $1 AND campaign_year = $2 AND snapshot_key = $3`,
        [ref.jurisdiction, ref.year, input.key],
      );
      return { key: input.key, ...totals.rows[0]!, reportXlsx: files.xlsx, reportJson: files.json };
    },

    async claimSubsidies(ref: CampaignRef, input: { fundingSources: string[]; dueOn: string }) {
      const totals = await claimSubsidies(pool, await policyOf(ref), input.fundingSources, input.dueOn);
      const claimFile = ports.finance.claimFile(ref.jurisdiction, input.dueOn, totals.claims);
      await exchanged(
        ref,
        'out',
        'finance',
        'subsidy-claim',
        input.dueOn,
        claimFile,
        totals.claims.reduce((n, c) => n + c.persons, 0),
      );
      if (totals.excluded.length) {
        // say who was left out, and why: the departments check these people
        const text =
          [
            '身份证号码,姓名,类别,核定部门,原因',
            ...totals.excluded.map((x) => [x.idNumber, x.name, x.category, x.department, x.reason].join(',')),
          ].join('\r\n') + '\r\n';
        const list = {
          fileName: `claim-exclusions-${ref.jurisdiction}-${input.dueOn}.csv`,
          bytes: Buffer.from(text, 'utf8'),
        };
        await exchanged(
          ref,
          'out',
          'certifying-departments',
          'claim-exclusions',
          input.dueOn,
          list,
          totals.excluded.length,
        );
      }
      const receipt = await ports.finance.submitClaim(ref.jurisdiction, input.dueOn, claimFile);
      if (!receipt) throw notReady(`finance's receipt for the claim due ${input.dueOn}`);
      await pool.query(
        `UPDATE subsidy_claims SET submitted_at = coalesce(submitted_at, now()), receipt = $2 WHERE id = ANY ($1)`,
        [totals.claims.map((c) => c.claimId), receipt],
      );
      return {
        claims: totals.claims,
        excludedCount: totals.excluded.length,
        receipt,
        sha256: sha256Hex(claimFile.bytes),
      };
    },
  };
}

export type CampaignActivities = ReturnType<typeof createCampaignActivities>;
