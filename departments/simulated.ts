/**
 * Simulated departments, deterministic for a seed, for rehearsals and tests:
 * - certifying departments hand over the roster files the synthetic population wrote (a department can
 *   be configured late or missing);
 * - the tax bureau deducts from the simulated bank (sim_bank_accounts) per household, writes a result
 *   file (CSV) and is idempotent per levy line, so a resent batch never debits twice; round 1 also fails
 *   a seeded share of lines for systemic reasons, and between rounds some households top their accounts
 *   up after the village's follow-up;
 * - finance answers a subsidy claim with a receipt number.
 * Every file crosses the boundary through the exchange log (ledger/exchange-log.ts), as with any adapter.
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { inTransaction } from '../ledger/transaction';
import { financeJsonClaim, taxCsvFormat } from './formats';
import { unavailable, type DepartmentPorts, type ExchangedFile, type FileOnDisk } from './ports';

export interface SimulationConfig {
  seed: number;
  /** Where the population generator wrote each jurisdiction's department files. */
  populationDirs: Record<string, string>;
  /** Share of round-1 levy lines failing for a systemic reason (bank or system error). */
  systemicFailureRate: number;
  /** Share of personal-failure households that top up their account before each re-deduction. */
  topUpRate: number;
  /** Departments that never send their roster (to rehearse escalation). */
  missingDepartments: string[];
  /** Departments whose roster arrives only when asked a second time (late, before the deadline). */
  lateDepartments?: string[];
  /** The tax bureau is down (answers as if unreachable) for this many result requests per batch. */
  taxUnavailableAttempts?: number;
  /** The tax bureau sends every result line twice, in reverse order. */
  duplicateResultLines?: boolean;
  /** Each answer of a simulated department takes this long (real time). */
  latencyMs?: number;
  exchangeDir: string;
}

/** The roster file a certifying department sends, or null when it has not (yet). */
export function simulatedRoster(
  config: SimulationConfig,
  jurisdiction: string,
  department: string,
  period: string,
): string | null {
  if (config.missingDepartments.includes(department)) return null;
  const dir = config.populationDirs[jurisdiction];
  if (!dir || !existsSync(dir)) return null;
  // the roster as of that date; else (a drill asks with its own compressed dates) the department's latest
  // roster as of no later than that date, as a real department sends the list it has
  const prefix = `${department}-roster-`;
  const rosters = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && /^\d{4}-\d{2}-\d{2}\./.test(f.slice(prefix.length)))
    .sort();
  const file =
    rosters.find((f) => f.startsWith(`${prefix}${period}.`)) ??
    rosters.filter((f) => f.slice(prefix.length, prefix.length + 10) <= period).at(-1);
  return file ? join(dir, file) : null;
}

