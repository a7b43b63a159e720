/**
 * Finds or builds the two Temporal servers this project runs on, caching what is slow to build under
 * `$HOME/.cache/resident-medins/` so that a second run starts at once.
 *
 * Dev server (a real Temporal server with SQLite and the Web UI): the Temporal CLI, in this order:
 *   1. `TEMPORAL_CLI_PATH`; 2. `temporal` on PATH; 3. the cache; 4. `go install` of the CLI's Go module
 *   into the cache; 5. the SDK's own download (only where the internet answers); else a clear error.
 * Time-skipping test server: Maven Central `io.temporal:temporal-test-server`, in the same order:
 *   1. `TEMPORAL_TEST_SERVER_PATH`; 2. `temporal-test-server` on PATH; 3. the cache; 4. Maven resolves the
 *   jar and its dependencies into the cache, next to a wrapper script; 5. the SDK's download; else an error.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import {
  cacheRoot,
  isExecutable,
  ProvisioningError,
  run,
  sdkDownloadReachable,
  which,
  withLock,
  type Logger,
  quietLogger,
} from '../infra/support';
import { childEnvironment, settings } from '../config/settings';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEST_SERVER_VERSION = '1.32.1';

export type ServerExecutable =
  { kind: 'path'; path: string; source: 'env' | 'path' | 'cache' | 'built' } | { kind: 'sdk-download' };

export function temporalCliCacheDir(): string {
  return join(cacheRoot(), `temporal-cli-${TEMPORAL_CLI_VERSION}`);
}

export function testServerCacheDir(): string {
  return join(cacheRoot(), `temporal-test-server-${TEST_SERVER_VERSION}`);
}

function fromEnv(variable: 'TEMPORAL_CLI_PATH' | 'TEMPORAL_TEST_SERVER_PATH'): ServerExecutable | undefined {
  const value = settings()[variable];
  if (!value) return undefined;
  if (!isExecutable(value)) {
    throw new ProvisioningError(
      `${variable} is set to ${value}, which is not an executable file. Unset it or point it at one.`,
    );
  }
  return { kind: 'path', path: value, source: 'env' };
}

export async function resolveTemporalCli(log: Logger = quietLogger): Promise<ServerExecutable> {
  const explicit = fromEnv('TEMPORAL_CLI_PATH');
  if (explicit) return explicit;
  const onPath = which('temporal');
  if (onPath) return { kind: 'path', path: onPath, source: 'path' };

  const dir = temporalCliCacheDir();
  const cached = join(dir, 'temporal');
  if (isExecutable(cached)) return { kind: 'path', path: cached, source: 'cache' };

  const go = which('go');
  if (go) {
    return withLock(join(cacheRoot(), 'locks', 'temporal-cli'), async () => {
      if (isExecutable(cached)) return { kind: 'path', path: cached, source: 'cache' } as const;
      mkdirSync(dir, { recursive: true });
      log(
        `building the Temporal CLI ${TEMPORAL_CLI_VERSION} from its Go module into ${dir} (first run only; a few minutes)`,
      );
      const result = await run(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
        env: childEnvironment({ GOBIN: dir }, { CGO_ENABLED: '0' }),
        timeoutMs: 40 * 60_000,
      });
      if (result.code !== 0 || !isExecutable(cached)) {
        throw new ProvisioningError(
          `Building the Temporal CLI with \`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}\` failed ` +
            `(exit ${result.code}). Its last output was: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}. ` +
            `Check that the Go module proxy is reachable (GOPROXY) and Go is 1.23 or newer, or install the Temporal ` +
            `CLI yourself and set TEMPORAL_CLI_PATH to it.`,
        );
      }
      return { kind: 'path', path: cached, source: 'built' } as const;
    });
  }

  if (await sdkDownloadReachable()) return { kind: 'sdk-download' };

  throw new ProvisioningError(
    `No Temporal dev server is available. Tried: TEMPORAL_CLI_PATH (unset), \`temporal\` on PATH (not found), ` +
      `the cache at ${cached} (empty), Go to build it (\`go\` not on PATH), and the Temporal SDK's own download ` +
      `(the internet did not answer). Install Go 1.23 or newer (Debian: \`apt-get install golang-go\`, or ` +
      `https://go.dev/dl) so that \`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}\` can build it, or ` +
      `install the Temporal CLI and put \`temporal\` on PATH, or set TEMPORAL_CLI_PATH to its binary.`,
  );
}

function testServerWrapper(libDir: string): string {
  return [
    '#!/bin/sh',
    `# Temporal time-skipping test server: io.temporal:temporal-test-server:${TEST_SERVER_VERSION} from Maven Central.`,
    '# The SDK passes the port and locks/unlocks time skipping itself; this script adds nothing.',
    `CP="${libDir}/*"`,
    'exec java -cp "$CP" io.temporal.testserver.TestServer "$@"',
    '',
  ].join('\n');
}

function testServerPom(): string {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.resident-medins</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

function cachedTestServer(dir: string): string | undefined {
  const wrapper = join(dir, 'temporal-test-server');
  const lib = join(dir, 'lib');
  if (!isExecutable(wrapper) || !existsSync(lib)) return undefined;
  if (!readdirSync(lib).some((f) => f.startsWith('temporal-test-server'))) return undefined;
  return wrapper;
}

export async function resolveTestServer(log: Logger = quietLogger): Promise<ServerExecutable> {
  const explicit = fromEnv('TEMPORAL_TEST_SERVER_PATH');
  if (explicit) return explicit;
  const onPath = which('temporal-test-server');
  if (onPath) return { kind: 'path', path: onPath, source: 'path' };

  const java = which('java');
  const dir = testServerCacheDir();
  const cached = cachedTestServer(dir);
  // The wrapper runs `java`: a cached jar is no use on a machine whose PATH has no Java.
  if (cached && java) return { kind: 'path', path: cached, source: 'cache' };

  const mvn = which('mvn');
  if (java && mvn) {
    return withLock(join(cacheRoot(), 'locks', 'temporal-test-server'), async () => {
      const again = cachedTestServer(dir);
      if (again) return { kind: 'path', path: again, source: 'cache' } as const;
      mkdirSync(dir, { recursive: true });
      const lib = join(dir, 'lib');
      writeFileSync(join(dir, 'pom.xml'), testServerPom());
      log(`resolving io.temporal:temporal-test-server:${TEST_SERVER_VERSION} from Maven Central into ${lib}`);
      const result = await run(
        mvn,
        ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'],
        { cwd: dir, timeoutMs: 20 * 60_000 },
      );
      const wrapper = join(dir, 'temporal-test-server');
      writeFileSync(wrapper, testServerWrapper(lib));
      chmodSync(wrapper, 0o755);
      if (result.code !== 0 || !cachedTestServer(dir)) {
        throw new ProvisioningError(
          `Maven could not resolve io.temporal:temporal-test-server:${TEST_SERVER_VERSION} (exit ${result.code}): ` +
            `${(result.stdout + result.stderr).trim().split('\n').slice(-5).join(' | ')}. Check that Maven Central is ` +
            `reachable (~/.m2/settings.xml mirrors and proxies), or set TEMPORAL_TEST_SERVER_PATH to a test server.`,
        );
      }
      return { kind: 'path', path: wrapper, source: 'built' } as const;
    });
  }

  if (await sdkDownloadReachable()) return { kind: 'sdk-download' };

  const missing = [java ? undefined : 'Java 11 or newer (`java`)', mvn ? undefined : 'Maven (`mvn`)'].filter(
    Boolean,
  );
  throw new ProvisioningError(
    `No Temporal time-skipping test server is available. Tried: TEMPORAL_TEST_SERVER_PATH (unset), ` +
      `\`temporal-test-server\` on PATH (not found), the cache at ${dir}${cached ? ' (present, but no Java to run it)' : ' (empty)'}, ` +
      `Maven Central through Maven (missing: ${missing.join(' and ')}), and the Temporal SDK's own download (the ` +
      `internet did not answer). Install ${missing.join(' and ')} (Debian: \`apt-get install openjdk-17-jre-headless ` +
      `maven\`) so that io.temporal:temporal-test-server:${TEST_SERVER_VERSION} can be fetched from Maven Central, or ` +
      `set TEMPORAL_TEST_SERVER_PATH to a test server executable.`,
  );
}
