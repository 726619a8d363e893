import {
  createInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type Logger,
} from '@ke/kube';
import { DnsError } from './errors';
import type { DnsEndpoint, DnsService, DnsServicePort, DnsSource } from './model';

/** Options of {@link createKubeServiceSource}. */
export interface KubeServiceSourceOptions {
  /** Any Kubernetes API: a cluster, `@ke/apiserver`, or the edge MetaServer (127.0.0.1:10550). */
  kubeConfig: KubeConfig;
  /** Only services of this namespace. Default: all namespaces. */
  namespace?: string;
  /**
   * Where endpoints come from: `endpointslices` (discovery.k8s.io/v1, default) or the older
   * v1 `endpoints`.
   */
  endpoints?: 'endpointslices' | 'endpoints';
  /** Longest wait for the first list in `start`. Default 30 s. */
  syncTimeoutMs?: number;
  /** Receives watch problems (the informers retry by themselves). */
  logger?: Logger;
}

interface ServicePortObject {
  name?: string;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

interface ServiceObject extends KubernetesObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    ports?: ServicePortObject[];
    publishNotReadyAddresses?: boolean;
  };
}

interface EndpointSliceObject extends KubernetesObject {
  addressType?: string;
  endpoints?: {
    addresses?: string[];
    hostname?: string;
    conditions?: { ready?: boolean | null };
  }[];
  ports?: { name?: string; port?: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
}

interface EndpointsObject extends KubernetesObject {
  subsets?: {
    addresses?: { ip: string; hostname?: string }[];
    notReadyAddresses?: { ip: string; hostname?: string }[];
    ports?: { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
  }[];
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * A {@link DnsSource} that lists and watches Services and their EndpointSlices (or Endpoints)
 * through `@ke/kube` informers. Changes reach the server as the watch delivers them.
 */
export function createKubeServiceSource(options: KubeServiceSourceOptions): DnsSource {
  const { kubeConfig, namespace, logger } = options;
  const useSlices = (options.endpoints ?? 'endpointslices') === 'endpointslices';
  const services = createInformer<ServiceObject>({
    kubeConfig,
    path: '/api/v1/services',
    namespace,
    logger,
  });
  const slices = useSlices
    ? createInformer<EndpointSliceObject>({
        kubeConfig,
        path: '/apis/discovery.k8s.io/v1/endpointslices',
        namespace,
        logger,
        indexers: {
          service: (slice) => {
            const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
            return serviceName ? [`${slice.metadata?.namespace}/${serviceName}`] : [];
          },
        },
      })
    : undefined;
  const endpoints = useSlices
    ? undefined
    : createInformer<EndpointsObject>({ kubeConfig, path: '/api/v1/endpoints', namespace, logger });
  const informers: Informer<KubernetesObject>[] = [
    services,
    slices ?? endpoints!,
  ] as Informer<KubernetesObject>[];

  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  for (const informer of informers) {
    informer.on('add', notify);
    informer.on('update', notify);
    informer.on('delete', notify);
  }

  const toDnsService = (service: ServiceObject): DnsService | undefined => {
    const name = service.metadata?.name;
    const ns = service.metadata?.namespace;
    const spec = service.spec;
    if (!name || !ns || !spec) return undefined;
    const ports: DnsServicePort[] = (spec.ports ?? []).map((port) => ({
      name: port.name,
      port: port.port,
      protocol: port.protocol,
    }));
    if (spec.type === 'ExternalName') {
      return { namespace: ns, name, externalName: spec.externalName, ports };
    }
    const clusterIPs = (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter(
      (ip) => ip && ip !== 'None',
    );
    const result: DnsService = {
      namespace: ns,
      name,
      clusterIPs,
      ports,
      publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
    };
    // Only headless services are answered from their endpoints.
    if (clusterIPs.length > 0) return result;
    const key = `${ns}/${name}`;
    const found: DnsEndpoint[] = [];
    const endpointPorts = new Map<string, DnsServicePort>();
    if (slices) {
      for (const slice of slices.byIndex('service', key)) {
        for (const endpoint of slice.endpoints ?? []) {
          found.push({
            addresses: endpoint.addresses ?? [],
            hostname: endpoint.hostname,
            ready: endpoint.conditions?.ready !== false,
          });
        }
        for (const port of slice.ports ?? []) {
          if (port.port === undefined) continue;
          endpointPorts.set(`${port.name ?? ''}/${port.protocol ?? 'TCP'}`, {
            name: port.name,
            port: port.port,
            protocol: port.protocol,
          });
        }
      }
    } else {
      const object = endpoints?.get(key);
      for (const subset of object?.subsets ?? []) {
        for (const address of subset.addresses ?? []) {
          found.push({ addresses: [address.ip], hostname: address.hostname, ready: true });
        }
        for (const address of subset.notReadyAddresses ?? []) {
          found.push({ addresses: [address.ip], hostname: address.hostname, ready: false });
        }
        for (const port of subset.ports ?? []) {
          endpointPorts.set(`${port.name ?? ''}/${port.protocol ?? 'TCP'}`, port);
        }
      }
    }
    result.endpoints = found;
    result.endpointPorts = [...endpointPorts.values()];
    return result;
  };

  return {
    async start(signal) {
      const syncTimeout = AbortSignal.timeout(options.syncTimeoutMs ?? 30_000);
      const waitSignal = signal ? AbortSignal.any([signal, syncTimeout]) : syncTimeout;
      for (const informer of informers) informer.start();
      try {
        await Promise.all(informers.map((informer) => informer.waitForSync(waitSignal)));
      } catch (error) {
        await Promise.all(informers.map((informer) => informer.stop()));
        throw new DnsError(
          'KE_DNS_SOURCE_FAILED',
          `the services and endpoints of ${kubeConfig.getCurrentCluster()?.server ?? 'the API server'} could not be listed in time; check the kubeconfig and that the API server is reachable`,
          { cause: error },
        );
      }
    },
    async stop() {
      await Promise.all(informers.map((informer) => informer.stop()));
    },
    *services() {
      for (const service of services.list()) {
        const converted = toDnsService(service);
        if (converted) yield converted;
      }
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
