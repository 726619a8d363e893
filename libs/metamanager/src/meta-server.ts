import {
  type ApiServer,
  createApiServer,
  type ResourceInfo,
  type Store,
  type StoreEvent,
} from '@ke/apiserver';
import { buildEdgeResource, createMessage, ModuleName, Operation, type Router } from '@ke/beehive';
import type { MetaManagerLogger } from './meta-manager';
import { typeOfStorage } from './resource-types';

export interface MetaServerOptions {
  /** MetaManager's store. */
  readonly store: Store;
  /** The router local writes go through to the cloud. */
  readonly router: Router;
  /** The module that carries messages to the cloud; default `edgehub`. */
  readonly cloudModule?: string;
  /** Default `127.0.0.1` (KubeEdge's MetaServer listens on loopback only). */
  readonly host?: string;
  /** Default 10550 (KubeEdge's); 0 picks a free one. */
  readonly port?: number;
  readonly logger?: MetaManagerLogger;
}

/**
 * Objects the edge reports but the cloud never sends down: kept locally (so `kubectl get
 * events` at the edge shows them) and sent on to the cloud.
 */
const UPSTREAM_ONLY: Readonly<Record<string, string>> = { 'core/events': 'event' };

const OPERATION_OF_EVENT = {
  ADDED: Operation.Insert,
  MODIFIED: Operation.Update,
  DELETED: Operation.Delete,
} as const;

/**
 * KubeEdge's MetaServer: a Kubernetes API on `127.0.0.1:10550` over MetaManager's store, for
 * the node's own clients (EdgeMesh, user apps, `kubectl --server`). Reads and watches are
 * served from the store, so they work while the cloud is gone. A local client's write is kept
 * locally and sent on to the cloud as a message (`insert`/`update`/`delete` of the edge
 * resource, source `metaserver`); the cloud's answer, when it comes, replaces the local copy.
 * No authentication: it listens on loopback, like KubeEdge's.
 */
export function createMetaServer(options: MetaServerOptions): ApiServer {
  const cloudModule = options.cloudModule ?? ModuleName.EdgeHub;
  const forward = (_info: ResourceInfo, event: StoreEvent) => {
    const type = typeOfStorage(event.key.resource) ?? UPSTREAM_ONLY[event.key.resource];
    if (!type) return; // namespaces and the like stay local
    const message = createMessage({
      source: 'metaserver',
      group: 'resource',
      operation: OPERATION_OF_EVENT[event.type],
      resource: buildEdgeResource({
        namespace: event.key.namespace === '' ? null : event.key.namespace,
        type,
        name: event.key.name,
      }),
      content: event.object,
    });
    // Inside the write's transaction: send once it has committed.
    queueMicrotask(() => {
      if (!options.router.has(cloudModule)) return;
      options.router.send(cloudModule, message, { ifFull: 'reject' }).catch((error: Error) => {
        options.logger?.warn?.(
          { resource: message.route.resource, err: error },
          'a local write was not sent to the cloud',
        );
      });
    });
  };
  return createApiServer({
    store: options.store,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 10550,
    auth: { anonymous: true },
    // ClusterIPs are the cloud's to allocate: Services are stored as they arrive.
    serviceClusterIPRange: null,
    onWrite: [forward],
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
