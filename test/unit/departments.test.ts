import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../worker/config';
import {
  departmentAdapters,
  departmentPorts,
  departmentSettings,
  parseDepartmentSetting,
  type AdapterContext,
  type AdapterFactory,
} from '../../worker/departments';

describe('each department role reached by the adapter its own setting names', () => {
  it('MEDINS_DEPARTMENTS still sets every role; a role’s own setting overrides it', () => {
    expect(departmentSettings(loadConfig({}))).toEqual({
      certifying: 'simulated',
      tax: 'simulated',
      finance: 'simulated',
    });
    expect(
      departmentSettings(
        loadConfig({
          MEDINS_DEPARTMENTS: 'file:/srv/exchange',
          MEDINS_TAX_BUREAU: 'http:https://tax.example',
        }),
      ),
    ).toEqual({
      certifying: 'file:/srv/exchange',
      tax: 'http:https://tax.example',
      finance: 'file:/srv/exchange',
    });
  });

  it('the older http:http://… and a bare URL are the http adapter with that URL', () => {
    expect(parseDepartmentSetting('http:http://127.0.0.1:9000')).toEqual({
      kind: 'http',
      argument: 'http://127.0.0.1:9000',
    });
    expect(parseDepartmentSetting('https://tax.example/api')).toEqual({
      kind: 'http',
      argument: 'https://tax.example/api',
    });
    expect(parseDepartmentSetting('file:/srv/x')).toEqual({ kind: 'file', argument: '/srv/x' });
    expect(parseDepartmentSetting('simulated')).toEqual({ kind: 'simulated', argument: '' });
  });

  it('each role gets the adapter of its own kind, and the simulation is built only for a role that uses it', () => {
    const built: string[] = [];
    function spy<Port>(
      role: string,
      kinds: Record<string, AdapterFactory<Port>>,
    ): Record<string, AdapterFactory<Port>> {
      return Object.fromEntries(
        Object.entries(kinds).map(([kind, make]) => [
          kind,
          (argument: string, context: AdapterContext) => {
            built.push(`${role}=${kind}(${argument})`);
            return make(argument, context);
          },
        ]),
      );
    }
    let simulations = 0;
    const ports = departmentPorts(
      { certifying: 'file:/srv/exchange', tax: 'http:http://127.0.0.1:1', finance: 'simulated' },
      {
        pool: {} as never,
        timeoutMs: 100,
        simulation: () => {
          simulations += 1;
          return {
            seed: 4,
            populationDirs: {},
            systemicFailureRate: 0,
            topUpRate: 0,
            missingDepartments: [],
            exchangeDir: '/tmp',
          };
        },
      },
      {
        certifying: spy('certifying', departmentAdapters.certifying),
        tax: spy('tax', departmentAdapters.tax),
        finance: spy('finance', departmentAdapters.finance),
      },
    );
    expect(built).toEqual([
      'certifying=file(/srv/exchange)',
      'tax=http(http://127.0.0.1:1)',
      'finance=simulated()',
    ]);
    expect(simulations).toBe(1);
    expect(ports.tax.levyFile('kaiping', 3).fileName).toBe('levy-kaiping-batch-3.csv');
  });

  it('a setting that names no adapter stops the worker at start-up, naming the role and the kinds it may use', () => {
    expect(() =>
      departmentPorts(
        { certifying: 'simulated', tax: 'ftp:/x', finance: 'simulated' },
        { pool: {} as never, timeoutMs: 1, simulation: () => ({}) as never },
      ),
    ).toThrow(
      'the tax departments\' setting "ftp:/x" names no adapter: use simulated, file:<...>, http:<...>',
    );
  });
});
