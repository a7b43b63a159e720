/**
 * The campaign workflow as the application drives it, on a dev server or cluster: start a year (from the
 * seed policy, a policy file, or a drill of either), read its status, hand in a department's roster, retry
 * a failed step. The use cases the CLI and the console call (application/campaigns.ts) are built on these;
 * `campaign status` and `campaign retry` call campaignStatus and retryStep directly.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type pg from 'pg';
import { policyHash } from '../ledger/policy-hash';
import type { Policy } from '../domain/policy';
import type { StoredFileRef } from '../ledger/exchange-store';
import {
  AnnualCampaignWorkflow,
  campaignWorkflowId,
  progressQuery,
  retryStepUpdate,
  submitRosterUpdate,
  type CampaignProgress,
  type RosterStatus,
} from '../workflows/campaign';

export class CampaignAlreadyRunning extends Error {
  override name = 'CampaignAlreadyRunning';
}

/**
 * The ledger's rows of a jurisdiction-year belong to another campaign than the one asked for: a drill's rows
 * where a real year would start, the real year's where a drill would, or a drill still running where its rows
 * would be cleared. `message` (English, for the CLI) and `zh` (Chinese, for the console) say what to do.
 */
export class CampaignYearHeld extends CampaignAlreadyRunning {
  override name = 'CampaignYearHeld';
  constructor(
    message: string,
    readonly zh: string,
  ) {
    super(message);
  }
}

/** The command that clears a closed drill's rows, as an operator types it. */
export function clearDrillCommand(jurisdiction: string, year: number): string {
  return `npm run cli -- campaign clear-drill --jurisdiction ${jurisdiction} --year ${year}`;
}

interface YearClaim {
  drill: boolean;
  policy_hash: string | null;
  claimed_by: string;
  claimed_at: Date;
}

async function openClaim(pool: pg.Pool, jurisdiction: string, year: number): Promise<YearClaim | undefined> {
  const r = await pool.query<YearClaim>(
    `SELECT drill, policy_hash, claimed_by, claimed_at FROM campaign_year_claims
     WHERE jurisdiction = $1 AND campaign_year = $2 AND cleared_at IS NULL`,
    [jurisdiction, year],
  );
  return r.rows[0];
}

/**
 * Clears the rows a drill of `jurisdiction` `year` wrote in the ledger (enrollments and their status
 * history, levy batches, lines and results, follow-ups, subsidy claims, refunds, the campaign diary and
 * coverage snapshots), as the login of `pool` (recorded in campaign_year_claims with the counts; the exchange
 * log keeps its entries, named there as the drill's). Refused (CampaignYearHeld) while the drill's workflow
 * `campaign-<j>-<year>-drill` is running on `client`'s server, when the year's rows are the real year's
 * (never cleared), or when the ledger holds no drill of that year. Returns the rows deleted per table.
 */
export async function clearDrill(
  client: Client,
  pool: pg.Pool,
  jurisdiction: string,
  year: number,
): Promise<Record<string, unknown>> {
  const workflowId = `${campaignWorkflowId(jurisdiction, year)}-drill`;
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name === 'RUNNING')
      throw new CampaignYearHeld(
        `the drill ${workflowId} (run ${d.runId}) is running since ${d.startTime.toISOString()}: its rows are cleared once it is no longer running (let it close, or end it with temporal workflow terminate --workflow-id ${workflowId})`,
        `演练 ${workflowId} 正在进行（${d.startTime.toISOString()} 启动）：演练结束后才能清除它的数据`,
      );
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  try {
    const r = await pool.query<{ counts: Record<string, unknown> }>(
      `SELECT clear_drill_rows($1, $2) AS counts`,
      [jurisdiction, year],
    );
    return r.rows[0]!.counts;
  } catch (error) {
    if ((error as { code?: string }).code === 'MD001') {
      const message = (error as Error).message;
      throw new CampaignYearHeld(
        message,
        /real year/.test(message)
          ? `${jurisdiction} ${year} 年度的账本数据属于正式年度，不能清除`
          : `账本中没有 ${jurisdiction} ${year} 年度的演练数据，无需清除`,
      );
    }
    throw error;
  }
}

