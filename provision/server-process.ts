/**
 * Starting a Temporal server process (the time-skipping test server or the dev server) so that a busy
 * machine does not fail the run: we spawn the process ourselves and wait for its gRPC port for as long as
 * `serverStartTimeoutMs()` allows (the SDK's own ephemeral-server start gives up after a fixed 5 s, which a
 * JVM cold start on two loaded cores exceeds), telling the operator while it waits. A port taken between
 * choosing it and the server binding it is retried on a new port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { freePort, ProvisioningError, type Logger } from '../infra/support';
import { childEnvironment, settings } from '../config/settings';

/**
 * How long a server may take to answer on its port, in ms: `MEDINS_SERVER_START_TIMEOUT_MS`, default 180 s
 * (a JVM on two cores with two CPU-bound processes and three test files starting at once took 20 s).
 */
export function serverStartTimeoutMs(): number {
  return settings().MEDINS_SERVER_START_TIMEOUT_MS;
}

export interface ServerProcess {
  address: string;
  port: number;
  /** Milliseconds from spawn until the server answered. */
  startedInMs: number;
  /** SIGTERM, then SIGKILL after `graceMs` (default 15 s); resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnServerOptions {
  /** What the operator reads: "the time-skipping test server". */
  what: string;
  executable: string;
  /** The command line for a given port (called again for each port tried). */
  args: (port: number) => string[] | Promise<string[]>;
  env?: NodeJS.ProcessEnv;
  port?: number;
  readyTimeoutMs?: number;
  log?: Logger;
  /** Called with the exit code after the process has exited (e.g. to keep a file it wrote at exit). */
  onExit?: (code: number | null) => void;
}

const PORT_TAKEN = /address already in use|BindException|bind: address|failed to bind/i;

/** Whether the gRPC WorkflowService at `address` answers GetSystemInfo. */
async function answers(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    const c = await Connection.connect({ address, connectTimeout: 2000 });
    connection = c;
    await c.withDeadline(Date.now() + 5000, () => c.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

function stopper(child: ChildProcess) {
  return (graceMs = 15_000) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/**
 * Spawns a server on a loopback port and resolves once its WorkflowService answers.
 *
 * Errors: ProvisioningError when the process exits before answering (its last output quoted), or when it
 * has not answered within `readyTimeoutMs` (default `serverStartTimeoutMs()`; the process is killed), the
 * message naming the address, the time waited and MEDINS_SERVER_START_TIMEOUT_MS.
 */
export async function spawnServer(options: SpawnServerOptions): Promise<ServerProcess> {
  const timeoutMs = options.readyTimeoutMs ?? serverStartTimeoutMs();
  const log = options.log ?? (() => undefined);
  // a chosen port can be taken by another process before the server binds it: try a new one
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await freePort());
    const address = `127.0.0.1:${port}`;
    const started = Date.now();
    const args = await options.args(port);
    log(`starting ${options.executable} ${args.join(' ')}`);
    const child = spawn(options.executable, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? childEnvironment(),
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('exit', (code) => options.onExit?.(code));
    // this process exiting (a crash, or Ctrl-C while the server is still stopping: the test server's JVM
    // takes seconds to stop while clients hold long polls) must not leave the server running
    const killOnExit = () => child.kill('SIGKILL');
    process.on('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    const exited = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;

    let nextNotice = started + 5000;
    while (!exited() && Date.now() - started < timeoutMs) {
      if (await answers(address)) {
        return { address, port, startedInMs: Date.now() - started, stop: stopper(child) };
      }
      if (Date.now() >= nextNotice) {
        log(
          `${options.what} at ${address} has not answered yet after ${Math.round((Date.now() - started) / 1000)} s ` +
            `(a busy machine starts it slowly); waiting up to ${Math.round(timeoutMs / 1000)} s`,
        );
        nextNotice = Date.now() + 15_000;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    if (exited()) {
      if (options.port === undefined && attempt < 3 && PORT_TAKEN.test(output)) {
        log(`${options.what}: port ${port} was taken before it could bind it; trying another port`);
        continue;
      }
      throw new ProvisioningError(
        `${options.what} (${options.executable}) ${spawnError ? `could not be started: ${spawnError.message}` : `exited with ${child.exitCode ?? child.signalCode} before answering at ${address}`}. ` +
          `Its last output: ${output.trim().split('\n').slice(-8).join(' | ') || '(none)'}`,
      );
    }
    await stopper(child)(2000);
    throw new ProvisioningError(
      `${options.what} did not answer at ${address} within ${Math.round(timeoutMs / 1000)} s, so it was stopped. ` +
        `The machine may be too busy, or the server is stuck: its last output was ` +
        `${output.trim().split('\n').slice(-8).join(' | ') || '(none)'}. Retry when the load is lower, or allow ` +
        `it longer with MEDINS_SERVER_START_TIMEOUT_MS (now ${timeoutMs}).`,
    );
  }
}
