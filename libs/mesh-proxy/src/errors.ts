/** What went wrong, as a stable code a caller can switch on. */
export type ServiceProxyErrorCode =
  /** Options given to `createServiceProxy` or a source cannot work; the message says which. */
  | 'KE_PROXY_INVALID_OPTIONS'
  /** A service or endpoint definition is malformed (bad IP, port or protocol). */
  | 'KE_PROXY_INVALID_SERVICE'
  /** `iptables-save` / `iptables-restore` failed: not root, no iptables, or a rule the kernel refused. */
  | 'KE_PROXY_IPTABLES_FAILED'
  /** A per-service listener could not be opened (address not local, out of ports). */
  | 'KE_PROXY_LISTEN_FAILED'
  /** A connection came in for a service port that has no ready endpoint. */
  | 'KE_PROXY_NO_ENDPOINTS'
  /** Every endpoint tried for a connection refused it or timed out. */
  | 'KE_PROXY_DIAL_FAILED'
  /** The service source (list/watch) failed to start. */
  | 'KE_PROXY_SOURCE_FAILED'
  /** The proxy was used in a state that does not allow it (start twice, use after stop). */
  | 'KE_PROXY_STATE';

export class ServiceProxyError extends Error {
  readonly code: ServiceProxyErrorCode;

  constructor(code: ServiceProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceProxyError';
    this.code = code;
  }
}

/** Whether `error` is a {@link ServiceProxyError}, optionally with this code. */
export function isServiceProxyError(
  error: unknown,
  code?: ServiceProxyErrorCode,
): error is ServiceProxyError {
  return error instanceof ServiceProxyError && (code === undefined || error.code === code);
}
