/**
 * Every error this package throws or rejects with is a {@link BeehiveError} with a stable
 * `code`, so callers can `switch (err.code)` instead of matching message text.
 */
export const BeehiveErrorCode = {
  /** An argument (size limit, module name, queue size, ...) is not usable. */
  InvalidArgument: 'KE_INVALID_ARGUMENT',
  /** The input is not UTF-8 encoded JSON (or is empty). */
  MessageInvalidJson: 'KE_MESSAGE_INVALID_JSON',
  /** The input is larger than the configured `maxBytes`; checked before parsing. */
  MessageTooLarge: 'KE_MESSAGE_TOO_LARGE',
  /** The JSON does not have KubeEdge's Message shape; `path` names the offending field. */
  MessageInvalid: 'KE_MESSAGE_INVALID',
  /** A resource string or one of its segments is malformed. */
  ResourceInvalid: 'KE_RESOURCE_INVALID',
  /** No module with that name is registered (or it was unregistered while a send waited). */
  RouterUnknownModule: 'KE_ROUTER_UNKNOWN_MODULE',
  /** A module with that name is already registered on this router. */
  RouterDuplicateModule: 'KE_ROUTER_DUPLICATE_MODULE',
  /** `sendSync` got no response within its timeout. */
  RouterTimeout: 'KE_ROUTER_TIMEOUT',
  /** The caller's AbortSignal fired. */
  RouterAborted: 'KE_ROUTER_ABORTED',
  /** The router was stopped. */
  RouterStopped: 'KE_ROUTER_STOPPED',
  /** The module's queue is full and the caller asked not to wait (`ifFull: 'reject'`). */
  RouterQueueFull: 'KE_ROUTER_QUEUE_FULL',
} as const;

export type BeehiveErrorCode = (typeof BeehiveErrorCode)[keyof typeof BeehiveErrorCode];

/** Structured facts about a failure, beside the human-readable message. */
export interface BeehiveErrorDetails {
  /** Short, stable-ish description of what was wrong (no advice), e.g. `expected string, got number`. */
  reason: string;
  /** For KE_MESSAGE_INVALID: the dotted path of the field, e.g. `header.timestamp` ('' = the whole document). */
  path?: string;
  /** For KE_MESSAGE_INVALID / KE_RESOURCE_INVALID: what a valid value looks like. */
  expected?: string;
  /** The module the operation addressed, for router errors. */
  module?: string;
  /** The `msg_id` of the message concerned, for router errors. */
  msgId?: string;
  /** The underlying error (a SyntaxError from JSON.parse, an AbortSignal reason, ...). */
  cause?: unknown;
}

export class BeehiveError extends Error {
  override readonly name = 'BeehiveError';
  readonly code: BeehiveErrorCode;
  readonly reason: string;
  readonly path: string | undefined;
  readonly expected: string | undefined;
  readonly module: string | undefined;
  readonly msgId: string | undefined;

  constructor(code: BeehiveErrorCode, message: string, details: BeehiveErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.reason = details.reason;
    this.path = details.path;
    this.expected = details.expected;
    this.module = details.module;
    this.msgId = details.msgId;
  }
}

/** True when `error` is a {@link BeehiveError}, optionally with the given code. */
export function isBeehiveError(error: unknown, code?: BeehiveErrorCode): error is BeehiveError {
  return error instanceof BeehiveError && (code === undefined || error.code === code);
}

/** Short type name for error messages: `null` and `array` are told apart from `object`. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
