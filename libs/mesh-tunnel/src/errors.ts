/** What went wrong, as a stable code a caller can switch on. */
export type TunnelErrorCode =
  /** Options given to `createTunnelServer` / `createTunnelAgent` cannot work; the message says which. */
  | 'KE_TUNNEL_INVALID_OPTIONS'
  /** A certificate was missing, from another CA, or named another node than the one claimed. */
  | 'KE_TUNNEL_AUTH'
  /** The peer node is not registered with the tunnel server. */
  | 'KE_TUNNEL_UNKNOWN_PEER'
  /** The peer's `allow(ip, port)` refused the destination. */
  | 'KE_TUNNEL_NOT_ALLOWED'
  /** The peer accepted the stream but could not connect to the destination. */
  | 'KE_TUNNEL_DIAL_FAILED'
  /** The server or the peer refused for another reason (malformed request, shutting down). */
  | 'KE_TUNNEL_REFUSED'
  /** A per-agent limit of the server (streams, bytes per second) was reached. */
  | 'KE_TUNNEL_LIMIT'
  /** No path to the peer within the dial timeout. */
  | 'KE_TUNNEL_TIMEOUT'
  /** No tunnel server is connected: the agent cannot reach the peer. */
  | 'KE_TUNNEL_UNAVAILABLE'
  /** The dial was cancelled through its AbortSignal. */
  | 'KE_TUNNEL_ABORTED'
  /** The component was used in a state that does not allow it (start twice, use after stop). */
  | 'KE_TUNNEL_STATE'
  /** A peer or the server broke the protocol (malformed or oversized frame). */
  | 'KE_TUNNEL_PROTOCOL';

export class TunnelError extends Error {
  readonly code: TunnelErrorCode;

  constructor(code: TunnelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TunnelError';
    this.code = code;
  }
}

/** Whether `error` is a {@link TunnelError}, optionally with this code. */
export function isTunnelError(error: unknown, code?: TunnelErrorCode): error is TunnelError {
  return error instanceof TunnelError && (code === undefined || error.code === code);
}

const CODES = new Set<string>([
  'KE_TUNNEL_INVALID_OPTIONS',
  'KE_TUNNEL_AUTH',
  'KE_TUNNEL_UNKNOWN_PEER',
  'KE_TUNNEL_NOT_ALLOWED',
  'KE_TUNNEL_DIAL_FAILED',
  'KE_TUNNEL_REFUSED',
  'KE_TUNNEL_LIMIT',
  'KE_TUNNEL_TIMEOUT',
  'KE_TUNNEL_UNAVAILABLE',
  'KE_TUNNEL_ABORTED',
  'KE_TUNNEL_STATE',
  'KE_TUNNEL_PROTOCOL',
]);

/** A code received over the wire, or `KE_TUNNEL_REFUSED` when it is not one of ours. */
export function wireCode(value: unknown): TunnelErrorCode {
  return typeof value === 'string' && CODES.has(value)
    ? (value as TunnelErrorCode)
    : 'KE_TUNNEL_REFUSED';
}
