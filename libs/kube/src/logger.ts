/**
 * Where this package reports what it cannot throw (a failed reconcile that will be retried).
 * Fields first, message second: the argument order of pino, so a pino logger fits as is.
 */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
}

function toConsole(write: (...args: unknown[]) => void) {
  return (fields: Record<string, unknown>, message: string): void => {
    const { err, ...rest } = fields;
    write(`${message}${err instanceof Error ? `: ${err.message}` : ''}`, rest);
  };
}

/** Warnings and errors to the console (stderr); debug and info are dropped. */
export const consoleLogger: Logger = Object.freeze({
  warn: toConsole((...args) => console.warn(...args)),
  error: toConsole((...args) => console.error(...args)),
});
