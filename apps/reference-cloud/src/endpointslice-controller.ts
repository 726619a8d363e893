import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import {
  createInformer,
  createWorkQueue,
  defaultControllerRateLimiter,
  type Informer,
  type KubeConfig,
  type Logger,
  metaNamespaceKey,
  runWorkers,
  splitMetaNamespaceKey,
  toKubeError,
  type WorkQueue,
} from '@ke/kube';
import {
  DiscoveryV1Api,
  type DiscoveryV1EndpointPort,
  type V1Endpoint,
  type V1EndpointSlice,
  type V1Pod,
  type V1Service,
  type V1ServicePort,
} from '@kubernetes/client-node';

/** Label that ties a slice to its Service (`discovery.k8s.io/v1` well-known label). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Label that says which controller owns a slice; ours is kube-controller-manager's value. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
/** Kubernetes' default `--max-endpoints-per-slice`. */
const MAX_ENDPOINTS_PER_SLICE = 100;

export interface EndpointSliceControllerOptions {
  /** The API server to watch and write (ke-cloud's embedded one). */
  readonly kubeConfig: KubeConfig;
  /** Services reconciled at once; default 2. */
  readonly workers?: number;
  /** Endpoints per slice before another slice is started; default 100, as Kubernetes. */
  readonly maxEndpointsPerSlice?: number;
  /** Receives what was written and failed retries (pino fits); default: nothing is logged. */
  readonly logger?: Logger;
}

export interface EndpointSliceController {
  /** Lists Services, Pods and our EndpointSlices, then reconciles every Service. */
  start(): Promise<void>;
  /** Stops the workers and informers; a later `start()` reconciles from scratch. */
  stop(): Promise<void>;
}

export class EndpointSliceControllerError extends Error {
  override readonly name = 'EndpointSliceControllerError';
  readonly code = 'KE_CLOUD_ENDPOINTSLICE_OPTIONS';
}

const SERVICES_PATH = '/api/v1/services';
const PODS_PATH = '/api/v1/pods';
const SLICES_PATH = '/apis/discovery.k8s.io/v1/endpointslices';

/** What of a slice we own and compare: everything a consumer reads. */
export interface SliceContent {
  readonly labels: Record<string, string>;
  readonly ownerReferences: NonNullable<V1EndpointSlice['metadata']>['ownerReferences'];
  readonly ports: DiscoveryV1EndpointPort[];
  readonly endpoints: V1Endpoint[];
}

const selectorOf = (service: V1Service): Record<string, string> | undefined => {
  const selector = service.spec?.selector;
  // An empty selector would select every pod of the namespace; Kubernetes users mean "none".
  return selector && Object.keys(selector).length > 0 ? selector : undefined;
};

/** Whether the controller keeps slices for `service` (a selector, and not ExternalName). */
export function wantsSlices(service: V1Service | undefined): service is V1Service {
  return !!service && service.spec?.type !== 'ExternalName' && !!selectorOf(service);
}

const matches = (selector: Record<string, string>, pod: V1Pod) =>
  Object.entries(selector).every(([key, value]) => pod.metadata?.labels?.[key] === value);

