import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { FAILURE_CONVERTER_PATH } from '../../infra/payload-codec';
import { quietRuntime, workflowBundle } from '../support/temporal';

const { History } = proto.temporal.api.history.v1;

const committed = () =>
  (
    JSON.parse(readFileSync('test/histories/campaign-kaiping-2024.json', 'utf8')) as {
      workflowId: string;
      runId: string;
      history: string;
    }[]
  ).map((run) => ({ ...run, history: History.decode(Buffer.from(run.history, 'base64')) }));

/**
 * Histories recorded from real runs (npm run cli -- rehearse ... --export-history), replayed against
 * today's workflow code. A change that would make a running campaign year non-deterministic fails here:
 * such a change needs `patched()`.
 */
describe('replaying committed histories', () => {
  it('the Kaiping 2024 rehearsal recorded on the time-skipping server replays against the current workflow code', async () => {
    quietRuntime();
    const runs = committed();
    expect(runs.length).toBeGreaterThan(0);
    const bundle = await workflowBundle();
    for (const run of runs) {
      expect(run.history.events.length).toBeGreaterThan(100);
      await Worker.runReplayHistory({ workflowBundle: bundle }, run.history, run.workflowId);
    }
  });

  it('the same history refuses to replay when two steps of the year are swapped without patched()', async () => {
    quietRuntime();
    // a copy of workflows/ beside it (so its relative imports still resolve), with the roster deadline's
    // phase change moved after the opening of enrollments
    const dir = mkdtempSync(join(process.cwd(), '.replay-mutant-'));
    try {
      cpSync('workflows', dir, { recursive: true });
      const file = join(dir, 'campaign.ts');
      const phase = "        await setPhase('changes-and-stops');\n";
      const open = '        progress.enrollments = await batch.openEnrollments(ref, chinaDateOf(item.at));\n';
      const source = readFileSync(file, 'utf8');
      expect(source).toContain(phase + open);
      writeFileSync(file, source.replace(phase + open, open + phase));
      const mutant = await bundleWorkflowCode({
        workflowsPath: join(dir, 'index.ts'),
        failureConverterPath: FAILURE_CONVERTER_PATH,
        logger: new DefaultLogger('WARN'),
      });
      const [first] = committed();
      await expect(
        Worker.runReplayHistory({ workflowBundle: mutant }, first!.history, first!.workflowId),
      ).rejects.toThrow(DeterminismViolationError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
