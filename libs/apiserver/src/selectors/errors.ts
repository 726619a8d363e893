/**
 * Every failure of the selector module is a {@link SelectorError} with a stable `code`. All of them
 * are the client's fault: the HTTP layer answers `400 BadRequest` with the error's `message`, which
 * follows the wording of the Kubernetes API server so that kubectl users recognise it.
 */
export const SelectorErrorCode = {
  /** A label or field selector (string or `matchLabels`/`matchExpressions` object) does not parse or validate. */
  Invalid: 'KE_SELECTOR_INVALID',
  /** A field selector names a field the resource cannot be selected by ("field label not supported: x"). */
  UnsupportedField: 'KE_SELECTOR_UNSUPPORTED_FIELD',
} as const;

export type SelectorErrorCode = (typeof SelectorErrorCode)[keyof typeof SelectorErrorCode];

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
  readonly code: SelectorErrorCode;
  /** The selector text or field the error is about, when there is one. */
  readonly selector: string | undefined;

  constructor(code: SelectorErrorCode, message: string, options: { selector?: string } = {}) {
    super(message);
    this.code = code;
    this.selector = options.selector;
  }
}
