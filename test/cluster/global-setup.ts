/**
 * The cluster suite's own setup, before the shared one (test/global-setup.ts): the Temporal server and
 * temporal-sql-tool, from the cache or built from the Go module (the first run only; it says so).
 */
import { stderrLogger } from '../../infra/support';
import { resolveTemporalServer } from '../../infra/temporal-cluster';

export default async function setup() {
  const started = Date.now();
  const build = await resolveTemporalServer(stderrLogger);
  stderrLogger(
    `Temporal server for the cluster: ${build.server} (${build.source}, ${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
}