/**
 * Claims the ledger's rows of the policy's jurisdiction-year for the campaign about to start (the table
 * campaign_year_claims; the ledger's trigger on campaign_policies refuses the other kind for any caller):
 * a real year is refused while a drill's rows are there, a drill while the real year's are; a drill after
 * an earlier drill of that year clears the earlier drill's rows first (refused while it runs). Throws
 * CampaignYearHeld saying what to do. Returns the rows the clearing deleted, if it cleared.
 */
async function claimYear(
  client: Client,
  pool: pg.Pool,
  policy: Policy,
  hash: string,
  workflowId: string,
): Promise<Record<string, unknown> | undefined> {
  const { jurisdiction: j, year: y } = policy;
  const held = await openClaim(pool, j, y);
  const since = held ? `${held.claimed_at.toISOString()}, by ${held.claimed_by}` : '';
  if (held?.drill && !policy.drill)
    throw new CampaignYearHeld(
      `the ledger holds the rows of a drill of ${j} ${y} (since ${since}): the real year would take the drill's enrollments and levy batches for its own, so it does not start on them. Once the drill is no longer running, clear its rows: ${clearDrillCommand(j, y)} (or 清除演练数据 on the console's 工作台), then start the year again`,
      `账本中有 ${j} ${y} 年度演练写入的参保和扣费数据（${since}）：正式年度不能在演练数据上启动。请在演练结束后点击工作台上的“清除演练数据”（或运行 ${clearDrillCommand(j, y)}），再启动正式年度`,
    );
  if (held && !held.drill && policy.drill)
    throw new CampaignYearHeld(
      `the real ${j} ${y} campaign is in this ledger (since ${since}): a drill of that year would write into its enrollments and levy batches, so it does not run here. Rehearse the year in a database of its own instead: npm run cli -- rehearse --jurisdiction ${j} --year ${y}`,
      `本账本中已有 ${j} ${y} 正式年度：该年度的演练会写入正式年度的参保和扣费数据，不能在此账本中进行。请改用单独数据库的预演：npm run cli -- rehearse --jurisdiction ${j} --year ${y}`,
    );
  let cleared: Record<string, unknown> | undefined;
  if (held?.drill && held.policy_hash !== hash) cleared = await clearDrill(client, pool, j, y);
  try {
    await pool.query(`SELECT claim_campaign_year($1, $2, $3, $4, $5)`, [
      j,
      y,
      policy.drill,
      hash,
      workflowId,
    ]);
  } catch (error) {
    if ((error as { code?: string }).code === 'MD001')
      throw new CampaignYearHeld(
        `${(error as Error).message}: another start took the year just now; see campaign status`,
        `${j} ${y} 年度的账本数据刚被另一次启动占用，请查看工作台`,
      );
    throw error;
  }
  return cleared;
}

/**
 * Starts a campaign year. A year is started once: Temporal refuses an id it still holds, running or closed
 * (REJECT_DUPLICATE; a drill may run again once closed), and, given the ledger, a real year whose campaign closed there is refused even after the
 * server has forgotten it (retention). Throws CampaignAlreadyRunning naming the existing run.
 * Given the ledger, the year's rows are claimed for this campaign first (claimYear): a real year never starts
 * on a drill's rows, a drill never runs in a ledger holding the real year, and a drill after an earlier
 * drill of that year clears the earlier one's rows (CampaignYearHeld says what to do otherwise).
 */
