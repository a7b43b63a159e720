/**
 * One port per department role. The campaign's activities speak only to these; a jurisdiction chooses,
 * per role, how its departments actually exchange data:
 * - `file`: inbox/outbox folders of .xlsx/.csv files, the way these offices exchange data today;
 * - `http`: a JSON API (files travel base64-encoded);
 * - `simulated`: deterministic stand-ins for rehearsals and tests.
 * A file that has not arrived yet is `null`, never an error: the workflow decides how long to wait.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../domain/failures';

export interface ExchangedFile {
  fileName: string;
  bytes: Buffer;
}

export interface CertifyingDepartmentPort {
  /** The department's roster as of `period` (YYYY-MM-DD), if it has sent it. */
  fetchRoster(jurisdiction: string, department: string, period: string): Promise<ExchangedFile | null>;
  /** The department's monthly delta for `month` (YYYY-MM): additions and removals, if sent. */
  fetchDelta(jurisdiction: string, department: string, month: string): Promise<ExchangedFile | null>;
}

export interface TaxPort {
  /** Hands the tax bureau a batch's levy data (应征数据). Sending the same batch twice is harmless. */
  submitLevy(jurisdiction: string, batchId: number, round: number, levy: ExchangedFile): Promise<void>;
  /** The batch's result file (CSV: enrollment id, outcome, failure code), once the bureau has sent it. */
  fetchResults(jurisdiction: string, batchId: number): Promise<ExchangedFile | null>;
}

export interface FinancePort {
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
