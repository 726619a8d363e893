import { type Logger, type LoggerOptions, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

export interface LoggerSettings {
  /** Process name, e.g. `ke-cloud`; every line carries it. */
  readonly name: string;
  /** pino level: trace, debug, info, warn, error, fatal, silent. */
  readonly level?: string;
  /** `json` (one object per line) or `pretty`; defaults to pretty on a terminal, else json. */
  readonly format?: LogFormat;
  /** Where lines go; standard output by default. */
  readonly destination?: NodeJS.WritableStream;
}

/** A structured logger: JSON lines for machines, pretty lines on a terminal. */
export function createLogger(settings: LoggerSettings): Logger {
  const destination = settings.destination ?? process.stdout;
  const format: LogFormat =
    settings.format ?? ((destination as { isTTY?: boolean }).isTTY ? 'pretty' : 'json');
  const options: LoggerOptions = { name: settings.name, level: settings.level ?? 'info' };
  if (format === 'pretty') {
    return pino(
      options,
      pretty({ destination, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  if (destination === process.stdout) return pino(options, pino.destination({ sync: true }));
  return pino(options, destination);
}