export async function simulatedTaxDeduction(
  pool: pg.Pool,
  config: SimulationConfig,
  jurisdiction: string,
  batchId: number,
  round: number,
): Promise<string> {
  await inTransaction(
    pool,
    async (client) => {
      const already = await client.query(`SELECT 1 FROM sim_tax_results WHERE batch_id = $1 LIMIT 1`, [
        batchId,
      ]);
      if (!already.rowCount) {
        // a later round's batch (fewer lines than a quarter of the households) reads its households and
        // accounts by key (LATERAL probes; the accounts topped up as an array): the planner hashed full scans
        // of households and accounts for 15,820 lines (issue #23); round 1 hashes them, and no nested loop
        // (misled by the accounts' estimated 200 rows, the planner probed 191,867 accounts one by one)
        const small = await client.query(
          `SELECT 1 FROM levy_batches b WHERE b.id = $1
           AND b.line_count * 4 < (SELECT reltuples FROM pg_class WHERE oid = 'households'::regclass)`,
          [batchId],
        );
        const byKey = small.rowCount === 1;
        if (!byKey) await client.query(`SELECT set_config('enable_nestloop', 'off', true)`);
        const household = byKey
          ? `LEFT JOIN LATERAL (SELECT h.bank_account FROM households h WHERE h.id = l.household_id OFFSET 0) h ON true`
          : `LEFT JOIN households h ON h.id = l.household_id`;
        if (round > 1) {
          // the village followed up: some households put money in, some accounts were put right. Which ones
          // is a hash of the account, so it is decided on the batch's distinct accounts before any account is
          // looked up (by key, a third of the probes: 14,246 accounts read for 4,332 top-ups in round 2)
          const toppedUp = `SELECT DISTINCT h.bank_account FROM levy_lines l ${household}
                            WHERE l.batch_id = $1 AND abs(hashtext($2 || ':' || $3 || ':' || h.bank_account)) % 1000 < $4`;
          await client.query(
            byKey
              ? `UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen + 200000, status = 'normal'
                 WHERE a.account = ANY (ARRAY(${toppedUp}))`
              : `UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen + 200000, status = 'normal'
                 FROM (${toppedUp}) f WHERE a.account = f.bank_account`,
            [batchId, String(config.seed), String(round), Math.round(config.topUpRate * 1000)],
          );
        }
        // One pass over the lines: each line's household account and whether round 1's seeded systemic failure
        // hits it (hashed once), then each account decided once (the household's total against its balance,
        // and what a success debits: the lines that did not fail systemically), then the results (each line
        // joined to its account's decision) and the debits from the same decisions. Before, every line probed
        // its account and the debits were summed again from the 411,514 decided lines (issue #23). By key, the
        // debits probe the accounts from the batch's few decided ones (a nested loop); an `= ANY (ARRAY(...))`
        // beside that join was rechecked in every probe (round 2: 6,965 probes of a 6,965-key array, 39 s).
        // By key, each line also carries its household's totals as a window over the account instead of a join
        // of the lines to the decided accounts: a later round's levy lines are planned on statistics that have
        // not seen their batch (createLevyBatch does not ANALYZE them), and on an estimate of one line each that
        // join of two materialized sets was a nested loop over both (round 2's bureau: 104 s for 26,603 lines).
        const lines = `lines AS MATERIALIZED (
             SELECT l.enrollment_id, l.amount_fen, h.bank_account,
                    $2 = 1 AND abs(hashtext($3 || ':' || l.enrollment_id)) % 1000 < $4 AS systemic
             FROM levy_lines l ${household}
             WHERE l.batch_id = $1
           )`;
        await client.query(
          byKey
            ? `WITH ${lines}, decided AS MATERIALIZED (
             SELECT t.enrollment_id, t.systemic, t.bank_account, t.first, t.debit,
                    CASE WHEN t.bank_account IS NULL OR a.account IS NULL OR a.status <> 'normal' THEN 'abnormal-account'
                         WHEN a.balance_fen < t.household_total THEN 'insufficient-balance' END AS failure_code
             FROM (SELECT l.enrollment_id, l.systemic, l.bank_account,
                          sum(l.amount_fen) OVER w AS household_total,
                          sum(l.amount_fen) FILTER (WHERE NOT l.systemic) OVER w AS debit,
                          row_number() OVER w = 1 AS first
                   FROM lines l WINDOW w AS (PARTITION BY l.bank_account)) t
             LEFT JOIN LATERAL (SELECT a.account, a.status, a.balance_fen FROM sim_bank_accounts a WHERE a.account = t.bank_account OFFSET 0) a ON true
           ), recorded AS (
             INSERT INTO sim_tax_results (batch_id, enrollment_id, outcome, failure_code)
             SELECT $1, d.enrollment_id,
                    CASE WHEN d.systemic OR d.failure_code IS NOT NULL THEN 'failure' ELSE 'success' END,
                    CASE WHEN d.systemic THEN 'bank-system-error' ELSE d.failure_code END
             FROM decided d
           )
           UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen - d.debit
           FROM decided d
           WHERE d.first AND d.bank_account IS NOT NULL AND d.failure_code IS NULL AND d.debit > 0
             AND a.account = d.bank_account`
            : `WITH ${lines}, accounts AS MATERIALIZED (
             SELECT t.bank_account, t.debit,
                    CASE WHEN a.account IS NULL OR a.status <> 'normal' THEN 'abnormal-account'
                         WHEN a.balance_fen < t.household_total THEN 'insufficient-balance' END AS failure_code
             FROM (SELECT bank_account, sum(amount_fen) AS household_total,
                          sum(amount_fen) FILTER (WHERE NOT systemic) AS debit
                   FROM lines WHERE bank_account IS NOT NULL GROUP BY bank_account) t
             LEFT JOIN sim_bank_accounts a ON a.account = t.bank_account
           ), recorded AS (
             INSERT INTO sim_tax_results (batch_id, enrollment_id, outcome, failure_code)
             SELECT $1, l.enrollment_id,
                    CASE WHEN l.systemic OR c.bank_account IS NULL OR c.failure_code IS NOT NULL THEN 'failure'
                         ELSE 'success' END,
                    CASE WHEN l.systemic THEN 'bank-system-error'
                         WHEN c.bank_account IS NULL THEN 'abnormal-account' ELSE c.failure_code END
             FROM lines l LEFT JOIN accounts c ON c.bank_account = l.bank_account
           )
           UPDATE sim_bank_accounts a SET balance_fen = a.balance_fen - c.debit
           FROM accounts c
           WHERE a.account = c.bank_account AND c.failure_code IS NULL AND c.debit > 0`,
          [batchId, round, String(config.seed), Math.round(config.systemicFailureRate * 1000)],
        );
      }
    },
    { workMem: '64MB' },
  );
  const dir = join(config.exchangeDir, 'simulated-tax');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `tax-results-${jurisdiction}-batch-${batchId}.csv`);
  // the file's sort in memory: at the server's 4 MB round 1's 411,514 results were sorted on disk (issue #23)
  await inTransaction(
    pool,
    async (reader) => {
      const stream = reader.query(
        copyTo(
          `COPY (SELECT enrollment_id, outcome, coalesce(failure_code, '') FROM sim_tax_results WHERE batch_id = ${Number(batchId)} ORDER BY enrollment_id) TO STDOUT WITH (FORMAT csv, HEADER)`,
        ),
      );
      await pipeline(stream, createWriteStream(path));
    },
    { workMem: '64MB' },
  );
  return path;
}

