import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ApiCore, type WriteHook } from './core';
import { crdRegistrar, prepareCrd, resourcesOfCrd, validateCrd } from './crds';
import { HttpApi } from './http/server';
import { DEFAULT_NAMESPACES, NamespaceLifecycle } from './namespaces';
import { ResourceRegistry } from './registry';
import { DEFAULT_SERVICE_CLUSTER_IP_RANGE, ServiceIPAllocator } from './service-ips';
import type { Store } from './store/types';
import { defaultService, preparePod } from './strategies';

/** How clients prove who they are. Every authenticated user may do everything (see README). */
export interface AuthOptions {
  /** Bearer tokens accepted in `Authorization: Bearer <token>`, mapped to user names. */
  readonly tokens?: Readonly<Record<string, string>>;
  /**
   * Accept requests with no credentials as `system:anonymous`. For loopback development and
   * tests only; off by default.
   */
  readonly anonymous?: boolean;
}

export interface ApiServerOptions {
  /** Where objects live: `createSqliteStore({ path })` or `createMemoryStore()`. */
  readonly store: Store;
  /** Listen address; default 127.0.0.1. */
  readonly host?: string;
  /** Listen port; 0 (default) picks a free one. */
  readonly port?: number;
  /**
   * Serve HTTPS. With `ca`, client certificates signed by it authenticate as their CN (as
   * Kubernetes does); without, only tokens do.
   */
  readonly tls?: {
    readonly key: string | Buffer;
    readonly cert: string | Buffer;
    readonly ca?: string | Buffer;
  };
  readonly auth?: AuthOptions;
  /**
   * Called for each write made through the API (not for writes straight to the store), inside
   * its transaction; a hook that throws undoes the write. The edge MetaServer uses one to send
   * local clients' writes on to the cloud (schedule such work; do not write to the store).
   */
  readonly onWrite?: readonly WriteHook[];
  /**
   * IPv4 CIDR that Services get their `spec.clusterIP` from, as kube-apiserver's
   * `--service-cluster-ip-range` (default `10.96.0.0/12`). The first address after the network
   * one (`.1`) is left for the `kubernetes` Service. `null` turns allocation off: cluster IPs are
   * stored as sent, for a server that mirrors another cluster's objects. Throws
   * `ServiceIPRangeError` when not an IPv4 CIDR between /8 and /29.
   */
  readonly serviceClusterIPRange?: string | null;
  /** Largest request body (default 3 MiB, as Kubernetes). */
  readonly maxRequestBytes?: number;
  /** Watch timeout when the client sets none (default 1800 s). */
  readonly watchTimeoutSeconds?: number;
  /** Interval of watch bookmarks for clients that allow them (default 60 s). */
  readonly bookmarkIntervalMs?: number;
  /** Bytes a slow watcher may queue before its watch is closed (default 16 MiB). */
  readonly maxWatchBufferBytes?: number;
  readonly logger?: {
    info?(fields: object, message: string): void;
    warn?(fields: object, message: string): void;
    debug?(fields: object, message: string): void;
  };
}

export interface ApiServer {
  /** `http(s)://host:port` once started. */
  readonly url: string;
  /** The API semantics, for in-process callers (the edge MetaServer, tests). */
  readonly core: ApiCore;
  readonly registry: ResourceRegistry;
  start(): Promise<void>;
  /** Ends watches, closes the listener. The store is the caller's to close. */
  stop(): Promise<void>;
}

function authenticator(options: ApiServerOptions) {
  const tokens = new Map(Object.entries(options.auth?.tokens ?? {}));
  return {
    authenticate(req: IncomingMessage): string | undefined {
      const header = req.headers.authorization;
      if (header?.startsWith('Bearer ')) return tokens.get(header.slice(7).trim());
      const socket = req.socket as Partial<TLSSocket>;
      if (socket.authorized && socket.getPeerCertificate) {
        const cn = socket.getPeerCertificate().subject?.CN;
        if (cn) return Array.isArray(cn) ? cn[0] : cn;
      }
      return options.auth?.anonymous ? 'system:anonymous' : undefined;
    },
  };
}

/**
 * A Kubernetes-compatible API server over `store`. `kubectl` and `@kubernetes/client-node` work
 * against it unmodified.
 */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const registry = new ResourceRegistry();
  const crdInfo = registry.find('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  registry.add({ ...crdInfo, validate: validateCrd, prepare: prepareCrd });
  const podInfo = registry.find('', 'v1', 'pods')!;
  registry.add({ ...podInfo, prepare: preparePod });
  const range = options.serviceClusterIPRange;
  const serviceIPs =
    range === null
      ? undefined
      : new ServiceIPAllocator(options.store, range ?? DEFAULT_SERVICE_CLUSTER_IP_RANGE);
  const serviceInfo = registry.find('', 'v1', 'services')!;
  registry.add({
    ...serviceInfo,
    prepare: (service) => {
      defaultService(service);
      serviceIPs?.allocate(service);
    },
    prepareUpdate: (next, current) => {
      defaultService(next);
      serviceIPs?.reallocate(next, current);
    },
  });
  const namespaces = new NamespaceLifecycle(registry);
  const core = new ApiCore({
    store: options.store,
    resolve: (group, version, resource) => registry.find(group, version, resource),
    onWrite: [crdRegistrar(registry), namespaces.hook, ...(options.onWrite ?? [])],
  });
  namespaces.attach(core);
  const http = new HttpApi({
    core,
    registry,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    ...(options.tls ? { tls: options.tls } : {}),
    authenticator: authenticator(options),
    maxRequestBytes: options.maxRequestBytes ?? 3 * 1024 * 1024,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? 1800,
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    maxWatchBufferBytes: options.maxWatchBufferBytes ?? 16 * 1024 * 1024,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  let started = false;
  return {
    get url() {
      return http.url;
    },
    core,
    registry,
    async start() {
      if (started) return;
      // Serve the CRDs already stored, and make the namespaces every cluster has.
      for (const crd of options.store.list('apiextensions.k8s.io/customresourcedefinitions')
        .items) {
        for (const resource of resourcesOfCrd(crd)) registry.add(resource);
      }
      const nsInfo = registry.find('', 'v1', 'namespaces')!;
      for (const name of DEFAULT_NAMESPACES) {
        if (!options.store.get({ resource: 'core/namespaces', namespace: '', name })) {
          core.create(nsInfo, '', { metadata: { name } });
        }
      }
      namespaces.resume();
      await http.listen();
      started = true;
      options.logger?.info?.({ url: http.url }, 'API server listening');
    },
    async stop() {
      namespaces.stop();
      await http.close();
      started = false;
    },
  };
}
