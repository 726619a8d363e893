import { randomBytes } from 'node:crypto';
import {
  type ApiServer,
  type ApiServerOptions,
  createApiServer,
  createMemoryStore,
  type Store,
} from '@ke/apiserver';

/** A started API server over its own store; `stop()` ends both. */
export interface TestServer {
  readonly server: ApiServer;
  readonly store: Store;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startServer(
  options: Partial<ApiServerOptions> = {},
  store: Store = createMemoryStore(),
): Promise<TestServer> {
  const server = createApiServer({ store, port: 0, auth: { anonymous: true }, ...options });
  await server.start();
  return {
    server,
    store,
    url: server.url,
    async stop() {
      await server.stop();
      store.close();
    },
  };
}

/** A DNS-1123 name no other test uses: `prefix-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A JSON document as the tests read it: deep property reads without narrowing at each step. */
// biome-ignore lint/suspicious/noExplicitAny: assertions read deep into Kubernetes objects
export type Json = any;

export interface JsonResponse<T = Json> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** One request with a JSON body (unless `raw` is given); answers the parsed JSON body. */
export async function request<T = Json>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string | Buffer; contentType?: string } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = {};
  let body: string | Buffer | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text ? JSON.parse(text) : undefined) as T,
  };
}

/** Creates a namespace and returns its name. */
export async function createNamespace(base: string, prefix = 'ns'): Promise<string> {
  const name = uniqueName(prefix);
  const created = await request(base, 'POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  if (created.status !== 201) {
    throw new Error(
      `creating namespace ${name}: ${created.status} ${JSON.stringify(created.body)}`,
    );
  }
  return name;
}

export const configMap = (name: string, data: Record<string, string> = {}, extra: object = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...extra },
  data,
});

export interface WatchEvent {
  readonly type: string;
  readonly object: Json;
}

/**
 * A watch stream read line by line. `next()` resolves with the next event (bounded);
 * `ended` resolves once the server closes the stream.
 */
export interface WatchStream {
  readonly status: number;
  readonly events: WatchEvent[];
  next(timeoutMs?: number): Promise<WatchEvent>;
  /** Waits for the first event (past or future) accepted by `predicate`. */
  waitFor(predicate: (event: WatchEvent) => boolean, timeoutMs?: number): Promise<WatchEvent>;
  /** Resolves once the server has closed the stream; fails after `timeoutMs`. */
  ended(timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function watch(base: string, path: string): Promise<WatchStream> {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, { signal: controller.signal });
  const events: WatchEvent[] = [];
  let delivered = 0;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  let done = false;
  void (async () => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        buffer += decoder.decode(value, { stream: true });
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line) events.push(JSON.parse(line) as WatchEvent);
          newline = buffer.indexOf('\n');
        }
        notify();
      }
    } catch {
      // aborted by close()
    } finally {
      done = true;
      notify();
    }
  })();
  const waitUntil = <T>(probe: () => T | undefined, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value !== undefined) {
          cleanup();
          resolve(value);
        } else if (done) {
          cleanup();
          reject(new Error(`the watch ended before ${what}; events: ${JSON.stringify(events)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    status: response.status,
    events,
    next(timeoutMs = 5000) {
      return waitUntil(
        () => (delivered < events.length ? events[delivered++] : undefined),
        timeoutMs,
        'the next event',
      );
    },
    waitFor(predicate, timeoutMs = 5000) {
      return waitUntil(() => events.find(predicate), timeoutMs, 'a matching event');
    },
    ended(timeoutMs = 5000) {
      return waitUntil(() => (done ? true : undefined), timeoutMs, 'the end of the watch').then(
        () => undefined,
      );
    },
    close() {
      controller.abort();
    },
  };
}
