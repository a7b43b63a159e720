/**
 * Reading a PDF back in tests: its pages' text by poppler's pdftotext (Debian's poppler-utils, installed on
 * demand as root, like Chromium), one string per page.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installDebianPackages, ProvisioningError, quietLogger, run, which } from '../../infra/support';

async function pdftotext(): Promise<string> {
  const found = which('pdftotext');
  if (found) return found;
  if (process.getuid?.() === 0 && which('apt-get'))
    await installDebianPackages(['poppler-utils'], quietLogger, 'Install poppler-utils yourself.');
  const installed = which('pdftotext');
  if (!installed)
    throw new ProvisioningError(
      'pdftotext is needed to read the PDFs back (Debian: `sudo apt-get install poppler-utils`)',
    );
  return installed;
}

/** The text of each page of `pdf`, in order (pdftotext -layout; pages split at form feeds). */
export async function pdfPages(pdf: Buffer): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'medins-pdf-'));
  try {
    const file = join(dir, 'in.pdf');
    writeFileSync(file, pdf);
    const r = await run(await pdftotext(), ['-layout', '-enc', 'UTF-8', file, '-'], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`pdftotext failed (exit ${r.code}): ${r.stderr}`);
    const pages = r.stdout.split('\f');
    if (pages.at(-1)!.trim() === '') pages.pop();
    return pages;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
