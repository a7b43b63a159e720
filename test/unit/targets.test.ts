import { describe, expect, it } from 'vitest';
import { checkTargetTable, TargetTableFile } from '../../domain/targets';
import { seedTargets } from '../../seeds';
import kaipingTable from '../../seeds/targets/kaiping-2024.json';

describe('Kaiping 附件3: the per-town target table, reproduced to the person and checked', () => {
  const table = seedTargets('kaiping', 2024);

  it('has the 15 towns and 翠山湖 with its empty cells, in the printed order', () => {
    expect(table.towns.map((t) => t.town)).toEqual([
      '三埠办事处',
      '长沙办事处',
      '月山镇',
      '水口镇',
      '沙塘镇',
      '苍城镇',
      '龙胜镇',
      '大沙镇',
      '马冈镇',
      '塘口镇',
      '赤坎镇',
      '百合镇',
      '蚬冈镇',
      '金鸡镇',
      '赤水镇',
      '翠山湖',
    ]);
    expect(table.towns.at(-1)).toMatchObject({
      registered: null,
      employeeInsured: null,
      paidLastYear: null,
      toEnroll: null,
      target: null,
    });
  });

  it('reproduces the printed rows: 三埠 114370/21842/47154/92528/48680, 赤水 39205/12463/26906/26742/30301', () => {
    expect(table.towns[0]).toMatchObject({
      registered: 114370,
      employeeInsured: 21842,
      paidLastYear: 47154,
      toEnroll: 92528,
      target: 48680,
    });
    expect(table.towns[14]).toMatchObject({
      registered: 39205,
      employeeInsured: 12463,
      paidLastYear: 26906,
      toEnroll: 26742,
      target: 30301,
    });
  });

  it('every row keeps (4) = (1) - (2)', () => {
    expect(table.findings.filter((f) => f.kind === 'row-difference')).toEqual([]);
  });

  it('the 合计 row: 681,503 registered, 196,792 in employee insurance, 424,855 paid, 484,711 to enroll all add up', () => {
    expect(table.printedTotal).toMatchObject({
      registered: 681503,
      employeeInsured: 196792,
      paidLastYear: 424855,
      toEnroll: 484711,
    });
    expect(table.computedTotal).toMatchObject({
      registered: 681503,
      employeeInsured: 196792,
      paidLastYear: 424855,
      toEnroll: 484711,
    });
  });

  it('the printed target total 465874 is 3 short of the towns, 465877: reported, not corrected', () => {
    expect(table.findings.filter((f) => f.kind === 'total-mismatch')).toEqual([
      expect.objectContaining({
        column: 'target',
        printed: 465874,
        expected: 465877,
        difference: -3,
        severity: 'error',
      }),
    ]);
    expect(table.printedTotal.target).toBe(465874);
  });

  it('derives each town target as a share of the residents to enroll: 三埠 52.6%, 沙塘 129.3%', () => {
    expect(table.towns[0]!.targetShareOfToEnroll).toBe(52.6);
    expect(table.towns[4]!.targetShareOfToEnroll).toBe(129.3);
    expect(table.findings.filter((f) => f.kind === 'target-above-to-enroll')).toHaveLength(12);
  });

  it('a row whose (4) is not (1)-(2) is a finding with the numbers', () => {
    const altered = TargetTableFile.parse(JSON.parse(JSON.stringify(kaipingTable)));
    altered.rows[1]!.toEnroll = '63700';
    const findings = checkTargetTable(altered).findings;
    expect(findings).toContainEqual(
      expect.objectContaining({
        kind: 'row-difference',
        town: '长沙办事处',
        expected: 63705,
        printed: 63700,
        difference: -5,
      }),
    );
    expect(findings).toContainEqual(
      expect.objectContaining({
        kind: 'total-mismatch',
        column: 'toEnroll',
        printed: 484711,
        expected: 484706,
      }),
    );
  });
});
