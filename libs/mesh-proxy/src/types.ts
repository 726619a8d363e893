import type { Duplex } from 'node:stream';

/** How traffic for a service port reaches its endpoints. */
export type ProxyMode =
  /** A local listener per service port; iptables REDIRECTs ClusterIP:port to it; Node pipes bytes. */
  | 'userspace'
  /** iptables DNATs ClusterIP:port straight to an endpoint (random per connection); no bytes in the process. */
  | 'kernel'
  /** `kernel` when every ready endpoint is directly reachable and the policy allows it, else `userspace`. */
  | 'auto';

/** How the userspace path picks an endpoint for a new connection (or UDP flow). */
export type LoadBalancing =
  /** Each endpoint in turn (the default). */
  | 'round-robin'
  /** Uniformly at random. */
  | 'random'
  /** A consistent-hash ring over the client's source IP: a client stays on one endpoint while it exists. */
  | 'source-hash';

export type Protocol = 'TCP' | 'UDP';

/** One port of a service. */
export interface ServicePortDefinition {
  /** The port name; endpoints name their ports after it. Default `''`. */
  name?: string;
  /** The ClusterIP port. */
  port: number;
  /** Default `TCP`. */
  protocol?: Protocol;
  /** The endpoint port when an endpoint does not name one. Default: `port`. */
  targetPort?: number;
}

/** One backend of a service (an address of an EndpointSlice). */
export interface EndpointDefinition {
  /** IPv4 address of the endpoint. */
  ip: string;
  /** The node the endpoint runs on. Absent: treated as this node (dialled directly). */
  nodeName?: string;
  /** Ports by service port name; a port not named here uses `port`, then the service port's `targetPort`. */
  ports?: Readonly<Record<string, number>>;
  /** The port for every service port (an endpoint with one port). */
  port?: number;
  /** Not-ready endpoints get no new connections. Default true. */
  ready?: boolean;
}

/** A service as the proxy sees it: a ClusterIP, its ports and the endpoints behind it. */
export interface ServiceDefinition {
  /** Default `default`. */
  namespace?: string;
  name: string;
  /** IPv4 ClusterIP (services without one — headless, ExternalName — are not proxied). */
  clusterIP: string;
  ports: readonly ServicePortDefinition[];
  endpoints: readonly EndpointDefinition[];
  /** `ClientIP` keeps a client on one endpoint for {@link affinityTimeoutSeconds}. Default `None`. */
  sessionAffinity?: 'None' | 'ClientIP';
  /** Kubernetes' default is 10800 (3 hours). */
  affinityTimeoutSeconds?: number;
  /** Overrides the proxy's mode for this service (annotation `mesh.kubeedge.io/proxy-mode`). */
  mode?: ProxyMode;
  /** Overrides the proxy's policy (annotation `mesh.kubeedge.io/load-balancing`). */
  loadBalancing?: LoadBalancing;
}

/**
 * Where services come from: {@link createStaticSource} for embedding, {@link createKubeSource}
 * for a Kubernetes API (services + EndpointSlices through `@ke/kube` informers).
 */
export interface ServiceSource {
  /** Starts watching; resolves once the first complete state is known. */
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  /** Every service known now. */
  services(): readonly ServiceDefinition[];
  /** Calls `listener` after any change; returns the function that removes it. */
  onChange(listener: () => void): () => void;
}

/**
 * How the proxy reaches an endpoint on another node. `@ke/mesh-tunnel` implements it; until a
 * tunnel is given the proxy dials such endpoints directly.
 */
export interface Tunnel {
  /** Opens a stream to `ip:port` on `node`; rejects when the peer cannot be reached. */
  dial(node: string, ip: string, port: number, signal?: AbortSignal): Promise<Duplex>;
}

/**
 * Where the proxy reports what it cannot throw. Fields first, message second (pino's order), as
 * `@ke/kube`'s logger.
 */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
}
