import type pg from 'pg';

/**
 * Runs `fn` in one transaction on a pooled client: committed when it returns, rolled back when it
 * throws. `workMem` raises work_mem for the transaction (hash joins over large lists).
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: { workMem?: string } = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    if (options.workMem)
      await client.query(`SET LOCAL work_mem = '${options.workMem.replace(/[^0-9A-Za-z]/g, '')}'`);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
