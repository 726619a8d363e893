/** Stable codes for every error @ke/daemon raises. */
export type DaemonErrorCode =
  | 'KE_CONFIG_READ'
  | 'KE_CONFIG_YAML'
  | 'KE_CONFIG_INVALID'
  | 'KE_CONFIG_UNKNOWN_FLAG'
  | 'KE_DAEMON_STOP_TIMEOUT';

/** One problem in a configuration, with the dotted path of the field. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export class DaemonError extends Error {
  override readonly name = 'DaemonError';
  readonly code: DaemonErrorCode;
  readonly issues: readonly ConfigIssue[];

  constructor(
    code: DaemonErrorCode,
    message: string,
    options: { issues?: readonly ConfigIssue[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [];
  }
}
