import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProvisioningError } from '../../infra/support';
import { resolveTemporalCli, resolveTestServer } from '../../provision/temporal';

describe('provisioning of the Temporal servers', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  function offlineWithoutToolchains() {
    const empty = mkdtempSync(join(tmpdir(), 'medins-no-tools-'));
    process.env.PATH = empty; // no go, no java, no mvn, no temporal
    process.env.MEDINS_CACHE_DIR = join(empty, 'cache'); // nothing cached
    process.env.MEDINS_DOWNLOAD_PROBE_URL = 'http://127.0.0.1:9/'; // nothing answers: no internet
    delete process.env.TEMPORAL_CLI_PATH;
    delete process.env.TEMPORAL_TEST_SERVER_PATH;
    return empty;
  }

  it('without Go and without internet, the dev server provisioning stops and says to install Go', async () => {
    const dir = offlineWithoutToolchains();
    try {
      const error = await resolveTemporalCli().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProvisioningError);
      expect((error as Error).message).toMatch(/Install Go 1\.23 or newer/);
      expect((error as Error).message).toMatch(/TEMPORAL_CLI_PATH/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without Java and Maven and without internet, the test server provisioning stops and names both', async () => {
    const dir = offlineWithoutToolchains();
    try {
      const error = await resolveTestServer().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProvisioningError);
      expect((error as Error).message).toMatch(/Install Java 11 or newer \(`java`\) and Maven \(`mvn`\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second run reuses the cached servers instead of building them again', async () => {
    const cli = await resolveTemporalCli();
    const testServer = await resolveTestServer();
    expect(cli.kind === 'path' && cli.source).not.toBe('built');
    expect(testServer.kind === 'path' && testServer.source).not.toBe('built');
  });

  it('the test server wrapper only execs java with the cached classpath', async () => {
    const testServer = await resolveTestServer();
    if (testServer.kind !== 'path' || testServer.source === 'env' || testServer.source === 'path') {
      expect.fail(`expected the cached wrapper, got ${JSON.stringify(testServer)}`);
    }
    const script = readFileSync(testServer.path, 'utf8');
    expect(script).toContain('exec java -cp "$CP" io.temporal.testserver.TestServer "$@"');
    expect(script).toMatch(/^CP=".*\/lib\/\*"$/m);
  });
});
