import {
  buildCloudResource,
  createMessage,
  createResponse,
  type Message,
  ModuleName,
  Operation,
  parseCloudResource,
  resourceTypeOfKind,
} from '@ke/beehive';
import { createInformer, type Informer, type KubeConfig, toKubeError } from '@ke/kube';
import {
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  CustomObjectsApi,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  type V1Node,
  type V1NodeCondition,
  type V1Pod,
} from '@kubernetes/client-node';
import { referencesOf } from './references';

/** The label every edge node carries (KubeEdge's). */
export const EDGE_NODE_LABEL = 'node-role.kubernetes.io/edge';

/** Fields first, message second (pino's order), so a pino logger fits as is. */
export interface EdgeControllerLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
  error?(fields: object, message: string): void;
}

export interface EdgeControllerOptions {
  readonly kubeConfig: KubeConfig;
  /** Where downstream messages go: `cloudHub.dispatch`. */
  readonly dispatch: (message: Message) => unknown;
  /** A node whose status is older than this turns `Ready: Unknown`; default 40 s (Kubernetes'). */
  readonly nodeMonitorGracePeriodMs?: number;
  /** How often node heartbeats are checked; default 5 s. */
  readonly nodeMonitorPeriodMs?: number;
  readonly logger?: EdgeControllerLogger;
}

export interface EdgeController {
  /** Starts the informers; resolves once they have listed. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Handles a message from an edge node (cloudhub's `message` event). */
  handleUpstream(node: string, message: Message): Promise<void>;
}

type Named = KubernetesObject & { metadata?: { name?: string; namespace?: string } };

const keyOf = (object: Named) =>
  object.metadata?.namespace
    ? `${object.metadata.namespace}/${object.metadata?.name}`
    : (object.metadata?.name ?? '');

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Types sent to every edge node. */
const BROADCAST = [
  { type: 'service', path: '/api/v1/services' },
  { type: 'endpoints', path: '/api/v1/endpoints' },
  { type: 'endpointslice', path: '/apis/discovery.k8s.io/v1/endpointslices' },
] as const;

/**
 * The resource types this controller sends, so owns at the nodes: only their ObjectSyncs are
 * reconciled (a Device's, say, belongs to the device controller).
 */
const OWNED_TYPES: ReadonlySet<string> = new Set([
  'pod',
  'configmap',
  'secret',
  ...BROADCAST.map((broadcast) => broadcast.type),
]);

/** The owned resource type of an ObjectSync's `objectKind`, if this controller owns it. */
function ownedTypeOfKind(kind: string): string | undefined {
  const type = resourceTypeOfKind(kind);
  return type !== undefined && OWNED_TYPES.has(type) ? type : undefined;
}

/** What cloudhub recorded as delivered: ObjectSync `<node>.<uid>` (reliablesyncs.kubeedge.io). */
interface ObjectSyncItem {
  metadata?: { name?: string; namespace?: string };
  spec?: { objectKind?: string; objectName?: string; objectAPIVersion?: string };
}

class EdgeControllerImpl implements EdgeController {
  readonly #options: EdgeControllerOptions;
  readonly #logger: EdgeControllerLogger;
  readonly #core: CoreV1Api;
  readonly #coordination: CoordinationV1Api;
  readonly #customObjects: CustomObjectsApi;
  readonly #nodes: Informer<V1Node>;
  readonly #pods: Informer<V1Pod>;
  readonly #configMaps: Informer<Named>;
  readonly #secrets: Informer<Named>;
  readonly #broadcast: { type: string; informer: Informer<Named> }[];
  /** What each node was sent of ConfigMaps and Secrets, as `<type>:<ns>/<name>`. */
  readonly #sent = new Map<string, Set<string>>();
  #monitor: NodeJS.Timeout | undefined;

