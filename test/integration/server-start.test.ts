/**
 * A first run on a busy machine: the time-skipping test server is started by us and waited for, so a JVM
 * slower than the SDK's fixed 5 s does not fail the run; a server that dies or hangs is reported clearly.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { spawnServer } from '../../provision/server-process';
import { classDataArchive, createTimeSkippingEnvironment } from '../../provision/time-skipping';
import type { ServerExecutable } from '../../provision/temporal';
import { quietRuntime } from '../support/temporal';

const dir = mkdtempSync(join(tmpdir(), 'medins-server-start-'));
const script = (name: string, body: string) => {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
};
const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('starting the time-skipping test server on a busy machine', () => {
  const cacheBefore = process.env.MEDINS_CACHE_DIR;
  let real: string;
  beforeAll(() => {
    quietRuntime();
    const server = inject('testServer');
    if (server.kind !== 'path')
      throw new Error(
        'these tests wrap the test server on disk; the global setup found only the SDK download',
      );
    real = server.path;
    // a cache of this test alone, so that the class-data archive is made here
    process.env.MEDINS_CACHE_DIR = join(dir, 'cache');
  });
  afterAll(() => {
    if (cacheBefore === undefined) delete process.env.MEDINS_CACHE_DIR;
    else process.env.MEDINS_CACHE_DIR = cacheBefore;
  });

  it('waits for a server that opens its port after 8 s (past the SDK’s 5 s), skips time on it, and stops it at teardown', async () => {
    const slow: ServerExecutable = {
      kind: 'path',
      source: 'env',
      // slow on its first start only
      path: script(
        'slow-test-server',
        `[ -f "${dir}/started" ] || { touch "${dir}/started"; sleep 8; }\nexec "${real}" "$@"`,
      ),
    };
    const started = Date.now();
    const env = await createTimeSkippingEnvironment({ server: slow });
    const port = Number(env.address.split(':')[1]);
    try {
      expect(Date.now() - started).toBeGreaterThan(8000);
      expect(env.supportsTimeSkipping).toBe(true);
      const before = await env.currentTimeMs();
      await env.sleep(30 * 86_400_000); // a month of server time
      expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(30 * 86_400_000);
    } finally {
      await env.teardown();
    }
    expect(await portOpen(port)).toBe(false);
    // the JVM left its class-data archive at exit, for the next start; a start with it works
    expect(existsSync(classDataArchive(slow.path))).toBe(true);
    const again = await createTimeSkippingEnvironment({ server: slow });
    await again.teardown();
  });

  it('reports a server that exits before answering, with its last output', async () => {
    const broken = script('broken-server', 'echo "Error: could not find or load main class" >&2\nexit 3');
    await expect(
      spawnServer({
        what: 'the test server',
        executable: broken,
        args: (p) => [String(p)],
        readyTimeoutMs: 30_000,
      }),
    ).rejects.toThrow(
      /exited with 3 before answering at 127\.0\.0\.1:\d+.*could not find or load main class/,
    );
  });

  it('stops a server that never answers after the timeout and says how to allow longer', async () => {
    const pidFile = join(dir, 'hung.pid');
    const hung = script('hung-server', `echo $$ > "${pidFile}"\nexec sleep 600`);
    await expect(
      spawnServer({
        what: 'the test server',
        executable: hung,
        args: (p) => [String(p)],
        readyTimeoutMs: 1500,
      }),
    ).rejects.toThrow(/did not answer at 127\.0\.0\.1:\d+ within 2 s.*MEDINS_SERVER_START_TIMEOUT_MS/);
    expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });
});
