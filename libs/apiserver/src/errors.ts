/**
 * Errors of the API server. Each carries the Kubernetes `Status` it is answered with, so a
 * handler throws and the HTTP layer writes `{ kind: 'Status', reason, code, details }` — what
 * kubectl and client-go understand.
 */

/** Kubernetes `StatusReason` values this server uses. */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'Timeout'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable';

/** One field-level problem, as in `details.causes`. */
export interface StatusCause {
  readonly reason?: string;
  readonly message: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

/** The Kubernetes `Status` object (`apiVersion: v1`, `kind: Status`). */
export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: StatusReason;
  readonly details?: StatusDetails;
  readonly code: number;
}

const HTTP_CODES: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
};

/** Stable `code`s of API errors, one per Status reason. */
export type ApiErrorCode = `KE_API_${Uppercase<StatusReason>}`;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  readonly reason: StatusReason;
  readonly httpStatus: number;
  readonly details: StatusDetails | undefined;

  constructor(
    reason: StatusReason,
    message: string,
    options: { details?: StatusDetails; cause?: unknown; httpStatus?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.code = `KE_API_${reason.toUpperCase()}` as ApiErrorCode;
    this.httpStatus = options.httpStatus ?? HTTP_CODES[reason];
    this.details = options.details;
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.httpStatus,
    };
  }
}

/** What a resource is called in messages: `pods`, `deployments.apps`. */
export interface ResourceName {
  readonly group: string;
  readonly resource: string;
  readonly kind?: string;
}

function qualified(r: ResourceName): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

export const notFound = (r: ResourceName, name: string) =>
  new ApiError('NotFound', `${qualified(r)} "${name}" not found`, {
    details: { name, group: r.group, kind: r.resource },
  });

export const alreadyExists = (r: ResourceName, name: string) =>
  new ApiError('AlreadyExists', `${qualified(r)} "${name}" already exists`, {
    details: { name, group: r.group, kind: r.resource },
  });

export const conflict = (r: ResourceName, name: string, why: string) =>
  new ApiError('Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, {
    details: { name, group: r.group, kind: r.resource },
  });

export const invalid = (r: ResourceName, name: string, causes: readonly StatusCause[]) =>
  new ApiError(
    'Invalid',
    `${r.kind ?? r.resource} "${name}" is invalid: ${causes
      .map((c) => (c.field ? `${c.field}: ${c.message}` : c.message))
      .join(', ')}`,
    { details: { name, group: r.group, kind: r.kind ?? r.resource, causes } },
  );

export const badRequest = (message: string) => new ApiError('BadRequest', message);

/** A `Status` of success, as DELETE of some resources and deletecollection answer. */
export function successStatus(details?: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    ...(details ? { details } : {}),
    code: 200,
  };
}
