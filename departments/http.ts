/**
 * Departments behind a JSON API. Files travel base64-encoded in `{ fileName, contentBase64 }`.
 *   GET  {certifying}/rosters/:jurisdiction/:department/:period   200 file | 404 not sent yet
 *   POST {tax}/levies/:jurisdiction/:batchId                      { round, fileName, contentBase64 }
 *   GET  {tax}/results/:jurisdiction/:batchId                     200 file | 404 not ready
 *   POST {finance}/claims/:jurisdiction/:dueOn                    200 { receipt } | 202 accepted, no receipt yet
 * 5xx, timeouts and refused connections are retryable; any other 4xx is a rejection for an operator.
 * Bodies are checked with zod: a department's malformed answer is an error, not data.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { financeJsonClaim, taxCsvFormat } from './formats';
import {
  rejected,
  scratchFileOnDisk,
  unavailable,
  type DepartmentPorts,
  type ExchangedFile,
  type FileOnDisk,
} from './ports';

const FileBody = z.object({ fileName: z.string().min(1), contentBase64: z.string() });
const ReceiptBody = z.object({ receipt: z.string().min(1) });

export interface HttpEndpoints {
  certifying: string;
  tax: string;
  finance: string;
  timeoutMs?: number;
}

export function httpPorts(endpoints: HttpEndpoints, fetchImpl: typeof fetch = fetch): DepartmentPorts {
  const timeout = endpoints.timeoutMs ?? 30_000;
  async function call(what: string, url: string, init: RequestInit = {}): Promise<Response | null> {
    let response: Response;
    try {
      response = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeout) });
    } catch (error) {
      throw unavailable(what, error instanceof Error ? error.message : String(error));
    }
    if (response.status === 404) return null;
    if (response.status >= 500) throw unavailable(what, `HTTP ${response.status}`);
    if (response.status >= 400)
      throw rejected(what, `HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
    return response;
  }
  const asFile = async (what: string, response: Response | null): Promise<ExchangedFile | null> => {
    if (!response) return null;
    const parsed = FileBody.safeParse(await response.json());
    if (!parsed.success)
      throw unavailable(what, `malformed answer: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return { fileName: parsed.data.fileName, bytes: Buffer.from(parsed.data.contentBase64, 'base64') };
  };
  /**
   * A result file, written to a scratch file the exchange store then moves in (`temporary`). A JSON body
   * with base64 content is read whole: this API holds one file in memory on receipt and on sending, which
   * the folder and simulated adapters do not (issue #23); a bureau answering at a big city's scale would
   * need a streamed body.
   */
  const asFileOnDisk = async (what: string, response: Response | null): Promise<FileOnDisk | null> => {
    const file = await asFile(what, response);
    return file ? scratchFileOnDisk(file.fileName, file.bytes) : null;
  };
  const post = (body: unknown): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

  return {
    certifying: {
      async fetchRoster(jurisdiction, department, period) {
        const what = `roster of ${department} as of ${period}`;
        return asFile(
          what,
          await call(what, `${endpoints.certifying}/rosters/${jurisdiction}/${department}/${period}`),
        );
      },
      async fetchDelta(jurisdiction, department, month) {
        const what = `delta of ${department} for ${month}`;
        return asFile(
          what,
          await call(what, `${endpoints.certifying}/deltas/${jurisdiction}/${department}/${month}`),
        );
      },
    },
    tax: {
      ...taxCsvFormat,
      async submitLevy(jurisdiction, batchId, round, levy) {
        await call(
          `levy batch ${batchId}`,
          `${endpoints.tax}/levies/${jurisdiction}/${batchId}`,
          post({
            round,
            fileName: levy.fileName,
            contentBase64: (await readFile(levy.path)).toString('base64'),
          }),
        );
      },
      async fetchResults(jurisdiction, batchId) {
        const what = `results of levy batch ${batchId}`;
        return asFileOnDisk(what, await call(what, `${endpoints.tax}/results/${jurisdiction}/${batchId}`));
      },
    },
    finance: {
      ...financeJsonClaim,
      async submitClaim(jurisdiction, dueOn, claim) {
        const what = `subsidy claim due ${dueOn}`;
        const response = await call(
          what,
          `${endpoints.finance}/claims/${jurisdiction}/${dueOn}`,
          post({ fileName: claim.fileName, contentBase64: claim.bytes.toString('base64') }),
        );
        if (!response || response.status === 202) return null;
        const parsed = ReceiptBody.safeParse(await response.json());
        if (!parsed.success) throw unavailable(what, 'malformed receipt');
        return parsed.data.receipt;
      },
    },
  };
}
