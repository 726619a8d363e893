/** A port of a service (or of its endpoints), as Kubernetes names it. */
export interface DnsServicePort {
  /** The port's name; only named ports get `_<name>._<proto>.` SRV names. */
  name?: string;
  port: number;
  /** Default `TCP`. */
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** One backend of a service: a pod's addresses, as an EndpointSlice endpoint lists them. */
export interface DnsEndpoint {
  /** IPv4 and/or IPv6 addresses. */
  addresses: readonly string[];
  /** The pod's `spec.hostname`: names `<hostname>.<svc>.<ns>.svc.<domain>` (headless only). */
  hostname?: string;
  /** Default true. Not-ready endpoints are left out unless the service publishes them. */
  ready?: boolean;
}

/**
 * What the DNS server needs to know about one Service. A ClusterIP service answers with its
 * ClusterIPs; a headless one (no ClusterIPs) with the addresses of its ready endpoints.
 */
export interface DnsService {
  namespace: string;
  name: string;
  /** ClusterIPs, IPv4 and/or IPv6. Empty or absent: headless (unless `externalName`). */
  clusterIPs?: readonly string[];
  /** For `type: ExternalName`: the name answered as a CNAME. */
  externalName?: string;
  /** The service's ports (SRV records). */
  ports?: readonly DnsServicePort[];
  /** The service's endpoints; used for headless services. */
  endpoints?: readonly DnsEndpoint[];
  /** The endpoints' ports (EndpointSlice `ports`) for headless SRV records. Default: `ports`. */
  endpointPorts?: readonly DnsServicePort[];
  /** `spec.publishNotReadyAddresses`: answer with not-ready endpoints too. */
  publishNotReadyAddresses?: boolean;
}

/**
 * Where the server's service data comes from: a list/watch of an API server
 * (`createKubeServiceSource`), or records a program hands over (`createStaticSource`).
 * The server owns the source: its `start` and `stop` call the source's.
 */
export interface DnsSource {
  /** Resolves once the first complete state is available (the informers have synced). */
  start(signal?: AbortSignal): Promise<void>;
  /** Releases watches, sockets and timers. */
  stop(): Promise<void>;
  /** Every service, in its current state. Called after each change, so it should be cheap. */
  services(): Iterable<DnsService>;
  /** Calls `listener` after any change; returns the function that removes it. */
  onChange(listener: () => void): () => void;
}
