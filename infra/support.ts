/**
 * Shared plumbing for provisioning: where the cache lives, how to find a program, how to run one with a
 * deadline, how to find a free loopback port, and a cross-process lock so that a worker, a CLI and a
 * test run starting at the same moment do not build or initialise the same thing twice.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { childEnvironment, settings } from '../config/settings';
import type { Logger as PinoLogger } from 'pino';
import { createLogger, stderrDestination } from './structured-log';

export const PROJECT = 'resident-medins';

/** `$HOME/.cache/resident-medins`, or `MEDINS_CACHE_DIR` when set (tests point it elsewhere). */
export function cacheRoot(): string {
  return settings().MEDINS_CACHE_DIR ?? join(homedir(), '.cache', PROJECT);
}

/**
 * Provisioning cannot succeed: the message is one paragraph that says what was tried and exactly what
 * to install, so an operator can act on it without reading code.
 */
export class ProvisioningError extends Error {
  override name = 'ProvisioningError';
}

export type Logger = (message: string) => void;
export const quietLogger: Logger = () => undefined;
let provisionLog: PinoLogger | undefined;
/**
 * Provisioning's progress ("building the Temporal CLI ...", "still waiting ..."): the structured log
 * (infra/structured-log.ts, logger `medins-provision`, with its redaction) on stderr, as `[provision] ...`
 * lines at a terminal and JSON lines otherwise (MEDINS_LOG_FORMAT).
 */
export const stderrLogger: Logger = (message) => {
  provisionLog ??= createLogger(
    'medins-provision',
    'info',
    stderrDestination(settings().MEDINS_LOG_FORMAT, '[provision]'),
  );
  provisionLog.info(message);
};

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first executable called `name` on PATH, like `command -v`. */
export function which(name: string, pathVar = settings().PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, killing it when `timeoutMs` passes. Never throws on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; onLine?: Logger } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? childEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = options.timeoutMs
      ? setTimeout(() => {
          stderr += `\n(killed after ${options.timeoutMs} ms)`;
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr += text;
      if (options.onLine) for (const line of text.split('\n')) if (line.trim()) options.onLine(line.trim());
    });
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A TCP port that nothing listens on at 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a loopback listener'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Holds a directory lock (mkdir is atomic) while `fn` runs. A lock whose owner process has died is taken
 * over, so a killed build never blocks the next run.
 */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, waitMs = 45 * 60_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lockDir, { recursive: false });
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        mkdirSync(join(lockDir, '..'), { recursive: true });
        continue;
      }
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // the owner has made the directory but not yet written its pid
      }
      if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > waitMs) {
        throw new ProvisioningError(`Timed out waiting for the lock ${lockDir} held by process ${owner}.`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Whether the internet (the host the Temporal SDK downloads its servers from) answers within a few
 * seconds. `MEDINS_DOWNLOAD_PROBE_URL` points the probe elsewhere (the offline test uses a closed port).
 */
export async function sdkDownloadReachable(timeoutMs = 5000): Promise<boolean> {
  const url = settings().MEDINS_DOWNLOAD_PROBE_URL;
  try {
    await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs Debian packages with apt-get (root only; the caller checks). A failure is a ProvisioningError
 * naming the packages, apt-get's last words, and `advice` on what to do instead.
 */
export async function installDebianPackages(packages: string[], log: Logger, advice: string): Promise<void> {
  log(`installing Debian's ${packages.join(', ')} (apt-get)`);
  const env = childEnvironment({ DEBIAN_FRONTEND: 'noninteractive' });
  const update = await run('apt-get', ['update'], { env, timeoutMs: 10 * 60_000 });
  const install = await run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
    env,
    timeoutMs: 20 * 60_000,
  });
  if (update.code !== 0 || install.code !== 0) {
    throw new ProvisioningError(
      `Installing Debian's ${packages.join(', ')} failed (apt-get update exit ${update.code}, install exit ${install.code}): ` +
        `${install.stderr.trim().split('\n').slice(-3).join(' | ')}. ${advice}`,
    );
  }
}

/**
 * Runs `main` when the module at `moduleUrl` (its `import.meta.url`) is the program itself (`tsx file.ts`),
 * printing a failure's message alone and exiting 1; does nothing when the module is imported.
 */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
