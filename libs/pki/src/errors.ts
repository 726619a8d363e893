export type PkiErrorCode =
  | 'KE_PKI_INVALID_PEM'
  | 'KE_PKI_INVALID_CSR'
  | 'KE_PKI_INVALID_ARGUMENT'
  | 'KE_PKI_TOKEN_INVALID'
  | 'KE_PKI_TOKEN_CA_MISMATCH'
  | 'KE_PKI_TOKEN_EXPIRED';

export class PkiError extends Error {
  override readonly name = 'PkiError';
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
