/**
 * The worker's log (the SDK's own messages: "Activity failed", "Workflow failed" with the error) may quote
 * a failure that names a person. Under PIPL no national ID or bank account number reaches a log: this
 * logger masks every run of 15 to 25 digits (15- and 18-digit ID numbers, bank accounts; an 18-digit ID may
 * end in X) in the message and in every string of its metadata, errors included, before it is written;
 * underneath, pino writes it as JSON (infra/structured-log.ts, which masks again on its own).
 */
import { DefaultLogger, Runtime, type LogLevel, type LogMetadata, type Logger } from '@temporalio/worker';

import { redact } from '../domain/personal-data';
import { createLogger, LevelLogger, PinoSdkLogger, redactValue } from './structured-log';

export { redact };

export class RedactingLogger extends LevelLogger {
  constructor(private readonly inner: Logger) {
    super();
  }
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.inner.log(level, redact(message), meta && (redactValue(meta) as LogMetadata));
  }
}

/**
 * Installs the SDK runtime once per process with a redacting logger at `level`: structured JSON lines on
 * stderr (pino, infra/structured-log.ts), or, given `write`, one plain line each to `write`. The core's
 * native log lines (warnings and errors) are forwarded to the same logger.
 */
let installed = false;
export function installRedactingRuntime(level: LogLevel = 'INFO', write?: (line: string) => void): void {
  if (installed) return;
  const inner = write
    ? new DefaultLogger(level, (entry) =>
        write(`${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {})}`),
      )
    : new PinoSdkLogger(
        createLogger(
          'medins-worker',
          level === 'TRACE' ? 'trace' : (level.toLowerCase() as 'debug' | 'info' | 'warn' | 'error'),
        ),
      );
  // the SDK core's own lines (Rust) are forwarded to this logger too, so they are masked and structured like
  // the rest instead of written to stderr by the core itself (with terminal colour codes)
  Runtime.install({ logger: new RedactingLogger(inner), telemetryOptions: { logging: { forward: {} } } });
  installed = true;
}
