/**
 * A "real" tax bureau adapter written the way a new one would be: against the tax port only
 * (departments/ports.ts), owning its transport and both file formats, and registered in the
 * composition root (worker/departments.ts) under its own kind. Its bureau speaks:
 *   PUT {base}/batches/:jurisdiction/:batchId   body: the levy file, tab-separated, headers
 *                                               serial, id_number, account, amount_fen; header X-Round
 *   GET {base}/batches/:jurisdiction/:batchId/result
 *                                               200 {"batch": n, "lines": [{"serial", "status", "reason"?}]}
 *                                               204 not ready yet
 * where `status` is DEDUCTED or REFUSED and `reason` the bureau's own code (E01 余额不足, E02 账户异常,
 * E09 银行系统故障), translated here to the plans' codes. 5xx and refused connections are retried; any
 * other 4xx is a rejection an operator must see.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  rejected,
  scratchFileOnDisk,
  unavailable,
  type DeductionResult,
  type FileOnDisk,
  type TaxPort,
} from '../../../departments/ports';

const ResultFile = z.object({
  batch: z.number().int(),
  lines: z.array(
    z.object({
      serial: z.string().min(1),
      status: z.enum(['DEDUCTED', 'REFUSED']),
      reason: z.string().optional(),
    }),
  ),
});

/** The bureau's refusal codes in the plans' words (000 五(四)(2): personal or not). */
const REASONS: Record<string, string> = {
  E01: 'insufficient-balance',
  E02: 'abnormal-account',
  E09: 'bank-system-error',
};

export function tabJsonTaxBureau(base: string, fetchImpl: typeof fetch = fetch): TaxPort {
  async function call(what: string, url: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw unavailable(what, error instanceof Error ? error.message : String(error));
    }
    if (response.status >= 500) throw unavailable(what, `HTTP ${response.status}`);
    if (response.status >= 400) throw rejected(what, `HTTP ${response.status}`);
    return response;
  }
  return {
    levyFile(jurisdiction, batchId) {
      return {
        fileName: `${jurisdiction}-${batchId}.tsv`,
        delimiter: '\t',
        columns: [
          { field: 'enrollmentId', header: 'serial' },
          { field: 'idNumber', header: 'id_number' },
          { field: 'bankAccount', header: 'account' },
          { field: 'amountFen', header: 'amount_fen' },
        ],
      };
    },
    async submitLevy(jurisdiction, batchId, round, levy) {
      await call(`levy batch ${batchId}`, `${base}/batches/${jurisdiction}/${batchId}`, {
        method: 'PUT',
        headers: { 'content-type': 'text/tab-separated-values; charset=utf-8', 'x-round': String(round) },
        body: await readFile(levy.path),
      });
    },
    async fetchResults(jurisdiction, batchId) {
      const what = `results of levy batch ${batchId}`;
      const response = await call(what, `${base}/batches/${jurisdiction}/${batchId}/result`);
      if (response.status === 204) return null;
      const bytes = Buffer.from(await response.arrayBuffer());
      const parsed = ResultFile.safeParse(JSON.parse(bytes.toString('utf8')));
      if (!parsed.success) throw unavailable(what, 'malformed result file');
      // kept on disk, as the port takes every result file; the exchange store moves the scratch copy in
      return scratchFileOnDisk(`${jurisdiction}-${batchId}-result.json`, bytes);
    },
    async countResults(file: FileOnDisk) {
      return ResultFile.parse(JSON.parse(await readFile(file.path, 'utf8'))).lines.length;
    },
    async *readResults(path: string): AsyncGenerator<DeductionResult[]> {
      // a JSON document is read whole: this bureau's batches are small enough (a real one would stream)
      const file = ResultFile.parse(JSON.parse(await readFile(path, 'utf8')));
      yield file.lines.map((l) => ({
        enrollmentId: l.serial,
        outcome: l.status === 'DEDUCTED' ? ('success' as const) : ('failure' as const),
        failureCode: l.status === 'DEDUCTED' ? null : (REASONS[l.reason ?? ''] ?? 'unknown'),
      }));
    },
  };
}
