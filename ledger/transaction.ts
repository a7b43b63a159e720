import { Context } from '@temporalio/activity';
import type pg from 'pg';

/**
 * Inside an activity, the milliseconds left before its attempt times out; otherwise undefined. A statement
 * must not outlive its attempt: Temporal retries the activity elsewhere, and a query still running here would
 * hold a core and its locks, and keep the worker from shutting down.
 */
export function attemptTimeLeftMs(): number | undefined {
  let info: Context['info'];
  try {
    info = Context.current().info;
  } catch {
    return undefined; // not in an activity (the CLI, the tests)
  }
  const limit = info.startToCloseTimeoutMs;
  if (!limit) return undefined;
  // never more than the attempt's whole time: under the time-skipping test server the scheduled time is the
  // server's skipped-ahead clock, not this machine's
  return Math.min(limit, Math.max(1_000, info.currentAttemptScheduledTimestampMs + limit - Date.now()));
}

/**
 * Inside an activity, the workflow run and activity running it, as JSON for the transaction-local setting
 * `medins.made_by` (read by the enrollment status history trigger, migration 0025): references only, no
 * personal data. '' outside an activity (the CLI, the tests), where the history records no maker.
 */
export function madeBy(): string {
  let info: Context['info'];
  try {
    info = Context.current().info;
  } catch {
    return '';
  }
  const run = info.workflowExecution;
  if (!run) return ''; // a standalone activity, run by no workflow
  return JSON.stringify({
    workflowId: run.workflowId,
    runId: run.runId,
    activityType: info.activityType,
    activityId: info.activityId,
    attempt: info.attempt,
  });
}

/** In a transaction: its statements are cancelled when the activity attempt they serve times out. */
export async function limitToAttempt(client: pg.PoolClient): Promise<void> {
  const left = attemptTimeLeftMs();
  if (left !== undefined) await client.query(`SET LOCAL statement_timeout = ${Math.floor(left)}`);
}

/**
 * Runs `fn` in one transaction on a pooled client: committed when it returns, rolled back when it
 * throws. `workMem` raises work_mem for the transaction (hash joins over large lists).
 *
 * JIT compilation is off in every transaction: the batch steps' plans carry large cost estimates (the
 * policy's category conditions are subplans), so PostgreSQL compiled them with full optimisation, and the
 * compiling took longer than the work. Measured on the Kaiping benchmark: 340 ms of a 567 ms follow-up
 * round's share refresh, 367 ms of round 1's.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: { workMem?: string } = {},
): Promise<T> {
  const client = await checkout(pool);
  try {
    await client.query('BEGIN');
    await limitToAttempt(client);
    // jit off, and who runs the transaction, for the status history the ledger's triggers write (0025)
    await client.query(`SELECT set_config('jit', 'off', true), set_config('medins.made_by', $1, true)`, [
      madeBy(),
    ]);
    if (options.workMem)
      await client.query(`SET LOCAL work_mem = '${options.workMem.replace(/[^0-9A-Za-z]/g, '')}'`);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * A pooled client that survives losing its server: PostgreSQL stopping mid-query makes the client emit
 * 'error', which with no listener would end the worker process. The listener keeps the error; the query
 * in flight rejects (the activity fails and is retried), and the broken connection is destroyed on
 * release instead of going back to the pool.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost = error;
  };
  client.on('error', onError);
  const release = client.release.bind(client);
  client.release = (destroy?: boolean | Error) => {
    client.off('error', onError);
    return release(destroy ?? lost);
  };
  return client;
}
