// The pino logger. Access lines are built from an allow-list of fields (never headers or bodies);
// redaction is the second line of defence for anything that names a credential by mistake.
import pino, { type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'secret',
  '*.secret',
  'token',
  '*.token',
];

export interface Loggers {
  readonly logger: Logger;
  /** access lines only: built from an allow-list of fields, so pino's redaction copy is skipped */
  readonly access: Logger;
}

export function createLoggers(level: string, destination?: pino.DestinationStream): Loggers {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'custody-proxy' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  // Asynchronous writes keep the request path off the stdout syscall; flushed on shutdown.
  const dest = destination ?? pino.destination({ dest: 1, sync: false });
  return {
    logger: pino({ ...options, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, dest),
    access: pino(options, dest),
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return createLoggers(level, destination).logger;
}
