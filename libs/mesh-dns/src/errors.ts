/** What went wrong, as a stable code a caller can switch on. */
export type DnsErrorCode =
  /** Options given to `createDnsServer` or a source cannot work (bad port, domain, upstream). */
  | 'KE_DNS_INVALID_OPTIONS'
  /** A service or endpoint given to a static source is malformed (bad name, IP or port). */
  | 'KE_DNS_INVALID_RECORD'
  /** The UDP or TCP socket could not be bound (port in use, no permission for port 53). */
  | 'KE_DNS_LISTEN_FAILED'
  /** The list/watch source failed to sync (API server unreachable, forbidden). */
  | 'KE_DNS_SOURCE_FAILED';

export class DnsError extends Error {
  readonly code: DnsErrorCode;

  constructor(code: DnsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DnsError';
    this.code = code;
  }
}

/** Whether `error` is a {@link DnsError} (also across copies of this package). */
export function isDnsError(error: unknown): error is DnsError {
  return (
    error instanceof Error &&
    error.name === 'DnsError' &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

export const invalidOptions = (message: string) => new DnsError('KE_DNS_INVALID_OPTIONS', message);
export const invalidRecord = (message: string) => new DnsError('KE_DNS_INVALID_RECORD', message);
