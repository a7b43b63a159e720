/**
 * The synthetic Kaiping population in a process of its own, timed, with its peak memory:
 *   tsx bench/population-child.ts <figures.json> <database URL> <scale> <seed> <out dir>
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { seedPolicy } from '../seeds';
import { generatePopulation } from '../simulation/population';

async function main() {
  const [out, url, scale, seed, outDir] = process.argv.slice(2) as [string, string, string, string, string];
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  try {
    const started = Date.now();
    const manifest = await generatePopulation(pool, seedPolicy('kaiping', 2024), {
      scale: Number(scale),
      seed: Number(seed),
      defectRate: 0.01,
      deltaMonths: 0,
      outDir,
    });
    writeFileSync(
      out,
      JSON.stringify({
        seconds: (Date.now() - started) / 1000,
        residents: manifest.totals.residents,
        households: manifest.totals.households,
        toEnroll: manifest.totals.toEnroll,
        peakRssMiB: process.resourceUsage().maxRSS / 1024,
      }),
    );
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