  constructor(options: EdgeControllerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? {};
    const kubeConfig = options.kubeConfig;
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    this.#customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    const logger = this.#logger as never;
    this.#nodes = createInformer<V1Node>({
      kubeConfig,
      path: '/api/v1/nodes',
      labelSelector: EDGE_NODE_LABEL,
      logger,
    });
    this.#pods = createInformer<V1Pod>({
      kubeConfig,
      path: '/api/v1/pods',
      fieldSelector: 'spec.nodeName!=',
      logger,
    });
    this.#configMaps = createInformer<Named>({ kubeConfig, path: '/api/v1/configmaps', logger });
    this.#secrets = createInformer<Named>({ kubeConfig, path: '/api/v1/secrets', logger });
    this.#broadcast = BROADCAST.map(({ type, path }) => ({
      type,
      informer: createInformer<Named>({ kubeConfig, path, logger }),
    }));
  }

  async start(): Promise<void> {
    this.#nodes.on('add', (node) => this.#syncNode(node.metadata?.name ?? ''));
    this.#nodes.on('delete', (node) => this.#sent.delete(node.metadata?.name ?? ''));
    this.#pods.on('add', (pod) => this.#onPod(Operation.Insert, pod));
    this.#pods.on('update', (old, pod) => {
      if (old !== pod) this.#onPod(Operation.Update, pod);
    });
    this.#pods.on('delete', (pod) => this.#onPod(Operation.Delete, pod));
    for (const [type, informer] of [
      ['configmap', this.#configMaps],
      ['secret', this.#secrets],
    ] as const) {
      informer.on('update', (old, object) => {
        if (old !== object) this.#onReferenced(type, Operation.Update, object);
      });
      informer.on('add', (object) => this.#onReferenced(type, Operation.Insert, object));
      informer.on('delete', (object) => this.#onReferenced(type, Operation.Delete, object));
    }
    for (const { type, informer } of this.#broadcast) {
      informer.on('add', (object) => this.#toAllNodes(type, Operation.Insert, object));
      informer.on('update', (old, object) => {
        if (old !== object) this.#toAllNodes(type, Operation.Update, object);
      });
      informer.on('delete', (object) => this.#toAllNodes(type, Operation.Delete, object));
    }
    const informers = [
      this.#configMaps,
      this.#secrets,
      ...this.#broadcast.map((b) => b.informer),
      this.#pods,
      this.#nodes,
    ];
    for (const informer of informers) informer.start();
    await Promise.all(informers.map((informer) => informer.waitForSync()));
    await this.#removeWhatNodesNoLongerNeed();
    const period = this.#options.nodeMonitorPeriodMs ?? 5000;
    this.#monitor = setInterval(() => void this.#monitorNodes(), period);
    this.#monitor.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#monitor);
    await Promise.all(
      [
        this.#nodes,
        this.#pods,
        this.#configMaps,
        this.#secrets,
        ...this.#broadcast.map((b) => b.informer),
      ].map((informer) => informer.stop()),
    );
  }

  #isEdgeNode(name: string | undefined): name is string {
    return name !== undefined && name !== '' && this.#nodes.get(name) !== undefined;
  }

  #send(node: string, type: string, operation: string, object: Named): void {
    const namespace = object.metadata?.namespace ?? null;
    const message = createMessage({
      source: ModuleName.EdgeController,
      group: 'resource',
      operation,
      resource: buildCloudResource({ node, namespace, type, name: object.metadata?.name ?? '' }),
      content: object,
      ...(object.metadata && 'resourceVersion' in object.metadata
        ? {
            resourceVersion: String(
              (object.metadata as { resourceVersion?: string }).resourceVersion,
            ),
          }
        : {}),
    });
    try {
      this.#options.dispatch(message);
    } catch (error) {
      // A full queue: the next change or the node's next sync sends the current state.
      this.#logger.warn?.({ node, resource: message.route.resource, err: error }, 'not dispatched');
    }
  }

  /** Everything a node should have: at its (re)registration and after a cloud restart. */
  #syncNode(node: string): void {
    if (!node) return;
    for (const pod of this.#pods.byIndex('nodeName', node))
      this.#send(node, 'pod', Operation.Insert, pod);
    this.#syncReferences(node);
    for (const { type, informer } of this.#broadcast) {
      for (const object of informer.list()) this.#send(node, type, Operation.Insert, object);
    }
  }

  #onPod(operation: string, pod: V1Pod): void {
    const node = pod.spec?.nodeName;
    if (!this.#isEdgeNode(node)) return;
    this.#send(node, 'pod', operation, pod as Named);
    this.#syncReferences(node);
  }

  /** Sends the ConfigMaps and Secrets the node's pods use, and deletes those none uses now. */
  #syncReferences(node: string): void {
    const wanted = this.#wantedReferences(node);
    const sent = this.#sent.get(node) ?? new Set<string>();
    for (const ref of wanted) {
      if (sent.has(ref)) continue;
      const object = this.#lookup(ref);
      if (!object) continue; // sent when it is created
      this.#send(node, ref.split(':')[0] ?? '', Operation.Insert, object);
      sent.add(ref);
    }
    for (const ref of sent) {
      if (wanted.has(ref)) continue;
      sent.delete(ref);
      const object = this.#lookup(ref);
      if (object) this.#send(node, ref.split(':')[0] ?? '', Operation.Delete, object);
    }
    this.#sent.set(node, sent);
  }

  /** The ConfigMaps and Secrets the node's pods use, as `<type>:<ns>/<name>`. */
  #wantedReferences(node: string): Set<string> {
    const wanted = new Set<string>();
    for (const pod of this.#pods.byIndex('nodeName', node)) {
      const namespace = pod.metadata?.namespace ?? '';
      const { configMaps, secrets } = referencesOf(pod);
      for (const name of configMaps) wanted.add(`configmap:${namespace}/${name}`);
      for (const name of secrets) wanted.add(`secret:${namespace}/${name}`);
    }
    return wanted;
  }

  /**
   * Deletes at each node what it was sent (its ObjectSyncs say so) and should no longer have:
   * objects deleted, pods no longer bound to it, ConfigMaps or Secrets none of its pods uses,
   * while no controller watched (ke-cloud was down; the API was not). KubeEdge's SyncController
   * does the same from the ObjectSyncs. Changes are not the concern here: the
   * sync of every node at start sends each object it should have, and cloudhub drops the
   * versions it already holds. An object recreated under the same name is replaced at the node
   * by that sync, so its old incarnation gets no delete (which would remove the new one).
   */
  async #removeWhatNodesNoLongerNeed(): Promise<void> {
    let syncs: ObjectSyncItem[];
    try {
      syncs = await this.#listObjectSyncs();
    } catch (error) {
      this.#logger.warn?.({ err: error }, 'cannot read ObjectSyncs; nodes keep deleted objects');
      return;
    }
    const wantedReferences = new Map<string, Set<string>>();
    for (const sync of syncs) {
      const name = sync.metadata?.name ?? '';
      const dot = name.lastIndexOf('.');
      const node = name.slice(0, dot);
      const uid = name.slice(dot + 1);
      const type = ownedTypeOfKind(sync.spec?.objectKind ?? '');
      const namespace = sync.metadata?.namespace ?? '';
      const objectName = sync.spec?.objectName ?? '';
      if (dot <= 0 || !uid || !type || !objectName || !this.#isEdgeNode(node)) continue;
      const key = `${namespace}/${objectName}`;
      let wanted: boolean;
      if (type === 'pod') {
        wanted = this.#pods.get(key)?.spec?.nodeName === node;
      } else if (type === 'configmap' || type === 'secret') {
        let references = wantedReferences.get(node);
        if (!references) {
          references = this.#wantedReferences(node);
          wantedReferences.set(node, references);
        }
        wanted = references.has(`${type}:${key}`) && this.#lookup(`${type}:${key}`) !== undefined;
      } else {
        wanted = this.#broadcast.find((b) => b.type === type)?.informer.get(key) !== undefined;
      }
      if (wanted) continue;
      this.#logger.info?.({ node, resource: `${type} ${key}` }, 'removing from the node');
      this.#send(node, type, Operation.Delete, {
        apiVersion: sync.spec?.objectAPIVersion ?? 'v1',
        kind: sync.spec?.objectKind ?? '',
        metadata: { name: objectName, namespace, uid },
      });
    }
  }

  async #listObjectSyncs(): Promise<ObjectSyncItem[]> {
    const items: ObjectSyncItem[] = [];
    let token: string | undefined;
    do {
      const page = (await this.#customObjects.listCustomObjectForAllNamespaces({
        group: 'reliablesyncs.kubeedge.io',
        version: 'v1alpha1',
        plural: 'objectsyncs',
        limit: 500,
        ...(token ? { _continue: token } : {}),
      })) as { items?: ObjectSyncItem[]; metadata?: { _continue?: string; continue?: string } };
      items.push(...(page.items ?? []));
      token = page.metadata?.continue || page.metadata?._continue || undefined;
    } while (token);
    return items;
  }

  #lookup(ref: string): Named | undefined {
    const [type, key] = ref.split(':') as [string, string];
    return (type === 'configmap' ? this.#configMaps : this.#secrets).get(key);
  }

  #onReferenced(type: 'configmap' | 'secret', operation: string, object: Named): void {
    const ref = `${type}:${keyOf(object)}`;
    for (const node of this.#nodes.list().map((n) => n.metadata?.name ?? '')) {
      if (operation === Operation.Insert) {
        this.#syncReferences(node); // a pod may have been waiting for it
      } else if (this.#sent.get(node)?.has(ref)) {
        this.#send(node, type, operation, object);
        if (operation === Operation.Delete) this.#sent.get(node)?.delete(ref);
      }
    }
  }

  #toAllNodes(type: string, operation: string, object: Named): void {
    for (const node of this.#nodes.list()) {
      if (node.metadata?.name) this.#send(node.metadata.name, type, operation, object);
    }
  }

  async handleUpstream(node: string, message: Message): Promise<void> {
    let parts: ReturnType<typeof parseCloudResource>;
    try {
      parts = parseCloudResource(message.route.resource);
    } catch {
      this.#logger.warn?.({ node, resource: message.route.resource }, 'bad upstream resource');
      return;
    }
    const { operation } = message.route;
    try {
      if (operation === Operation.Query) await this.#answer(node, message, parts);
      else if (parts.type === 'node' && parts.name === node) await this.#register(node, message);
      else if (parts.type === 'nodestatus' && parts.name === node) {
        await this.#nodeStatus(node, message.content as { status?: V1Node['status'] });
      } else if (parts.type === 'lease' && parts.name === node) {
        await this.#lease(node, message.content as V1Lease);
      } else if (parts.type === 'event' && parts.namespace && parts.name) {
        if (operation !== Operation.Delete) {
          await this.#event(node, parts.namespace, parts.name, message.content);
        }
      } else if ((parts.type === 'podstatus' || parts.type === 'pod') && parts.namespace) {
        await this.#podStatus(node, parts.namespace, parts.name ?? '', message.content);
      } else {
        this.#logger.debug?.({ node, resource: message.route.resource, operation }, 'ignored');
      }
    } catch (error) {
      this.#logger.warn?.(
        { node, resource: message.route.resource, err: toKubeError(error, operation) },
        'could not apply an upstream message',
      );
    }
  }

  async #register(node: string, message: Message): Promise<void> {
    const reported = (message.content ?? {}) as V1Node;
    const labels = { ...reported.metadata?.labels, [EDGE_NODE_LABEL]: '' };
    try {
      await this.#core.createNode({
        body: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: node, labels },
          ...(reported.spec ? { spec: reported.spec } : {}),
        },
      });
      this.#logger.info?.({ node }, 'registered an edge node');
    } catch (error) {
      if (toKubeError(error, 'create node').code !== 'KE_KUBE_ALREADY_EXISTS') throw error;
      await this.#core.patchNode({ name: node, body: { metadata: { labels } } }, mergePatch);
    }
    if (reported.status) await this.#nodeStatus(node, { status: reported.status });
  }

  async #nodeStatus(node: string, content: { status?: V1Node['status'] }): Promise<void> {
    if (!content?.status) return;
    await this.#core.patchNodeStatus({ name: node, body: { status: content.status } }, mergePatch);
  }

  async #lease(node: string, lease: V1Lease): Promise<void> {
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: node, namespace: 'kube-node-lease' },
      spec: { ...lease?.spec, holderIdentity: node },
    };
    try {
      await this.#coordination.patchNamespacedLease(
        { name: node, namespace: 'kube-node-lease', body: { spec: body.spec } },
        mergePatch,
      );
    } catch (error) {
      if (toKubeError(error, 'patch lease').code !== 'KE_KUBE_NOT_FOUND') throw error;
      await this.#coordination.createNamespacedLease({ namespace: 'kube-node-lease', body });
    }
  }

  async #podStatus(node: string, namespace: string, name: string, content: unknown) {
    const pod = this.#pods.get(`${namespace}/${name}`);
    if (pod?.spec?.nodeName !== node) {
      this.#logger.warn?.(
        { node, pod: `${namespace}/${name}` },
        'status for a pod of another node',
      );
      return;
    }
    // Ours sends `{ uid, name, status }`; KubeEdge's edged a PodStatusRequest (`Status`).
    const report = content as { status?: unknown; Status?: unknown } | undefined;
    const status = report?.status ?? report?.Status;
    if (!status) return;
    await this.#core.patchNamespacedPodStatus({ name, namespace, body: { status } }, mergePatch);
  }

  /**
   * A Kubernetes Event reported by the node (edged, or a local client of the MetaServer):
   * created in the API, or, when it exists, its count, times and message brought up to date.
   * A node may report about itself, its own pods and other objects, never about another node
   * or another node's pod. Deletions are not forwarded: events expire in the API.
   */
  async #event(node: string, namespace: string, name: string, content: unknown) {
    const reported = (content ?? {}) as CoreV1Event;
    const involved = reported.involvedObject;
    const refusal = !involved
      ? 'it names no involved object'
      : involved.kind === 'Node' && involved.name !== node
        ? `it is about node ${involved.name}`
        : involved.kind === 'Pod' &&
            this.#pods.get(`${involved.namespace ?? namespace}/${involved.name}`)?.spec
              ?.nodeName !== node
          ? `it is about pod ${involved.namespace ?? namespace}/${involved.name}, not one of this node's`
          : reported.source?.host && reported.source.host !== node
            ? `its source is host ${reported.source.host}`
            : undefined;
    if (refusal) {
      this.#logger.warn?.({ node, event: `${namespace}/${name}` }, `event refused: ${refusal}`);
      return;
    }
    const {
      resourceVersion: _rv,
      uid: _uid,
      creationTimestamp: _created,
      ...metadata
    } = reported.metadata ?? {};
    const body: CoreV1Event = {
      ...reported,
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { ...metadata, name, namespace },
      involvedObject: involved!,
      source: { component: reported.source?.component ?? 'edged', host: node },
    };
    try {
      await this.#core.createNamespacedEvent({ namespace, body });
    } catch (error) {
      if (toKubeError(error, 'create event').code !== 'KE_KUBE_ALREADY_EXISTS') throw error;
      const { metadata: _metadata, ...changes } = body;
      await this.#core.patchNamespacedEvent({ name, namespace, body: changes }, mergePatch);
    }
  }

  /** Answers an edge's query for an object it may have: its pods' ConfigMaps and Secrets. */
  async #answer(node: string, query: Message, parts: ReturnType<typeof parseCloudResource>) {
    const ref = `${parts.type}:${parts.namespace}/${parts.name}`;
    const object =
      (parts.type === 'configmap' || parts.type === 'secret') && this.#sent.get(node)?.has(ref)
        ? this.#lookup(ref)
        : parts.type === 'service' || parts.type === 'endpoints'
          ? this.#broadcast
              .find((b) => b.type === parts.type)
              ?.informer.get(`${parts.namespace}/${parts.name}`)
          : undefined;
    const reply = object
      ? createResponse(query, { source: ModuleName.EdgeController, content: object })
      : createResponse(query, {
          source: ModuleName.EdgeController,
          operation: Operation.Error,
          content: `${parts.type} ${parts.namespace}/${parts.name} is not available to ${node}`,
        });
    if (object?.metadata && 'resourceVersion' in object.metadata) {
      reply.header.resourceversion = String(
        (object.metadata as { resourceVersion?: string }).resourceVersion,
      );
    }
    this.#options.dispatch(reply);
  }

  /** Ready turns Unknown for nodes whose status stopped coming (no eviction: edge autonomy). */
  async #monitorNodes(): Promise<void> {
    const grace = this.#options.nodeMonitorGracePeriodMs ?? 40_000;
    const now = Date.now();
    for (const node of this.#nodes.list()) {
      const name = node.metadata?.name;
      const conditions = node.status?.conditions ?? [];
      const ready = conditions.find((c) => c.type === 'Ready');
      if (!name || !ready || ready.status === 'Unknown') continue;
      const heartbeat = ready.lastHeartbeatTime ? new Date(ready.lastHeartbeatTime).getTime() : 0;
      if (now - heartbeat <= grace) continue;
      const unknown: V1NodeCondition[] = conditions.map((c) =>
        c.type === 'Ready'
          ? {
              ...c,
              status: 'Unknown',
              reason: 'NodeStatusUnknown',
              message: 'Kubelet stopped posting node status.',
              lastTransitionTime: new Date(now),
            }
          : c,
      );
      try {
        await this.#core.patchNodeStatus(
          { name, body: { status: { conditions: unknown } } },
          mergePatch,
        );
        this.#logger.warn?.({ node: name }, 'node stopped reporting; Ready is Unknown');
      } catch (error) {
        this.#logger.warn?.({ node: name, err: error }, 'could not mark the node Unknown');
      }
    }
  }
}

/**
 * KubeEdge's EdgeController: sends each edge node its pods, the ConfigMaps and Secrets they
 * use, and every Service, Endpoints and EndpointSlice, through cloudhub (at start, also the
 * deletion of what a node was sent and should no longer have); applies what nodes report
 * (registration, node status, leases, pod status, events) to the API; answers their queries; and
 * turns a silent node's Ready condition Unknown without evicting its pods.
 */
export function createEdgeController(options: EdgeControllerOptions): EdgeController {
  return new EdgeControllerImpl(options);
}
