/**
 * Departments that exchange files through folders, as these offices do today: for each department a
 * folder with `inbox/` (what it sends us) and `outbox/` (what we send it), e.g. on a shared drive.
 *   <root>/<department>/inbox/<department>-roster-2023-08-31.xlsx   a certifying department's roster
 *   <root>/tax/outbox/levy-kaiping-batch-7.csv                      levy data we hand the tax bureau
 *   <root>/tax/inbox/tax-results-kaiping-batch-7.csv                its deduction results
 *   <root>/finance/outbox/claim-kaiping-2024-06-30.json             our subsidy claim
 *   <root>/finance/inbox/receipt-kaiping-2024-06-30.txt             finance's receipt number
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { financeJsonClaim, taxCsvFormat } from './formats';
import type { DepartmentPorts, ExchangedFile, FileOnDisk } from './ports';

/** The newest file in `dir` that `match` names, as a path (the tax bureau's files: never read whole). */
function pathIfPresent(dir: string, match: (name: string) => boolean): FileOnDisk | null {
  if (!existsSync(dir)) return null;
  const name = readdirSync(dir).filter(match).sort().at(-1);
  return name ? { fileName: name, path: join(dir, name) } : null;
}

/** The newest file in `dir` that `match` names, read (a department's list, a receipt). */
function readIfPresent(dir: string, match: (name: string) => boolean): ExchangedFile | null {
  const file = pathIfPresent(dir, match);
  return file ? { fileName: file.fileName, bytes: readFileSync(file.path) } : null;
}

/** Copies a file into `dir` under `name` unless one is there (the kernel copies it: not through memory). */
function copyOnce(dir: string, name: string, from: string) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  if (!existsSync(path)) copyFileSync(from, path);
}

function writeOnce(dir: string, name: string, bytes: Buffer) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  if (!existsSync(path)) writeFileSync(path, bytes);
}

export function fileExchangePorts(root: string): DepartmentPorts {
  return {
    certifying: {
      fetchRoster(_jurisdiction, department, period) {
        return Promise.resolve(
          readIfPresent(join(root, department, 'inbox'), (n) =>
            n.startsWith(`${department}-roster-${period}.`),
          ),
        );
      },
      fetchDelta(_jurisdiction, department, month) {
        return Promise.resolve(
          readIfPresent(join(root, department, 'inbox'), (n) =>
            n.startsWith(`${department}-delta-${month}.`),
          ),
        );
      },
    },
    tax: {
      ...taxCsvFormat,
      submitLevy(jurisdiction, batchId, _round, levy) {
        copyOnce(join(root, 'tax', 'outbox'), `levy-${jurisdiction}-batch-${batchId}.csv`, levy.path);
        return Promise.resolve();
      },
      fetchResults(jurisdiction, batchId) {
        return Promise.resolve(
          pathIfPresent(
            join(root, 'tax', 'inbox'),
            (n) => n === `tax-results-${jurisdiction}-batch-${batchId}.csv`,
          ),
        );
      },
    },
    finance: {
      ...financeJsonClaim,
      submitClaim(jurisdiction, dueOn, claim) {
        writeOnce(join(root, 'finance', 'outbox'), `claim-${jurisdiction}-${dueOn}.json`, claim.bytes);
        const receipt = readIfPresent(
          join(root, 'finance', 'inbox'),
          (n) => n === `receipt-${jurisdiction}-${dueOn}.txt`,
        );
        return Promise.resolve(receipt ? receipt.bytes.toString('utf8').trim() : null);
      },
    },
  };
}
