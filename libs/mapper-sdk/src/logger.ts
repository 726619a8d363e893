/** Fields first, message second (pino's order), so a pino logger fits as is. */
export interface MapperLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
  error?(fields: object, message: string): void;
}

/** Calls `logger[level]` if there is one; a throwing logger never breaks the mapper. */
export function log(
  logger: MapperLogger,
  level: keyof MapperLogger,
  fields: object,
  message: string,
): void {
  try {
    logger[level]?.call(logger, fields, message);
  } catch {
    // ignore: logging must not take the mapper down
  }
}
