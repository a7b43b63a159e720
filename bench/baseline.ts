/**
 * The SQL baseline: the year's data steps as plain SQL scripts run by psql (bench/baseline/*.sql: COPY,
 * set-based INSERT ... SELECT and UPDATE), no Temporal and no Node in the data path. This file only walks
 * the same agenda the campaign walks and starts psql for each step, timing each run; it reads nothing but
 * counts.
 *
 * It runs on a copy of the database taken after the population was generated and before the year, with
 * the same roster files the campaign imported (an .xlsx converted to CSV beforehand, untimed: PostgreSQL
 * reads no .xlsx, which favours the baseline).
 */
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { csvField, detectFile, readRowBatches } from '../lists/list-files';
import { categoryTable } from '../domain/category-table';
import { buildAgenda } from '../domain/agenda';
import { chinaDateOf as chinaDate } from '../domain/dates';
import {
  benefitStartOfPayment,
  classifyDeductionFailure,
  difficultyBenefitStart,
  identityClosesOn,
} from '../domain/engine';
import type { Policy } from '../domain/policy';
import { seedTargets } from '../seeds';
import { readFileSync } from 'node:fs';

const SCRIPTS = fileURLToPath(new URL('./baseline/', import.meta.url));

export interface StepTime {
  step: string;
  seconds: number;
}

/** Runs one script with psql (a name in bench/baseline/, or a path), standard input from `stdinFile`. */
async function psql(url: string, script: string, vars: Record<string, string | number>, stdinFile?: string) {
  const args = [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-d',
    url,
    '-f',
    isAbsolute(script) ? script : join(SCRIPTS, script),
  ];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  // JIT off, as in the campaign's transactions (ledger/transaction.ts)
  const child = spawn('psql', args, {
    stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, PGOPTIONS: `${process.env.PGOPTIONS ?? ''} -c jit=off`.trim() },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', () => undefined);
  if (stdinFile) createReadStream(stdinFile).pipe(child.stdin!);
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`psql ${script} failed (${code}): ${err.slice(-2000)}`);
}

