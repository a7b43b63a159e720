import { describe, expect, it } from 'vitest';
import { toActivityFailure } from '../../activities/failures';
import { FailureType } from '../../domain/failures';

/**
 * The ledger's refusal of a jurisdiction-year (SQLSTATE MD001: a drill's rows where the real year would write,
 * the real year's where a drill would) leaves any activity as a refusal the workflow tells the operator,
 * never retried; a connection lost on the way is still retried.
 */
describe('the activity boundary', () => {
  const pgError = (message: string, code: string) => Object.assign(new Error(message), { code });

  it('the ledger’s MD001 is a refusal, not retried, its message kept', () => {
    const message =
      'the ledger holds the rows of a drill of kaiping 2024 (since 2026-12-03): clear them: npm run cli -- campaign clear-drill --jurisdiction kaiping --year 2024';
    const f = toActivityFailure(pgError(message, 'MD001'), 'settleMonth');
    expect(f).toMatchObject({ type: FailureType.refused, nonRetryable: true, message });
  });

  it('a connection the server ended is retried as the database being away', () => {
    const f = toActivityFailure(pgError('terminating connection due to administrator command', '57P01'), 'x');
    expect(f).toMatchObject({ type: FailureType.databaseUnavailable, nonRetryable: false });
  });
});
