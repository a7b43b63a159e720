import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { FAILURE_CONVERTER_PATH } from '../../infra/payload-codec';
import { quietRuntime, workflowBundle } from '../support/temporal';

const { History } = proto.temporal.api.history.v1;

/** The runs of a committed history file (default: the first recorded, before the local ledger steps). */
const committed = (file = 'campaign-kaiping-2024.json') =>
  (
    JSON.parse(readFileSync(join('test/histories', file), 'utf8')) as {
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
  it('every committed history (Kaiping 2024 rehearsals on the time-skipping server) replays against the current workflow code: a year begun before the short ledger steps became local activities and one begun after', async () => {
    quietRuntime();
    const files = readdirSync('test/histories').filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(1);
    const bundle = await workflowBundle();
    let marked = 0;
    for (const file of files) {
      const runs = committed(file);
      expect(runs.length, file).toBeGreaterThan(0);
      for (const run of runs) {
        expect(run.history.events.length, file).toBeGreaterThan(100);
        // a year recorded with local ledger steps holds their markers; the first recorded holds none
        if (
          run.history.events.some(
            (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
          )
        )
          marked += 1;
        await Worker.runReplayHistory({ workflowBundle: bundle }, run.history, run.workflowId);
      }
    }
    expect(marked).toBeGreaterThan(0);
  });

  it('the first committed history refuses to replay when two steps of the year are swapped without patched()', async () => {
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
