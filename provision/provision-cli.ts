/**
 * `npm run provision [-- status|stop|cluster]`: provisions (or reports) every server the project runs on,
 * and says where each came from. `stop` stops the project-local PostgreSQL cluster; `cluster` finds or
 * builds the Temporal server of the production topology (provision/temporal-cluster.ts).
 */
import { ensurePostgres, stopPostgres } from './postgres';
import { stderrLogger } from '../infra/support';
import { resolveTemporalCli, resolveTestServer } from './temporal';
import { resolveTemporalServer } from './temporal-cluster';

async function main() {
  const command = process.argv[2] ?? 'status';
  if (command === 'stop') {
    process.stdout.write(
      (await stopPostgres(stderrLogger)) ? 'PostgreSQL stopped\n' : 'PostgreSQL was not running\n',
    );
    return;
  }
  if (command === 'cluster') {
    const build = await resolveTemporalServer(stderrLogger);
    process.stdout.write(`Temporal server:       ${build.server} (${build.source})\n`);
    process.stdout.write(
      `temporal-sql-tool:     ${build.sqlTool}\nschemas:               ${build.schemaDir}\n`,
    );
    return;
  }
  if (command !== 'status') throw new Error(`unknown command ${command}: use status, stop or cluster`);
  const describe = (e: Awaited<ReturnType<typeof resolveTemporalCli>>) =>
    e.kind === 'path' ? `${e.path} (${e.source})` : 'the Temporal SDK download';
  process.stdout.write(`Temporal dev server:   ${describe(await resolveTemporalCli(stderrLogger))}\n`);
  process.stdout.write(`Time-skipping server:  ${describe(await resolveTestServer(stderrLogger))}\n`);
  const pg = await ensurePostgres(stderrLogger);
  const safe = new URL(pg.adminUrl);
  safe.password = '***';
  process.stdout.write(`PostgreSQL:            ${safe.toString()} (${pg.source})\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
