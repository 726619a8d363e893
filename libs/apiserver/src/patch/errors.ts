/**
 * Every failure of the patch module is a {@link PatchError} with a stable `code`; the HTTP layer
 * answers with the Status of {@link patchErrorStatus}, using the error's `message`.
 */
export const PatchErrorCode = {
  /**
   * The patch document itself is wrong: not JSON of the right shape, an unknown JSON Patch `op`, a
   * missing `path` or `value`, a badly formed `$retainKeys`/`$setElementOrder`/`$patch` directive.
   * Answer `400 BadRequest`.
   */
  Malformed: 'KE_PATCH_MALFORMED',
  /**
   * The patch is well formed but cannot be applied to this object: a JSON Patch path that does not
   * exist, a list item without its merge key, an order list that contradicts the patch.
   * Answer `422 Invalid` (Kubernetes answers 422 for patches that fail to apply).
   */
  Invalid: 'KE_PATCH_INVALID',
  /** A JSON Patch `test` operation did not hold. Answer `422 Invalid`. */
  TestFailed: 'KE_PATCH_TEST_FAILED',
  /**
   * The patch type is not supported for this resource, e.g. a strategic merge patch for a custom
   * resource or an unknown `Content-Type`. Answer `415 UnsupportedMediaType`.
   */
  Unsupported: 'KE_PATCH_UNSUPPORTED',
} as const;

export type PatchErrorCode = (typeof PatchErrorCode)[keyof typeof PatchErrorCode];

export class PatchError extends Error {
  override readonly name = 'PatchError';
  readonly code: PatchErrorCode;
  /** The index of the JSON Patch operation that failed, when one did. */
  readonly operationIndex: number | undefined;

  constructor(
    code: PatchErrorCode,
    message: string,
    options: { operationIndex?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.operationIndex = options.operationIndex;
  }
}

/** The HTTP status and Kubernetes Status `reason` the API server answers a patch error with. */
export function patchErrorStatus(code: PatchErrorCode): {
  code: 400 | 415 | 422;
  reason: 'BadRequest' | 'UnsupportedMediaType' | 'Invalid';
} {
  switch (code) {
    case 'KE_PATCH_MALFORMED':
      return { code: 400, reason: 'BadRequest' };
    case 'KE_PATCH_UNSUPPORTED':
      return { code: 415, reason: 'UnsupportedMediaType' };
    case 'KE_PATCH_INVALID':
    case 'KE_PATCH_TEST_FAILED':
      return { code: 422, reason: 'Invalid' };
  }
}
