import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'medins-cli-'));
const cli = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], { cwd: process.cwd() });
const cliAs = (role: string, ...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, MEDINS_ROLE: role, MEDINS_DEPARTMENT: 'health' },
  });
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

describe('the policy commands of the command line', () => {
  it('policy explain --json answers a Meishan low-income pensioner: 95 yuan personal, 285 from special fiscal funds', async () => {
    const input = file('pensioner.json', {
      jurisdiction: 'meishan',
      year: 2024,
      person: { idNumber: makeIdNumber('511421', '1955-07-01', 17), categories: ['2305'] },
      event: { kind: 'centralised-payment', date: '2023-11-02' },
    });
    const { stdout } = await cli('policy', 'explain', '--input', input, '--json');
    const answer = JSON.parse(stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({
      effectiveCategory: '2305',
      contribution: {
        totalFen: 38000,
        personalFen: 9500,
        subsidyFen: 28500,
        fundingSource: 'special-fiscal-funds',
      },
      benefitStart: '2024-01-01',
      contributionYears: [2024],
    });
    expect(answer.rules).toContainEqual(
      expect.objectContaining({
        id: 'category.2305',
        source: expect.stringMatching(/^003 .*三\(三\)2\(3\)/),
      }),
    );
    expect(stdout).not.toContain(makeIdNumber('511421', '1955-07-01', 17));
  });

  it('policy explain in text names the rules with their sources', async () => {
    const input = file('newborn.json', {
      jurisdiction: 'kaiping',
      year: 2024,
      person: { idNumber: makeIdNumber('440783', '2023-11-20', 52), categories: [] },
      event: { kind: 'newborn-enrollment', date: '2023-12-10' },
    });
    const { stdout } = await cli('policy', 'explain', '--input', input);
    expect(stdout).toContain('Benefits from: 2023-11-20');
    expect(stdout).toContain('Contribution years: 2023, 2024');
    expect(stdout).toContain('[000 五(六)1-2');
  });

  it('a bad input file gets an error naming the file and the field', async () => {
    const input = file('bad.json', {
      jurisdiction: 'heshan',
      year: 2024,
      person: { idNumber: '440784197005060212', categories: [] },
      event: { kind: 'centralised-payment', date: '2023-13-01' },
    });
    const failure = await cli('policy', 'explain', '--input', input).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain(
      `${input}: event.date: a calendar date YYYY-MM-DD`,
    );
  });

  it('targets --json reproduces 附件3 with the 合计 finding', async () => {
    const { stdout } = await cli('targets', '--jurisdiction', 'kaiping', '--year', '2024', '--json');
    const table = JSON.parse(stdout) as { towns: unknown[]; findings: { kind: string; message: string }[] };
    expect(table.towns).toHaveLength(16);
    expect(table.findings.find((f) => f.kind === 'total-mismatch')!.message).toBe(
      '合计 target: printed 465874, but the towns add up to 465877 (difference -3)',
    );
  });

  it('an auditor’s attempt to start or steer a campaign fails with a clear message, before anything is contacted', async () => {
    const failure = (await cliAs(
      'auditor',
      'campaign',
      'start',
      '--jurisdiction',
      'kaiping',
      '--year',
      '2024',
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain(
      'role auditor may read history, reports and the exchange log; it cannot run "campaign start"',
    );
    const signal = (await cliAs(
      'auditor',
      'campaign',
      'submit-list',
      'x.csv',
      '--jurisdiction',
      'kaiping',
      '--year',
      '2024',
      '--department',
      'health',
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(signal.stderr).toContain('cannot run "campaign submit-list"');
    const { stdout } = await cliAs(
      'auditor',
      'targets',
      '--jurisdiction',
      'kaiping',
      '--year',
      '2024',
      '--json',
    );
    expect((JSON.parse(stdout) as { towns: unknown[] }).towns).toHaveLength(16);
  });

  it('a department may submit only its own lists', async () => {
    const failure = (await cliAs(
      'department',
      'lists',
      'import',
      'x.csv',
      '--jurisdiction',
      'kaiping',
      '--department',
      'civil-affairs',
      '--kind',
      'roster',
      '--period',
      '2023-08-31',
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('role department (health) may submit its own lists only');
    const history = (await cliAs(
      'department',
      'audit',
      'history',
      '--workflow-id',
      'campaign-kaiping-2024',
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(history.code).toBe(1);
    expect(history.stderr).toContain('cannot run "audit history"');
  });
});
