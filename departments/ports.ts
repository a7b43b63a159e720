/**
 * One port per department role, in the domain's words: a certifying department's roster and monthly delta
 * (lists), the tax bureau's levy data (应征数据) and deduction results (扣费结果), finance's subsidy claim
 * and its receipt. The campaign's activities speak only to these; each adapter owns its wire format (file
 * layout, encoding, transport). Adapters are chosen per role in one composition root
 * (worker/departments.ts):
 * - `file`: inbox/outbox folders of .xlsx/.csv files, the way these offices exchange data today;
 * - `http`: a JSON API (files travel base64-encoded);
 * - `simulated`: deterministic stand-ins for rehearsals and tests.
 * A file that has not arrived yet is `null`, never an error: the workflow decides how long to wait.
 */
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures';

export interface ExchangedFile {
  fileName: string;
  bytes: Buffer;
}

/**
 * A file that crosses a boundary on disk, not in memory: the tax bureau's levy data and result files are as
 * long as the roll (7.2 million lines in the largest cities), so they travel as paths and are read in
 * pieces (issue #23: the worker's memory is bounded by its batch sizes, not by the population).
 * `temporary`: a scratch copy the adapter made (e.g. from an HTTP body); the exchange store moves it in.
 */
export interface FileOnDisk {
  fileName: string;
  path: string;
  temporary?: boolean;
}

/**
 * A file an adapter received whole (an HTTP body) put on disk as a `temporary` FileOnDisk, in a scratch
 * folder of its own under the system's temporary folder: the exchange store moves it in when it is kept.
 */
export async function scratchFileOnDisk(fileName: string, bytes: Buffer): Promise<FileOnDisk> {
  const path = join(mkdtempSync(join(tmpdir(), 'medins-received-')), basename(fileName));
  await writeFile(path, bytes);
  return { fileName, path, temporary: true };
}

export interface CertifyingDepartmentPort {
  /** The department's roster as of `period` (YYYY-MM-DD), if it has sent it. */
  fetchRoster(jurisdiction: string, department: string, period: string): Promise<ExchangedFile | null>;
  /** The department's monthly delta for `month` (YYYY-MM): additions and removals, if sent. */
  fetchDelta(jurisdiction: string, department: string, month: string): Promise<ExchangedFile | null>;
}

/** A field of a levy line (应征数据), as the ledger holds it. */
export type LevyField = 'idNumber' | 'name' | 'amountFen' | 'bankAccount' | 'enrollmentId';

/**
 * The levy file a tax bureau takes, as data: the ledger writes it with one streamed `COPY ... (FORMAT csv,
 * HEADER)` in this layout (a batch is as long as the roll: never built in memory), so the bureau's column
 * names and order live in its adapter and nowhere else.
 */
export interface LevyFileLayout {
  fileName: string;
  /** The columns in file order: which field of the levy line, under which header. */
  columns: { field: LevyField; header: string }[];
  /** One character; a comma when not given. */
  delimiter?: string;
}

/** One deduction result (扣费结果) in the domain's words; `failureCode` is the plan's code (null on success). */
export interface DeductionResult {
  enrollmentId: string;
  outcome: 'success' | 'failure';
  failureCode: string | null;
}

export interface TaxPort {
  /** The layout of batch `batchId`'s levy file (应征数据) in this bureau's format. */
  levyFile(jurisdiction: string, batchId: number): LevyFileLayout;
  /**
   * Hands the tax bureau a batch's levy data (应征数据), a file in the exchange store the adapter reads
   * (never changes or removes). Sending the same batch twice is harmless.
   */
  submitLevy(jurisdiction: string, batchId: number, round: number, levy: FileOnDisk): Promise<void>;
  /** The batch's result file in the bureau's format, on disk, once the bureau has sent it. */
  fetchResults(jurisdiction: string, batchId: number): Promise<FileOnDisk | null>;
  /** How many result lines a result file holds (for the exchange log), read in pieces. */
  countResults(file: FileOnDisk): Promise<number>;
  /**
   * The results a stored result file holds, read from `path` chunk by chunk (a result file is as long as its
   * levy): one array per chunk, lines without an enrollment id skipped, the bureau's codes translated to the
   * plan's.
   */
  readResults(path: string): AsyncIterable<DeductionResult[]>;
}

/** One fund's and department's total of a subsidy claim (补助资金申请), in fen. */
export interface SubsidyClaimTotal {
  claimId: number;
  fundingSource: string;
  department: string;
  persons: number;
  totalFen: number;
}

export interface FinancePort {
  /** The claim file for the totals of the claim due `dueOn`, in finance's format. */
  claimFile(jurisdiction: string, dueOn: string, claims: SubsidyClaimTotal[]): ExchangedFile;
  /** Submits a subsidy claim; the receipt number once finance has answered. */
  submitClaim(jurisdiction: string, dueOn: string, claim: ExchangedFile): Promise<string | null>;
}

export interface DepartmentPorts {
  certifying: CertifyingDepartmentPort;
  tax: TaxPort;
  finance: FinancePort;
}

/** Failure types adapters raise, in one place; permanent ones are not retried. */
export const AdapterFailure = {
  notReady: FailureType.departmentNotReady,
  unavailable: FailureType.departmentUnavailable,
  rejected: FailureType.departmentRejected,
} as const;

/** Not there yet: retried by the activity's retry policy (with backoff) until it arrives. */
export function notReady(what: string): ApplicationFailure {
  return ApplicationFailure.retryable(`${what} has not arrived yet`, AdapterFailure.notReady);
}

/** The department answered 5xx, timed out or could not be reached: retried. */
export function unavailable(what: string, cause: string): ApplicationFailure {
  return ApplicationFailure.retryable(`${what}: ${cause}`, AdapterFailure.unavailable);
}

/** The department refused what we sent (4xx): an operator must look, retrying will not help. */
export function rejected(what: string, cause: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${what}: ${cause}`, AdapterFailure.rejected);
}
