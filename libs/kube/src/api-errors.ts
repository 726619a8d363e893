import { KubeError, KubeErrorCode, type KubeStatus } from './errors';

/*
 * client-node 1.4 throws `ApiException { code: <HTTP status>, body, headers }` for a non-2xx
 * response; `body` is the response text (a JSON Status from a Kubernetes API server), or
 * undefined for 401. Network failures surface as node-fetch's `FetchError` (`type: 'system'`,
 * `code: 'ECONNREFUSED'`, ...). This file turns all of them into a KubeError with a code.
 */

const codeByReason: Record<string, KubeErrorCode> = {
  NotFound: KubeErrorCode.NotFound,
  AlreadyExists: KubeErrorCode.AlreadyExists,
  Conflict: KubeErrorCode.Conflict,
  Gone: KubeErrorCode.Gone,
  Expired: KubeErrorCode.Gone,
  Unauthorized: KubeErrorCode.Unauthorized,
  Forbidden: KubeErrorCode.Forbidden,
  Invalid: KubeErrorCode.Invalid,
  BadRequest: KubeErrorCode.Invalid,
  TooManyRequests: KubeErrorCode.Unavailable,
  ServiceUnavailable: KubeErrorCode.Unavailable,
  ServerTimeout: KubeErrorCode.Unavailable,
  Timeout: KubeErrorCode.Unavailable,
  InternalError: KubeErrorCode.Unavailable,
};

/** The reason an API server gives for each status code when the body has none (client-go's table). */
const reasonByStatusCode: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function codeForStatus(statusCode: number, reason: string | undefined): KubeErrorCode {
  const byReason = reason === undefined ? undefined : codeByReason[reason];
  if (byReason) return byReason;
  switch (statusCode) {
    case 400:
    case 422:
      return KubeErrorCode.Invalid;
    case 401:
      return KubeErrorCode.Unauthorized;
    case 403:
      return KubeErrorCode.Forbidden;
    case 404:
      return KubeErrorCode.NotFound;
    case 409:
      return KubeErrorCode.Conflict;
    case 410:
      return KubeErrorCode.Gone;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return KubeErrorCode.Unavailable;
    default:
      return KubeErrorCode.Request;
  }
}

const hints: Partial<Record<KubeErrorCode, string>> = {
  [KubeErrorCode.Conflict]: 'read the object again and retry',
  [KubeErrorCode.Gone]: 'list again to get a current resourceVersion',
  [KubeErrorCode.Unauthorized]: "check the kubeconfig's credentials",
  [KubeErrorCode.Unavailable]: 'retry later',
};

/** Errors of connecting to a server that may well be there later. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers: Record<string, string> | undefined;
}

function isApiException(error: unknown): error is Error & ApiExceptionLike {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'number' &&
    'body' in error &&
    'headers' in error
  );
}

/** The Status object in a response body: JSON text, bytes, or an already parsed object. */
function statusFromBody(body: unknown): KubeStatus | undefined {
  let value = body;
  if (value instanceof Uint8Array) value = new TextDecoder().decode(value);
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return undefined;
    try {
      value = JSON.parse(text);
    } catch {
      // A proxy or a non-Kubernetes server may answer with plain text or HTML.
      return { message: text.slice(0, 500) };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return value as KubeStatus;
}

function retryAfter(status: KubeStatus | undefined, headers: Record<string, string> | undefined) {
  const fromStatus = status?.details?.retryAfterSeconds;
  if (typeof fromStatus === 'number' && fromStatus > 0) return fromStatus;
  const header = headers?.['retry-after'] ?? headers?.['Retry-After'];
  const seconds = header === undefined ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

function prefix(operation: string | undefined): string {
  return operation ? `${operation}: ` : '';
}

function fromApiException(error: Error & ApiExceptionLike, operation?: string): KubeError {
  const status = statusFromBody(error.body);
  const statusCode = error.code || (typeof status?.code === 'number' ? status.code : 0);
  const reason =
    (typeof status?.reason === 'string' && status.reason) || reasonByStatusCode[statusCode];
  const code = codeForStatus(statusCode, reason);
  const serverMessage =
    typeof status?.message === 'string' && status.message
      ? status.message
      : `the API server answered ${statusCode}${reason ? ` ${reason}` : ''}`;
  const hint = hints[code];
  const retryAfterSeconds = retryAfter(status, error.headers);
  return new KubeError(
    code,
    `${prefix(operation)}${serverMessage} (HTTP ${statusCode}${reason ? ` ${reason}` : ''})${hint ? `; ${hint}` : ''}`,
    {
      ...(reason ? { reason } : {}),
      statusCode,
      ...(status ? { status } : {}),
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      cause: error,
    },
  );
}

/** The system error code of a network failure, looking through `cause` chains. */
function systemCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Turns anything a client-node call threw into a {@link KubeError}: an `ApiException` by the
 * server's Status (`reason` first, then the HTTP code), a network failure into
 * `KE_KUBE_UNAVAILABLE`, anything else into `KE_KUBE_REQUEST`. A KubeError is returned as is.
 *
 * @param operation what was being done, for the message, e.g. `get devices default/thermometer`.
 */
export function toKubeError(error: unknown, operation?: string): KubeError {
  if (error instanceof KubeError) return error;
  if (isApiException(error)) return fromApiException(error, operation);
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : '';
  if (name === 'AbortError') {
    return new KubeError(KubeErrorCode.Request, `${prefix(operation)}the request was aborted`, {
      reason: 'Aborted',
      cause: error,
    });
  }
  const code = systemCode(error);
  const type = (error as { type?: unknown } | null)?.type;
  if ((code !== undefined && networkCodes.has(code)) || type === 'request-timeout') {
    return new KubeError(
      KubeErrorCode.Unavailable,
      `${prefix(operation)}cannot reach the API server: ${message}; retry later`,
      { reason: code ?? 'Timeout', cause: error },
    );
  }
  return new KubeError(KubeErrorCode.Request, `${prefix(operation)}${message}`, {
    ...(code === undefined ? {} : { reason: code }),
    cause: error,
  });
}
