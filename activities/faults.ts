/**
 * Fault points for the fault suite (npm run test:faults). In production MEDINS_FAULT_PAUSE_AT is unset and
 * a fault point does nothing. When it names this point ("importRoster:after-commit"), the worker writes
 * MEDINS_FAULT_SIGNAL_FILE and stops there, holding whatever it holds (an open transaction, a finished
 * commit not yet reported to Temporal), so the test can `kill -9` it at exactly that moment. Both settings
 * are the one configuration's test-only section (config/settings.ts); unset, as in production, nothing happens.
 */
import { writeFileSync } from 'node:fs';
import { settings } from '../config/settings';

export const FAULT_POINTS = [
  'importRoster:after-commit',
  'createLevyBatch:before-commit',
  'applyDeductionResults:after-commit',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export async function faultPoint(name: FaultPoint): Promise<void> {
  const { MEDINS_FAULT_PAUSE_AT, MEDINS_FAULT_SIGNAL_FILE: signal } = settings();
  if (MEDINS_FAULT_PAUSE_AT !== name) return;
  if (signal) writeFileSync(signal, `${name} ${process.pid}\n`);
  // wait for the kill; never resolves
  await new Promise<never>(() => undefined);
}