const isPodReady = (pod: V1Pod) =>
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * The port a Service port reaches on `pod` (Kubernetes' `podutil.FindPort`): a number as is,
 * a name looked up among the containers' ports of the same protocol; undefined when the pod
 * has no such port, which leaves the port out of that pod's endpoints.
 */
export function findPort(pod: V1Pod, servicePort: V1ServicePort): number | undefined {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = servicePort.protocol ?? 'TCP';
  for (const container of pod.spec?.containers ?? []) {
    for (const port of container.ports ?? []) {
      if (port.name === target && (port.protocol ?? 'TCP') === protocol) return port.containerPort;
    }
  }
  return undefined;
}

/** The pod's IPv4 address: slices are `addressType: IPv4`, and a dual-stack pod lists it second. */
const podIPv4 = (pod: V1Pod): string | undefined =>
  [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((entry) => entry.ip)].find(
    (ip): ip is string => !!ip && isIPv4(ip),
  );

function endpointOf(service: V1Service, pod: V1Pod): V1Endpoint {
  const terminating = !!pod.metadata?.deletionTimestamp;
  const serving = isPodReady(pod);
  const endpoint: V1Endpoint = {
    addresses: [podIPv4(pod)!],
    conditions: {
      ready: service.spec?.publishNotReadyAddresses === true || (serving && !terminating),
      serving,
      terminating,
    },
    targetRef: {
      kind: 'Pod',
      namespace: pod.metadata?.namespace,
      name: pod.metadata?.name,
      uid: pod.metadata?.uid,
    },
  };
  // Kubernetes gives the DNS hostname only to pods that name this Service as their subdomain.
  if (pod.spec?.hostname && pod.spec.subdomain === service.metadata?.name) {
    endpoint.hostname = pod.spec.hostname;
  }
  if (pod.spec?.nodeName) endpoint.nodeName = pod.spec.nodeName;
  return endpoint;
}

/** Pods that belong in endpoints: an IPv4 address, and not finished (as `ShouldPodBeInEndpoints`). */
const podHasEndpoint = (pod: V1Pod) =>
  !!podIPv4(pod) && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';

function normalizePorts(
  ports: readonly DiscoveryV1EndpointPort[] | undefined,
): DiscoveryV1EndpointPort[] {
  return (ports ?? [])
    .map((p) => ({
      name: p.name ?? '',
      port: p.port,
      protocol: p.protocol ?? 'TCP',
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    }))
    .sort((a, b) => a.name.localeCompare(b.name) || (a.port ?? 0) - (b.port ?? 0));
}

function normalizeEndpoints(endpoints: readonly V1Endpoint[] | undefined): V1Endpoint[] {
  return (endpoints ?? [])
    .map((e) => ({
      addresses: [...e.addresses],
      conditions: {
        ready: e.conditions?.ready ?? false,
        serving: e.conditions?.serving ?? false,
        terminating: e.conditions?.terminating ?? false,
      },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.nodeName ? { nodeName: e.nodeName } : {}),
      ...(e.targetRef
        ? {
            targetRef: {
              kind: e.targetRef.kind,
              namespace: e.targetRef.namespace,
              name: e.targetRef.name,
              uid: e.targetRef.uid,
            },
          }
        : {}),
    }))
    .sort((a, b) => (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? ''));
}

const contentOf = (slice: V1EndpointSlice): SliceContent => ({
  labels: { ...(slice.metadata?.labels ?? {}) },
  ownerReferences: (slice.metadata?.ownerReferences ?? []).map((o) => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.name,
    uid: o.uid,
    controller: o.controller ?? false,
    blockOwnerDeletion: o.blockOwnerDeletion ?? false,
  })),
  ports: normalizePorts(slice.ports),
  endpoints: normalizeEndpoints(slice.endpoints),
});

/** Equal for a consumer: label order does not count (JSON.stringify alone would compare it). */
const canonical = (content: SliceContent) =>
  JSON.stringify({ ...content, labels: Object.entries(content.labels).sort() });
const sameContent = (a: SliceContent, b: SliceContent) => canonical(a) === canonical(b);

const portsKey = (ports: readonly DiscoveryV1EndpointPort[]) =>
  ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',');

/**
 * The slices a Service should have, by name. Endpoints are grouped by the ports they resolve
 * to (a named targetPort can differ between pods) and split at `max` per slice, as Kubernetes
 * does; the name is `<service>-<hash of the ports>` (plus `-<n>` for further slices), so a
 * restart finds the same names instead of creating duplicates. A Service with no endpoints
 * gets one empty slice, as Kubernetes' placeholder slice.
 */
