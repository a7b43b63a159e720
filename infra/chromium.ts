/**
 * Headless Chromium, to check the HTML reports render as an operator's browser shows them: CHROMIUM_PATH,
 * else chromium / chromium-browser / google-chrome on PATH, else (as root with apt-get) Debian's chromium
 * package is installed, else a ProvisioningError says what to install.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProvisioningError, quietLogger, run, which, withLock, cacheRoot, type Logger } from './support';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of NAMES) {
    const path = which(name);
    if (path) return path;
  }
  return undefined;
}

export async function resolveChromium(log: Logger = quietLogger): Promise<string> {
  const found = findChromium();
  if (found) return found;
  if (process.getuid?.() === 0 && which('apt-get')) {
    await withLock(join(cacheRoot(), 'locks', 'chromium'), async () => {
      if (findChromium()) return;
      log("headless Chromium is missing: installing Debian's chromium package (apt-get)");
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = await run('apt-get', ['update'], { env, timeoutMs: 10 * 60_000 });
      const install = await run(
        'apt-get',
        ['install', '-y', '--no-install-recommends', 'chromium', 'fonts-noto-cjk'],
        { env, timeoutMs: 20 * 60_000 },
      );
      if (update.code !== 0 || install.code !== 0)
        throw new ProvisioningError(
          `Installing Debian's chromium package failed (apt-get update exit ${update.code}, install exit ${install.code}): ${install.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        );
    });
    const installed = findChromium();
    if (installed) return installed;
  }
  throw new ProvisioningError(
    'Headless Chromium is needed to check the HTML reports and none was found (CHROMIUM_PATH, or chromium, ' +
      'chromium-browser or google-chrome on PATH). Install it (Debian: `sudo apt-get install chromium ' +
      'fonts-noto-cjk`) or set CHROMIUM_PATH.',
  );
}

const BASE_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
];

/** The page's DOM after its scripts ran, as Chromium serialises it. */
export async function renderedDom(chromium: string, htmlFile: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'medins-chromium-'));
  try {
    const r = await run(
      chromium,
      [
        ...BASE_ARGS,
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=5000',
        '--dump-dom',
        pathToFileURL(htmlFile).href,
      ],
      { timeoutMs: 120_000 },
    );
    if (r.code !== 0 || !r.stdout.includes('<html'))
      throw new Error(`chromium could not render ${htmlFile} (exit ${r.code}): ${r.stderr.slice(-500)}`);
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** A PNG screenshot of the page. */
export async function screenshot(chromium: string, htmlFile: string, pngFile: string): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'medins-chromium-'));
  try {
    const r = await run(
      chromium,
      [
        ...BASE_ARGS,
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=5000',
        '--window-size=1400,1200',
        `--screenshot=${pngFile}`,
        pathToFileURL(htmlFile).href,
      ],
      { timeoutMs: 120_000 },
    );
    if (r.code !== 0)
      throw new Error(`chromium could not take a screenshot of ${htmlFile}: ${r.stderr.slice(-500)}`);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
