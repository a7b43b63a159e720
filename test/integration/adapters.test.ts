import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileExchangePorts } from '../../departments/file-exchange';
import { httpPorts } from '../../departments/http';

const file = (name: string, text: string) => ({ fileName: name, bytes: Buffer.from(text, 'utf8') });
/** A levy file as the worker hands it over: on disk, in the exchange store. */
const onDisk = (name: string, text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'medins-levy-')), name);
  writeFileSync(path, text);
  return { fileName: name, path };
};

describe('departments that exchange files through inbox and outbox folders', () => {
  const root = mkdtempSync(join(tmpdir(), 'medins-folders-'));
  const ports = fileExchangePorts(root);

  it('a roster is there once the department has put it in its inbox', async () => {
    expect(await ports.certifying.fetchRoster('kaiping', 'civil-affairs', '2023-08-31')).toBeNull();
    mkdirSync(join(root, 'civil-affairs', 'inbox'), { recursive: true });
    writeFileSync(
      join(root, 'civil-affairs', 'inbox', 'civil-affairs-roster-2023-08-31.csv'),
      '姓名,身份证号码\r\n',
    );
    const roster = await ports.certifying.fetchRoster('kaiping', 'civil-affairs', '2023-08-31');
    expect(roster?.fileName).toBe('civil-affairs-roster-2023-08-31.csv');
    expect(roster?.bytes.toString('utf8')).toBe('姓名,身份证号码\r\n');
  });

  it('levy data goes to the tax outbox once, and its results are read from the tax inbox when they come', async () => {
    await ports.tax.submitLevy('kaiping', 7, 1, onDisk('levy.csv', 'a'));
    await ports.tax.submitLevy('kaiping', 7, 1, onDisk('levy.csv', 'b'));
    expect(readdirSync(join(root, 'tax', 'outbox'))).toEqual(['levy-kaiping-batch-7.csv']);
    expect(readFileSync(join(root, 'tax', 'outbox', 'levy-kaiping-batch-7.csv'), 'utf8')).toBe('a');
    expect(await ports.tax.fetchResults('kaiping', 7)).toBeNull();
    mkdirSync(join(root, 'tax', 'inbox'), { recursive: true });
    writeFileSync(
      join(root, 'tax', 'inbox', 'tax-results-kaiping-batch-7.csv'),
      'enrollment_id,outcome,failure_code\n1,success,\n',
    );
    const results = await ports.tax.fetchResults('kaiping', 7);
    expect(readFileSync(results!.path, 'utf8')).toContain('1,success');
    expect(await ports.tax.countResults(results!)).toBe(1);
  });

  it('a claim has no receipt until finance files one', async () => {
    expect(await ports.finance.submitClaim('kaiping', '2024-06-30', file('claim.json', '[]'))).toBeNull();
    mkdirSync(join(root, 'finance', 'inbox'), { recursive: true });
    writeFileSync(join(root, 'finance', 'inbox', 'receipt-kaiping-2024-06-30.txt'), 'KP-2024-0001\n');
    expect(await ports.finance.submitClaim('kaiping', '2024-06-30', file('claim.json', '[]'))).toBe(
      'KP-2024-0001',
    );
  });
});

describe('departments behind an HTTP JSON API', () => {
  let server: Server;
  let base = '';
  const levyAnswers: number[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '';
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      if (url === '/rosters/kaiping/civil-affairs/2023-08-31')
        return send(200, {
          fileName: 'roster.csv',
          contentBase64: Buffer.from('姓名\r\n').toString('base64'),
        });
      if (url.startsWith('/rosters/')) return send(404);
      if (url.startsWith('/levies/')) return send(levyAnswers.shift() ?? 200, {});
      if (url === '/results/kaiping/9')
        return send(200, { fileName: 'r.csv', contentBase64: Buffer.from('x').toString('base64') });
      if (url === '/results/kaiping/10') return send(200, { unexpected: true });
      if (url === '/results/kaiping/11') return; // never answers
      if (url.startsWith('/results/')) return send(404);
      if (url === '/claims/kaiping/2024-06-30') return send(200, { receipt: 'CZ-1' });
      if (url.startsWith('/claims/')) return send(202, {});
      return send(404);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const ports = () => httpPorts({ certifying: base, tax: base, finance: base, timeoutMs: 300 });
  const failureOf = async (p: Promise<unknown>) => {
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    return error as ApplicationFailure;
  };

  it('a roster arrives decoded, Chinese intact; one not sent yet is null', async () => {
    expect(
      (await ports().certifying.fetchRoster('kaiping', 'civil-affairs', '2023-08-31'))?.bytes.toString(
        'utf8',
      ),
    ).toBe('姓名\r\n');
    expect(await ports().certifying.fetchRoster('kaiping', 'health', '2023-08-31')).toBeNull();
  });

  it('a 5xx from the tax bureau is retried; a 4xx is a rejection an operator must see', async () => {
    levyAnswers.push(503, 400);
    const outage = await failureOf(ports().tax.submitLevy('kaiping', 1, 1, onDisk('levy.csv', 'a')));
    expect([outage.type, outage.nonRetryable]).toEqual(['DepartmentUnavailable', false]);
    const refusal = await failureOf(ports().tax.submitLevy('kaiping', 1, 1, onDisk('levy.csv', 'a')));
    expect([refusal.type, refusal.nonRetryable]).toEqual(['DepartmentRejected', true]);
    await expect(ports().tax.submitLevy('kaiping', 1, 1, onDisk('levy.csv', 'a'))).resolves.toBeUndefined();
  });

  it('results that are not ready are null, a malformed answer or a timeout is retried', async () => {
    expect(await ports().tax.fetchResults('kaiping', 8)).toBeNull();
    const results = await ports().tax.fetchResults('kaiping', 9);
    expect([results?.fileName, readFileSync(results!.path, 'utf8'), results?.temporary]).toEqual([
      'r.csv',
      'x',
      true,
    ]);
    expect((await failureOf(ports().tax.fetchResults('kaiping', 10))).message).toMatch(/malformed answer/);
    expect((await failureOf(ports().tax.fetchResults('kaiping', 11))).type).toBe('DepartmentUnavailable');
  });

  it('finance answers a claim with a receipt, or accepts it for later', async () => {
    expect(await ports().finance.submitClaim('kaiping', '2024-06-30', file('c.json', '[]'))).toBe('CZ-1');
    expect(await ports().finance.submitClaim('kaiping', '2023-12-20', file('c.json', '[]'))).toBeNull();
  });
});

describe('simulated departments with latency', () => {
  it('every answer waits the configured latency', async () => {
    const { simulatedPorts } = await import('../../departments/simulated');
    const ports = simulatedPorts({} as never, {
      seed: 1,
      populationDirs: {},
      systemicFailureRate: 0,
      topUpRate: 0,
      missingDepartments: [],
      exchangeDir: tmpdir(),
      latencyMs: 120,
    });
    const started = Date.now();
    expect(await ports.certifying.fetchRoster('kaiping', 'health', '2023-08-31')).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });
});
