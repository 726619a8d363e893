import type { Balancer } from './balancer';
import type { HealthTracker } from './health';
import type { ResolvedServicePort } from './model';
import type { Logger, Tunnel } from './types';

/** Counts across all service ports of one proxy. */
export interface ProxyCounters {
  accepted: number;
  active: number;
  failedDials: number;
}

/** An endpoint's connection counts on one service port. */
export interface EndpointCounters {
  active: number;
  total: number;
}

/** What every userspace handler shares with the proxy. */
export interface HandlerContext {
  readonly balancer: Balancer;
  readonly health: HealthTracker;
  readonly tunnel: Tunnel;
  readonly connectTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly udpIdleTimeoutMs: number;
  readonly counters: ProxyCounters;
  readonly logger: Logger;
  /** A connect to `endpoint` failed; it is out until `until`. */
  endpointDown(
    servicePort: ResolvedServicePort,
    endpointKey: string,
    until: number,
    error: Error,
  ): void;
}

/** The userspace path of one service port: a listener and the flows through it. */
export interface PortHandler {
  readonly servicePort: ResolvedServicePort;
  /** The port the listener got on the bind address. */
  readonly listenerPort: number;
  readonly accepted: number;
  readonly failedDials: number;
  endpointCounters(key: string): EndpointCounters | undefined;
  /** New endpoints; flows to endpoints that are gone drain (closed after the drain timeout). */
  update(servicePort: ResolvedServicePort): void;
  /** Stops accepting; existing flows drain. */
  retire(): void;
  /** Stops accepting and closes every flow now. */
  close(): Promise<void>;
}
