/**
 * The registry import part of `npm run bench`: a 700,000-row roster as UTF-8 CSV and as GBK CSV, and a
 * 100,000-row .xlsx, each imported in a child process (the worker's shape), with rows/s and the importing
 * process's peak RSS. Target (issue #5): >= 100,000 rows/s validated and merged for CSV.
 */
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import pg from 'pg';

const exec = promisify(execFile);
const ROSTER_ROWS = 700_000;
const XLSX_ROWS = 100_000;
const HEADER = ['序号', '姓名', '性别', '身份证号码', '户籍地址', '联系电话', '特殊群体类别'];

export interface ImportFigure {
  step: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  maxRssMiB?: number;
  bytes?: number;
  /** The import's own steps (supersede, parse and COPY, judge, merge, commit), in seconds. */
  steps?: { step: string; seconds: number }[];
}

async function rosterRows(pool: pg.Pool, count: number): Promise<string[][]> {
  // two passes over the residents if need be: the same person under a second category is no duplicate
  const r = await pool.query<{
    name: string;
    sex: string;
    id_number: string;
    hukou_address: string;
    phone: string;
    n: string;
  }>(
    `SELECT name, sex, id_number, hukou_address, phone, row_number() OVER (ORDER BY id) AS n FROM residents ORDER BY id`,
  );
  const rows: string[][] = [];
  const categories = ['1', '2', '3', '6'];
  for (let pass = 0; rows.length < count; pass += 1) {
    for (const p of r.rows) {
      if (rows.length >= count) break;
      rows.push([
        String(rows.length + 1),
        p.name,
        p.sex === 'F' ? '女' : '男',
        p.id_number,
        p.hukou_address,
        p.phone,
        categories[(Number(p.n) + pass) % 4]!,
      ]);
    }
  }
  return rows;
}

async function importInChild(
  url: string,
  file: string,
  period: string,
  exchangeDir: string,
): Promise<{ rows: number; seconds: number; maxRssMiB: number; steps: { step: string; ms: number }[] }> {
  const { stdout } = await exec(
    process.execPath,
    ['--import', 'tsx', 'bench/import-child.ts', url, file, 'civil-affairs', period, exchangeDir],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    rows: number;
    seconds: number;
    maxRssMiB: number;
    steps: { step: string; ms: number }[];
  };
}

/**
 * Imports a 700,000-row roster (UTF-8 CSV, then GBK CSV superseding it) and a 100,000-row .xlsx into the
 * database at `url`, which holds a generated population; each import in a child process.
 */
export async function importBench(url: string, work: string): Promise<ImportFigure[]> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const figures: ImportFigure[] = [];
  const say = (f: ImportFigure) => {
    figures.push(f);
    process.stdout.write(
      `  ${f.step.padEnd(42)} ${String(f.rows).padStart(8)} rows ${f.seconds.toFixed(2).padStart(7)} s ${Math.round(f.rowsPerSecond).toString().padStart(8)} rows/s` +
        (f.maxRssMiB ? `  peak RSS ${f.maxRssMiB.toFixed(0)} MiB` : '') +
        (f.bytes ? `  ${(f.bytes / 1048576).toFixed(1)} MiB file` : '') +
        '\n',
    );
  };
  try {
    const rows = await rosterRows(pool, ROSTER_ROWS);
    const text = [HEADER, ...rows].map((r) => r.join(',')).join('\r\n') + '\r\n';
    const utf8 = join(work, 'roster-utf8.csv');
    writeFileSync(utf8, text, 'utf8');
    const gbk = join(work, 'roster-gbk.csv');
    writeFileSync(gbk, iconv.encode(text, 'gbk'));
    const book = new ExcelJS.stream.xlsx.WorkbookWriter({
      filename: join(work, 'roster.xlsx'),
      useSharedStrings: false,
      useStyles: false,
    });
    const sheet = book.addWorksheet('名单');
    sheet.addRow(HEADER).commit();
    for (const r of rows.slice(0, XLSX_ROWS)) sheet.addRow(r).commit();
    sheet.commit();
    await book.commit();

    const exchangeDir = join(work, 'exchange');
    for (const [step, file, period] of [
      ['roster import, UTF-8 CSV', utf8, '2023-08-31'],
      ['roster import, GBK CSV (supersedes)', gbk, '2023-08-31'],
      ['roster import, .xlsx', join(work, 'roster.xlsx'), '2023-08-30'],
    ] as const) {
      const r = await importInChild(url, file, period, exchangeDir);
      say({
        step,
        rows: r.rows,
        seconds: r.seconds,
        rowsPerSecond: r.rows / r.seconds,
        maxRssMiB: r.maxRssMiB,
        bytes: statSync(file).size,
        steps: r.steps.map((x) => ({ step: x.step.trim(), seconds: x.ms / 1000 })),
      });
      for (const x of r.steps)
        process.stdout.write(`      ${x.step.padEnd(48)} ${(x.ms / 1000).toFixed(2).padStart(7)} s\n`);
    }
    return figures;
  } finally {
    await pool.end();
  }
}
