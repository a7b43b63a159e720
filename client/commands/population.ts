/**
 * `population generate`: a synthetic population (the simulation's seeded residents and the files its departments
 * would send). With the demo's rehearsal (client/rehearse.ts), the one module outside test/ and bench/ that
 * imports simulation/ (eslint.config.js).
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { cacheRoot } from '../../infra/support';
import { seedPolicy } from '../../seeds';
import { generatePopulation, type PopulationManifest } from '../../simulation/population';
import { openLedger } from '../registry-commands';
import { YEAR_HELP } from './session';
import { allow, OPERATORS } from './access';

interface PopulationCommandOptions {
  jurisdiction: string;
  year: number;
  scale: number;
  seed: number;
  defects: number;
  deltas: number;
  out?: string;
}

async function populationCommand(o: PopulationCommandOptions): Promise<PopulationManifest> {
  const { pool } = await openLedger();
  try {
    const policy = seedPolicy(o.jurisdiction, o.year);
    return await generatePopulation(pool, policy, {
      scale: o.scale,
      seed: o.seed,
      defectRate: o.defects,
      deltaMonths: o.deltas,
      outDir:
        o.out ?? join(cacheRoot(), 'population', `${o.jurisdiction}-${o.year}-x${o.scale}-seed${o.seed}`),
    });
  } finally {
    await pool.end();
  }
}

/** Registers the population commands on the program. */
export function registerPopulationCommands(program: Command): void {
  allow(program.command('population').description('synthetic population').command('generate'), OPERATORS)
    .description(
      'generate a seeded synthetic population into the ledger, and the files its departments would send',
    )
    .requiredOption('--jurisdiction <j>', 'kaiping, heshan or meishan')
    .option('--year <y>', YEAR_HELP, (v) => Number(v))
    .option('--scale <s>', 'scale (Kaiping 1 = 附件3 exactly)', (v) => Number(v), 1)
    .option('--seed <n>', 'seed', (v) => Number(v), 1)
    .option('--defects <share>', 'share of department file rows with a defect', (v) => Number(v), 0.01)
    .option('--deltas <months>', 'monthly delta files per department', (v) => Number(v), 0)
    .option('--out <dir>', 'where the department files go')
    .option('--json', 'print the manifest as JSON')
    .action(async (o: PopulationCommandOptions & { json?: boolean }) => {
      const started = Date.now();
      const m = await populationCommand(o);
      if (o.json) return void process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
      process.stdout.write(
        `${m.jurisdiction} ${m.year} x${m.scale} seed ${m.seed}: ${m.totals.residents} people in ${m.totals.households} households (${((Date.now() - started) / 1000).toFixed(1)} s)\n` +
          m.towns
            .map(
              (t) =>
                `  ${t.name}\tregistered ${t.registered}\temployee ${t.employeeInsured}\tto enroll ${t.toEnroll}\tpaid last year ${t.paidLastYear}`,
            )
            .join('\n') +
          `\n  total\tregistered ${m.totals.registered}\temployee ${m.totals.employeeInsured}\tto enroll ${m.totals.toEnroll}\tpaid last year ${m.totals.paidLastYear}\n` +
          `certified: ${Object.entries(m.certified)
            .map(([d, n]) => `${d} ${n}`)
            .join(', ')}\n` +
          m.files.map((f) => `  ${f.path} (${f.rows} rows)`).join('\n') +
          '\n',
      );
    });
}
