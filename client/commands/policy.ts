/**
 * the published rules: `policy explain|show`, `targets`.
 */
import type { Command } from 'commander';
import {
  explainFile,
  formatExplanation,
  formatPolicy,
  formatTargets,
  policyFromFile,
  seedPolicy,
  seedTargets,
} from '../policy-commands';
import { allow } from './access';

/** Registers the policy commands on the program. */
export function registerPolicyCommands(program: Command): void {
  const policy = program
    .command('policy')
    .description('the rules of a jurisdiction-year, from seeds/ or a file');
  allow(policy.command('explain'), 'public')
    .description('what the rules say for one person and one event, with every rule and its source')
    .requiredOption('--input <file>', 'JSON: { jurisdiction, year, person: {...}, event: {...} }')
    .option('--policy <file>', 'a policy file instead of the seed for the jurisdiction and year')
    .option('--json', 'print JSON')
    .action((options: { input: string; policy?: string; json?: boolean }) => {
      const answer = explainFile(options.input, options.policy);
      process.stdout.write(options.json ? `${JSON.stringify(answer, null, 2)}\n` : formatExplanation(answer));
    });
  allow(policy.command('show'), 'public')
    .description('the calendar and categories of a policy')
    .option('--jurisdiction <j>', 'kaiping, heshan or meishan')
    .option('--year <y>', 'campaign year', (v) => Number(v))
    .option('--policy <file>', 'a policy file (validated) instead of a seed')
    .option('--json', 'print JSON')
    .action((options: { jurisdiction?: string; year?: number; policy?: string; json?: boolean }) => {
      if (!options.policy && (!options.jurisdiction || !options.year))
        throw new Error('give --jurisdiction and --year, or --policy FILE');
      const p = options.policy
        ? policyFromFile(options.policy)
        : seedPolicy(options.jurisdiction!, options.year!);
      process.stdout.write(options.json ? `${JSON.stringify(p, null, 2)}\n` : formatPolicy(p));
    });

  allow(program.command('targets'), 'public')
    .description(
      "a plan's per-town target table with derived coverage figures and the findings of its checks",
    )
    .requiredOption('--jurisdiction <j>', 'jurisdiction')
    .requiredOption('--year <y>', 'campaign year', (v) => Number(v))
    .option('--json', 'print JSON')
    .action((options: { jurisdiction: string; year: number; json?: boolean }) => {
      const table = seedTargets(options.jurisdiction, options.year);
      process.stdout.write(options.json ? `${JSON.stringify(table, null, 2)}\n` : formatTargets(table));
    });
}
