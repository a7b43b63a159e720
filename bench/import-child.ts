/**
 * One list import in its own process, so the benchmark can read this process's peak memory as the
 * worker's would be: prints { rows, seconds, maxRssMiB, result } as JSON.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import pg from 'pg';
import { importDepartmentList } from '../lists/import-list';
import { seedPolicy } from '../seeds';

async function main() {
  const [url, file, department, period, exchangeDir] = process.argv.slice(2) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const bytes = readFileSync(file);
  const steps: { step: string; ms: number }[] = [];
  const started = process.hrtime.bigint();
  const result = await importDepartmentList(
    {
      pool,
      policy: seedPolicy('kaiping', 2024),
      exchangeDir,
      onStep: (step, ms) => steps.push({ step, ms }),
    },
    {
      jurisdiction: 'kaiping',
      department,
      kind: 'roster',
      period,
      effectiveOn: '2023-08-31',
      fileName: basename(file),
      receivedBy: 'bench',
    },
    bytes,
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.end();
  process.stdout.write(
    JSON.stringify({
      rows: result.rowsRead,
      seconds,
      steps,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      result,
    }) + '\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