export function desiredSlices(
  service: V1Service,
  pods: readonly V1Pod[],
  max = MAX_ENDPOINTS_PER_SLICE,
): Map<string, SliceContent> {
  const name = service.metadata!.name!;
  const selector = selectorOf(service) ?? {};
  const labels: Record<string, string> = {
    ...(service.metadata?.labels ?? {}),
    [SERVICE_NAME_LABEL]: name,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
  if (service.spec?.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
  const ownerReferences = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      name,
      uid: service.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  const groups = new Map<string, { ports: DiscoveryV1EndpointPort[]; endpoints: V1Endpoint[] }>();
  for (const pod of pods) {
    if (!matches(selector, pod) || !podHasEndpoint(pod)) continue;
    const ports: DiscoveryV1EndpointPort[] = [];
    for (const servicePort of service.spec?.ports ?? []) {
      const port = findPort(pod, servicePort);
      if (port === undefined) continue;
      ports.push({
        name: servicePort.name ?? '',
        port,
        protocol: servicePort.protocol ?? 'TCP',
        ...(servicePort.appProtocol ? { appProtocol: servicePort.appProtocol } : {}),
      });
    }
    const normalized = normalizePorts(ports);
    const key = portsKey(normalized);
    const group = groups.get(key) ?? { ports: normalized, endpoints: [] };
    groups.set(key, group);
    group.endpoints.push(endpointOf(service, pod));
  }
  if (groups.size === 0) groups.set('', { ports: [], endpoints: [] });
  const slices = new Map<string, SliceContent>();
  for (const [key, group] of groups) {
    const hash = createHash('sha256').update(key).digest('hex').slice(0, 8);
    const endpoints = normalizeEndpoints(group.endpoints);
    const chunks = Math.max(1, Math.ceil(endpoints.length / max));
    for (let i = 0; i < chunks; i++) {
      slices.set(i === 0 ? `${name}-${hash}` : `${name}-${hash}-${i}`, {
        labels,
        ownerReferences,
        ports: group.ports,
        endpoints: endpoints.slice(i * max, (i + 1) * max),
      });
    }
  }
  return slices;
}

/** Retries after which a write conflict is no longer a cache catching up but worth a warning. */
const QUIET_RETRIES = 5;

/**
 * The worker logger, with the first few Conflict and AlreadyExists retries of a key moved to
 * debug: right after our own write the informer's cache can be a moment behind the server, and
 * the retry (on a cache that has caught up) is the normal course, not a problem.
 */
function quietStaleCache(logger: Logger | undefined): Logger {
  // Methods are called on `logger` (not copied): pino's live on its prototype and use `this`.
  return {
    debug: (fields, message) => logger?.debug?.(fields, message),
    info: (fields, message) => logger?.info?.(fields, message),
    error: (fields, message) => logger?.error?.(fields, message),
    warn(fields, message) {
      const code = fields.err ? toKubeError(fields.err, 'write endpointslice').code : undefined;
      const stale = code === 'KE_KUBE_CONFLICT' || code === 'KE_KUBE_ALREADY_EXISTS';
      if (stale && Number(fields.retries) <= QUIET_RETRIES) logger?.debug?.(fields, message);
      else logger?.warn?.(fields, message);
    },
  };
}

interface Running {
  readonly stop: AbortController;
  readonly queue: WorkQueue<string>;
  readonly detach: (() => void)[];
  workers?: Promise<void>;
}

/**
 * kube-controller-manager's EndpointSlice controller, for ke-cloud's embedded API server, where
 * nobody else writes EndpointSlices: for each Service with a selector it keeps
 * `discovery.k8s.io/v1` EndpointSlices listing the matching pods that have an IP, and deletes
 * them when the Service goes. Reconcile is per Service key, reads the informers' caches and
 * writes only what differs, so its own writes come back as events that change nothing.
 */
export function createEndpointSliceController(
  options: EndpointSliceControllerOptions,
): EndpointSliceController {
  if (!options?.kubeConfig || typeof options.kubeConfig.makeApiClient !== 'function') {
    throw new EndpointSliceControllerError(
      'createEndpointSliceController: kubeConfig is required (see loadKubeConfig of @ke/kube)',
    );
  }
  const workers = options.workers ?? 2;
  const max = options.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE;
  if (!(Number.isInteger(workers) && workers >= 1) || !(Number.isInteger(max) && max >= 1)) {
    throw new EndpointSliceControllerError(
      `createEndpointSliceController: workers and maxEndpointsPerSlice must be integers >= 1, got ${workers} and ${max}`,
    );
  }
  const { kubeConfig } = options;
  const logger = options.logger;
  // Informers log their connection problems to the console unless given a logger.
  const informerLogger = logger ?? {};
  const api = kubeConfig.makeApiClient(DiscoveryV1Api);
  const services = createInformer<V1Service>({
    kubeConfig,
    path: SERVICES_PATH,
    logger: informerLogger,
  });
  const pods = createInformer<V1Pod>({ kubeConfig, path: PODS_PATH, logger: informerLogger });
  const slices = createInformer<V1EndpointSlice>({
    kubeConfig,
    path: SLICES_PATH,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
    indexers: {
      service: (slice) => {
        const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
        return service ? [`${slice.metadata?.namespace}/${service}`] : [];
      },
    },
    logger: informerLogger,
  });
  let running: Running | undefined;

  async function write(
    namespace: string,
    name: string,
    slice: SliceContent,
    current?: V1EndpointSlice,
  ) {
    const body: V1EndpointSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name,
        namespace,
        labels: slice.labels,
        ownerReferences: slice.ownerReferences,
        ...(current ? { resourceVersion: current.metadata?.resourceVersion } : {}),
      },
      addressType: 'IPv4',
      ports: slice.ports,
      endpoints: slice.endpoints,
    };
    if (current) await api.replaceNamespacedEndpointSlice({ namespace, name, body });
    else await api.createNamespacedEndpointSlice({ namespace, body });
    logger?.debug?.(
      {
        service: slice.labels[SERVICE_NAME_LABEL],
        slice: `${namespace}/${name}`,
        endpoints: slice.endpoints.length,
      },
      current ? 'endpointslice updated' : 'endpointslice created',
    );
  }

  async function remove(namespace: string, name: string) {
    try {
      await api.deleteNamespacedEndpointSlice({ namespace, name });
      logger?.debug?.({ slice: `${namespace}/${name}` }, 'endpointslice deleted');
    } catch (error) {
      if (toKubeError(error, 'delete endpointslice').code !== 'KE_KUBE_NOT_FOUND') throw error;
    }
  }

  /**
   * Converges the slices of one Service. Conflicts (a cache older than the server) and
   * AlreadyExists (our create not yet seen by the informer) throw, and the retry with back-off
   * runs on a cache that has caught up.
   */
  async function reconcile(key: string): Promise<void> {
    const { namespace, name } = splitMetaNamespaceKey(key);
    const service = services.get(key);
    const existing = new Map(slices.byIndex('service', key).map((s) => [s.metadata!.name!, s]));
    const wanted = wantsSlices(service)
      ? desiredSlices(service, pods.byIndex('namespace', namespace), max)
      : new Map<string, SliceContent>();
    for (const [sliceName, content] of wanted) {
      const current = existing.get(sliceName);
      if (current && sameContent(contentOf(current), content) && current.addressType === 'IPv4') {
        continue;
      }
      await write(namespace, sliceName, content, current);
    }
    for (const sliceName of existing.keys()) {
      if (!wanted.has(sliceName)) await remove(namespace, sliceName);
    }
    if (!service) logger?.debug?.({ service: `${namespace}/${name}` }, 'service gone');
  }

  /** Services in the pod's namespace whose selector matches it. */
  function servicesSelecting(pod: V1Pod): string[] {
    const keys: string[] = [];
    for (const service of services.byIndex('namespace', pod.metadata?.namespace ?? '')) {
      const selector = selectorOf(service);
      if (selector && matches(selector, pod)) keys.push(metaNamespaceKey(service));
    }
    return keys;
  }

  return {
    async start() {
      if (running) {
        throw new EndpointSliceControllerError(
          'the EndpointSlice controller is running; stop() it before starting it again',
        );
      }
      const queue = createWorkQueue<string>({
        name: 'endpointslice',
        rateLimiter: defaultControllerRateLimiter(),
      });
      const state: Running = { stop: new AbortController(), queue, detach: [] };
      running = state;
      const enqueue = (key: string) => queue.add(key);
      const onPod = (...versions: V1Pod[]) => {
        for (const pod of versions) for (const key of servicesSelecting(pod)) enqueue(key);
      };
      const onSlice = (slice: V1EndpointSlice) => {
        const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
        if (service) enqueue(`${slice.metadata?.namespace}/${service}`);
      };
      state.detach.push(
        services.on('add', (service) => enqueue(metaNamespaceKey(service))),
        services.on('update', (_old, service) => enqueue(metaNamespaceKey(service))),
        services.on('delete', (service) => enqueue(metaNamespaceKey(service))),
        pods.on('add', (pod) => onPod(pod)),
        pods.on('update', (old, pod) => onPod(old, pod)),
        pods.on('delete', (pod) => onPod(pod)),
        // Someone else's change to (or deletion of) our slice is put right.
        slices.on('add', onSlice),
        slices.on('update', (_old, slice) => onSlice(slice)),
        slices.on('delete', onSlice),
      );
      try {
        for (const informer of [services, pods, slices] as Informer<never>[]) {
          informer.start(state.stop.signal);
        }
        // Reconciling before every cache is filled would write slices without their endpoints.
        await Promise.all(
          [services, pods, slices].map((informer) => informer.waitForSync(state.stop.signal)),
        );
      } catch (error) {
        await this.stop();
        throw error;
      }
      state.workers = runWorkers(queue, workers, reconcile, {
        signal: state.stop.signal,
        logger: quietStaleCache(logger),
      });
      logger?.info?.({ services: services.list().length }, 'endpointslice controller started');
    },
    async stop() {
      const state = running;
      if (!state) return;
      running = undefined;
      for (const detach of state.detach) detach();
      state.stop.abort();
      state.queue.shutDown();
      await Promise.all([state.workers, services.stop(), pods.stop(), slices.stop()]);
    },
  };
}
