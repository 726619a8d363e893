export type CloudHubErrorCode =
  /** An option is out of range or missing. */
  | 'KE_CLOUDHUB_INVALID_OPTIONS'
  /** The port is taken or the address is not local. */
  | 'KE_CLOUDHUB_LISTEN_FAILED'
  /** `dispatch` got a message it cannot route or encode. */
  | 'KE_CLOUDHUB_BAD_MESSAGE'
  /** The node's queue holds `nodeQueueLimit` messages: retry later. */
  | 'KE_CLOUDHUB_QUEUE_FULL'
  /** Delivery progress (ObjectSync) could not be read at start. */
  | 'KE_CLOUDHUB_OBJECTSYNC_UNAVAILABLE';

/** Every error this package throws; `code` is stable, the message says what to do. */
export class CloudHubError extends Error {
  override readonly name = 'CloudHubError';
  readonly code: CloudHubErrorCode;

  constructor(code: CloudHubErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
