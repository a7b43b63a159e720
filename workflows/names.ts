/**
 * Wire names in one place: task queues and workflow ids. Workflow ids are business keys, never random,
 * so that starting the same thing twice is refused by Temporal instead of running twice.
 * Pure module: imported by workflows, the worker and the client alike.
 */
export const TASK_QUEUE = 'resident-medins';

export function stackCheckWorkflowId(requestedAt: string): string {
  return `stack-check-${requestedAt}`;
}
