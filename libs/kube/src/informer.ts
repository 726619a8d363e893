import { type KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node';
import { toKubeError } from './api-errors';
import { Backoff, type BackoffOptions, sleep } from './backoff';
import { unrefTimer } from './clock';
import { isKubeError, KubeError, KubeErrorCode, type KubeStatus } from './errors';
import { destroyAgent, requestJson } from './http-request';
import { builtinIndexers, Indexer, type IndexFunc, metaNamespaceKey } from './indexer';
import { consoleLogger, type Logger } from './logger';

/** Options of {@link createInformer}. */
export interface InformerOptions<T extends KubernetesObject> {
  /** Where the API server is and how to authenticate (see `loadKubeConfig`). */
  kubeConfig: KubeConfig;
  /**
   * The collection to list and watch, across namespaces: `/api/v1/pods`,
   * `/apis/devices.kubeedge.io/v1beta1/devices`. With {@link namespace}, only that namespace.
   */
  path: string;
  /** Only objects in this namespace (`/api/v1/namespaces/<namespace>/pods`). */
  namespace?: string;
  /** Only objects whose labels match, e.g. `app=thermometer,tier!=test`. */
  labelSelector?: string;
  /** Only objects whose fields match, e.g. `spec.nodeName=edge-1`. */
  fieldSelector?: string;
  /** Re-deliver every cached object as an `update` (old === new) this often. Default 0: never. */
  resyncPeriodMs?: number;
  /** More indexes beside the built-in `namespace` and `nodeName` (same name: replaces it). */
  indexers?: Record<string, IndexFunc<T>>;
  /** Receives connection problems (warn) and handler failures (error). Default: console. */
  logger?: Logger;
  /** Objects per page of the list (`limit`/`continue`). Default 500, as client-go; 0: one page. */
  pageSize?: number;
  /**
   * Asks the server to end each watch after this long, then watches again from the last
   * resourceVersion (client-go picks 5 to 10 minutes at random; so does the default).
   */
  watchTimeoutSeconds?: number;
  /** Waits between failed attempts (exponential, jittered, capped). Default 800 ms to 30 s. */
  backoff?: BackoffOptions;
  /** Longest wait for one page of the list. Default 60 s. */
  requestTimeoutMs?: number;
}

/** What the second argument of a `delete` handler says. */
export interface DeleteInfo {
  /**
   * The deletion was not seen as it happened: the object was missing from a re-list after the
   * watch was interrupted, and the object given is the last state the informer knew
   * (client-go's `DeletedFinalStateUnknown`).
   */
  finalStateUnknown: boolean;
}

/** The handlers an informer calls, by event name. */
export interface InformerHandlers<T extends KubernetesObject> {
  /** A new object (also: every object of the first list, and of a handler added later). */
  add: (object: T) => void;
  /** A changed object; at a resync `oldObject === newObject`. */
  update: (oldObject: T, newObject: T) => void;
  /** A deleted object (or one that no longer matches the selectors), in its last known state. */
  delete: (object: T, info: DeleteInfo) => void;
  /** A failed list or watch; the informer retries by itself. */
  error: (error: KubeError) => void;
}

export type InformerEvent = keyof InformerHandlers<KubernetesObject>;

/**
 * A local, indexed, eventually consistent copy of one collection, kept up to date by list +
 * watch (client-go's SharedIndexInformer). Objects it hands out are shared: treat them as
 * read-only.
 */
export interface Informer<T extends KubernetesObject> {
  /** Starts listing and watching; `signal` aborting is {@link stop}. Does nothing if running. */
  start(signal?: AbortSignal): void;
  /**
   * Stops: aborts the request in flight (destroying its sockets), clears the timers, rejects
   * pending `waitForSync`. Resolves once the informer's loop has ended; the operating system's
   * socket handles are released a moment later. The cache stays readable; a later `start`
   * lists again and delivers the differences.
   */
  stop(): Promise<void>;
  /** Whether the first list has been applied to the cache. */
  hasSynced(): boolean;
  /** Resolves once synced. Rejects when `signal` aborts (its reason) or the informer stops. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  /**
   * Calls `handler` for each event, synchronously, in the order the informer applies changes
   * (so in order per key). An `add` handler registered after the cache is filled is first
   * called for each cached object, as client-go does. Returns the function that removes it.
   */
  on<E extends InformerEvent>(event: E, handler: InformerHandlers<T>[E]): () => void;
  /** Every cached object. */
  list(): T[];
  /** The cached object with key `namespace/name` (or `name` for cluster-scoped objects). */
  get(key: string): T | undefined;
  /** Cached objects under `value` in index `indexName` (`namespace`, `nodeName`, or your own). */
  byIndex(indexName: string, value: string): T[];
  /** The resourceVersion of the last list, watch event or bookmark applied ('' before the first list). */
  readonly lastSyncResourceVersion: string;
}

type WatchEnd =
  | { kind: 'stopped' }
  | { kind: 'closed' }
  | { kind: 'gone'; error: KubeError }
  | { kind: 'network'; error: KubeError }
  | { kind: 'failed'; error: KubeError };

interface WatchResult {
  end: WatchEnd;
  /** Events received, bookmarks included. */
  events: number;
  /** Whether the server accepted the watch (200 and a stream). */
  connected: boolean;
  durationMs: number;
}

interface ListPage<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/** A watch that ends by itself this soon, with no event, counts as a failure (client-go's "very short watch"). */
const SHORT_WATCH_MS = 1000;

function invalidArgument(message: string): KubeError {
  return new KubeError(KubeErrorCode.InvalidArgument, message, { reason: message });
}

/** `/api/v1/pods` + `ns1` → `/api/v1/namespaces/ns1/pods`. */
function collectionPath(path: string, namespace: string | undefined): string {
  const segments = path.split('/').filter((segment) => segment !== '');
  const core = segments[0] === 'api' && segments.length === 3;
  const grouped = segments[0] === 'apis' && segments.length === 4;
  const namespacedAlready =
    (segments[0] === 'api' && segments.length === 5 && segments[2] === 'namespaces') ||
    (segments[0] === 'apis' && segments.length === 6 && segments[3] === 'namespaces');
  if (namespacedAlready) {
    if (namespace) {
      throw invalidArgument(
        `createInformer: path "${path}" already names a namespace; drop the namespace option`,
      );
    }
    return `/${segments.join('/')}`;
  }
  if (!core && !grouped) {
    throw invalidArgument(
      `createInformer: path "${path}" is not a collection; expected /api/v1/<resource> or ` +
        '/apis/<group>/<version>/<resource>',
    );
  }
  if (!namespace) return `/${segments.join('/')}`;
  const resource = segments.pop()!;
  return `/${[...segments, 'namespaces', encodeURIComponent(namespace), resource].join('/')}`;
}

function resourceVersionOf(object: KubernetesObject | undefined): string {
  return object?.metadata?.resourceVersion ?? '';
}

/** Turns what client-node's `Watch` reports into how the watch ended. */
function watchFailure(error: unknown, operation: string): WatchEnd {
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number') {
    const kubeError = toKubeError(
      Object.assign(new Error(`HTTP ${statusCode}`), { code: statusCode, body: '', headers: {} }),
      operation,
    );
    return statusCode === 410
      ? { kind: 'gone', error: kubeError }
      : { kind: 'failed', error: kubeError };
  }
  const kubeError = toKubeError(error, operation);
  return kubeError.code === KubeErrorCode.Unavailable
    ? { kind: 'network', error: kubeError }
    : { kind: 'failed', error: kubeError };
}

