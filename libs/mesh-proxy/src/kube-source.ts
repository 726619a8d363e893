import { createInformer, type Informer, type KubeConfig } from '@ke/kube';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { ServiceProxyError } from './errors';
import type {
  EndpointDefinition,
  LoadBalancing,
  Logger,
  ProxyMode,
  ServiceDefinition,
  ServiceSource,
} from './types';

/** Annotation on a Service choosing `userspace`, `kernel` or `auto` for it. */
export const MODE_ANNOTATION = 'mesh.kubeedge.io/proxy-mode';
/** Annotation on a Service choosing `round-robin`, `random` or `source-hash` for it. */
export const LOAD_BALANCING_ANNOTATION = 'mesh.kubeedge.io/load-balancing';
/** The label tying an EndpointSlice to its Service. */
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Options of {@link createKubeSource}. */
export interface KubeSourceOptions {
  /** Where the API server is (a cluster, the cloud, or the edge MetaServer at 127.0.0.1:10550). */
  kubeConfig: KubeConfig;
  /** Only services in this namespace. Default: all. */
  namespace?: string;
  /** Services with this label selector only, e.g. `service.edgemesh.kubeedge.io/service-proxy-name!=skip`. */
  labelSelector?: string;
  logger?: Logger;
}

const MODES = new Set<string>(['userspace', 'kernel', 'auto']);
const POLICIES = new Set<string>(['round-robin', 'random', 'source-hash']);

/** Turns a Service and its EndpointSlices into what the proxy serves; undefined if not proxied. */
export function toServiceDefinition(
  service: V1Service,
  slices: readonly V1EndpointSlice[],
): ServiceDefinition | undefined {
  const clusterIP = service.spec?.clusterIP;
  if (!clusterIP || clusterIP === 'None' || service.spec?.type === 'ExternalName') return undefined;
  const annotations = service.metadata?.annotations ?? {};
  const mode = annotations[MODE_ANNOTATION];
  const policy = annotations[LOAD_BALANCING_ANNOTATION];
  const endpoints: EndpointDefinition[] = [];
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const ports: Record<string, number> = {};
    for (const port of slice.ports ?? []) {
      if (port.port !== undefined) ports[port.name ?? ''] = port.port;
    }
    for (const endpoint of slice.endpoints ?? []) {
      // Kubernetes: a missing `ready` means ready; terminating endpoints get no new connections.
      const ready =
        endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true;
      for (const ip of endpoint.addresses ?? []) {
        endpoints.push({ ip, nodeName: endpoint.nodeName, ports, ready });
      }
    }
  }
  return {
    namespace: service.metadata?.namespace ?? 'default',
    name: service.metadata?.name ?? '',
    clusterIP,
    ports: (service.spec?.ports ?? []).map((port) => ({
      name: port.name ?? '',
      port: port.port,
      protocol: port.protocol === 'UDP' ? 'UDP' : 'TCP',
      targetPort: typeof port.targetPort === 'number' ? port.targetPort : undefined,
    })),
    endpoints,
    sessionAffinity: service.spec?.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None',
    affinityTimeoutSeconds: service.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds,
    mode: mode && MODES.has(mode) ? (mode as ProxyMode) : undefined,
    loadBalancing: policy && POLICIES.has(policy) ? (policy as LoadBalancing) : undefined,
  };
}

/**
 * Services and `discovery.k8s.io/v1` EndpointSlices from a Kubernetes API, through two
 * `@ke/kube` informers (list + watch, reconnecting by themselves).
 */
export function createKubeSource(options: KubeSourceOptions): ServiceSource {
  const { kubeConfig, namespace, labelSelector, logger } = options;
  const kubeLogger = logger as never;
  const services: Informer<V1Service> = createInformer<V1Service>({
    kubeConfig,
    path: '/api/v1/services',
    namespace,
    labelSelector,
    logger: kubeLogger,
  });
  const slices: Informer<V1EndpointSlice> = createInformer<V1EndpointSlice>({
    kubeConfig,
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    namespace,
    logger: kubeLogger,
    indexers: {
      service: (slice) => {
        const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
        return name ? [`${slice.metadata?.namespace ?? ''}/${name}`] : [];
      },
    },
  });
  const listeners = new Set<() => void>();
  const unsubscribe: (() => void)[] = [];
  let synced = false;
  const changed = () => {
    if (!synced) return;
    for (const listener of [...listeners]) listener();
  };

  return {
    async start(signal) {
      for (const informer of [services, slices] as Informer<never>[]) {
        for (const event of ['add', 'update', 'delete'] as const) {
          unsubscribe.push(informer.on(event, changed));
        }
      }
      services.start(signal);
      slices.start(signal);
      try {
        await Promise.all([services.waitForSync(signal), slices.waitForSync(signal)]);
      } catch (error) {
        throw new ServiceProxyError(
          'KE_PROXY_SOURCE_FAILED',
          `could not list services and endpointslices: ${(error as Error).message}`,
          { cause: error },
        );
      }
      synced = true;
    },
    async stop() {
      synced = false;
      for (const off of unsubscribe.splice(0)) off();
      await Promise.all([services.stop(), slices.stop()]);
    },
    services() {
      const definitions: ServiceDefinition[] = [];
      for (const service of services.list()) {
        const key = `${service.metadata?.namespace ?? ''}/${service.metadata?.name ?? ''}`;
        const definition = toServiceDefinition(service, slices.byIndex('service', key));
        if (definition) definitions.push(definition);
      }
      return definitions;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
