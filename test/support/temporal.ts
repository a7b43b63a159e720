import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { inject } from 'vitest';
import { installRedactingRuntime } from '../../infra/redacting-logger';
import { FAILURE_CONVERTER_PATH } from '../../infra/payload-codec';
import { createTimeSkippingEnvironment } from '../../provision/time-skipping';
import { WORKFLOWS_PATH } from '../../worker/create-worker';

let runtimeInstalled = false;
/** Quiet the SDK's own logging in tests: warnings and errors only. */
export function quietRuntime() {
  if (runtimeInstalled) return;
  installRedactingRuntime('WARN');
  runtimeInstalled = true;
}

/**
 * A time-skipping test server of this test file (the executable the global setup provisioned), started
 * and waited for as long as a busy machine needs (not the SDK's fixed 5 s).
 */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return createTimeSkippingEnvironment({ server: inject('testServer') });
}

/** The dev server started by the global setup (a real Temporal server). */
export async function devServerEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createFromExistingServer({ address: inject('devServerAddress') });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

let counter = 0;
/** A task queue of this test alone. */
export function uniqueTaskQueue(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Date.now()}`;
}
