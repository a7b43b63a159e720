import { describe, expect, it } from 'vitest';
import { seedPolicy, seedTargets } from '../../seeds';
import { townSpecs } from '../../simulation/population';

describe("the generator's towns come from the policy's targets, not from a jurisdiction's name", () => {
  it('Kaiping 2024 at scale 1 is 附件3 as printed: 681,503 registered residents in its towns, in order', () => {
    const towns = townSpecs(seedPolicy('kaiping', 2024), 1);
    const printed = seedTargets('kaiping', 2024).towns;
    expect(towns.map((t) => [t.name, t.registered, t.employeeInsured, t.paidLastYear])).toEqual(
      printed.map((t) => [t.town, t.registered ?? 0, t.employeeInsured ?? 0, t.paidLastYear ?? 0]),
    );
    expect(towns.reduce((s, t) => s + t.registered, 0)).toBe(681_503);
  });

  it("a policy's own targets decide its towns: a Heshan year with targets gets those towns, sized from them", () => {
    const heshan = seedPolicy('heshan', 2024);
    const withTargets = {
      ...heshan,
      targets: {
        source: 'test: a target table',
        towns: [
          { town: '沙坪街道', target: 95_000 },
          { town: '新镇', target: 19_000 },
        ],
      },
    };
    const towns = townSpecs(withTargets, 1);
    expect(towns.map((t) => t.name)).toEqual(['沙坪街道', '新镇']);
    // to enroll = target / 0.95 at the usual goal line; registered = to enroll + employee insured
    expect(towns[0]!.registered - towns[0]!.employeeInsured).toBe(100_000);
    expect(towns[1]!.registered - towns[1]!.employeeInsured).toBe(20_000);
    expect(townSpecs(withTargets, 0.5)[0]!.registered - townSpecs(withTargets, 0.5)[0]!.employeeInsured).toBe(
      50_000,
    );
  });

  it('a town with neither a target nor printed figures is refused by name', () => {
    const heshan = seedPolicy('heshan', 2024);
    const policy = { ...heshan, targets: { source: 'test', towns: [{ town: '无名镇', target: null }] } };
    expect(() => townSpecs(policy, 1)).toThrow(/无名镇 has neither a target nor printed figures/);
  });

  it('jurisdictions without targets keep their synthetic layout (Heshan 380,000, Meishan 2,000,000 at scale 1)', () => {
    const total = (j: string) => townSpecs(seedPolicy(j, 2024), 1).reduce((s, t) => s + t.registered, 0);
    expect(total('heshan')).toBe(380_000);
    expect(total('meishan')).toBe(2_000_000);
  });
});
