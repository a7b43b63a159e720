import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SimulationConfig } from '../../departments/simulated';
import { importDepartmentList } from '../../lists/import-list';
import { policyHash } from '../../ledger/policy-hash';
import type { Policy } from '../../domain/policy';
import { generatePopulation, type PopulationManifest } from '../../simulation/population';
import { createWorker } from '../../worker/create-worker';
import { AnnualCampaignWorkflow, campaignWorkflowId, type CampaignProgress } from '../../workflows/campaign';
import type { TestDatabase } from './database';
import { uniqueTaskQueue, workflowBundle } from './temporal';

/** A whole campaign year of `policy` on a synthetic population, against the simulated departments. */
export async function rehearse(
  env: TestWorkflowEnvironment,
  db: TestDatabase,
  policy: Policy,
  scale: number,
  options: {
    maxHistoryEvents?: number;
    simulation?: Partial<SimulationConfig>;
    deltaMonths?: number;
    reconcileMonthly?: boolean;
  } = {},
  onStarted?: (handle: WorkflowHandle<typeof AnnualCampaignWorkflow>) => Promise<unknown>,
) {
  const outDir = mkdtempSync(join(tmpdir(), `medins-${policy.jurisdiction}-`));
  const manifest = await generatePopulation(db.pool, policy, {
    scale,
    seed: 3,
    defectRate: 0.02,
    deltaMonths: options.deltaMonths ?? 0,
    outDir,
  });
  const simulation: SimulationConfig = {
    seed: 3,
    populationDirs: { [policy.jurisdiction]: outDir },
    systemicFailureRate: 0.02,
    topUpRate: 0.3,
    missingDepartments: [],
    exchangeDir: mkdtempSync(join(tmpdir(), 'medins-exchange-')),
    ...options.simulation,
  };
  const taskQueue = uniqueTaskQueue(`campaign-${policy.jurisdiction}`);
  const worker = await createWorker({
    connection: env.nativeConnection,
    taskQueue,
    pool: db.pool,
    simulation,
    workflowBundle: await workflowBundle(),
  });
  const handle = await env.client.workflow.start(AnnualCampaignWorkflow, {
    taskQueue,
    workflowId: campaignWorkflowId(policy.jurisdiction, policy.year),
    args: [
      {
        policy,
        policyHash: policyHash(policy),
        operator: 'test-operator',
        rehearsal: true,
        searchAttributes: false,
        ...(options.maxHistoryEvents ? { maxHistoryEvents: options.maxHistoryEvents } : {}),
        ...(options.reconcileMonthly ? { reconcileMonthly: true } : {}),
      },
    ],
  });
  const progress: CampaignProgress = await worker.runUntil(async () => {
    if (onStarted) await onStarted(handle);
    return handle.result();
  });
  return { progress, manifest, handle };
}

/**
 * A drill's synthetic population (scale 0.001, 2% defective rows) in the ledger and its department files in
 * a fresh folder, and the simulated departments' settings that hand them over.
 */
export async function drillPopulation(
  db: TestDatabase,
  policy: Policy,
  options: { seed: number; missingDepartments?: string[] },
): Promise<SimulationConfig> {
  const outDir = mkdtempSync(join(tmpdir(), `medins-drill-${policy.jurisdiction}-`));
  await generatePopulation(db.pool, policy, {
    scale: 0.001,
    seed: options.seed,
    defectRate: 0.02,
    deltaMonths: 0,
    outDir,
  });
  return {
    seed: options.seed,
    populationDirs: { [policy.jurisdiction]: outDir },
    systemicFailureRate: 0.02,
    topUpRate: 0.5,
    missingDepartments: options.missingDepartments ?? [],
    exchangeDir: join(outDir, 'exchange'),
  };
}

/**
 * A synthetic population of `policy` in the ledger, with every certifying department's roster file imported as
 * the September lists arrive (period and effective date: the policy's rosterAsOf day), in a fresh folder.
 * `exchangeDir` is where the imports store the files (default: `exchange` in the population's folder).
 * Returns the population's manifest (its department files).
 */
export async function populationWithRosters(
  db: TestDatabase,
  policy: Policy,
  options: { scale: number; seed: number; defectRate: number; exchangeDir?: string },
): Promise<PopulationManifest> {
  const outDir = mkdtempSync(join(tmpdir(), `medins-registry-${policy.jurisdiction}-`));
  const manifest = await generatePopulation(db.pool, policy, {
    scale: options.scale,
    seed: options.seed,
    defectRate: options.defectRate,
    deltaMonths: 0,
    outDir,
  });
  const period = policy.calendar.rosterAsOf.at.slice(0, 10);
  for (const f of manifest.files) {
    await importDepartmentList(
      { pool: db.pool, policy, exchangeDir: options.exchangeDir ?? join(outDir, 'exchange') },
      {
        jurisdiction: policy.jurisdiction,
        department: f.department,
        kind: 'roster',
        period,
        effectiveOn: period,
        fileName: f.path.split('/').at(-1)!,
        receivedBy: 'test',
      },
      readFileSync(f.path),
    );
  }
  return manifest;
}
