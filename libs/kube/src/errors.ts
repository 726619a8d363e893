/**
 * Every error this package throws or rejects with is a {@link KubeError} with a stable `code`,
 * so callers can `switch (err.code)` instead of matching message text. Errors that come from
 * the API server also carry the server's Status `reason`, `message` and HTTP `statusCode`.
 */
export const KubeErrorCode = {
  /** An argument (worker count, rate, namespace for a cluster-scoped kind, ...) is not usable. */
  InvalidArgument: 'KE_KUBE_INVALID_ARGUMENT',
  /** No kubeconfig where it was looked for (a file, `KUBECONFIG`, `~/.kube/config`, in-cluster). */
  ConfigNotFound: 'KE_KUBE_CONFIG_NOT_FOUND',
  /** The kubeconfig was found but cannot be used: bad YAML, missing cluster, unknown context, ... */
  ConfigInvalid: 'KE_KUBE_CONFIG_INVALID',
  /** 404 NotFound: the object (or its namespace, or the resource type) does not exist. */
  NotFound: 'KE_KUBE_NOT_FOUND',
  /** 409 AlreadyExists: `create` of a name that is taken. */
  AlreadyExists: 'KE_KUBE_ALREADY_EXISTS',
  /** 409 Conflict: the object changed since it was read (stale `resourceVersion`); re-read and retry. */
  Conflict: 'KE_KUBE_CONFLICT',
  /** 410 Gone / Expired: the `resourceVersion` or `continue` token is too old; list again. */
  Gone: 'KE_KUBE_GONE',
  /** 401 Unauthorized: the credentials were not accepted (expired token, wrong certificate). */
  Unauthorized: 'KE_KUBE_UNAUTHORIZED',
  /** 403 Forbidden: authenticated, but RBAC (or admission) does not allow the request. */
  Forbidden: 'KE_KUBE_FORBIDDEN',
  /** 422 Invalid / 400 BadRequest: the object or the patch was rejected; `status.details.causes` says why. */
  Invalid: 'KE_KUBE_INVALID',
  /** The server could not be reached or asked to retry later (network error, 429, 5xx). Retryable. */
  Unavailable: 'KE_KUBE_UNAVAILABLE',
  /** Any other failed request (405, 415, an unexpected response, a client-side failure). */
  Request: 'KE_KUBE_REQUEST',
} as const;

export type KubeErrorCode = (typeof KubeErrorCode)[keyof typeof KubeErrorCode];

/** A Kubernetes `Status` object, as the API server sends it with a failed request. */
export interface KubeStatus {
  kind?: string;
  apiVersion?: string;
  status?: string;
  /** Human-readable, e.g. `devices.devices.kubeedge.io "thermometer" not found`. */
  message?: string;
  /** Machine-readable, e.g. `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Expired`. */
  reason?: string;
  /** HTTP status code. */
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

/** Structured facts about a failure, beside the human-readable message. */
export interface KubeErrorDetails {
  /** The server's Status `reason` (`NotFound`, ...), or a short description for local errors. */
  reason?: string;
  /** HTTP status code of the response, when there was one. */
  statusCode?: number;
  /** The Status object the server sent, when it sent one. */
  status?: KubeStatus;
  /** For config errors: the kubeconfig file concerned. */
  file?: string;
  /** Seconds the server asked to wait before retrying (429, 503). */
  retryAfterSeconds?: number;
  /** The underlying error (an ApiException, a FetchError, a YAML error, ...). */
  cause?: unknown;
}

export class KubeError extends Error {
  override readonly name = 'KubeError';
  readonly code: KubeErrorCode;
  readonly reason: string | undefined;
  readonly statusCode: number | undefined;
  readonly status: KubeStatus | undefined;
  readonly file: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: KubeErrorCode, message: string, details: KubeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.reason = details.reason;
    this.statusCode = details.statusCode;
    this.status = details.status;
    this.file = details.file;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** True when `error` is a {@link KubeError}, optionally with the given code. */
export function isKubeError(error: unknown, code?: KubeErrorCode): error is KubeError {
  return error instanceof KubeError && (code === undefined || error.code === code);
}
