/**
 * the bureau's people: `users add|grant|revoke|list`, on the administrator's connection.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { addUser, grantRole, listUsers, parseRoleSpec, revokeRole } from '../../infra/roles';
import { withAdmin } from './session';
import { allow } from './access';

/** Registers the users commands on the program. */
export function registerUsersCommands(program: Command): void {
  const users = program
    .command('users')
    .description(
      "the bureau's people, each a PostgreSQL login in one role (run as the administrator: MEDINS_ADMIN_DATABASE_URL, or the local cluster superuser)",
    );
  const ROLE_HELP = 'operator, auditor or department:<department> (e.g. department:civil-affairs)';
  allow(users.command('add'), 'admin')
    .description(
      'create a login (or set its password again) in a role; the password is read from stdin, or made and printed once',
    )
    .argument('<name>', 'the login, e.g. wang_li (lower-case letters, digits, underscores)')
    .requiredOption('--role <role>', ROLE_HELP)
    .option('--password-stdin', 'read the password from stdin')
    .action(async (name: string, o: { role: string; passwordStdin?: boolean }) => {
      const role = parseRoleSpec(o.role);
      const given = o.passwordStdin ? readFileSync(0, 'utf8').trim() : undefined;
      if (given !== undefined && given.length < 12) throw new Error('a password of 12 characters or more');
      const password = given ?? randomBytes(15).toString('base64url');
      await withAdmin((client) => addUser(client, name, password, role));
      process.stdout.write(
        `${name} may log in as ${o.role}${given ? '' : `; password (shown once): ${password}`}\n`,
      );
    });
  allow(users.command('grant'), 'admin')
    .description('add a role to a login')
    .argument('<name>', 'the login')
    .argument('<role>', ROLE_HELP)
    .action(async (name: string, role: string) => {
      await withAdmin((client) => grantRole(client, name, parseRoleSpec(role)));
      process.stdout.write(`${name} granted ${role}\n`);
    });
  allow(users.command('revoke'), 'admin')
    .description('take a role from a login')
    .argument('<name>', 'the login')
    .argument('<role>', ROLE_HELP)
    .action(async (name: string, role: string) => {
      await withAdmin((client) => revokeRole(client, name, parseRoleSpec(role)));
      process.stdout.write(`${name} no longer ${role}\n`);
    });
  allow(users.command('list'), 'admin')
    .description("every login in one of the project's roles")
    .action(async () => {
      await withAdmin(async (client) => {
        const rows = await listUsers(client);
        process.stdout.write(
          rows.length
            ? rows
                .map((u) => `${u.name}\t${u.roles.join(', ')}${u.canLogin ? '' : '\t(cannot log in)'}`)
                .join('\n') + '\n'
            : 'no users\n',
        );
      });
    });
}
