/**
 * the ledger's schema: `db migrate`.
 */
import type { Command } from 'commander';
import { migrate } from '../../ledger/migrate';
import { resolveDatabaseUrl } from '../../provision/postgres';
import { stderrLogger } from '../../infra/support';
import { loadConfig } from '../../worker/config';
import { allow } from './access';

/** Registers the db commands on the program. */
export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('the PostgreSQL ledger');
  allow(db.command('migrate'), 'admin')
    .description(
      'apply pending schema migrations, as the administrator (MEDINS_ADMIN_DATABASE_URL, or the local cluster superuser)',
    )
    .action(async () => {
      const config = loadConfig();
      const url = await resolveDatabaseUrl(config.MEDINS_DATABASE, stderrLogger);
      const { applied } = await migrate(url, stderrLogger);
      process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'schema is up to date\n');
    });
}
