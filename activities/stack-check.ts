import type pg from 'pg';
import { z } from 'zod';

export const StackCheckInput = z.object({
  workflowId: z.string().min(1),
  requestedBy: z.string().min(1),
  note: z.string().max(500).optional(),
});
export type StackCheckInput = z.infer<typeof StackCheckInput>;

const StackCheckRow = z.object({ id: z.coerce.number().int().positive() });

export function createStackCheckActivities(deps: { pool: pg.Pool }) {
  return {
    /**
     * Writes the stack-check row for this workflow and returns its id. Idempotent on the workflow id:
     * a retry after a crash returns the id of the row already written.
     */
    async recordStackCheck(input: StackCheckInput): Promise<number> {
      const { workflowId, requestedBy, note } = StackCheckInput.parse(input);
      const result = await deps.pool.query(
        `INSERT INTO stack_checks (workflow_id, requested_by, note) VALUES ($1, $2, $3)
         ON CONFLICT (workflow_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id
         RETURNING id`,
        [workflowId, requestedBy, note ?? null],
      );
      return StackCheckRow.parse(result.rows[0]).id;
    },
  };
}
