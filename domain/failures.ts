/**
 * Failure types of the activities, in one place (a pure module: the workflows' retry policies, the activity
 * boundary in activities/failures.ts and the CLI all name these and no others).
 */
/** Failure types, in one place: retry policies, workflows and the CLI name these and no others. */
export const FailureType = {
  /** A department file that cannot be read as a list (format, encoding, header, size). */
  listFile: 'ListFileError',
  /** A request or a row that fails its schema (zod). */
  invalidInput: 'InvalidInput',
  /** A policy that fails its own checks (dates out of order, unknown calendar). */
  policyInvalid: 'PolicyValidationError',
  /** A reference to something that is not there (a policy snapshot, a stored file, a household). */
  notFound: 'NotFound',
  /** An operator or department request the ledger refuses (a closed year, a resend after later lists). */
  refused: 'Refused',
  /** A department has not answered yet: asked again with backoff. */
  departmentNotReady: 'DepartmentNotReady',
  /** A department answered 5xx, timed out or could not be reached: retried. */
  departmentUnavailable: 'DepartmentUnavailable',
  /** A department refused what we sent (4xx): an operator must look. */
  departmentRejected: 'DepartmentRejected',
  /** PostgreSQL unreachable, shutting down, out of connections, or a serialization conflict: retried. */
  databaseUnavailable: 'DatabaseUnavailable',
  /** Anything else: a defect. Retried within the proxy's bounds, then reported. */
  internal: 'InternalError',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** The types no retry can mend: every activity proxy lists them as non-retryable. */
export const NON_RETRYABLE_FAILURES: FailureType[] = [
  FailureType.listFile,
  FailureType.invalidInput,
  FailureType.policyInvalid,
  FailureType.notFound,
  FailureType.refused,
  FailureType.departmentRejected,
];

// The errors ledger/, lists/ and the activities throw for bad references and refused requests; the activity
// boundary (activities/failures.ts) turns them into the failure types above. They live here, not there, so
// the inner folders need nothing from activities/.
/** A reference to something that is not there: a policy snapshot, a stored file, a household. */
export class NotFoundError extends Error {
  override name = 'NotFound';
}

/** A request the ledger refuses as it stands (an operator mistake, a resend that cannot apply). */
export class RefusedError extends Error {
  override name = 'Refused';
}
