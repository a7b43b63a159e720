import { readFileSync } from 'node:fs';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { quietRuntime, workflowBundle } from '../support/temporal';

const { History } = proto.temporal.api.history.v1;

/**
 * Histories recorded from real runs (npm run cli -- rehearse ... --export-history), replayed against
 * today's workflow code. A change that would make a running campaign year non-deterministic fails here:
 * such a change needs `patched()`.
 */
describe('replaying committed histories', () => {
  it('the Kaiping 2024 rehearsal recorded on the time-skipping server replays against the current workflow code', async () => {
    quietRuntime();
    const runs = JSON.parse(readFileSync('test/histories/campaign-kaiping-2024.json', 'utf8')) as {
      workflowId: string;
      runId: string;
      history: string;
    }[];
    expect(runs.length).toBeGreaterThan(0);
    const bundle = await workflowBundle();
    for (const run of runs) {
      const history = History.decode(Buffer.from(run.history, 'base64'));
      expect(history.events.length).toBeGreaterThan(100);
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, run.workflowId);
    }
  });
});
