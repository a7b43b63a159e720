/**
 * Reading activity failures inside workflow code. The activity boundary (activities/failures.ts) has already
 * typed and masked every failure; here the workflow only asks which type it is.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures';

/** The failure type of an activity's failure (its ApplicationFailure cause), if it has one. */
export function failureTypeOf(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e; depth += 1) {
    if (e instanceof ApplicationFailure) return e.type ?? undefined;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The innermost message of a failure (already masked by the activity boundary), bounded. */
export function failureMessage(error: unknown): string {
  let e: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 4 && e; depth += 1) {
    if (e instanceof ApplicationFailure) message = e.message;
    e = (e as { cause?: unknown }).cause;
  }
  return message.slice(0, 1_000);
}

/** Failures that say the input itself is wrong: a file that cannot be read, a request the ledger refuses. */
const INPUT_REFUSALS: string[] = [
  FailureType.listFile,
  FailureType.invalidInput,
  FailureType.refused,
  FailureType.notFound,
];

/**
 * When an activity failed because its input cannot be used (a department file that cannot be read, a
 * resend the ledger refuses): the refusal to report, `{ type, message }`; otherwise undefined.
 */
export function refusalOf(error: unknown): { type: string; message: string } | undefined {
  if (!(error instanceof ActivityFailure)) return undefined;
  const type = failureTypeOf(error);
  return type && INPUT_REFUSALS.includes(type) ? { type, message: failureMessage(error) } : undefined;
}
