/**
 * The time-skipping test environment, started so that a slow JVM does not fail the run.
 *
 * `TestWorkflowEnvironment.createTimeSkipping` gives the Java test server a fixed 5 s to open its port,
 * which a cold JVM on a busy 2-core machine exceeds ("ephemeral server at 127.0.0.1:… did not start within
 * 5s"). Instead, for a server we have on disk, we spawn it ourselves, wait for its port as long as
 * `serverStartTimeoutMs()` allows, and hand the running server to the SDK's own environment factory as an
 * existing time-skipping server. Its JVM loads classes from a class-data-sharing archive kept in the
 * cache (made by the first run at its exit), which measured on this machine took a start with two
 * CPU-bound processes and four servers starting at once from 10-20 s to about 5 s.
 * Only where the SDK must download the server itself do we call `createTimeSkipping`, retrying with
 * backoff.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment, type ClientOptionsForTestEnv } from '@temporalio/testing';
import { serverStartTimeoutMs, spawnServer, type ServerProcess } from './server-process';
import { cacheRoot, ProvisioningError, quietLogger, type Logger } from '../infra/support';
import { type ServerExecutable } from './temporal';
import { childEnvironment, settings } from '../config/settings';

/** The SDK's environment over a test server this process started; teardown also stops the server. */
class OwnServerEnvironment extends TestWorkflowEnvironment {
  ownServer?: ServerProcess;
  override async teardown(): Promise<void> {
    await super.teardown();
    await this.ownServer?.stop();
  }
}

interface SdkCreateOptions {
  server: { type: 'existing' };
  client?: ClientOptionsForTestEnv;
  supportsTimeSkipping: true;
  address: string;
}

/**
 * The SDK's own factory, the one `createTimeSkipping` calls after starting its server. It is private in the
 * typings (there is no public "time-skipping on an existing server"), so it is looked up and checked here:
 * an SDK upgrade that removes it fails with this message, not a TypeError.
 */
function sdkFactory(): (options: SdkCreateOptions) => Promise<OwnServerEnvironment> {
  const create = (OwnServerEnvironment as unknown as { create?: unknown }).create;
  if (typeof create !== 'function')
    throw new ProvisioningError(
      'This @temporalio/testing has no TestWorkflowEnvironment.create; provision/time-skipping.ts must be adapted to it.',
    );
  return (options) =>
    (create as (o: SdkCreateOptions) => Promise<OwnServerEnvironment>).call(OwnServerEnvironment, options);
}

/** Where the JVM's class-data-sharing archive for a test server executable lives. */
export function classDataArchive(executable: string): string {
  const key = createHash('sha256').update(executable).digest('hex').slice(0, 12);
  return join(cacheRoot(), 'cds', `temporal-test-server-${key}.jsa`);
}

/**
 * JVM options (for `JDK_JAVA_OPTIONS`, read by the `java` launcher the wrapper execs; a native server
 * ignores it) that use the archive, or make it at exit when there is none yet. A damaged or foreign
 * archive is ignored by the JVM, which then loads classes as usual. `MEDINS_TEST_SERVER_CDS=off` disables it.
 */
function classDataSharing(executable: string): {
  javaOptions: string;
  onExit: (code: number | null) => void;
} {
  const none = { javaOptions: '', onExit: () => undefined };
  if (settings().MEDINS_TEST_SERVER_CDS === 'off') return none;
  const archive = classDataArchive(executable);
  if (existsSync(archive))
    return { javaOptions: `-XX:SharedArchiveFile=${archive} -Xshare:auto`, onExit: () => undefined };
  const dir = join(archive, '..');
  mkdirSync(dir, { recursive: true });
  // a dump a killed JVM left unfinished (over an hour old) is removed
  for (const name of readdirSync(dir))
    if (name.endsWith('.tmp') && Date.now() - statSync(join(dir, name)).mtimeMs > 3600_000)
      rmSync(join(dir, name), { force: true });
  // each process dumps to a file of its own; the first complete one becomes the archive
  const partial = `${archive}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  return {
    javaOptions: `-XX:ArchiveClassesAtExit=${partial}`,
    // a JVM ended by a signal it handles exits with a code after dumping; one killed (code null) may not have
    onExit: (code) => {
      try {
        if (code !== null && existsSync(partial) && statSync(partial).size > 0 && !existsSync(archive))
          renameSync(partial, archive);
      } catch {
        // another process's archive won the rename; ours is not needed
      } finally {
        rmSync(partial, { force: true });
      }
    },
  };
}

export interface TimeSkippingOptions {
  server: ServerExecutable;
  client?: ClientOptionsForTestEnv;
  log?: Logger;
  /** Default `serverStartTimeoutMs()`. */
  readyTimeoutMs?: number;
}

/** Whether an error is the SDK's ephemeral-server start timing out. */
const sdkStartTimedOut = (error: unknown) => /did not start within/.test(String(error));

/**
 * A time-skipping `TestWorkflowEnvironment` (its `client` skips time while a result is awaited) on a test
 * server started for it; `teardown()` stops the server.
 *
 * Errors: ProvisioningError when the server exits before answering or does not answer within the
 * timeout (see `spawnServer`), or, for the SDK's download, when four starts with backoff all time out.
 */
export async function createTimeSkippingEnvironment(
  options: TimeSkippingOptions,
): Promise<TestWorkflowEnvironment> {
  const log = options.log ?? quietLogger;
  if (options.server.kind === 'sdk-download') {
    const delays = [2000, 5000, 10_000];
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await TestWorkflowEnvironment.createTimeSkipping({
          server: { executable: { type: 'cached-download' } },
          ...(options.client ? { client: options.client } : {}),
        });
      } catch (error) {
        if (!sdkStartTimedOut(error)) throw error;
        const delay = delays[attempt - 1];
        if (delay === undefined)
          throw new ProvisioningError(
            `The time-skipping test server downloaded by the Temporal SDK did not open its port within the SDK's ` +
              `fixed 5 s in ${attempt} starts (the machine is busy). Install Java 11+ and Maven (Debian: ` +
              `\`apt-get install openjdk-17-jre-headless maven\`) so that this project runs the server itself and ` +
              `waits for it up to MEDINS_SERVER_START_TIMEOUT_MS, or retry when the load is lower.`,
          );
        log(
          `the time-skipping test server did not start within the SDK's 5 s (start ${attempt}); retrying in ${delay / 1000} s`,
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  const executable = options.server.path;
  const cds = classDataSharing(executable);
  const javaOptions = [settings().JDK_JAVA_OPTIONS, cds.javaOptions].filter(Boolean).join(' ');
  const server = await spawnServer({
    what: 'the Temporal time-skipping test server',
    executable,
    args: (port) => [String(port)],
    env: childEnvironment(javaOptions ? { JDK_JAVA_OPTIONS: javaOptions } : {}),
    readyTimeoutMs: options.readyTimeoutMs ?? serverStartTimeoutMs(),
    log,
    onExit: cds.onExit,
  });
  try {
    const env = await sdkFactory()({
      server: { type: 'existing' },
      supportsTimeSkipping: true,
      address: server.address,
      ...(options.client ? { client: options.client } : {}),
    });
    env.ownServer = server;
    return env;
  } catch (error) {
    await server.stop();
    throw error;
  }
}
