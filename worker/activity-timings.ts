/**
 * Activity timings for the benchmark (MEDINS_ACTIVITY_TIMINGS=path): one JSON line per activity execution,
 * with its type, attempt, wall milliseconds and, where the activity works on a deduction round or levy batch,
 * that number, and the worker's memory while it ran (issue #23: the worker's peak must not grow with the
 * population): the most resident set, V8 heap in use and memory outside the heap (Buffers) sampled every
 * 25 ms during the activity, in MiB. Only numbers from the arguments are kept: never a name, ID or file path.
 */
import { appendFileSync } from 'node:fs';
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ActivityName } from '../activities';

export interface ActivityTiming {
  activity: ActivityName;
  attempt: number;
  ms: number;
  ok: boolean;
  round?: number;
  batchId?: number;
  /** Peak resident set, V8 heap used and external memory (Buffers) sampled during the activity, MiB. */
  rssMiB?: number;
  heapMiB?: number;
  externalMiB?: number;
}

/** Samples the process's memory until stopped; the peak of each figure, in MiB. */
function memorySampler(): () => Pick<ActivityTiming, 'rssMiB' | 'heapMiB' | 'externalMiB'> {
  let rss = 0;
  let heap = 0;
  let external = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
    external = Math.max(external, m.external);
  };
  sample();
  const timer = setInterval(sample, 25);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    const mib = (b: number) => Math.round(b / 2 ** 18) / 4;
    return { rssMiB: mib(rss), heapMiB: mib(heap), externalMiB: mib(external) };
  };
}

/** The round or batch an activity works on, read from its second argument (a number or an object). */
function numbersOf(args: unknown[]): Pick<ActivityTiming, 'round' | 'batchId'> {
  const second = args[1];
  const third = args[2];
  if (typeof second === 'number') {
    // createLevyBatch(ref, round, asOf); fetchTaxResults(ref, batchId)
    return typeof third === 'string' ? { round: second } : { batchId: second };
  }
  if (second && typeof second === 'object') {
    const o = second as Record<string, unknown>;
    return {
      ...(typeof o.round === 'number' ? { round: o.round } : {}),
      ...(typeof o.batchId === 'number' ? { batchId: o.batchId } : {}),
    };
  }
  return {};
}

export function activityTimings(path: string): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const started = performance.now();
        const memory = memorySampler();
        let ok = false;
        try {
          const result = await next(input);
          ok = true;
          return result;
        } finally {
          const timing: ActivityTiming = {
            // the worker serves only our activities: the type is one of their names
            activity: ctx.info.activityType as ActivityName,
            attempt: ctx.info.attempt,
            ms: Math.round((performance.now() - started) * 10) / 10,
            ok,
            ...numbersOf(input.args),
            ...memory(),
          };
          appendFileSync(path, `${JSON.stringify(timing)}\n`);
        }
      },
    },
  });
}
