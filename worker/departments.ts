/**
 * The composition root of the department adapters: for each role (the certifying departments, the tax
 * bureau, finance) one setting chooses the adapter that reaches it, so a jurisdiction can exchange rosters
 * through folders while its tax bureau answers over HTTP. A setting is `<kind>` or `<kind>:<argument>`:
 * - `simulated`: the deterministic stand-ins of rehearsals and tests (departments/simulated.ts);
 * - `file:<folder>`: inbox/outbox folders per department (departments/file-exchange.ts);
 * - `http:<base URL>` (or the URL alone): a JSON API (departments/http.ts).
 * Settings come from MEDINS_CERTIFYING_DEPARTMENTS, MEDINS_TAX_BUREAU and MEDINS_FINANCE, each falling back
 * to MEDINS_DEPARTMENTS (the one switch for every role it replaces, still honoured) and then `simulated`.
 * A new adapter is a file in departments/ and one line in `departmentAdapters` below.
 */
import type pg from 'pg';
import { fileExchangePorts } from '../departments/file-exchange';
import { httpPorts } from '../departments/http';
import type { CertifyingDepartmentPort, DepartmentPorts, FinancePort, TaxPort } from '../departments/ports';
import { simulatedPorts, type SimulationConfig } from '../departments/simulated';
import type { Config } from './config';

export type DepartmentRole = keyof DepartmentPorts;

/** Each role's setting, e.g. `{ certifying: 'file:/srv/exchange', tax: 'http:https://tax.example', finance: 'simulated' }`. */
export type DepartmentSettings = Record<DepartmentRole, string>;

/** What an adapter may need to be built. */
export interface AdapterContext {
  pool: pg.Pool;
  /** How long an HTTP department may take to answer, in milliseconds. */
  timeoutMs: number;
  /** The simulated departments, built once (their settings read only when a role uses them). */
  simulated: () => DepartmentPorts;
}

/** Builds a role's port from the argument after `<kind>:` (empty for a bare kind). */
export type AdapterFactory<Port> = (argument: string, context: AdapterContext) => Port;

/** The adapters each role may be reached by, by kind. */
export interface AdapterCatalog {
  certifying: Record<string, AdapterFactory<CertifyingDepartmentPort>>;
  tax: Record<string, AdapterFactory<TaxPort>>;
  finance: Record<string, AdapterFactory<FinancePort>>;
}

const http = (url: string, context: AdapterContext) =>
  httpPorts({ certifying: url, tax: url, finance: url, timeoutMs: context.timeoutMs });

export const departmentAdapters: AdapterCatalog = {
  certifying: {
    simulated: (_, c) => c.simulated().certifying,
    file: (folder) => fileExchangePorts(folder).certifying,
    http: (url, c) => http(url, c).certifying,
  },
  tax: {
    simulated: (_, c) => c.simulated().tax,
    file: (folder) => fileExchangePorts(folder).tax,
    http: (url, c) => http(url, c).tax,
  },
  finance: {
    simulated: (_, c) => c.simulated().finance,
    file: (folder) => fileExchangePorts(folder).finance,
    http: (url, c) => http(url, c).finance,
  },
};

/**
 * A setting as kind and argument: `file:/x` is kind `file`, argument `/x`; a bare URL (`https://...`) and
 * the older `http:http://...` are kind `http` with the URL as argument.
 */
export function parseDepartmentSetting(setting: string): { kind: string; argument: string } {
  if (/^https?:\/\//.test(setting)) return { kind: 'http', argument: setting };
  const colon = setting.indexOf(':');
  if (colon < 0) return { kind: setting, argument: '' };
  return { kind: setting.slice(0, colon), argument: setting.slice(colon + 1) };
}

/** Each role's setting from the configuration (its own, else MEDINS_DEPARTMENTS). */
export function departmentSettings(config: Config): DepartmentSettings {
  return {
    certifying: config.MEDINS_CERTIFYING_DEPARTMENTS ?? config.MEDINS_DEPARTMENTS,
    tax: config.MEDINS_TAX_BUREAU ?? config.MEDINS_DEPARTMENTS,
    finance: config.MEDINS_FINANCE ?? config.MEDINS_DEPARTMENTS,
  };
}

/**
 * The ports of every role, each from its own setting. Throws (at start-up) naming the role, its setting
 * and the kinds it may use when a setting names no adapter.
 */
export function departmentPorts(
  settings: DepartmentSettings,
  context: { pool: pg.Pool; timeoutMs: number; simulation: () => SimulationConfig },
  catalog: AdapterCatalog = departmentAdapters,
): DepartmentPorts {
  // one simulation serves every role that uses it: it keeps who was asked how often
  let simulated: DepartmentPorts | undefined;
  const shared: AdapterContext = {
    pool: context.pool,
    timeoutMs: context.timeoutMs,
    simulated: () => (simulated ??= simulatedPorts(context.pool, context.simulation())),
  };
  const build = <R extends DepartmentRole>(role: R): DepartmentPorts[R] => {
    const { kind, argument } = parseDepartmentSetting(settings[role]);
    const factory = (catalog[role] as Record<string, AdapterFactory<DepartmentPorts[R]>>)[kind];
    if (!factory)
      throw new Error(
        `the ${role} departments' setting "${settings[role]}" names no adapter: use ${Object.keys(
          catalog[role],
        )
          .map((k) => (k === 'simulated' ? k : `${k}:<...>`))
          .join(', ')}`,
      );
    return factory(argument, shared);
  };
  return { certifying: build('certifying'), tax: build('tax'), finance: build('finance') };
}
