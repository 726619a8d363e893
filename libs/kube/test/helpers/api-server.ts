import { request as httpRequest } from 'node:http';
import { type ApiServer, createApiServer, createMemoryStore, type Store } from '@ke/apiserver';
import { waitFor } from '@ke/testing';
import type { Informer, KubeConfig, KubernetesObject } from '../../src/index';
import { loadKubeConfig } from '../../src/index';

/** The bearer token the test servers accept, and the kubeconfigs send. */
export const TOKEN = 'kube-test-token';

export interface ServerOptions {
  /** Default: a fresh memory store. */
  store?: Store;
  /** Default: a free one. */
  port?: number;
  bookmarkIntervalMs?: number;
}

/** A started `@ke/apiserver` with a kubeconfig for it and a small REST client. */
export interface TestServer {
  server: ApiServer;
  store: Store;
  url: string;
  kubeConfig: KubeConfig;
  /** Sends a request as the kubeconfig's user; throws with the Status for non-2xx answers. */
  request<T = KubeObjectJson>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export interface KubeObjectJson extends KubernetesObject {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface KubeListJson {
  metadata: { resourceVersion: string; continue?: string };
  items: KubeObjectJson[];
}

export function kubeConfigFor(url: string): KubeConfig {
  return loadKubeConfig({
    yaml: `
apiVersion: v1
kind: Config
current-context: test
clusters: [{ name: test, cluster: { server: '${url}' } }]
contexts: [{ name: test, context: { cluster: test, user: tester } }]
users: [{ name: tester, user: { token: ${TOKEN} } }]
`,
  });
}

/**
 * A request on a connection of its own (no pool), so that a test that counts open sockets
 * counts only the informer's.
 */
export function request<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  return new Promise<T>((resolve, reject) => {
    const req = httpRequest(
      `${url}${path}`,
      {
        method,
        agent: false,
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          ...(payload === undefined
            ? {}
            : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new Error(`${method} ${path}: ${status} ${text}`));
            return;
          }
          resolve(JSON.parse(text) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const store = options.store ?? createMemoryStore();
  const server = createApiServer({
    store,
    port: options.port ?? 0,
    auth: { tokens: { [TOKEN]: 'tester' } },
    ...(options.bookmarkIntervalMs === undefined
      ? {}
      : { bookmarkIntervalMs: options.bookmarkIntervalMs }),
  });
  await server.start();
  const url = server.url;
  return {
    server,
    store,
    url,
    kubeConfig: kubeConfigFor(url),
    request: (method, path, body) => request(url, method, path, body),
    async stop() {
      await server.stop();
      store.close();
    },
  };
}

export function configMap(namespace: string, name: string, data: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

export async function createNamespace(api: TestServer, name: string): Promise<void> {
  await api.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
}

/** `key → resourceVersion` of every object at `path`, read fresh from the server. */
export async function serverState(api: TestServer, path: string): Promise<Map<string, string>> {
  const list = await api.request<KubeListJson>('GET', path);
  return stateOf(list.items);
}

export function stateOf(objects: readonly KubernetesObject[]): Map<string, string> {
  const state = new Map<string, string>();
  for (const object of objects) {
    const { namespace, name, resourceVersion } = object.metadata ?? {};
    state.set(namespace ? `${namespace}/${name}` : `${name}`, `${resourceVersion}`);
  }
  return new Map([...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Waits until the informer's cache equals the server's list (names and resourceVersions). */
export async function waitForCacheToMatch<T extends KubernetesObject>(
  api: TestServer,
  informer: Informer<T>,
  path: string,
  timeoutMs = 10_000,
): Promise<Map<string, string>> {
  let expected = new Map<string, string>();
  await waitFor(
    `the informer's cache to equal ${path} on the server`,
    async () => {
      expected = await serverState(api, path);
      const actual = stateOf(informer.list());
      return JSON.stringify([...actual]) === JSON.stringify([...expected]);
    },
    { timeoutMs, intervalMs: 20 },
  );
  return expected;
}

/** A logger that keeps what it is told, for asserting on warnings. */
export function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface RecordedEvent<T extends KubernetesObject = KubernetesObject> {
  type: 'add' | 'update' | 'delete';
  key: string;
  resourceVersion: string;
  /** For updates: the old object's resourceVersion. */
  oldResourceVersion?: string;
  /** For deletes: the deletion was found by a re-list. */
  finalStateUnknown?: boolean;
  /** For updates: old and new are the same object (a resync). */
  resync?: boolean;
  object: T;
}

/** Subscribes to add/update/delete and keeps every event in order. */
export function recordEvents<T extends KubernetesObject>(informer: Informer<T>) {
  const events: RecordedEvent<T>[] = [];
  const keyOf = (object: KubernetesObject) =>
    object.metadata?.namespace
      ? `${object.metadata.namespace}/${object.metadata.name}`
      : `${object.metadata?.name}`;
  const rv = (object: KubernetesObject) => `${object.metadata?.resourceVersion}`;
  const offs = [
    informer.on('add', (object) =>
      events.push({ type: 'add', key: keyOf(object), resourceVersion: rv(object), object }),
    ),
    informer.on('update', (old, object) =>
      events.push({
        type: 'update',
        key: keyOf(object),
        resourceVersion: rv(object),
        oldResourceVersion: rv(old),
        resync: old === object,
        object,
      }),
    ),
    informer.on('delete', (object, info) =>
      events.push({
        type: 'delete',
        key: keyOf(object),
        resourceVersion: rv(object),
        finalStateUnknown: info.finalStateUnknown,
        object,
      }),
    ),
  ];
  return {
    events,
    of: (key: string) => events.filter((event) => event.key === key),
    off: () => {
      for (const off of offs) off();
    },
  };
}

/** A logger that drops everything (the informers' retries are expected in these tests). */
export const silentLogger = {};
