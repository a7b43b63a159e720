/**
 * The cluster suite's own setup, before the shared one (test/global-setup.ts): the Temporal server and
 * temporal-sql-tool, and the Web UI server, from the cache or built from their Go modules (the first run
 * only; it says so).
 */
import { stderrLogger } from '../../infra/support';
import { resolveTemporalServer, resolveTemporalUi } from '../../provision/temporal-cluster';

export default async function setup() {
  const started = Date.now();
  const build = await resolveTemporalServer(stderrLogger);
  const ui = await resolveTemporalUi(stderrLogger);
  stderrLogger(
    `Temporal server for the cluster: ${build.server} (${build.source}); Web UI server ${ui}; ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
}