export async function startCampaign(
  client: Client,
  options: {
    taskQueue: string;
    policy: Policy;
    operator: string;
    maxHistoryEvents?: number;
    /** The ledger, to refuse a year that closed there. */
    pool?: pg.Pool;
  },
): Promise<{
  workflowId: string;
  runId: string;
  policyHash: string;
  drill: boolean;
  /** Rows of the year's earlier drill cleared before this drill started (per table). */
  clearedDrill?: Record<string, unknown>;
}> {
  const { policy } = options;
  const workflowId = campaignWorkflowId(policy.jurisdiction, policy.year) + (policy.drill ? '-drill' : '');
  const hash = policyHash(policy);
  if (options.pool && !policy.drill) {
    const closed = await options.pool.query<{ at: Date }>(
      // closed, and under a real (not a drill's) policy of that year
      `SELECT e.recorded_at AS at FROM campaign_events e
       WHERE e.jurisdiction = $1 AND e.campaign_year = $2 AND e.event_key = 'phase-closed'
         AND EXISTS (SELECT 1 FROM campaign_policies p WHERE p.jurisdiction = $1 AND p.year = $2
                       AND NOT coalesce((p.policy->>'drill')::boolean, false))`,
      [policy.jurisdiction, policy.year],
    );
    if (closed.rows[0])
      throw new CampaignAlreadyRunning(
        `the ${policy.jurisdiction} ${policy.year} campaign closed on ${closed.rows[0].at.toISOString()} (ledger); a closed year is not started again`,
      );
  }
  // the same campaign still running is named as such, before the ledger's claim could speak of clearing it
  const running = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    });
  if (running?.status.name === 'RUNNING') throw alreadyExists(policy, workflowId, running);
  const clearedDrill = options.pool
    ? await claimYear(client, options.pool, policy, hash, workflowId)
    : undefined;
  try {
    const handle = await client.workflow.start(AnnualCampaignWorkflow, {
      taskQueue: options.taskQueue,
      workflowId,
      // a drill may be run again once it closed; a real year never
      workflowIdReusePolicy: policy.drill
        ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
        : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [
        {
          policy,
          policyHash: hash,
          operator: options.operator,
          rehearsal: false,
          searchAttributes: true,
          ...(options.maxHistoryEvents ? { maxHistoryEvents: options.maxHistoryEvents } : {}),
        },
      ],
      memo: { startedBy: options.operator, policyHash: hash },
    });
    return {
      workflowId,
      runId: handle.firstExecutionRunId,
      policyHash: hash,
      drill: policy.drill,
      ...(clearedDrill ? { clearedDrill } : {}),
    };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw alreadyExists(policy, workflowId, await client.workflow.getHandle(workflowId).describe());
    }
    throw error;
  }
}

/** The refusal of a second start of a campaign the server holds, naming its run, status and start. */
function alreadyExists(
  policy: Policy,
  workflowId: string,
  existing: { runId: string; status: { name: string }; startTime: Date },
): CampaignAlreadyRunning {
  return new CampaignAlreadyRunning(
    `the ${policy.jurisdiction} ${policy.year} campaign${policy.drill ? ' drill' : ''} already exists: workflow ${workflowId}, run ${existing.runId}, ${existing.status.name} since ${existing.startTime.toISOString()}. It is not started twice.`,
  );
}

export async function campaignStatus(
  client: Client,
  workflowId: string,
): Promise<{ status: string; runId: string; progress: CampaignProgress | null }> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  let progress: CampaignProgress | null = null;
  try {
    progress = await handle.query(progressQuery);
  } catch {
    progress = null;
  }
  return { status: d.status.name, runId: d.runId, progress };
}

/**
 * Hands a roster (already uploaded, named by digest: application/uploads.ts) to the campaign. Resolves with the
 * import's counts (or `held`); rejects with the file's refusal (WorkflowUpdateFailedError whose cause names
 * the file and what is wrong) within seconds, and the campaign goes on.
 */
export async function submitRoster(
  client: Client,
  workflowId: string,
  input: { department: string; file: StoredFileRef; operator: string },
): Promise<RosterStatus> {
  return client.workflow.getHandle(workflowId).executeUpdate(submitRosterUpdate, { args: [input] });
}

/** Asks a campaign waiting on a failed step (progress.attention) to run it again. */
export async function retryStep(
  client: Client,
  workflowId: string,
  operator: string,
): Promise<{ step: string }> {
  return client.workflow.getHandle(workflowId).executeUpdate(retryStepUpdate, { args: [{ operator }] });
}
