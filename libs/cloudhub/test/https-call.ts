import { request } from 'node:https';

export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** One HTTPS request on its own connection (no agent, so nothing lingers after a test). */
export function call(
  url: string,
  options: {
    ca: string;
    /** A client certificate to present. */
    client?: { certificatePem: string; privateKeyPem: string };
    method?: string;
    headers?: Record<string, string>;
    body?: Uint8Array;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body) headers['Content-Length'] = options.body.length;
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers,
        ca: options.ca,
        agent: false,
        ...(options.client
          ? { cert: options.client.certificatePem, key: options.client.privateKeyPem }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The Authorization header KubeEdge's edge sends: the JWT part of a bootstrap token. */
export function bearer(token: string): string {
  return `Bearer ${token.slice(token.indexOf('.') + 1)}`;
}
