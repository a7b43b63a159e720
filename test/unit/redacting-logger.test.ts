import type { LogLevel, LogMetadata, Logger } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { makeIdNumber } from '../../domain/id-number';
import { redact, RedactingLogger } from '../../infra/redacting-logger';

const idNumber = makeIdNumber('440783', '1966-02-10', 2); // 18 digits, may end in X
const account = '6217000011112222333';

class Capture implements Logger {
  lines: string[] = [];
  log(level: LogLevel, message: string, meta?: LogMetadata) {
    const show = (v: unknown): unknown =>
      v instanceof Error ? { message: v.message, stack: v.stack, cause: show(v.cause) } : v;
    this.lines.push(`${level} ${message} ${JSON.stringify(meta, (_k, v: unknown) => show(v))}`);
  }
  trace = (m: string, x?: LogMetadata) => this.log('TRACE', m, x);
  debug = (m: string, x?: LogMetadata) => this.log('DEBUG', m, x);
  info = (m: string, x?: LogMetadata) => this.log('INFO', m, x);
  warn = (m: string, x?: LogMetadata) => this.log('WARN', m, x);
  error = (m: string, x?: LogMetadata) => this.log('ERROR', m, x);
}

describe('PIPL: no national ID or bank account number reaches the worker’s log', () => {
  it('masks an ID number and a bank account in the message, keeping the region code and last four', () => {
    expect(redact(`head ${idNumber}, account ${account}`)).toBe(
      `head ${idNumber.slice(0, 6)}********${idNumber.slice(-4)}, account 621700*********2333`,
    );
    expect(redact('44078319660210002X')).toBe('440783********002X');
  });

  it('leaves shorter numbers alone: dates, counts, millisecond timestamps, phone numbers', () => {
    expect(redact('batch 12 of 2024-10-09: 484711 lines at 1795456185907, tel 13800138000')).toBe(
      'batch 12 of 2024-10-09: 484711 lines at 1795456185907, tel 13800138000',
    );
  });

  it('masks what the SDK logs when an activity fails: the error, its stack and its cause', () => {
    const capture = new Capture();
    const logger = new RedactingLogger(capture);
    const cause = new Error(`no household has a head with ID ${idNumber}`);
    const error = new Error('Activity task failed', { cause });
    logger.warn('Workflow failed', { workflowId: 'w', error, accounts: [account] });
    const [line] = capture.lines;
    expect(line).toContain('no household has a head with ID 440783');
    expect(line).not.toContain(idNumber);
    expect(line).not.toContain(account);
  });
});
