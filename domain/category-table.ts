/**
 * The policy's category rules as rows a set-based SQL statement can join against, so that levying
 * 484,711 people is one INSERT ... SELECT and still the same decision the engine explains for one person:
 * each category's subsidy share, funding source, precedence rank, and its conditions as alternatives
 * (an age range, or a set of disability grades) and whether it needs a local hukou (本市户籍). A property
 * test checks SQL and engine agree for random persons and dates.
 */
import { shareOf } from './money';
import type { Category, Condition, Policy } from './policy';

export interface ConditionAlternative {
  minAge: number | null;
  maxAge: number | null;
  disabilityGrades: number[] | null;
}

export interface CategoryRow {
  category: string;
  /** Higher wins when a person holds several applicable categories. */
  rank: number;
  subsidyBp: number;
  subsidyFen: number;
  personalFen: number;
  fundingSource: string;
  paysFirst: boolean;
  /** Empty: no condition. Otherwise the category applies when any alternative holds. */
  alternatives: ConditionAlternative[];
  /** The person's hukou must be local (a `local-hukou` condition, 000 二 本市户籍困难居民). */
  localHukouOnly: boolean;
}

function alternativesOf(condition: Condition): ConditionAlternative[] {
  switch (condition.kind) {
    case 'age':
      return [{ minAge: condition.min ?? null, maxAge: condition.max ?? null, disabilityGrades: null }];
    case 'disability-grade':
      return [{ minAge: null, maxAge: null, disabilityGrades: condition.grades }];
    case 'any-of':
      return condition.conditions.flatMap(alternativesOf);
    case 'low-income-family':
      throw new Error('a low-income-family condition cannot be evaluated from the registry');
    case 'local-hukou':
      throw new Error('a local-hukou condition inside any-of cannot be compiled');
  }
}

function rankOf(policy: Policy, category: Category): number {
  const p = policy.precedence;
  if (p.kind === 'later-import-wins') return p.order.indexOf(category.id);
  // most favourable first, then the earlier in the document: rank = share * 1000 - document index
  return category.subsidyShareBp * 1000 - policy.categories.indexOf(category);
}

export function categoryTable(policy: Policy): CategoryRow[] {
  const total = policy.contribution.personalFen;
  return policy.categories.map((c) => {
    const hukou = c.conditions.filter((k) => k.kind === 'local-hukou');
    const others = c.conditions.filter((k) => k.kind !== 'local-hukou');
    if (others.length > 1)
      throw new Error(
        `category ${c.id}: more than one top-level condition besides local-hukou cannot be compiled`,
      );
    const subsidy = c.paysFirstSubsidisedLater ? 0 : shareOf(total, c.subsidyShareBp);
    return {
      category: c.id,
      rank: rankOf(policy, c),
      subsidyBp: c.paysFirstSubsidisedLater ? 0 : c.subsidyShareBp,
      subsidyFen: subsidy,
      personalFen: total - subsidy,
      fundingSource: c.fundingSource,
      paysFirst: Boolean(c.paysFirstSubsidisedLater),
      alternatives: others[0] ? alternativesOf(others[0]) : [],
      localHukouOnly: hukou.length > 0,
    };
  });
}
