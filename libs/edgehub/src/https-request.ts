import { request } from 'node:https';
import { EdgeHubError } from './errors';

export interface HttpsAnswer {
  readonly status: number;
  readonly body: Buffer;
}

const MAX_ANSWER_BYTES = 1 << 20;

// Node's TLS verification failures: the server answered, but not as someone the CA vouches for.
const UNTRUSTED = /CERT|SIGNATURE|ALTNAME|ISSUER|SELF_SIGNED/;

/**
 * One HTTPS request on its own connection. `trust: 'insecure'` skips server verification; it is
 * used once, for `/ca.crt`, whose answer is checked against the token's hash instead.
 */
export function httpsRequest(
  url: string,
  options: {
    method: 'GET' | 'POST';
    trust: { ca: string } | 'insecure';
    /** A client certificate to present (a renewing node's current one). */
    clientCertificate?: { certificatePem: string; privateKeyPem: string };
    headers?: Record<string, string>;
    body?: Uint8Array;
    timeoutMs: number;
    signal?: AbortSignal | undefined;
  },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body) headers['Content-Length'] = options.body.length;
    const tls = {
      ...(options.trust === 'insecure' ? { rejectUnauthorized: false } : { ca: options.trust.ca }),
      ...(options.clientCertificate
        ? {
            cert: options.clientCertificate.certificatePem,
            key: options.clientCertificate.privateKeyPem,
          }
        : {}),
    };
    let req: ReturnType<typeof request>;
    try {
      req = request(url, {
        method: options.method,
        headers,
        agent: false,
        timeout: options.timeoutMs,
        ...tls,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (cause) {
      reject(new EdgeHubError('KE_EDGEHUB_INVALID_ARGUMENT', `bad URL ${url}`, { cause }));
      return;
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          req.destroy(new Error(`answer over ${MAX_ANSWER_BYTES} bytes`));
        } else {
          chunks.push(chunk);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', (cause) => reject(unreachable(url, cause)));
    });
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    });
    req.on('error', (cause: NodeJS.ErrnoException) => {
      if (options.signal?.aborted) reject(options.signal.reason);
      else if (typeof cause.code === 'string' && UNTRUSTED.test(cause.code)) {
        reject(
          new EdgeHubError(
            'KE_EDGEHUB_SERVER_UNTRUSTED',
            `${url}: the server's certificate does not verify against the cluster CA ` +
              `(${cause.code}); is this the cloudcore the token was made for?`,
            { cause },
          ),
        );
      } else reject(unreachable(url, cause));
    });
    req.end(options.body);
  });
}

function unreachable(url: string, cause: Error): EdgeHubError {
  return new EdgeHubError(
    'KE_EDGEHUB_CERT_SERVER_UNREACHABLE',
    `cannot reach the certificate server at ${url}: ${cause.message}; ` +
      "check cloudcore's address and port 10002",
    { cause },
  );
}
