import * as http from 'node:http';
import * as https from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { toKubeError } from './api-errors';
import { KubeError, KubeErrorCode } from './errors';

/** One JSON request to the API server, by URL path (for kinds no generated client covers well). */
export interface JsonRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** e.g. `/api/v1/namespaces/default/configmaps`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
  /** Fails with `KE_KUBE_UNAVAILABLE` (reason `ETIMEDOUT`) when no complete answer came by then. */
  timeoutMs?: number;
  /** For error messages, e.g. `list /api/v1/pods`. */
  operation: string;
}

/** Closes the sockets of an agent client-node made for one request. */
export function destroyAgent(agent: unknown): void {
  const destroy = (agent as { destroy?: () => void } | undefined)?.destroy;
  if (typeof destroy === 'function') destroy.call(agent);
}

/**
 * Sends `request` with the kubeconfig's server, TLS settings and credentials (client-node's
 * `applyToHTTPSOptions`: tokens, exec plugins, client certificates, proxies) and returns the
 * parsed JSON answer. Rejects with a {@link KubeError}: the server's Status for non-2xx answers,
 * `KE_KUBE_UNAVAILABLE` for network failures and timeouts, reason `Aborted` for an abort.
 */
export async function requestJson<R>(kc: KubeConfig, request: JsonRequest): Promise<R> {
  const { operation } = request;
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeError(
      KubeErrorCode.ConfigInvalid,
      `${operation}: the kubeconfig has no cluster`,
      {
        reason: 'no active cluster',
      },
    );
  }
  const url = new URL(cluster.server.replace(/\/+$/, '') + request.path);
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
  }
  const options: https.RequestOptions = {};
  try {
    await kc.applyToHTTPSOptions(options);
  } catch (error) {
    throw toKubeError(error, `${operation}: applying the kubeconfig's credentials`);
  }
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const headers: http.OutgoingHttpHeaders = {
    ...(options.headers as http.OutgoingHttpHeaders | undefined),
    Accept: 'application/json',
    ...(payload === undefined
      ? {}
      : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
  };
  const transport = url.protocol === 'https:' ? https : http;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<R>((resolve, reject) => {
      const req = transport.request(
        url,
        {
          ...options,
          method: request.method ?? 'GET',
          headers,
          ...(request.signal ? { signal: request.signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              const responseHeaders: Record<string, string> = {};
              for (const [name, value] of Object.entries(res.headers)) {
                if (typeof value === 'string') responseHeaders[name] = value;
              }
              reject(new ApiException(status, `HTTP ${status}`, text, responseHeaders));
              return;
            }
            try {
              resolve((text === '' ? undefined : JSON.parse(text)) as R);
            } catch (error) {
              reject(new Error(`the API server's answer is not JSON: ${(error as Error).message}`));
            }
          });
        },
      );
      req.on('error', reject);
      if (request.timeoutMs !== undefined) {
        const timeoutMs = Math.max(1, request.timeoutMs);
        timer = setTimeout(() => {
          const error = new Error(`no answer within ${timeoutMs} ms`) as Error & { code: string };
          error.code = 'ETIMEDOUT';
          req.destroy(error);
        }, timeoutMs);
      }
      req.end(payload);
    });
  } catch (error) {
    throw toKubeError(error, operation);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    // client-node makes an agent per call; its sockets must not outlive the request.
    destroyAgent(options.agent);
  }
}
