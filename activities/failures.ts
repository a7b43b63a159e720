/**
 * The one boundary where an activity's errors become Temporal failures.
 *
 * Every activity runs inside `toActivityFailure` (the worker's activity interceptor, worker/activity-boundary.ts):
 * a domain error leaves it as an `ApplicationFailure` with a stable type from `FailureType`, retryable or not
 * by what it means, never by chance:
 * - bad input (a department file that cannot be read, a request that fails its schema, a policy that fails
 *   validation, a reference to nothing, an operator mistake) is **not** retried: the same input fails the same
 *   way, so the failure goes straight back to the workflow, which tells the operator;
 * - a database or a department that cannot be reached is retried, within the bounds each activity proxy states;
 * - anything else (a bug) is retried within those bounds too, then reaches the workflow as `InternalError`.
 * Messages are masked (no full ID or bank number reaches the history or a log) and bounded in length.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures';
import { redact } from '../domain/personal-data';

export { FailureType, NON_RETRYABLE_FAILURES, NotFoundError, RefusedError } from '../domain/failures';

const MAX_MESSAGE = 2_000;

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** PostgreSQL or the network under it is away for a while: connection, shutdown, resources, conflicts. */
function isTransientDatabaseError(error: unknown): boolean {
  const code = pgCode(error);
  if (!code) return false;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'].includes(code)) return true;
  return (
    code.startsWith('08') || // connection exception
    code.startsWith('53') || // insufficient resources (too many connections, disk full)
    ['57P01', '57P02', '57P03', '40001', '40P01'].includes(code) // shutdown, crash, cannot connect now; conflicts
  );
}

function typeOf(error: Error): { type: FailureType; retryable: boolean } {
  const name = error.name;
  if (name === 'ListFileError') return { type: FailureType.listFile, retryable: false };
  if (name === 'ZodError') return { type: FailureType.invalidInput, retryable: false };
  if (name === 'PolicyValidationError') return { type: FailureType.policyInvalid, retryable: false };
  if (name === 'NotFound') return { type: FailureType.notFound, retryable: false };
  if (name === 'Refused') return { type: FailureType.refused, retryable: false };
  // the ledger's refusal of a jurisdiction-year's rows (claim_campaign_year, clear_drill_rows: migrations 0050,
  // 0070): a drill's rows where the real year would write, or the real year's where a drill would; its
  // message names what to run. The same call fails the same way until an operator acts, so never retried.
  if (pgCode(error) === 'MD001') return { type: FailureType.refused, retryable: false };
  if (isTransientDatabaseError(error) || /Connection terminated|connect ECONNREFUSED/.test(error.message))
    return { type: FailureType.databaseUnavailable, retryable: true };
  return { type: FailureType.internal, retryable: true };
}

/** A short, masked description of a zod error: the fields at fault and what is wrong with them. */
function zodSummary(error: Error): string | undefined {
  const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  if (!Array.isArray(issues)) return undefined;
  return `invalid input: ${issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`)
    .join('; ')}`;
}

/**
 * Maps anything an activity throws to the `ApplicationFailure` Temporal should see.
 * An `ApplicationFailure` already typed by an adapter keeps its type and retryability; its message is masked.
 * Shape: `(error: unknown, activity: string) => ApplicationFailure`; never throws.
 */
export function toActivityFailure(error: unknown, activity: string): ApplicationFailure {
  if (error instanceof ApplicationFailure) {
    const masked = redact(error.message).slice(0, MAX_MESSAGE);
    if (masked === error.message) return error;
    return ApplicationFailure.create({
      message: masked,
      type: error.type ?? FailureType.internal,
      nonRetryable: error.nonRetryable ?? false,
      details: [],
    });
  }
  const e = error instanceof Error ? error : new Error(String(error));
  const { type, retryable } = typeOf(e);
  const message = redact(
    (type === FailureType.invalidInput ? zodSummary(e) : undefined) ?? e.message ?? String(error),
  ).slice(0, MAX_MESSAGE);
  const failure = ApplicationFailure.create({
    message: type === FailureType.internal ? `${activity}: ${message}` : message,
    type,
    nonRetryable: !retryable,
  });
  // the stack names code, not people; masked all the same
  if (e.stack) failure.stack = redact(e.stack);
  return failure;
}
