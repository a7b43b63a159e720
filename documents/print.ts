/**
 * Pages made for printing on A4 and their PDF: the PDF is headless Chromium's own print of the page
 * (`--print-to-pdf`), the browser the tests already use (provision/chromium.ts finds or installs it), so the
 * printed document is what a clerk's browser prints. Fonts: Noto CJK (Debian's fonts-noto-cjk), installed
 * with Chromium.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printToPdf, resolveChromium } from '../provision/chromium';
import { escapeHtml } from './html';
import { footerLines, type Filing } from './filing';

/**
 * One HTML page for printing: A4 (landscape or portrait), the title on top, `body` (already escaped HTML).
 * Tables repeat their <thead> on every printed page; an element with class `page` starts a new page.
 */
export function printPage(o: { title: string; landscape: boolean; body: string }): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${escapeHtml(o.title)}</title>
<style>
@page{size:A4 ${o.landscape ? 'landscape' : 'portrait'};margin:10mm 8mm 12mm 8mm}
body{font-family:"Noto Sans CJK SC","Noto Serif CJK SC","Microsoft YaHei",sans-serif;color:#000;margin:0;font-size:9pt}
h1{font-size:14pt;text-align:center;margin:0 0 3mm}
.basis{font-size:8.5pt;margin:0 0 2mm}
table{border-collapse:collapse;width:100%}
th,td{border:0.6pt solid #000;padding:0.6mm 1.2mm;line-height:1.25}
th{font-weight:bold;text-align:center;background:#eee}
td{white-space:nowrap}
thead{display:table-header-group}
tr{break-inside:avoid}
.num{text-align:right}
tr.total td{font-weight:bold}
.footer{display:flex;justify-content:space-between;margin-top:4mm;font-size:9pt;break-inside:avoid;break-before:avoid}
.page{break-before:page}
</style></head><body>
<h1>${escapeHtml(o.title)}</h1>
${o.body}
</body></html>
`;
}

/** The 制表单位/制表人/审核人/日期 lines under a printed table. */
export function footerHtml(filing: Filing): string {
  return `<div class="footer">${footerLines(filing)
    .map((l) => `<span>${escapeHtml(l)}</span>`)
    .join('')}</div>`;
}

/**
 * The PDF of a page, printed by headless Chromium on A4 without the browser's own header and footer.
 * Throws (naming Chromium's exit and last words) when Chromium cannot print, and a ProvisioningError when
 * no Chromium can be found or installed.
 */
export async function htmlToPdf(html: string): Promise<Buffer> {
  const chromium = await resolveChromium();
  const dir = mkdtempSync(join(tmpdir(), 'medins-print-'));
  try {
    const page = join(dir, 'page.html');
    const pdf = join(dir, 'page.pdf');
    writeFileSync(page, html);
    await printToPdf(chromium, page, pdf);
    return readFileSync(pdf);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
