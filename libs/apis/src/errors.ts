/**
 * Every error this package throws is an {@link ApisError} with a stable `code`, so callers can
 * `switch (err.code)` instead of matching message text.
 */
export const ApisErrorCode = {
  /** The object does not match its schema or a rule of its API; `issues` lists every problem. */
  Invalid: 'KE_APIS_INVALID',
  /** `apiVersion`/`kind` name no resource this package knows; `issues` says which field. */
  UnknownKind: 'KE_APIS_UNKNOWN_KIND',
  /** The YAML text could not be parsed; the message names the line and column. */
  Yaml: 'KE_APIS_YAML',
} as const;

export type ApisErrorCode = (typeof ApisErrorCode)[keyof typeof ApisErrorCode];

/** One problem found in an object: where (`spec.properties[0].name`) and what. */
export interface ValidationIssue {
  /** Dotted path of the field, arrays as `[i]`, odd keys as `["a.b/c"]`; `''` is the whole object. */
  path: string;
  /** What is wrong, e.g. `expected string, got number` or `required field is missing`. */
  message: string;
}

/** Renders issues one per line as `path: message`, the way the error messages show them. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues
    .map((issue) => `${issue.path === '' ? '(root)' : issue.path}: ${issue.message}`)
    .join('\n');
}

export class ApisError extends Error {
  override readonly name = 'ApisError';
  readonly code: ApisErrorCode;
  /** For KE_APIS_INVALID and KE_APIS_UNKNOWN_KIND: every problem found (never empty). */
  readonly issues: readonly ValidationIssue[];

  constructor(
    code: ApisErrorCode,
    message: string,
    options: { issues?: readonly ValidationIssue[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [];
  }
}
