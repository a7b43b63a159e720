/**
 * Headless Chromium, to check the HTML reports render as an operator's browser shows them: CHROMIUM_PATH,
 * else chromium / chromium-browser / google-chrome on PATH, else (as root with apt-get) Debian's chromium
 * package is installed, else a ProvisioningError says what to install.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  cacheRoot,
  installDebianPackages,
  ProvisioningError,
  quietLogger,
  run,
  which,
  withLock,
  type Logger,
} from '../infra/support';
import { settings } from '../config/settings';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function findChromium(): string | undefined {
  const given = settings().CHROMIUM_PATH;
  if (given) return given;
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
      log('headless Chromium is missing');
      await installDebianPackages(
        ['chromium', 'fonts-noto-cjk'],
        log,
        'Install Chromium yourself or set CHROMIUM_PATH.',
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

/** Runs headless Chromium on a page with a throwaway profile, its virtual clock given 5 s for scripts. */
async function runChromium(chromium: string, htmlFile: string, args: string[]) {
  const profile = mkdtempSync(join(tmpdir(), 'medins-chromium-'));
  try {
    return await run(
      chromium,
      [
        ...BASE_ARGS,
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=5000',
        ...args,
        pathToFileURL(htmlFile).href,
      ],
      { timeoutMs: 120_000 },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's DOM after its scripts ran, as Chromium serialises it. */
export async function renderedDom(chromium: string, htmlFile: string): Promise<string> {
  const r = await runChromium(chromium, htmlFile, ['--dump-dom']);
  if (r.code !== 0 || !r.stdout.includes('<html'))
    throw new Error(`chromium could not render ${htmlFile} (exit ${r.code}): ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** A PNG screenshot of the page. */
export async function screenshot(chromium: string, htmlFile: string, pngFile: string): Promise<void> {
  const r = await runChromium(chromium, htmlFile, ['--window-size=1400,1200', `--screenshot=${pngFile}`]);
  if (r.code !== 0)
    throw new Error(`chromium could not take a screenshot of ${htmlFile}: ${r.stderr.slice(-500)}`);
}

/**
 * Prints the page to a PDF as the browser prints it (the page's own @page size and margins; no date, URL or
 * page-number header that Chromium adds by default). Throws when Chromium fails or writes no PDF.
 */
export async function printToPdf(chromium: string, htmlFile: string, pdfFile: string): Promise<void> {
  const r = await runChromium(chromium, htmlFile, [
    `--print-to-pdf=${pdfFile}`,
    '--no-pdf-header-footer',
    '--run-all-compositor-stages-before-draw',
  ]);
  if (r.code !== 0 || !existsSync(pdfFile))
    throw new Error(`chromium could not print ${htmlFile} to PDF (exit ${r.code}): ${r.stderr.slice(-500)}`);
}
