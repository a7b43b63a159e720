/**
 * The registry import part of `npm run bench`: a 700,000-row roster as UTF-8 CSV and as GBK CSV, and the
 * same 700,000 rows as .xlsx, each imported in a child process (the worker's shape), with rows/s and the
 * importing process's peak RSS; and the import's floor, a bare COPY of the same CSV into a plain table.
 * The .xlsx goes into a database copy of its own in the state the UTF-8 CSV met (no roster yet), so both
 * read, judge and open the same 700,000 identities (issue #23: like for like).
 * Beside the bare COPY, the UTF-8 import's write floor: the submission rows and identities that import wrote,
 * COPYed into empty tables of the same shape (indexes, CHECKs; no triggers), so the report says how much of
 * the gap to the bare COPY is rows the import must write and how much is its own work.
 * Targets: >= 100,000 rows/s for CSV (issue #5); .xlsx >= 0.5 x the UTF-8 CSV's rate, the UTF-8 CSV >= 0.5 x
 * the bare COPY's rate, importing process peak RSS <= 512 MiB (issue #23).
 */
import { execFile } from 'node:child_process';
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyRows, createFloorTable, exportRows } from './write-floor';

const exec = promisify(execFile);
const ROSTER_ROWS = 700_000;
/** The figure of the UTF-8 import's write floor (its own rows COPYed into tables of the same shape). */
export const WRITE_FLOOR_STEP =
  "the UTF-8 import's rows COPYed into tables of the same shape (its write floor)";
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

/** The bare COPY of a CSV file (header skipped) into a plain table of text columns: the import's floor. */
async function bareCopy(pool: pg.Pool, file: string): Promise<{ rows: number; seconds: number }> {
  const c = await pool.connect();
  try {
    await c.query(
      `CREATE TABLE bench_bare_roster (seq text, name text, sex text, id_number text, address text, phone text, category text)`,
    );
    const t = performance.now();
    const copy = c.query(copyFrom(`COPY bench_bare_roster FROM STDIN WITH (FORMAT csv, HEADER true)`));
    await pipeline(createReadStream(file), copy);
    const seconds = (performance.now() - t) / 1000;
    await c.query(`DROP TABLE bench_bare_roster`);
    return { rows: copy.rowCount, seconds };
  } finally {
    c.release();
  }
}

/**
 * The write floor of the roster import just made (the newest submission): its submission rows and the
 * identities it opened, exported (untimed) and COPYed, timed, into empty tables of the same shape
 * (`LIKE ... INCLUDING ALL`: columns, CHECKs, primary keys and indexes; no triggers, so no reference checks).
 * Returns the rows written and the seconds the two COPYs took.
 */
async function importWriteFloor(pool: pg.Pool, work: string): Promise<{ rows: number; seconds: number }> {
  const c = await pool.connect();
  const tables: string[] = [];
  try {
    const s = await c.query<{ id: string }>(`SELECT max(id)::text AS id FROM submissions`);
    const submission = Number(s.rows[0]!.id);
    const sources = [
      ['submission_rows', `SELECT * FROM submission_rows WHERE submission_id = ${submission}`],
      ['identities', `SELECT * FROM identities WHERE opened_by_submission = ${submission}`],
    ] as const;
    for (const [table, select] of sources) {
      await createFloorTable(c, table, `bench_floor_${table}`);
      tables.push(`bench_floor_${table}`);
      await exportRows(c, select, join(work, `floor-${table}.copy`));
    }
    let rows = 0;
    const t = performance.now();
    for (const [table] of sources)
      rows += await copyRows(c, `bench_floor_${table}`, join(work, `floor-${table}.copy`));
    return { rows, seconds: (performance.now() - t) / 1000 };
  } finally {
    for (const t of tables) await c.query(`DROP TABLE IF EXISTS ${t}`);
    c.release();
  }
}

/**
 * Imports a 700,000-row roster (UTF-8 CSV, then GBK CSV superseding it) into the database at `url`, and the
 * same rows as .xlsx into the database at `xlsxUrl` (a second copy of the same population); each import in
 * a child process. Before them, the bare COPY of the UTF-8 CSV into a plain table at `url`.
 */
export async function importBench(url: string, xlsxUrl: string, work: string): Promise<ImportFigure[]> {
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
    // shared strings, as Excel writes a workbook (a 700,000-row list's table is tens of MB of XML)
    const book = new ExcelJS.stream.xlsx.WorkbookWriter({
      filename: join(work, 'roster.xlsx'),
      useSharedStrings: true,
      useStyles: false,
    });
    const sheet = book.addWorksheet('名单');
    sheet.addRow(HEADER).commit();
    for (const r of rows) sheet.addRow(r).commit();
    sheet.commit();
    await book.commit();

    const bare = await bareCopy(pool, utf8);
    say({
      step: 'bare COPY of the UTF-8 CSV (the floor)',
      rows: bare.rows,
      seconds: bare.seconds,
      rowsPerSecond: bare.rows / bare.seconds,
      bytes: statSync(utf8).size,
    });
    const exchangeDir = join(work, 'exchange');
    for (const [step, file, period, into] of [
      ['roster import, UTF-8 CSV', utf8, '2023-08-31', url],
      ['roster import, GBK CSV (supersedes)', gbk, '2023-08-31', url],
      ['roster import, .xlsx (same rows)', join(work, 'roster.xlsx'), '2023-08-31', xlsxUrl],
    ] as const) {
      const r = await importInChild(into, file, period, exchangeDir);
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
      if (step === 'roster import, UTF-8 CSV') {
        const floor = await importWriteFloor(pool, work);
        say({
          step: WRITE_FLOOR_STEP,
          // per roster row, like the imports' rates (each roster row writes a submission row and, here, an
          // identity: floor.rows table rows in all)
          rows: r.rows,
          seconds: floor.seconds,
          rowsPerSecond: r.rows / floor.seconds,
        });
      }
    }
    return figures;
  } finally {
    await pool.end();
  }
}
