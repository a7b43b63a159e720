/**
 * What an auditor asks, as use cases shared by the command line and the web console: one person's story
 * (explainPerson) and the exchange log re-checked (verifyLog). Each takes the reader's own ledger
 * connection: the database role decides what is masked.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { verifyExchangeLog } from '../audit/verify';
import { personTrail } from '../audit/person';

/** The campaign year a trail is read for: given, or found in the ledger. */
export class NoCampaignForPerson extends Error {
  override name = 'NoCampaignForPerson';
}

/**
 * One person's trail for a campaign year (audit/person.ts personTrail: entries in Chinese, each with
 * its proof, cross-checked; `mismatches` counts the checks that failed). Without `jurisdiction`, the
 * campaign whose policy's region codes hold the ID's first six digits; without `year`, that jurisdiction's
 * latest campaign in the ledger. `temporal`, when given and reachable (asked once the year is known), links
 * files to the workflow runs that exchanged them; an unreachable server leaves the trail without history.
 * Throws NoCampaignForPerson when no campaign covers the ID, and PersonNotFound for an unknown person.
 */
export async function explainPerson(
  deps: { pool: pg.Pool; temporal?: () => Promise<Client> },
  input: { idNumber: string; jurisdiction?: string; year?: number },
): ReturnType<typeof personTrail> {
  const where = await deps.pool.query<{ jurisdiction: string; year: number }>(
    `SELECT jurisdiction, max(year)::int AS year FROM campaign_policies
     WHERE ($1::text IS NULL OR jurisdiction = $1) AND ($1::text IS NOT NULL OR policy->'regionCodes' ? left($2, 6))
     GROUP BY jurisdiction ORDER BY jurisdiction LIMIT 1`,
    [input.jurisdiction ?? null, input.idNumber],
  );
  const jurisdiction = input.jurisdiction ?? where.rows[0]?.jurisdiction;
  const year = input.year ?? where.rows[0]?.year;
  if (!jurisdiction || !year)
    throw new NoCampaignForPerson(
      'no campaign in the ledger covers that ID number: give --jurisdiction and --year',
    );
  const client = await deps.temporal?.().catch(() => undefined);
  return personTrail(deps.pool, {
    idNumber: input.idNumber,
    jurisdiction,
    year,
    ...(client ? { client } : {}),
  });
}

/**
 * Re-checks the exchange log's hash chain and every stored file against its digest
 * (audit/verify.ts): `ok` false names the first broken link and each tampered file.
 */
export const verifyLog = (deps: { pool: pg.Pool }): ReturnType<typeof verifyExchangeLog> =>
  verifyExchangeLog(deps.pool);
