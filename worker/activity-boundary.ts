/**
 * Every activity runs through this interceptor (installed by createWorker):
 * - its errors leave through the one failure boundary (activities/failures.ts): typed, masked, retryable or
 *   not by what they mean;
 * - while it runs it heartbeats every third of its heartbeat timeout, so a long set-based statement (a
 *   700,000-line levy, a roster import on a big city) is never taken for a lost worker. A worker that dies
 *   stops heartbeating, and the server retries the activity elsewhere after the timeout. The batch steps are
 *   each one set-based transaction (all or nothing), so a retried attempt starts again from its beginning:
 *   none keeps a cursor in its heartbeat details, and the ticker sends none.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { toActivityFailure } from '../activities/failures';

/** The smallest gap between two heartbeats the ticker sends (the SDK throttles them anyway). */
const MIN_TICK_MS = 1_000;

export function activityBoundary(): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const timeout = ctx.info.heartbeatTimeoutMs;
        const ticker = timeout
          ? setInterval(() => ctx.heartbeat(), Math.max(MIN_TICK_MS, Math.floor(timeout / 3)))
          : undefined;
        ticker?.unref();
        try {
          return await next(input);
        } catch (error) {
          throw toActivityFailure(error, ctx.info.activityType);
        } finally {
          if (ticker) clearInterval(ticker);
        }
      },
    },
  });
}
