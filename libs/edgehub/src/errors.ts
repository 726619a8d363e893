export type EdgeHubErrorCode =
  /** No usable certificate on disk and no token to get one. */
  | 'KE_EDGEHUB_TOKEN_REQUIRED'
  /** The token is not `<sha256 of the CA>.<JWT>`. */
  | 'KE_EDGEHUB_TOKEN_MALFORMED'
  /** The CA the server handed out is not the one the token names: never trusted. */
  | 'KE_EDGEHUB_CA_MISMATCH'
  /** The server answered 401: the token is expired or invalid (the message says which). */
  | 'KE_EDGEHUB_TOKEN_REJECTED'
  /** No answer from the certificate server (refused, reset, timed out). */
  | 'KE_EDGEHUB_CERT_SERVER_UNREACHABLE'
  /** The server's TLS certificate does not verify against the CA the token names. */
  | 'KE_EDGEHUB_SERVER_UNTRUSTED'
  /** The server refused the request for another reason (400, 413, 5xx). */
  | 'KE_EDGEHUB_CERT_REQUEST_FAILED'
  /** What came back (CA or node certificate) does not verify. */
  | 'KE_EDGEHUB_BAD_CERTIFICATE'
  /** The token's expiry has passed: create a new one in the cloud. */
  | 'KE_EDGEHUB_TOKEN_EXPIRED'
  /** CloudHub cannot be reached (refused, timed out, DNS). */
  | 'KE_EDGEHUB_CLOUD_UNREACHABLE'
  /** CloudHub ended the TLS handshake: the node certificate is not from its CA. */
  | 'KE_EDGEHUB_TLS_REJECTED'
  /** CloudHub refused the node: the certificate is not for the node_id it sent. */
  | 'KE_EDGEHUB_IDENTITY_REJECTED'
  /** CloudHub has `nodeLimit` nodes connected. */
  | 'KE_EDGEHUB_NODE_LIMIT'
  /** CloudHub refused the connection for another reason (the message says which). */
  | 'KE_EDGEHUB_CONNECT_REFUSED'
  /** `request` while the link to the cloud is down. */
  | 'KE_EDGEHUB_OFFLINE'
  /** `request` got no reply in time. */
  | 'KE_EDGEHUB_TIMEOUT'
  /** A caller's mistake: empty node name, bad URL. */
  | 'KE_EDGEHUB_INVALID_ARGUMENT';

/** Every error this package throws; `code` is stable, the message says what to do. */
export class EdgeHubError extends Error {
  override readonly name = 'EdgeHubError';
  readonly code: EdgeHubErrorCode;

  constructor(code: EdgeHubErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
