/**
 * Once per test run: provision every server the tests need, or fail loudly. Nothing is skipped when a
 * server is missing.
 * - PostgreSQL: DATABASE_URL's server, or the local cluster (started on demand, reused).
 * - The time-skipping test server (Maven Central jar + wrapper, cached).
 * - A fresh in-memory Temporal dev server on free loopback ports, stopped at the end.
 * - Headless Chromium for the HTML reports (Debian's chromium package, installed on demand as root).
 */
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../provision/dev-server';
import { resolveChromium } from '../provision/chromium';
import { ensurePostgres } from '../provision/postgres';
import { stderrLogger } from '../infra/support';
import { resolveTestServer, type ServerExecutable } from '../provision/temporal';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    testServer: ServerExecutable;
    devServerAddress: string;
    chromium: string;
  }
}

let devServer: DevServer | undefined;

export default async function setup(project: TestProject) {
  const [pg, testServer, chromium] = await Promise.all([
    ensurePostgres(stderrLogger),
    resolveTestServer(stderrLogger),
    resolveChromium(stderrLogger),
  ]);
  devServer = await startDevServer({ log: stderrLogger });
  project.provide('adminDatabaseUrl', pg.adminUrl);
  project.provide('testServer', testServer);
  project.provide('devServerAddress', devServer.address);
  project.provide('chromium', chromium);
  return async () => {
    await devServer?.stop();
  };
}
