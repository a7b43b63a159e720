import { describe, expect, it } from 'vitest';
import { latestPolicyYear, seedPolicy } from '../../seeds';

describe('a command’s default year comes from the policies in seeds/, not from code', () => {
  it('the latest year with a policy for the jurisdiction, and that year’s policy loads', () => {
    expect(latestPolicyYear('kaiping')).toBe(2024);
    expect(seedPolicy('meishan', latestPolicyYear('meishan')).year).toBe(2024);
  });

  it('a jurisdiction without a policy is named, with the policies there are', () => {
    expect(() => latestPolicyYear('kai')).toThrow(
      'no policy for kai in seeds/policies (have: kaiping-2024, heshan-2024, meishan-2024)',
    );
  });
});
