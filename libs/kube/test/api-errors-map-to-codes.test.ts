import { ApiException, FetchError } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeError, KubeErrorCode, type KubeStatus, toKubeError } from '../src/index';

/** An ApiException as client-node 1.4 throws it: the response body is the JSON text. */
function apiException(code: number, body: unknown, headers: Record<string, string> = {}) {
  const text = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  return new ApiException<unknown>(code, 'Unknown API Status Code!', text, headers);
}

function status(code: number, reason: string, message: string, extra: Partial<KubeStatus> = {}) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, ...extra };
}

describe('toKubeError', () => {
  it.each([
    [404, 'NotFound', KubeErrorCode.NotFound],
    [409, 'AlreadyExists', KubeErrorCode.AlreadyExists],
    [409, 'Conflict', KubeErrorCode.Conflict],
    [410, 'Gone', KubeErrorCode.Gone],
    [410, 'Expired', KubeErrorCode.Gone],
    [401, 'Unauthorized', KubeErrorCode.Unauthorized],
    [403, 'Forbidden', KubeErrorCode.Forbidden],
    [422, 'Invalid', KubeErrorCode.Invalid],
    [400, 'BadRequest', KubeErrorCode.Invalid],
    [429, 'TooManyRequests', KubeErrorCode.Unavailable],
    [500, 'InternalError', KubeErrorCode.Unavailable],
    [503, 'ServiceUnavailable', KubeErrorCode.Unavailable],
    [504, 'Timeout', KubeErrorCode.Unavailable],
    [405, 'MethodNotAllowed', KubeErrorCode.Request],
    [415, 'UnsupportedMediaType', KubeErrorCode.Request],
  ])('maps a %i %s Status to its code', (httpCode, reason, code) => {
    const message = `devices.devices.kubeedge.io "thermometer": ${reason}`;
    const error = toKubeError(
      apiException(httpCode, status(httpCode, reason, message)),
      'get devices default/thermometer',
    );
    expect(error).toBeInstanceOf(KubeError);
    expect(error.code).toBe(code);
    expect(error.reason).toBe(reason);
    expect(error.statusCode).toBe(httpCode);
    expect(error.status?.message).toBe(message);
    expect(error.message).toContain('get devices default/thermometer: ');
    expect(error.message).toContain(message);
    expect(error.message).toContain(`HTTP ${httpCode} ${reason}`);
    expect(error.cause).toBeInstanceOf(ApiException);
  });

  it('tells AlreadyExists from Conflict by the reason, both being 409', () => {
    const exists = toKubeError(apiException(409, status(409, 'AlreadyExists', 'exists')));
    const conflict = toKubeError(
      apiException(409, status(409, 'Conflict', 'the object has been modified')),
    );
    expect([exists.code, conflict.code]).toEqual([
      KubeErrorCode.AlreadyExists,
      KubeErrorCode.Conflict,
    ]);
    expect(conflict.message).toContain('read the object again and retry');
  });

  it('keeps the causes of an Invalid', () => {
    const body = status(422, 'Invalid', 'Device.devices.kubeedge.io "t" is invalid', {
      details: {
        name: 't',
        kind: 'Device',
        causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec' }],
      },
    });
    const error = toKubeError(apiException(422, body));
    expect(error.code).toBe(KubeErrorCode.Invalid);
    expect(error.status?.details?.causes?.[0]?.field).toBe('spec');
  });

  it('understands 401 without a body, as client-node throws it', () => {
    const error = toKubeError(new ApiException<undefined>(401, 'Unauthorized', undefined, {}));
    expect(error.code).toBe(KubeErrorCode.Unauthorized);
    expect(error.reason).toBe('Unauthorized');
    expect(error.message).toContain("check the kubeconfig's credentials");
  });

  it('falls back on the HTTP code when a proxy answers with plain text', () => {
    const error = toKubeError(apiException(502, '<html>Bad Gateway</html>'));
    expect(error.code).toBe(KubeErrorCode.Unavailable);
    expect(error.reason).toBe('BadGateway');
    expect(error.message).toContain('<html>Bad Gateway</html>');
  });

  it('reads bodies given as bytes or as parsed objects', () => {
    const bytes = new TextEncoder().encode(JSON.stringify(status(404, 'NotFound', 'gone')));
    expect(toKubeError(new ApiException(404, 'x', bytes, {})).code).toBe(KubeErrorCode.NotFound);
    const parsed = status(410, 'Expired', 'too old resource version: 1 (5)');
    expect(toKubeError(new ApiException(410, 'x', parsed, {})).code).toBe(KubeErrorCode.Gone);
  });

  it('keeps the retry-after of a 429', () => {
    const fromHeader = toKubeError(
      apiException(429, status(429, 'TooManyRequests', 'slow down'), { 'retry-after': '3' }),
    );
    expect(fromHeader.retryAfterSeconds).toBe(3);
    const fromDetails = toKubeError(
      apiException(
        429,
        status(429, 'TooManyRequests', 'slow down', { details: { retryAfterSeconds: 7 } }),
      ),
    );
    expect(fromDetails.retryAfterSeconds).toBe(7);
  });

  it('maps connection failures to KE_KUBE_UNAVAILABLE', () => {
    const refused = new FetchError(
      'request to https://127.0.0.1:6443/apis failed, reason: connect ECONNREFUSED 127.0.0.1:6443',
      'system',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    const error = toKubeError(refused, 'list devices');
    expect(error.code).toBe(KubeErrorCode.Unavailable);
    expect(error.reason).toBe('ECONNREFUSED');
    expect(error.message).toMatch(/^list devices: cannot reach the API server: .*ECONNREFUSED/);

    const undiciStyle = new TypeError('fetch failed', {
      cause: Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }),
    });
    expect(toKubeError(undiciStyle).code).toBe(KubeErrorCode.Unavailable);
  });

  it('maps anything else to KE_KUBE_REQUEST, and passes a KubeError through', () => {
    const other = toKubeError(new Error('Required parameter name was null or undefined'));
    expect(other.code).toBe(KubeErrorCode.Request);
    expect(other.message).toContain('Required parameter name');
    const tls = toKubeError(
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    );
    expect(tls.code).toBe(KubeErrorCode.Request);
    expect(tls.reason).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    const aborted = toKubeError(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    expect(aborted.reason).toBe('Aborted');
    expect(toKubeError('a string').code).toBe(KubeErrorCode.Request);

    const original = new KubeError(KubeErrorCode.NotFound, 'already mapped');
    expect(toKubeError(original)).toBe(original);
  });
});
