/**
 * JSON logs with pino: one child logger per component (`ipvsd:check`, `ipvsd:vrrp:VI_1`), events
 * named in the past tense with structured fields (DESIGN §4). Written synchronously to stdout so a
 * crash never loses the last lines (journald captures stdout).
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: 'ipvsd',
      level: options.level ?? process.env.IPVSD_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination({ dest: 1, sync: true }),
  );
}

export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component: `ipvsd:${component}` });
}
