/**
 * The seeds as data: the three official plans' policies, the public-holiday calendar and the Kaiping
 * target table. Static JSON imports, no file system: usable from every layer. Operators may also load
 * a policy from a file (`campaign start --policy FILE`) through the same `loadPolicy` validation.
 */
import { loadPolicy, type Policy } from '../domain/policy';
import { checkTargetTable, TargetTableFile, type CheckedTargetTable } from '../domain/targets';
import holidays2023To2024 from './calendars/cn-state-council-2023-2024.json';
import holidays2025 from './calendars/cn-state-council-2025.json';
import heshan2024 from './policies/heshan-2024.json';
import kaiping2024 from './policies/kaiping-2024.json';
import meishan2024 from './policies/meishan-2024.json';
import kaipingTargets2024 from './targets/kaiping-2024.json';

export const WORKING_DAY_CALENDARS: readonly unknown[] = [holidays2023To2024, holidays2025];

const POLICY_FILES: Record<string, unknown> = {
  'kaiping-2024': kaiping2024,
  'heshan-2024': heshan2024,
  'meishan-2024': meishan2024,
};

const TARGET_FILES: Record<string, unknown> = { 'kaiping-2024': kaipingTargets2024 };

export function seedPolicyKeys(): string[] {
  return Object.keys(POLICY_FILES);
}

let seeded: readonly Policy[] | undefined;

/**
 * Every seeded plan (seeds/policies), each loaded and checked once per process: the pages name departments
 * and jurisdictions from them and offer them as choices. Read-only: a caller that needs to change a plan
 * takes its own copy (`seedPolicy`).
 */
export function seedPolicies(): readonly Policy[] {
  seeded ??= seedPolicyKeys().map((k) => {
    const at = k.lastIndexOf('-');
    return seedPolicy(k.slice(0, at), Number(k.slice(at + 1)));
  });
  return seeded;
}

/**
 * The latest campaign year with a policy file for `jurisdiction` in seeds/policies (a new year's file makes
 * it the default of every command's --year). Throws naming the policies there when it has none.
 */
export function latestPolicyYear(jurisdiction: string): number {
  const years = seedPolicyKeys()
    .filter((k) => k.slice(0, k.lastIndexOf('-')) === jurisdiction)
    .map((k) => Number(k.slice(k.lastIndexOf('-') + 1)));
  if (!years.length)
    throw new Error(`no policy for ${jurisdiction} in seeds/policies (have: ${seedPolicyKeys().join(', ')})`);
  return Math.max(...years);
}

export function seedPolicy(jurisdiction: string, year: number): Policy {
  const key = `${jurisdiction}-${year}`;
  const file = POLICY_FILES[key];
  if (!file)
    throw new Error(
      `no policy for ${jurisdiction} ${year} in seeds/policies (have: ${seedPolicyKeys().join(', ')})`,
    );
  const policy = loadPolicy(file, WORKING_DAY_CALENDARS, `seeds/policies/${key}.json`);
  // the year's town targets (seeds/targets/) go into the policy, and so into its snapshot and hash
  if (policy.targets || !TARGET_FILES[key]) return policy;
  const table = seedTargets(jurisdiction, year);
  return {
    ...policy,
    targets: { source: table.source, towns: table.towns.map((t) => ({ town: t.town, target: t.target })) },
  };
}

/** The printed target table of seeds/targets for a jurisdiction-year, or undefined when it has none. */
export function seedTargetsIfAny(jurisdiction: string, year: number): CheckedTargetTable | undefined {
  return TARGET_FILES[`${jurisdiction}-${year}`] ? seedTargets(jurisdiction, year) : undefined;
}

export function seedTargets(jurisdiction: string, year: number): CheckedTargetTable {
  const key = `${jurisdiction}-${year}`;
  const file = TARGET_FILES[key];
  if (!file) throw new Error(`no target table for ${jurisdiction} ${year} in seeds/targets`);
  return checkTargetTable(TargetTableFile.parse(file));
}
