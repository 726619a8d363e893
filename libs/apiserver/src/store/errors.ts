import type { ObjectKey } from './types';

/** Stable codes of store failures; the HTTP layer maps them to Kubernetes Status reasons. */
export type StoreErrorCode =
  | 'KE_STORE_NOT_FOUND'
  | 'KE_STORE_ALREADY_EXISTS'
  | 'KE_STORE_CONFLICT'
  | 'KE_STORE_GONE'
  | 'KE_STORE_CLOSED'
  | 'KE_STORE_INVALID'
  | 'KE_STORE_IO';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly key: ObjectKey | undefined;

  constructor(
    code: StoreErrorCode,
    message: string,
    options: { key?: ObjectKey; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.key = options.key;
  }
}
