// The pino logger. Access lines are built from an allow-list of fields (never headers or bodies);
// redaction is the second line of defence for anything that names a credential by mistake.
import pino, { type Logger } from 'pino';
import { ACCESS_LINES, accessFields, type AccessEntry } from './access-line.js';
import { BatchedLines } from './access-writer.js';

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
  // Redis passwords (idempotency.redis): the setup-problem line logs a scrubbed message, never these.
  'password',
  '*.password',
  'sentinelPassword',
  '*.sentinelPassword',
];

function createStdout(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}

/** Where access lines go: a level check and a sink that writes each entry as one pino-format line. */
export interface AccessLog {
  readonly infoEnabled: boolean;
  readonly errorEnabled: boolean;
  write(entry: AccessEntry): void;
  flush(): void;
}

export interface Loggers {
  readonly logger: Logger;
  readonly access: AccessLog;
}

/** Access lines through a pino logger (tests that pass their own logger). */
export function accessLogFrom(logger: Logger): AccessLog {
  return {
    infoEnabled: logger.isLevelEnabled('info'),
    errorEnabled: logger.isLevelEnabled('error'),
    write: (entry) => {
      const { level, ...fields } = accessFields(entry);
      if (level === 'error') logger.error(fields);
      else logger.info(fields);
    },
    flush: () => logger.flush(),
  };
}

/** `batchAccess: false` writes each access line at once (tests that read the log right away). */
export function createLoggers(level: string, destination?: pino.DestinationStream, batchAccess = true): Loggers {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'custody-proxy' },
    formatters: { level: (label) => ({ level: label }) },
  };
  // Asynchronous writes keep the request path off the stdout syscall; access lines are batched
  // on top (access-writer.ts), and shutdown flushes both.
  const dest = destination ?? createStdout();
  const logger = pino({ ...options, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, dest);
  const batch = new BatchedLines(dest, ACCESS_LINES);
  return {
    logger,
    access: {
      infoEnabled: logger.isLevelEnabled('info'),
      errorEnabled: logger.isLevelEnabled('error'),
      write: batchAccess
        ? (entry) => batch.write(entry)
        : (entry) => {
            batch.write(entry);
            batch.flush();
          },
      flush: () => batch.flush(),
    },
  };
}

