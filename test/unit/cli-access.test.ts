/**
 * Each command module declares beside its commands who may run them (client/commands/access.ts). This pins
 * the whole table, as the command line enforced it when it was one central list, and the refusals' words.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN, program } from '../../client/cli';
import { accessOf, commandPath, leafCommands, refusal } from '../../client/commands/access';
import type { Identity } from '../../infra/roles';

const operator: Identity = { user: 'wang_li', role: 'operator' };
const auditor: Identity = { user: 'zhao_min', role: 'auditor' };
const health: Identity = { user: 'health_desk', role: 'department', department: 'health' };

const byPath = new Map(leafCommands(program).map((c) => [commandPath(c), c]));
const command = (path: string) => {
  const c = byPath.get(path);
  if (!c) throw new Error(`no command ${path}`);
  return c;
};

describe('who may run which command', () => {
  it('the published rules need no login; the schema and the people are the administrator’s alone', () => {
    const declared = (kind: string) =>
      [...byPath]
        .filter(([, c]) => accessOf(c) === kind)
        .map(([path]) => path)
        .sort();
    expect(declared('public')).toEqual(['policy explain', 'policy show', 'targets']);
    expect(declared('admin')).toEqual([
      'db migrate',
      'users add',
      'users grant',
      'users list',
      'users revoke',
    ]);
    expect([...ADMIN].sort()).toEqual(declared('admin'));
  });

  it('an auditor reads history, reports and lists, and is refused everything that starts, signals or changes', () => {
    const readable = [...byPath]
      .filter(([, c]) => Array.isArray(accessOf(c)) && refusal(auditor, c) === undefined)
      .map(([path]) => path)
      .sort();
    expect(readable).toEqual(
      [
        'audit verify',
        'audit history',
        'audit export',
        'audit runs',
        'audit person',
        'report progress',
        'export',
        'lists rejections',
        'lists held',
        'campaign status',
        'lists status',
        'reconcile schedule describe',
      ].sort(),
    );
    expect(refusal(auditor, command('campaign start'))).toBe(
      'zhao_min is an auditor: role auditor may read history, reports and the exchange log; it cannot run "campaign start", which starts, signals or changes something. Ask an operator.',
    );
  });

  it('a department imports its own lists only, and reads their status and rejections', () => {
    const allowed = [...byPath]
      .filter(([, c]) => Array.isArray(accessOf(c)) && refusal(health, c, 'health') === undefined)
      .map(([path]) => path)
      .sort();
    expect(allowed).toEqual(['lists import', 'lists rejections', 'lists status']);
    expect(refusal(health, command('lists import'), 'civil-affairs')).toBe(
      'health_desk is the department health: role department may submit its own lists only; it cannot run "lists import" for civil-affairs.',
    );
    expect(refusal(health, command('audit history'))).toContain('cannot run "audit history"');
  });

  it('an operator runs every command that needs a login', () => {
    for (const [path, c] of byPath)
      if (Array.isArray(accessOf(c))) expect(refusal(operator, c), path).toBeUndefined();
  });
});
