export type MetaManagerErrorCode =
  /** The message cannot be stored: bad resource string, or content not an object of its type. */
  | 'KE_META_INVALID'
  /** The store failed (disk full, I/O): the change is not stored; the cloud will resend it. */
  | 'KE_META_STORE_FAILED'
  /** The object is not here and the cloud could not be asked (offline) or did not answer. */
  | 'KE_META_NOT_FOUND'
  /** A caller's mistake. */
  | 'KE_META_INVALID_ARGUMENT';

/** Every error this package throws or answers with; `code` is stable. */
export class MetaManagerError extends Error {
  override readonly name = 'MetaManagerError';
  readonly code: MetaManagerErrorCode;

  constructor(code: MetaManagerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** Whether the same message can succeed later (the store recovers, the cloud answers). */
  get retryable(): boolean {
    return this.code === 'KE_META_STORE_FAILED' || this.code === 'KE_META_NOT_FOUND';
  }
}
