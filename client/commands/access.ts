/**
 * Who may run a command, declared by each command module beside the command it guards (`allow`), and read
 * by cli.ts before every action. The database enforces the same walls (grants and row security, migrations
 * 0019-0021); this check only refuses early, with a sentence naming the role.
 */
import type { Command } from 'commander';
import type { Identity } from '../../infra/roles';

/** A role at the command line: an operator, an auditor or a certifying department (infra/roles.ts). */
export type Role = Identity['role'];

/**
 * `public`: anyone, without a login (the published rules). `admin`: the administrator's connection, and only
 * these (the schema and the people). Otherwise the roles whose logins may run it; a department runs a
 * command that takes --department only for its own department.
 */
export type Access = 'public' | 'admin' | readonly Role[];

/** Operators only: starting, signalling or changing something. */
export const OPERATORS: readonly Role[] = ['operator'];
/** Reading history, reports and the exchange log: operators and auditors. */
export const READERS: readonly Role[] = ['operator', 'auditor'];

const declared = new WeakMap<Command, Access>();

/** Declares who may run `command`; returns it, so the declaration sits at the head of its definition. */
export function allow<C extends Command>(command: C, access: Access): C {
  declared.set(command, access);
  return command;
}

/** The access `command` declared; throws, naming the command, for one registered without `allow`. */
export function accessOf(command: Command): Access {
  const access = declared.get(command);
  if (access === undefined) throw new Error(`command "${commandPath(command)}" declares no roles (allow())`);
  return access;
}

/** A command's path below the program, e.g. "lists import". */
export function commandPath(command: Command): string {
  const path: string[] = [];
  for (let c: Command | null = command; c && c.parent; c = c.parent) path.unshift(c.name());
  return path.join(' ');
}

/** Every command that runs an action (a leaf of the tree), with its path. */
export function leafCommands(root: Command): Command[] {
  return root.commands.length ? root.commands.flatMap(leafCommands) : [root];
}

/**
 * Why `who` may not run `command` (whose --department, if it takes one, is `department`), or undefined if it
 * may. For `public` and `admin` commands, undefined: they run without the login check.
 */
export function refusal(who: Identity, command: Command, department?: string): string | undefined {
  const access = accessOf(command);
  if (access === 'public' || access === 'admin') return undefined;
  const path = commandPath(command);
  if (who.role === 'auditor' && !access.includes('auditor'))
    return `${who.user} is an auditor: role auditor may read history, reports and the exchange log; it cannot run "${path}", which starts, signals or changes something. Ask an operator.`;
  if (who.role === 'department') {
    if (access.includes('department') && (department === undefined || department === who.department))
      return undefined;
    return `${who.user} is the department ${who.department}: role department may submit its own lists only; it cannot run "${path}"${department !== undefined ? ` for ${department}` : ''}.`;
  }
  if (who.role === 'operator' && !access.includes('operator'))
    return `${who.user} is an operator: "${path}" is not an operator's command.`;
  return undefined;
}
