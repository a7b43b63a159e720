/**
 * The wire formats today's departments use, each owned here and nowhere else; an adapter with its own
 * format brings its own (see worker/departments.ts for how a role's adapter is chosen):
 * - `taxCsvFormat`: the levy file as UTF-8 CSV with the tax bureau's Chinese headers (身份证号码, 姓名,
 *   应缴金额（分）, 银行账号, 流水号), and its result file as CSV `enrollment_id,outcome,failure_code`;
 * - `financeJsonClaim`: the subsidy claim as a JSON array of the claim's totals.
 */
import { createReadStream } from 'node:fs';
import { forEachPieceOf } from '../ledger/exchange-store';
import { CsvRowParser, type RawRow } from '../lists/list-files';
import type {
  DeductionResult,
  ExchangedFile,
  FileOnDisk,
  FinancePort,
  SubsidyClaimTotal,
  TaxPort,
} from './ports';

/**
 * Lines of the text file at `path` less its header line, blank lines (nothing but a CR before the newline)
 * not counted, over the bytes in pieces (1 MiB unless `pieceBytes` says): the file is never held in memory,
 * nor split into strings.
 */
export async function csvDataLinesOfFile(path: string, pieceBytes?: number): Promise<number> {
  const NL = 0x0a;
  const CR = 0x0d;
  const hasText = (bytes: Buffer, from: number, to: number) => {
    for (let i = from; i < to; i += 1) if (bytes[i] !== CR) return true;
    return false;
  };
  let lines = 0;
  let open = false; // the line being read, begun in an earlier piece, has text
  await forEachPieceOf(
    path,
    (bytes) => {
      let from = 0;
      for (let at = bytes.indexOf(NL, from); at !== -1; at = bytes.indexOf(NL, from)) {
        if (open || hasText(bytes, from, at)) lines += 1;
        open = false;
        from = at + 1;
      }
      open ||= hasText(bytes, from, bytes.length);
    },
    pieceBytes,
  );
  if (open) lines += 1;
  return Math.max(0, lines - 1);
}

/**
 * A CSV file's records after the header, as arrays of cells, chunk by chunk (the file is streamed, never
 * held in memory). Quoting follows RFC 4180 (our strict CSV parser, lists/list-files.ts).
 */
export async function* csvRecordsAfterHeader(path: string): AsyncGenerator<string[][]> {
  const parser = new CsvRowParser();
  const decoder = new TextDecoder('utf-8');
  let header = true;
  const records = (rows: RawRow[]): string[][] => {
    const out: string[][] = [];
    for (const r of rows) {
      if (header) {
        header = false;
        continue;
      }
      out.push(r.cells);
    }
    return out;
  };
  for await (const chunk of createReadStream(path)) {
    const rows: RawRow[] = [];
    parser.push(decoder.decode(chunk as Buffer, { stream: true }), rows);
    const out = records(rows);
    if (out.length) yield out;
  }
  const rows: RawRow[] = [];
  const rest = decoder.decode();
  if (rest) parser.push(rest, rows);
  parser.end(rows);
  const out = records(rows);
  if (out.length) yield out;
}

/**
 * The tax bureau's files as they are exchanged today. Results: the header and blank lines are skipped,
 * any further columns ignored, an outcome other than `success` is a failure (with code `unknown` when the
 * bureau gave none).
 */
export const taxCsvFormat: Pick<TaxPort, 'levyFile' | 'countResults' | 'readResults'> = {
  levyFile(jurisdiction, batchId) {
    return {
      fileName: `levy-${jurisdiction}-batch-${batchId}.csv`,
      columns: [
        { field: 'idNumber', header: '身份证号码' },
        { field: 'name', header: '姓名' },
        { field: 'amountFen', header: '应缴金额（分）' },
        { field: 'bankAccount', header: '银行账号' },
        { field: 'enrollmentId', header: '流水号' },
      ],
    };
  },
  countResults(file: FileOnDisk) {
    return csvDataLinesOfFile(file.path);
  },
  async *readResults(path: string): AsyncGenerator<DeductionResult[]> {
    for await (const records of csvRecordsAfterHeader(path)) {
      const results: DeductionResult[] = [];
      for (const cells of records) {
        if (cells.length < 2 || cells[0] === '') continue;
        const success = cells[1] === 'success';
        results.push({
          enrollmentId: cells[0]!.trim(),
          outcome: success ? 'success' : 'failure',
          failureCode: success ? null : cells[2] || 'unknown',
        });
      }
      if (results.length) yield results;
    }
  },
};

/** Finance's claim file: the claim's totals per fund and department, as JSON. */
export const financeJsonClaim: Pick<FinancePort, 'claimFile'> = {
  claimFile(jurisdiction: string, dueOn: string, claims: SubsidyClaimTotal[]): ExchangedFile {
    return { fileName: `claim-${jurisdiction}-${dueOn}.json`, bytes: Buffer.from(JSON.stringify(claims)) };
  },
};