/**
 * Creates an informer for one collection: a paged list, then a watch from the list's
 * resourceVersion (with bookmarks); on a watch that ends, a watch again from the last
 * resourceVersion; on `410 Gone`, a re-list that delivers the differences (objects deleted
 * meanwhile come as `delete` with `finalStateUnknown`); on connection failures, retries with
 * exponential, jittered, capped back-off until stopped.
 *
 * @example
 * ```ts
 * const pods = createInformer<V1Pod>({ kubeConfig, path: '/api/v1/pods' });
 * pods.on('add', (pod) => queue.add(metaNamespaceKey(pod)));
 * pods.on('update', (_old, pod) => queue.add(metaNamespaceKey(pod)));
 * pods.on('delete', (pod) => queue.add(metaNamespaceKey(pod)));
 * pods.start(signal);
 * await pods.waitForSync(signal);
 * const onEdge1 = pods.byIndex('nodeName', 'edge-1');
 * ```
 */
export function createInformer<T extends KubernetesObject = KubernetesObject>(
  options: InformerOptions<T>,
): Informer<T> {
  const kc = options.kubeConfig;
  if (!kc || typeof kc.getCurrentCluster !== 'function') {
    throw invalidArgument('createInformer: kubeConfig is required (see loadKubeConfig)');
  }
  const path = collectionPath(options.path ?? '', options.namespace);
  const pageSize = options.pageSize ?? 500;
  if (!(Number.isInteger(pageSize) && pageSize >= 0)) {
    throw invalidArgument(`createInformer: pageSize must be an integer >= 0, got ${pageSize}`);
  }
  const resyncPeriodMs = options.resyncPeriodMs ?? 0;
  if (!(resyncPeriodMs >= 0)) {
    throw invalidArgument(`createInformer: resyncPeriodMs must be >= 0, got ${resyncPeriodMs}`);
  }
  const watchTimeoutSeconds = options.watchTimeoutSeconds;
  if (
    watchTimeoutSeconds !== undefined &&
    !(Number.isInteger(watchTimeoutSeconds) && watchTimeoutSeconds > 0)
  ) {
    throw invalidArgument(
      `createInformer: watchTimeoutSeconds must be an integer > 0, got ${watchTimeoutSeconds}`,
    );
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  const logger = options.logger ?? consoleLogger;
  const backoff = new Backoff(options.backoff, 'createInformer');
  const selectors = {
    labelSelector: options.labelSelector || undefined,
    fieldSelector: options.fieldSelector || undefined,
  };

  const log = (level: keyof Logger, fields: Record<string, unknown>, message: string) => {
    try {
      logger[level]?.call(logger, { informer: path, ...fields }, message);
    } catch {
      // A broken logger must not stop the informer.
    }
  };

  const cache = new Indexer<T>(
    { ...(builtinIndexers as Record<string, IndexFunc<T>>), ...options.indexers },
    (indexName, key, err) =>
      log('error', { indexName, key, err }, 'index function threw; object left out of the index'),
  );

  const handlers: { [E in InformerEvent]: InformerHandlers<T>[E][] } = {
    add: [],
    update: [],
    delete: [],
    error: [],
  };

  function emit<E extends InformerEvent>(
    event: E,
    ...args: Parameters<InformerHandlers<T>[E]>
  ): void {
    for (const handler of [...handlers[event]]) {
      try {
        (handler as (...values: unknown[]) => void)(...args);
      } catch (err) {
        const object = args[0] as T | KubeError;
        const key = object instanceof KubeError ? undefined : metaNamespaceKey(object);
        log('error', { event, key, err }, 'informer handler threw');
      }
    }
  }

  let lastSyncResourceVersion = '';
  let synced = false;
  let syncWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** The current run: its abort controller, and the promise of its loop. */
  let current: { controller: AbortController; done: Promise<void>; detach: () => void } | undefined;
  let resyncTimer: ReturnType<typeof setInterval> | undefined;

  const markSynced = () => {
    if (synced) return;
    synced = true;
    const waiters = syncWaiters;
    syncWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  };

  const fail = (error: KubeError, message: string, fields: Record<string, unknown> = {}) => {
    log('warn', { err: error, failures: backoff.failures, ...fields }, message);
    emit('error', error);
  };

  /** A list item or watch object with apiVersion/kind, which list items may lack. */
  const withTypeMeta = (object: T, apiVersion: string | undefined, kind: string | undefined) =>
    object.apiVersion !== undefined && object.kind !== undefined
      ? object
      : ({
          ...object,
          apiVersion: object.apiVersion ?? apiVersion,
          kind: object.kind ?? kind,
        } as T);

  /** Applies a full list: adds, updates of changed objects, deletes of missing ones. */
  function replace(items: T[], resourceVersion: string): void {
    const listed = new Set<string>();
    for (const object of items) {
      const key = metaNamespaceKey(object);
      listed.add(key);
      const old = cache.get(key);
      // Unchanged: keep the cached object, so that references held by handlers stay current.
      if (old !== undefined && resourceVersionOf(old) === resourceVersionOf(object)) continue;
      cache.set(key, object);
      if (old === undefined) emit('add', object);
      else emit('update', old, object);
    }
    for (const key of [...cache.keys()]) {
      if (listed.has(key)) continue;
      const old = cache.delete(key);
      if (old !== undefined) emit('delete', old, { finalStateUnknown: true });
    }
    lastSyncResourceVersion = resourceVersion;
    markSynced();
  }

  async function listAll(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    let limit = pageSize;
    for (;;) {
      let page: ListPage<T>;
      try {
        page = await requestJson<ListPage<T>>(kc, {
          path,
          query: { ...selectors, limit: limit || undefined, continue: continueToken },
          signal,
          timeoutMs: requestTimeoutMs,
          operation: `list ${path}`,
        });
      } catch (error) {
        if (continueToken !== undefined && isKubeError(error, KubeErrorCode.Gone)) {
          // The snapshot the pages came from is compacted: list everything at once, as
          // client-go's pager falls back to.
          log('info', {}, 'continue token expired; listing in one page');
          items.length = 0;
          continueToken = undefined;
          limit = 0;
          continue;
        }
        throw error;
      }
      const itemKind = page.kind?.endsWith('List') ? page.kind.slice(0, -4) : undefined;
      for (const item of page.items ?? [])
        items.push(withTypeMeta(item, page.apiVersion, itemKind));
      resourceVersion = page.metadata?.resourceVersion ?? '';
      continueToken = page.metadata?.continue || undefined;
      if (continueToken === undefined) return { items, resourceVersion };
    }
  }

  /** Applies one watch event; returns how the watch ends if it must. */
  function applyWatchEvent(type: string, object: unknown): WatchEnd | undefined {
    if (type === 'ERROR') {
      const status = (object ?? {}) as KubeStatus;
      const error = toKubeError(
        Object.assign(new Error(`HTTP ${status.code ?? 0}`), {
          code: typeof status.code === 'number' ? status.code : 500,
          body: status,
          headers: {},
        }),
        `watch ${path}`,
      );
      return error.code === KubeErrorCode.Gone
        ? { kind: 'gone', error }
        : { kind: 'failed', error };
    }
    const item = object as T | undefined;
    const resourceVersion = resourceVersionOf(item);
    if (type === 'BOOKMARK') {
      if (resourceVersion) lastSyncResourceVersion = resourceVersion;
      return undefined;
    }
    if (!item?.metadata?.name) {
      log('warn', { type }, 'ignoring a watch event without an object name');
      return undefined;
    }
    const key = metaNamespaceKey(item);
    switch (type) {
      case 'ADDED':
      case 'MODIFIED': {
        const old = cache.set(key, item);
        if (old === undefined) emit('add', item);
        else emit('update', old, item);
        break;
      }
      case 'DELETED':
        cache.delete(key);
        emit('delete', item, { finalStateUnknown: false });
        break;
      default:
        log('warn', { type, key }, 'ignoring a watch event of unknown type');
        return undefined;
    }
    if (resourceVersion) lastSyncResourceVersion = resourceVersion;
    return undefined;
  }

  /** One watch request, from `lastSyncResourceVersion`, until it ends or `signal` aborts. */
  function watchOnce(signal: AbortSignal): Promise<WatchResult> {
    const startedAt = performance.now();
    let events = 0;
    let connected = false;
    return new Promise<WatchResult>((resolve) => {
      if (signal.aborted) {
        resolve({ end: { kind: 'stopped' }, events, connected, durationMs: 0 });
        return;
      }
      let settled = false;
      let request: AbortController | undefined;
      let agent: unknown;
      let deadline: ReturnType<typeof setTimeout> | undefined;
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (deadline !== undefined) clearTimeout(deadline);
        request?.abort();
        destroyAgent(agent);
        resolve({ end, events, connected, durationMs: performance.now() - startedAt });
      };
      const onAbort = () => finish({ kind: 'stopped' });
      signal.addEventListener('abort', onAbort, { once: true });

      // client-node's Watch makes a new agent per request and takes no signal before the
      // response starts; catching the agent lets a stop close a connection still being made.
      const config = {
        getCurrentCluster: () => kc.getCurrentCluster(),
        applyToFetchOptions: async (fetchOptions: object) => {
          const init = await kc.applyToFetchOptions(fetchOptions);
          agent = init.agent;
          if (settled) destroyAgent(agent);
          return init;
        },
      } as unknown as KubeConfig;
      const timeoutSeconds = watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
      const query = {
        ...selectors,
        resourceVersion: lastSyncResourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      };
      // The server ends the watch after timeoutSeconds; this catches a connection that died
      // without saying so.
      deadline = setTimeout(() => finish({ kind: 'closed' }), (timeoutSeconds + 30) * 1000);
      unrefTimer(deadline);
      new Watch(config)
        .watch(
          path,
          query,
          (type: string, object: unknown) => {
            if (settled) return;
            events += 1;
            let end: WatchEnd | undefined;
            try {
              end = applyWatchEvent(type, object);
            } catch (error) {
              end = { kind: 'failed', error: toKubeError(error, `watch ${path}`) };
            }
            if (end !== undefined) finish(end);
          },
          (error: unknown) =>
            finish(
              error === null || error === undefined
                ? { kind: 'closed' }
                : watchFailure(error, `watch ${path}`),
            ),
        )
        .then(
          (controller) => {
            request = controller;
            // Watch resolves after done() for a refused watch; a stream it resolves before.
            if (settled) controller.abort();
            else connected = true;
          },
          (error: unknown) => finish(watchFailure(error, `watch ${path}`)),
        );
    });
  }

  /** The reflector: list, then watch and re-watch; re-list when the watch cannot resume. */
  async function run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let goneInARow = 0;
    while (!signal.aborted) {
      if (needList) {
        try {
          const { items, resourceVersion } = await listAll(signal);
          if (signal.aborted) return;
          replace(items, resourceVersion);
          needList = false;
          log('debug', { resourceVersion, objects: cache.size }, 'listed');
        } catch (error) {
          if (signal.aborted) return;
          const kubeError = toKubeError(error, `list ${path}`);
          const delayMs = backoff.next();
          fail(kubeError, 'list failed; retrying after back-off', { delayMs });
          await sleep(delayMs, signal);
          continue;
        }
      }
      const { end, events, connected, durationMs } = await watchOnce(signal);
      if (end.kind !== 'gone') goneInARow = 0;
      // A watch that worked for a while ends the run of failures.
      if (events > 0 || (connected && durationMs >= SHORT_WATCH_MS)) backoff.reset();
      switch (end.kind) {
        case 'stopped':
          return;
        case 'closed':
          if (events === 0 && durationMs < SHORT_WATCH_MS) {
            // Ended at once with nothing to say: likely a server going away; do not spin.
            await sleep(backoff.next(), signal);
          }
          break;
        case 'gone':
          // The resourceVersion is compacted away: only a new list can resume. At once the
          // first time; a watch from a fresh list that expires at once again backs off.
          log('info', { resourceVersion: lastSyncResourceVersion }, 'watch expired; listing again');
          needList = true;
          if (events <= 1 && goneInARow > 0) await sleep(backoff.next(), signal);
          goneInARow += 1;
          break;
        case 'network': {
          const delayMs = backoff.next();
          fail(end.error, 'watch failed; watching again after back-off', { delayMs });
          await sleep(delayMs, signal);
          break;
        }
        case 'failed': {
          const delayMs = backoff.next();
          fail(end.error, 'watch failed; listing again after back-off', { delayMs });
          needList = true;
          await sleep(delayMs, signal);
          break;
        }
      }
    }
  }

  const stop = async (): Promise<void> => {
    const running = current;
    if (running === undefined) return;
    current = undefined;
    running.detach();
    running.controller.abort();
    if (resyncTimer !== undefined) {
      clearInterval(resyncTimer);
      resyncTimer = undefined;
    }
    if (!synced) {
      const waiters = syncWaiters;
      syncWaiters = [];
      const error = new KubeError(
        KubeErrorCode.Request,
        `informer ${path} stopped before it synced`,
        { reason: 'Stopped' },
      );
      for (const waiter of waiters) waiter.reject(error);
    }
    await running.done;
  };

  return {
    start(signal) {
      if (current !== undefined || signal?.aborted) return;
      const controller = new AbortController();
      const onAbort = () => void stop();
      signal?.addEventListener('abort', onAbort, { once: true });
      const detach = () => signal?.removeEventListener('abort', onAbort);
      const done = run(controller.signal).catch((err) => {
        // Every failure is retried inside run; this is a bug, and must not go unnoticed.
        log('error', { err }, 'informer stopped by an unexpected error');
      });
      current = { controller, done, detach };
      if (resyncPeriodMs > 0) {
        resyncTimer = setInterval(() => {
          if (!synced || current?.controller !== controller) return;
          for (const object of cache.values()) emit('update', object, object);
        }, resyncPeriodMs);
        unrefTimer(resyncTimer);
      }
    },

    stop,

    hasSynced: () => synced,

    waitForSync(signal) {
      if (synced) return Promise.resolve();
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          syncWaiters = syncWaiters.filter((waiter) => waiter !== entry);
          reject(signal?.reason);
        };
        const entry = {
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          reject: (error: unknown) => {
            signal?.removeEventListener('abort', onAbort);
            reject(error);
          },
        };
        syncWaiters.push(entry);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    on(event, handler) {
      const list = handlers[event] as unknown[];
      if (!list) throw invalidArgument(`informer.on: unknown event "${String(event)}"`);
      list.push(handler);
      if (event === 'add') {
        for (const object of cache.values()) {
          try {
            (handler as InformerHandlers<T>['add'])(object);
          } catch (err) {
            log('error', { event, key: metaNamespaceKey(object), err }, 'informer handler threw');
          }
        }
      }
      return () => {
        const index = list.indexOf(handler);
        if (index !== -1) list.splice(index, 1);
      };
    },

    list: () => cache.values(),

    get: (key) => cache.get(key),

    byIndex: (indexName, value) => cache.byIndex(indexName, value),

    get lastSyncResourceVersion() {
      return lastSyncResourceVersion;
    },
  };
}
