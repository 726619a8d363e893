import { isIPv4 } from 'node:net';
import { ServiceProxyError } from './errors';
import type { Cidr } from './ipv4';
import type { LoadBalancing, Protocol, ProxyMode, ServiceDefinition } from './types';

/** One endpoint of one service port, resolved to the address the proxy dials. */
export interface ResolvedEndpoint {
  /** `ip:port`: an endpoint's identity for health, affinity and hashing. */
  readonly key: string;
  readonly ip: string;
  readonly port: number;
  /** The node to tunnel to; undefined when dialled directly. */
  readonly tunnelNode: string | undefined;
  readonly ready: boolean;
}

/** A service port with everything the proxy needs to serve it. */
export interface ResolvedServicePort {
  /** `namespace/name:port/PROTOCOL`, unique per proxy. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly clusterIP: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** Every endpoint, ready or not, sorted by key (a stable round-robin order). */
  readonly endpoints: readonly ResolvedEndpoint[];
  /** 0 without ClientIP affinity. */
  readonly affinityTimeoutMs: number;
  readonly mode: ProxyMode;
  readonly loadBalancing: LoadBalancing;
}

export interface ResolveContext {
  nodeName: string;
  reachableCidrs: readonly Cidr[];
  mode: ProxyMode;
  loadBalancing: LoadBalancing;
}

const MODES: readonly ProxyMode[] = ['userspace', 'kernel', 'auto'];
const POLICIES: readonly LoadBalancing[] = ['round-robin', 'random', 'source-hash'];

const validPort = (port: unknown): port is number =>
  typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536;

function invalid(service: ServiceDefinition, why: string): ServiceProxyError {
  return new ServiceProxyError(
    'KE_PROXY_INVALID_SERVICE',
    `service ${service.namespace ?? 'default'}/${service.name}: ${why}`,
  );
}

/** Checks a definition and splits it into service ports; throws `KE_PROXY_INVALID_SERVICE`. */
export function resolveService(
  service: ServiceDefinition,
  context: ResolveContext,
): ResolvedServicePort[] {
  const namespace = service.namespace ?? 'default';
  if (!service.name) throw invalid(service, 'has no name');
  if (!isIPv4(service.clusterIP)) {
    throw invalid(service, `clusterIP "${service.clusterIP}" is not an IPv4 address`);
  }
  if (service.mode !== undefined && !MODES.includes(service.mode)) {
    throw invalid(service, `mode "${service.mode}" is not one of ${MODES.join(', ')}`);
  }
  if (service.loadBalancing !== undefined && !POLICIES.includes(service.loadBalancing)) {
    throw invalid(
      service,
      `loadBalancing "${service.loadBalancing}" is not one of ${POLICIES.join(', ')}`,
    );
  }
  const affinityTimeoutMs =
    service.sessionAffinity === 'ClientIP' ? (service.affinityTimeoutSeconds ?? 10_800) * 1000 : 0;
  return service.ports.map((servicePort) => {
    const protocol = servicePort.protocol ?? 'TCP';
    if (protocol !== 'TCP' && protocol !== 'UDP') {
      throw invalid(service, `protocol "${protocol}" is not TCP or UDP`);
    }
    if (!validPort(servicePort.port)) throw invalid(service, `port ${servicePort.port} is invalid`);
    const portName = servicePort.name ?? '';
    const endpoints = service.endpoints.map((endpoint): ResolvedEndpoint => {
      if (!isIPv4(endpoint.ip)) throw invalid(service, `endpoint "${endpoint.ip}" is not IPv4`);
      const port =
        endpoint.ports?.[portName] ?? endpoint.port ?? servicePort.targetPort ?? servicePort.port;
      if (!validPort(port))
        throw invalid(service, `endpoint ${endpoint.ip} port ${port} is invalid`);
      const direct =
        endpoint.nodeName === undefined ||
        endpoint.nodeName === context.nodeName ||
        context.reachableCidrs.some((cidr) => cidr.contains(endpoint.ip));
      return {
        key: `${endpoint.ip}:${port}`,
        ip: endpoint.ip,
        port,
        tunnelNode: direct ? undefined : endpoint.nodeName,
        ready: endpoint.ready ?? true,
      };
    });
    endpoints.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return {
      id: `${namespace}/${service.name}:${servicePort.port}/${protocol}`,
      namespace,
      name: service.name,
      portName,
      clusterIP: service.clusterIP,
      port: servicePort.port,
      protocol,
      endpoints,
      affinityTimeoutMs,
      mode: service.mode ?? context.mode,
      loadBalancing: service.loadBalancing ?? context.loadBalancing,
    };
  });
}

/**
 * The mode a service port is served in. Kernel rules pick at random per connection (with ClientIP
 * affinity through `-m recent`) and only reach endpoints without a tunnel; with no ready
 * endpoint the userspace listener is there to refuse connections cleanly.
 */
export function effectiveMode(
  servicePort: ResolvedServicePort,
  rulesEnabled: boolean,
): 'userspace' | 'kernel' {
  if (!rulesEnabled || servicePort.mode === 'userspace') return 'userspace';
  const ready = servicePort.endpoints.filter((endpoint) => endpoint.ready);
  if (ready.length === 0) return 'userspace';
  if (ready.some((endpoint) => endpoint.tunnelNode !== undefined)) return 'userspace';
  if (servicePort.mode === 'kernel') return 'kernel';
  // auto: the kernel spreads round robin at random, as kube-proxy does, but cannot hash on the
  // source; such services stay in userspace.
  return servicePort.loadBalancing === 'source-hash' ? 'userspace' : 'kernel';
}
