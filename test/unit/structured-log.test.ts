/**
 * PIPL: the structured (pino) log of the worker, the rehearsal and the console writes one JSON object a
 * line, and no national ID or bank account number reaches it: not in the message, not in the merged
 * object, not in an error's message, stack or cause.
 */
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';
import { RedactingLogger } from '../../infra/redacting-logger';
import { createLogger, PinoSdkLogger, redactingPinoOptions } from '../../infra/structured-log';

const idNumber = makeIdNumber('440783', '1966-02-10', 2);
const account = '6217000011112222333';

/** A stream that keeps every line written to it. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('structured logs keep personal data out', () => {
  it('a pino line masks the ID number and the account in the message, the object and an error with its cause', () => {
    const { lines, stream } = capture();
    const log = createLogger('medins-test', 'info', stream);
    const cause = new Error(`no household has a head with ID ${idNumber}`);
    log.warn(
      { idNumber, payee: { account }, err: new Error(`deduction refused for ${account}`, { cause }) },
      `person ${idNumber} skipped`,
    );
    log.info(`account ${account} of ${idNumber}`);
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      level: 40,
      name: 'medins-test',
      msg: `person ${idNumber.slice(0, 6)}********${idNumber.slice(-4)} skipped`,
    });
    expect(lines[0]).toContain('621700*********2333');
    expect(lines[0]).toContain('no household has a head with ID 440783');
    for (const line of lines) {
      expect(line).not.toContain(idNumber);
      expect(line).not.toContain(account);
    }
  });

  it('the Temporal SDK’s log (an activity failing) goes through pino masked', () => {
    const { lines, stream } = capture();
    const sdk = new RedactingLogger(new PinoSdkLogger(createLogger('medins-worker', 'info', stream)));
    sdk.warn('Activity failed', { activityType: 'importRoster', error: new Error(`bad row: ${idNumber}`) });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 40,
      msg: 'Activity failed',
      activityType: 'importRoster',
    });
    expect(lines[0]).not.toContain(idNumber);
    // and pino masks on its own, without the SDK wrapper
    const bare = capture();
    new PinoSdkLogger(createLogger('medins-worker', 'info', bare.stream)).error(`lookup ${idNumber}`, {
      account,
    });
    expect(bare.lines[0]).not.toContain(idNumber);
    expect(bare.lines[0]).not.toContain(account);
  });

  it('the console’s request log (Fastify’s pino with the same options) masks what a route logs', async () => {
    const { lines, stream } = capture();
    const app = Fastify({
      logger: {
        level: 'info',
        stream,
        ...redactingPinoOptions,
        // the console's serializers read the request's getters: redaction leaves them their objects
        serializers: {
          req: (req: { method: string; routeOptions?: { url?: string } }) => ({
            method: req.method,
            route: req.routeOptions?.url ?? 'unmatched',
          }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
      },
    });
    app.get('/x', (request, reply) => {
      request.log.info({ looked: idNumber }, `trail read for ${idNumber}`);
      void reply.send('ok');
    });
    await app.inject({ method: 'GET', url: '/x' });
    await app.close();
    const logged = lines.filter((l) => l.includes('trail read'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(idNumber.slice(0, 6));
    expect(lines.join('\n')).toContain('"route":"/x"');
    expect(lines.join('\n')).toContain('"statusCode":200');
    for (const line of lines) expect(line).not.toContain(idNumber);
  });
});
