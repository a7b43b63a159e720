/**
 * Structured logs (pino, one JSON object a line) for the worker, the command line's rehearsal and the web
 * console, with the project's PIPL redaction (domain/personal-data.ts `redact`: every run of 15 to 25
 * digits masked, keeping the region code and the last four) applied to the message and to every string of
 * the merged object, errors and their causes included, before a line is written.
 */
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/worker';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redact } from '../domain/personal-data';

/**
 * `value` with every string in it redacted (an Error copied with its message, stack and cause redacted).
 * With `plainOnly`, an object of a class other than Error (Fastify's request and reply, whose serializers
 * read their getters) is passed through untouched for its serializer.
 */
export function redactValue(value: unknown, depth = 0, plainOnly = false): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (
    plainOnly &&
    !(value instanceof Error) &&
    !Array.isArray(value) &&
    proto !== Object.prototype &&
    proto !== null
  )
    return value;
  if (value instanceof Error) {
    const copy = new Error(redact(value.message));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : redact(value.stack);
    if (value.cause !== undefined) copy.cause = redactValue(value.cause, depth + 1, plainOnly);
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, plainOnly));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, depth + 1, plainOnly)]));
}

/**
 * The pino options that redact: spread into any pino configuration (Fastify's `logger` option takes pino
 * options too). The message arguments are redacted in `logMethod`, the merged object in `formatters.log`
 * (before the serializers turn errors into objects).
 */
export const redactingPinoOptions: Pick<LoggerOptions, 'hooks' | 'formatters'> = {
  hooks: {
    logMethod(args, method) {
      method.apply(this, args.map((a) => redactValue(a, 0, true)) as Parameters<typeof method>);
    },
  },
  formatters: {
    log: (object) => redactValue(object, 0, true) as Record<string, unknown>,
  },
};

/** A redacting pino logger named `name` at `level`, to stderr unless `destination` is given. */
export function createLogger(
  name: string,
  level: pino.Level = 'info',
  destination: DestinationStream = pino.destination(2),
): Logger {
  return pino({ name, level, ...redactingPinoOptions }, destination);
}

/**
 * Where a logger's lines go: `json`, pino's JSON lines on stderr; `text`, each line's message alone after
 * `prefix` (what a person at a terminal reads, e.g. "[provision] building the Temporal CLI ..."), written
 * after pino's redaction like the JSON; `auto`, text when stderr is a terminal and JSON otherwise.
 */
export function stderrDestination(format: 'auto' | 'text' | 'json', prefix: string): DestinationStream {
  const text = format === 'text' || (format === 'auto' && process.stderr.isTTY === true);
  if (!text) return pino.destination(2);
  return {
    write(line: string) {
      const { msg } = JSON.parse(line) as { msg?: unknown };
      process.stderr.write(`${prefix} ${typeof msg === 'string' ? msg : JSON.stringify(msg)}\n`);
    },
  };
}

const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logger interface from one `log(level, message, meta)`: the five level methods
 * (trace, debug, info, warn, error) written once for every logger of the project.
 */
export abstract class LevelLogger implements SdkLogger {
  abstract log(level: LogLevel, message: string, meta?: LogMetadata): void;
  trace(message: string, meta?: LogMetadata) {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata) {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata) {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata) {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata) {
    this.log('ERROR', message, meta);
  }
}

/** The Temporal SDK's logger interface over a pino logger (the worker runtime's and the activities' log). */
export class PinoSdkLogger extends LevelLogger {
  constructor(private readonly pino: Logger) {
    super();
  }
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.pino[PINO_LEVEL[level]](meta ?? {}, message);
  }
}