/**
 * The fault a test asks for (`duplicateResultLines`): the result file's lines sent twice, in reverse order,
 * written beside it. Held in memory: a test's small batches only, never a benchmark's.
 */
async function writeTwiceReversed(path: string, to: string): Promise<string> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity }))
    if (line) lines.push(line);
  const [header, ...rest] = lines;
  const out = createWriteStream(to);
  out.end([header, ...[...rest, ...rest].reverse()].join('\n') + '\n');
  await new Promise<void>((resolve, reject) => out.on('finish', () => resolve()).on('error', reject));
  return to;
}

/** The simulated departments behind the department ports. */
export function simulatedPorts(pool: pg.Pool, config: SimulationConfig): DepartmentPorts {
  const ports = simulatedPortsWithoutLatency(pool, config);
  const latency = config.latencyMs ?? 0;
  if (latency <= 0) return ports;
  const slow =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await new Promise((resolve) => setTimeout(resolve, latency));
      return fn(...args);
    };
  const { certifying, tax, finance } = ports;
  return {
    certifying: {
      fetchRoster: slow((j: string, d: string, p: string) => certifying.fetchRoster(j, d, p)),
      fetchDelta: slow((j: string, d: string, m: string) => certifying.fetchDelta(j, d, m)),
    },
    tax: {
      ...tax,
      submitLevy: slow((j: string, b: number, r: number, f: FileOnDisk) => tax.submitLevy(j, b, r, f)),
      fetchResults: slow((j: string, b: number) => tax.fetchResults(j, b)),
    },
    finance: {
      ...finance,
      submitClaim: slow((j: string, d: string, f: ExchangedFile) => finance.submitClaim(j, d, f)),
    },
  };
}

function simulatedPortsWithoutLatency(pool: pg.Pool, config: SimulationConfig): DepartmentPorts {
  const asked = new Map<string, number>();
  const askedAgain = (key: string) => {
    const n = (asked.get(key) ?? 0) + 1;
    asked.set(key, n);
    return n;
  };
  const resultPath = (jurisdiction: string, batchId: number) =>
    join(config.exchangeDir, 'simulated-tax', `tax-results-${jurisdiction}-batch-${batchId}.csv`);
  return {
    certifying: {
      fetchRoster(jurisdiction, department, period) {
        if (
          config.lateDepartments?.includes(department) &&
          askedAgain(`roster:${jurisdiction}:${department}:${period}`) === 1
        ) {
          return Promise.resolve(null);
        }
        const path = simulatedRoster(config, jurisdiction, department, period);
        return Promise.resolve(
          path ? { fileName: path.split('/').at(-1)!, bytes: readFileSync(path) } : null,
        );
      },
      fetchDelta(jurisdiction, department, month) {
        const dir = config.populationDirs[jurisdiction];
        if (!dir || !existsSync(dir) || config.missingDepartments.includes(department))
          return Promise.resolve(null);
        const name = readdirSync(dir).find((f) => f.startsWith(`${department}-delta-${month}.`));
        return Promise.resolve(name ? { fileName: name, bytes: readFileSync(join(dir, name)) } : null);
      },
    },
    tax: {
      ...taxCsvFormat,
      async submitLevy(jurisdiction, batchId, round) {
        await simulatedTaxDeduction(pool, config, jurisdiction, batchId, round);
      },
      fetchResults(jurisdiction, batchId) {
        if (askedAgain(`results:${jurisdiction}:${batchId}`) <= (config.taxUnavailableAttempts ?? 0)) {
          return Promise.reject(
            unavailable(`results of levy batch ${batchId}`, 'the simulated tax bureau is down'),
          );
        }
        const path = resultPath(jurisdiction, batchId);
        if (!existsSync(path)) return Promise.resolve(null);
        const fileName = path.split('/').at(-1)!;
        // the file as the bureau wrote it, on disk: a result file is as long as the levy
        if (!config.duplicateResultLines) return Promise.resolve({ fileName, path });
        return writeTwiceReversed(path, `${path}.twice`).then((twice) => ({ fileName, path: twice }));
      },
    },
    finance: {
      ...financeJsonClaim,
      submitClaim(_jurisdiction, dueOn) {
        return Promise.resolve(`CZ-${config.seed}-${dueOn}`);
      },
    },
  };
}