/** The policy's tables for the scripts: categories, their conditions, failure codes' classes. */
function policySql(policy: Policy): string {
  const q = (v: string | null) => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);
  const rows = categoryTable(policy);
  const names = new Map(policy.categories.map((c) => [c.id, c]));
  const lines = [
    'SET client_min_messages = warning;',
    'DROP TABLE IF EXISTS bl_policy_categories, bl_policy_conditions, bl_failure_classes;',
    'CREATE TABLE bl_policy_categories (category text PRIMARY KEY, name text, rank int, subsidy_fen int, personal_fen int, funding_source text, department text, local_hukou_only boolean);',
    'CREATE TABLE bl_policy_conditions (category text, min_age int, max_age int, grades int[]);',
    'CREATE TABLE bl_failure_classes (code text PRIMARY KEY, class text);',
  ];
  for (const r of rows) {
    const c = names.get(r.category)!;
    lines.push(
      `INSERT INTO bl_policy_categories VALUES (${q(r.category)}, ${q(c.name)}, ${r.rank}, ${r.subsidyFen}, ${r.personalFen}, ${q(r.fundingSource)}, ${q(c.department)}, ${r.localHukouOnly});`,
    );
    for (const a of r.alternatives) {
      lines.push(
        `INSERT INTO bl_policy_conditions VALUES (${q(r.category)}, ${a.minAge ?? 'NULL'}, ${a.maxAge ?? 'NULL'}, ${a.disabilityGrades ? `'{${a.disabilityGrades.join(',')}}'` : 'NULL'});`,
      );
    }
  }
  for (const code of ['bank-system-error', 'abnormal-account', 'insufficient-balance', 'unknown']) {
    lines.push(
      `INSERT INTO bl_failure_classes VALUES (${q(code)}, ${q(classifyDeductionFailure(policy, code).class)});`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** An .xlsx roster as UTF-8 CSV with the same rows (the baseline's COPY cannot read .xlsx). */
async function asCsv(path: string, fileName: string, out: string): Promise<void> {
  const bytes = readFileSync(path);
  const fd = openSync(out, 'w');
  try {
    for await (const batch of readRowBatches(bytes, fileName, detectFile(bytes, fileName))) {
      // an ID Excel stored as a number has lost its last digits: the app rejects it by the cell's type, which
      // CSV cannot carry, so it goes to the baseline marked as no ID at all
      const text = batch
        .map((r) =>
          r.cells
            .map((c, i) => (r.numeric[i] && c.length >= 16 ? `number:${c}` : c))
            .map(csvField)
            .join(','),
        )
        .join('\r\n');
      writeFileSync(fd, `${text}\r\n`);
    }
  } finally {
    closeSync(fd);
  }
}

export async function runBaseline(options: {
  url: string;
  appUrl: string;
  policy: Policy;
  seed: number;
  workDir: string;
}): Promise<StepTime[]> {
  const { url, policy } = options;
  const dir = join(options.workDir, 'baseline');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'policy.sql'), policySql(policy));
  await psql(url, 'setup.sql', {});
  await psql(url, join(dir, 'policy.sql'), {});

  // the roster files the campaign imported, in its order
  const app = new pg.Pool({ connectionString: options.appUrl, max: 1 });
  const rosters = (
    await app.query<{
      department: string;
      file_name: string;
      encoding: string;
      format: string;
      stored_at: string;
      period: string;
      effective_on: string;
    }>(
      `SELECT s.department, s.file_name, s.encoding, s.format, e.stored_at, s.period, to_char(s.effective_on, 'YYYY-MM-DD') AS effective_on
       FROM submissions s JOIN LATERAL (SELECT stored_at FROM exchange_log e WHERE e.sha256 = s.sha256 AND e.direction = 'in' ORDER BY seq LIMIT 1) e ON true
       WHERE s.jurisdiction = $1 AND s.kind = 'roster' ORDER BY s.id`,
      [policy.jurisdiction],
    )
  ).rows;
  await app.end();
  const inputs: {
    department: string;
    file: string;
    encoding: string;
    fileName: string;
    period: string;
    effectiveOn: string;
  }[] = [];
  for (const [i, r] of rosters.entries()) {
    if (r.format === 'xlsx') {
      const file = join(dir, `roster-${i}.csv`);
      await asCsv(r.stored_at, r.file_name, file);
      inputs.push({
        department: r.department,
        file,
        encoding: 'UTF8',
        fileName: r.file_name,
        period: r.period,
        effectiveOn: r.effective_on,
      });
    } else {
      inputs.push({
        department: r.department,
        file: r.stored_at,
        encoding: r.encoding === 'gb18030' ? 'GB18030' : 'UTF8',
        fileName: r.file_name,
        period: r.period,
        effectiveOn: r.effective_on,
      });
    }
  }

  const steps: StepTime[] = [];
  const timed = async (step: string, fn: () => Promise<void>) => {
    const t = performance.now();
    await fn();
    steps.push({ step, seconds: (performance.now() - t) / 1000 });
  };
  const base = { jurisdiction: policy.jurisdiction, year: policy.year };
  const db = new pg.Pool({ connectionString: url, max: 1 });
  let targets = new Map<string, number | null>();
  try {
    targets = new Map(seedTargets(policy.jurisdiction, policy.year).towns.map((t) => [t.town, t.target]));
  } catch {
    // no target table for this jurisdiction
  }
  const towns = (
    await db.query<{ id: number; name: string }>(
      `SELECT id, name FROM towns WHERE jurisdiction = $1 ORDER BY id`,
      [policy.jurisdiction],
    )
  ).rows;
  const townVars = {
    town_ids: `{${towns.map((t) => t.id).join(',')}}`,
    targets: `{${towns.map((t) => targets.get(t.name) ?? 'NULL').join(',')}}`,
  };
  /** The coverage snapshot under `key` (a report date, or the cut-off) taken at campaign time `at`. */
  const snapshot = (key: string, at: number) =>
    timed('coverage snapshots', () =>
      psql(url, 'snapshot.sql', { ...base, key, taken_at: new Date(at).toISOString(), ...townVars }),
    );
  try {
    for (const item of buildAgenda(policy)) {
      switch (item.kind) {
        case 'request-rosters':
          for (const r of inputs) {
            await timed('roster import', () =>
              psql(
                url,
                'roster.sql',
                {
                  ...base,
                  department: r.department,
                  period: r.period,
                  effective_on: r.effectiveOn,
                  closes_on: identityClosesOn(policy, r.effectiveOn),
                  encoding: r.encoding,
                  file_name: r.fileName,
                },
                r.file,
              ),
            );
          }
          break;
        case 'roster-deadline': {
          const asOf = chinaDate(item.at);
          const subsidisedFrom = difficultyBenefitStart(policy, asOf);
          await timed('open enrollments', () =>
            psql(url, 'open-enrollments.sql', {
              ...base,
              as_of: asOf,
              subsidised_from: subsidisedFrom,
              personal_fen: policy.contribution.personalFen,
            }),
          );
          break;
        }
        case 'first-deduction':
        case 're-deduction': {
          const round = item.kind === 'first-deduction' ? 1 : item.round;
          const name = round === 1 ? 'round 1' : 'follow-up rounds';
          const levyFile = join(dir, `levy-${round}.csv`);
          const resultsFile = join(dir, `results-${round}.csv`);
          await timed(`levy and deduction (tax simulated), ${name}`, () =>
            psql(url, 'levy.sql', {
              ...base,
              round,
              as_of: chinaDate(item.at),
              subsidised_from: difficultyBenefitStart(policy, chinaDate(item.at)),
              personal_fen: policy.contribution.personalFen,
              wanted: round === 1 ? 'registered' : 'failed',
              levy_file: levyFile,
            }),
          );
          const lines =
            (
              await db.query<{ n: number }>(
                `SELECT line_count AS n FROM levy_batches WHERE jurisdiction = $1 AND campaign_year = $2 AND round = $3`,
                [policy.jurisdiction, policy.year, round],
              )
            ).rows[0]?.n ?? 0;
          if (lines === 0) break;
          await timed(`levy and deduction (tax simulated), ${name}`, () =>
            psql(url, 'tax.sql', {
              round,
              seed: String(options.seed),
              top_up_per_mille: 300,
              systemic_per_mille: 10,
              results_file: resultsFile,
            }),
          );
          await timed(`apply deduction results, ${name}`, () =>
            psql(
              url,
              'apply.sql',
              {
                round,
                benefit_start: benefitStartOfPayment(policy, chinaDate(item.at)),
              },
              resultsFile,
            ),
          );
          break;
        }
        case 'progress-report':
          await snapshot(item.key, item.at);
          break;
        case 'cutoff':
          await timed('cut-off', () =>
            psql(url, 'cutoff.sql', {
              ...base,
              abandon: String(policy.deductionFailures.personalAtCutoff === 'abandoned'),
            }),
          );
          await snapshot('cutoff', item.at);
          break;
        case 'subsidy-claim':
          await timed('subsidy claim', () =>
            psql(url, 'claim.sql', {
              ...base,
              funding_sources: `{${item.fundingSources.join(',')}}`,
              due_on: item.dueOn,
              exclude_invalid: String(Boolean(policy.claimExcludesInvalidIdentity)),
              benefit_start: policy.calendar.benefitYearStart.date,
              claim_file: join(dir, `claim-${item.dueOn}.csv`),
            }),
          );
          break;
        case 'monthly-delta':
          break;
      }
    }
  } finally {
    await db.end();
  }
  return steps;
}
