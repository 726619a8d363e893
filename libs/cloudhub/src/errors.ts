export type CloudHubErrorCode = 'KE_CLOUDHUB_INVALID_OPTIONS' | 'KE_CLOUDHUB_LISTEN_FAILED';

/** Every error this package throws; `code` is stable, the message says what to do. */
export class CloudHubError extends Error {
  override readonly name = 'CloudHubError';
  readonly code: CloudHubErrorCode;

  constructor(code: CloudHubErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
