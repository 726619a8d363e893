import { isIP } from 'node:net';
import { Balancer } from './balancer';
import { directTunnel } from './dial';
import { ServiceProxyError } from './errors';
import { type HealthBackoff, HealthTracker } from './health';
import { type IptablesOptions, IptablesRules, type RuleEntry, renderRules } from './iptables';
import { type Cidr, parseCidr } from './ipv4';
import { effectiveMode, type ResolvedServicePort, resolveService } from './model';
import type { HandlerContext, PortHandler, ProxyCounters } from './port-handler';
import { TcpHandler } from './tcp-handler';
import type { LoadBalancing, Logger, Protocol, ProxyMode, ServiceSource, Tunnel } from './types';
import { UdpHandler } from './udp-handler';

/** Options of {@link createServiceProxy}. */
export interface ServiceProxyOptions {
  /** Where services and endpoints come from: `createStaticSource` or `createKubeSource`. */
  source: ServiceSource;
  /** This node's name: endpoints on it are dialled directly. */
  nodeName: string;
  /** Default mode of every service (a service's own `mode` wins). Default `auto`. */
  mode?: ProxyMode;
  /** Default endpoint choice of the userspace path. Default `round-robin`. */
  loadBalancing?: LoadBalancing;
  /** How to reach endpoints on other nodes (`@ke/mesh-tunnel`). Default: dial them directly. */
  tunnel?: Tunnel;
  /** Endpoints in these IPv4 CIDRs are directly reachable wherever they run (e.g. a routed pod network). */
  reachableCidrs?: readonly string[];
  /** iptables nat rules for ClusterIPs; `false`: none (userspace listeners only, no root needed). */
  iptables?: IptablesOptions | false;
  /**
   * Address of the userspace listeners. Default `127.0.0.1`, which REDIRECT reaches from this
   * host's own processes; use `0.0.0.0` to serve traffic routed through the node (PREROUTING).
   */
  bindAddress?: string;
  /** Time allowed for a connect to an endpoint before the next one is tried. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** How long an endpoint whose connect failed is skipped. Default 1 s, doubling to 30 s. */
  healthBackoff?: HealthBackoff;
  /** How long connections to a removed endpoint may go on before they are closed. Default 30 s. */
  drainTimeoutMs?: number;
  /** A UDP flow with no datagram for this long is forgotten. Default 30 s. */
  udpIdleTimeoutMs?: number;
  /** Default: none. */
  logger?: Logger;
}

/** A service port as `stats()` reports it. */
export interface ServicePortStats {
  id: string;
  namespace: string;
  name: string;
  clusterIP: string;
  port: number;
  protocol: Protocol;
  mode: 'userspace' | 'kernel';
  /** The userspace listener; absent in kernel mode. */
  listener?: { address: string; port: number };
  /** Connections (UDP: flows) the userspace listener took. */
  accepted: number;
  failedDials: number;
  endpoints: {
    ip: string;
    port: number;
    /** Set when reached through the tunnel. */
    tunnelNode?: string;
    ready: boolean;
    /** False while backing off after a failed connect. */
    healthy: boolean;
    active: number;
    total: number;
  }[];
}

/** What the proxy is doing. */
export interface ProxyStats {
  servicePorts: ServicePortStats[];
  /** Totals over the proxy's life: userspace connections (and UDP flows) taken, open, failed dials. */
  accepted: number;
  active: number;
  failedDials: number;
  /** Completed reconciliations. */
  syncs: number;
}

/** Events of a {@link ServiceProxy}. */
export interface ServiceProxyEvents {
  /** Listeners and rules match the source again. */
  sync: (info: { servicePorts: number; userspace: number; kernel: number }) => void;
  /** A connect to an endpoint failed; it gets no new connections until `until` (epoch ms). */
  endpointDown: (info: { service: string; endpoint: string; until: number; error: Error }) => void;
  /** A reconciliation failed (it is retried); also logged. */
  error: (error: ServiceProxyError) => void;
}

export interface ServiceProxy {
  /** Cleans stale rules of an earlier run, starts the source, opens listeners, installs rules. */
  start(): Promise<void>;
  /** Removes every rule, closes listeners and connections, stops the source. Idempotent. */
  stop(): Promise<void>;
  stats(): ProxyStats;
  /**
   * The userspace listener of a service port (`namespace/name`), for clients that cannot go
   * through iptables (`iptables: false`). Undefined when the port is unknown or in kernel mode.
   */
  listener(
    service: string,
    port: number,
    protocol?: Protocol,
  ): { address: string; port: number } | undefined;
  /** Resolves once every change seen so far is applied. */
  synced(): Promise<void>;
  on<E extends keyof ServiceProxyEvents>(event: E, handler: ServiceProxyEvents[E]): () => void;
}

const SYNC_RETRY_MS = 1000;

function invalidOption(message: string): ServiceProxyError {
  return new ServiceProxyError('KE_PROXY_INVALID_OPTIONS', message);
}

/**
 * A service proxy: for each service port either a local listener that iptables REDIRECTs the
 * ClusterIP to (userspace) or DNAT rules straight to the endpoints (kernel fast path).
 */
export function createServiceProxy(options: ServiceProxyOptions): ServiceProxy {
  if (!options.source) throw invalidOption('createServiceProxy: source is required');
  if (!options.nodeName) throw invalidOption('createServiceProxy: nodeName is required');
  const mode = options.mode ?? 'auto';
  if (!['userspace', 'kernel', 'auto'].includes(mode)) {
    throw invalidOption(`createServiceProxy: mode "${mode}" is not userspace, kernel or auto`);
  }
  const bindAddress = options.bindAddress ?? '127.0.0.1';
  if (isIP(bindAddress) !== 4) {
    throw invalidOption(`createServiceProxy: bindAddress "${bindAddress}" is not an IPv4 address`);
  }
  const reachableCidrs: Cidr[] = (options.reachableCidrs ?? []).map((text) => {
    const cidr = parseCidr(text);
    if (!cidr)
      throw invalidOption(`createServiceProxy: reachableCidrs: "${text}" is not an IPv4 CIDR`);
    return cidr;
  });
  const rules = options.iptables === false ? undefined : new IptablesRules(options.iptables);
  const logger = options.logger ?? {};
  const source = options.source;
  const health = new HealthTracker(options.healthBackoff);
  const balancer = new Balancer(health);
  const counters: ProxyCounters = { accepted: 0, active: 0, failedDials: 0 };
  const listeners = new Map<keyof ServiceProxyEvents, Set<(...args: never[]) => void>>();
  const emit = <E extends keyof ServiceProxyEvents>(
    event: E,
    ...args: Parameters<ServiceProxyEvents[E]>
  ) => {
    for (const handler of listeners.get(event) ?? []) {
      try {
        (handler as unknown as (...a: typeof args) => void)(...args);
      } catch (error) {
        logger.error?.({ err: error, event }, 'event handler threw');
      }
    }
  };
  const context: HandlerContext = {
    balancer,
    health,
    tunnel: options.tunnel ?? directTunnel,
    connectTimeoutMs: options.connectTimeoutMs ?? 3000,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    udpIdleTimeoutMs: options.udpIdleTimeoutMs ?? 30_000,
    counters,
    logger,
    endpointDown(servicePort, endpoint, until, error) {
      logger.warn?.(
        { service: servicePort.id, endpoint, until, err: error },
        'endpoint connect failed; skipping it',
      );
      emit('endpointDown', { service: servicePort.id, endpoint, until, error });
    },
  };

  /** Userspace handlers by service port id. */
  const handlers = new Map<string, PortHandler>();
  /** The latest resolved state: service port id → served mode. */
  let served = new Map<
    string,
    { servicePort: ResolvedServicePort; mode: 'userspace' | 'kernel' }
  >();
  let state: 'idle' | 'running' | 'stopped' = 'idle';
  let syncs = 0;
  let dirty = false;
  let chain: Promise<void> = Promise.resolve();
  let retryTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;

  async function reconcile(): Promise<void> {
    dirty = false;
    const resolveContext = {
      nodeName: options.nodeName,
      reachableCidrs,
      mode,
      loadBalancing: options.loadBalancing ?? 'round-robin',
    };
    const next = new Map<
      string,
      { servicePort: ResolvedServicePort; mode: 'userspace' | 'kernel' }
    >();
    for (const service of source.services()) {
      let ports: ResolvedServicePort[];
      try {
        ports = resolveService(service, resolveContext);
      } catch (error) {
        logger.warn?.({ err: error }, 'service skipped');
        continue;
      }
      for (const servicePort of ports) {
        next.set(servicePort.id, { servicePort, mode: effectiveMode(servicePort, !!rules) });
      }
    }
    // Listeners first, so a REDIRECT never points at a port nobody listens on.
    for (const [id, { servicePort, mode: portMode }] of next) {
      if (portMode !== 'userspace') continue;
      const handler = handlers.get(id);
      if (handler) {
        handler.update(servicePort);
        continue;
      }
      const open = servicePort.protocol === 'UDP' ? UdpHandler.listen : TcpHandler.listen;
      handlers.set(id, await open(servicePort, context, bindAddress));
    }
    if (rules) {
      const entries: RuleEntry[] = [...next.values()].map(({ servicePort, mode: portMode }) => ({
        servicePort,
        mode: portMode,
        listenerPort: handlers.get(servicePort.id)?.listenerPort,
      }));
      await rules.sync(renderRules(rules.prefix, entries));
    }
    // Ports gone or moved to the kernel: stop listening; their connections drain.
    for (const [id, handler] of handlers) {
      const entry = next.get(id);
      if (entry?.mode === 'userspace') continue;
      if (entry) handler.update(entry.servicePort);
      handler.retire();
      handlers.delete(id);
    }
    served = next;
    balancer.retain(new Set(next.keys()));
    health.retain(
      new Set(
        [...next.values()].flatMap(({ servicePort }) => servicePort.endpoints.map((e) => e.key)),
      ),
    );
    syncs++;
    const kernel = [...next.values()].filter((entry) => entry.mode === 'kernel').length;
    emit('sync', { servicePorts: next.size, userspace: next.size - kernel, kernel });
  }

  /** Runs a reconciliation after the one in flight; changes during it coalesce into one. */
  function schedule(): Promise<void> {
    if (dirty) return chain;
    dirty = true;
    chain = chain.then(async () => {
      if (state !== 'running' || !dirty) return;
      try {
        await reconcile();
      } catch (error) {
        const failure =
          error instanceof ServiceProxyError
            ? error
            : new ServiceProxyError('KE_PROXY_IPTABLES_FAILED', (error as Error).message, {
                cause: error,
              });
        logger.error?.({ err: failure }, 'service proxy sync failed; retrying');
        emit('error', failure);
        if (!retryTimer && state === 'running') {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            void schedule();
          }, SYNC_RETRY_MS);
          retryTimer.unref();
        }
      }
    });
    return chain;
  }

  async function closeEverything(): Promise<void> {
    unsubscribe?.();
    unsubscribe = undefined;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
    await chain.catch(() => {});
    const failures: unknown[] = [];
    if (rules) await rules.cleanup().catch((error: unknown) => failures.push(error));
    await Promise.all([...handlers.values()].map((handler) => handler.close()));
    handlers.clear();
    served = new Map();
    await source.stop().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  }

  return {
    async start() {
      if (state !== 'idle') {
        throw new ServiceProxyError('KE_PROXY_STATE', `start() on a proxy that is ${state}`);
      }
      state = 'running';
      try {
        // A proxy killed before its stop() left rules behind: they go first.
        if (rules && (await rules.cleanup())) {
          logger.info?.({ prefix: rules.prefix }, 'removed stale rules of an earlier run');
        }
        await source.start();
        unsubscribe = source.onChange(() => void schedule());
        dirty = true;
        chain = chain.then(reconcile);
        await chain;
      } catch (error) {
        state = 'stopped';
        chain = Promise.resolve();
        await closeEverything().catch(() => {});
        throw error;
      }
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      await closeEverything();
    },
    stats() {
      const servicePorts: ServicePortStats[] = [];
      for (const { servicePort, mode: portMode } of served.values()) {
        const handler = handlers.get(servicePort.id);
        servicePorts.push({
          id: servicePort.id,
          namespace: servicePort.namespace,
          name: servicePort.name,
          clusterIP: servicePort.clusterIP,
          port: servicePort.port,
          protocol: servicePort.protocol,
          mode: portMode,
          listener: handler ? { address: bindAddress, port: handler.listenerPort } : undefined,
          accepted: handler?.accepted ?? 0,
          failedDials: handler?.failedDials ?? 0,
          endpoints: servicePort.endpoints.map((endpoint) => ({
            ip: endpoint.ip,
            port: endpoint.port,
            tunnelNode: endpoint.tunnelNode,
            ready: endpoint.ready,
            healthy: !health.isDown(endpoint.key),
            active: handler?.endpointCounters(endpoint.key)?.active ?? 0,
            total: handler?.endpointCounters(endpoint.key)?.total ?? 0,
          })),
        });
      }
      return { servicePorts, ...counters, syncs };
    },
    listener(service, port, protocol = 'TCP') {
      const handler = handlers.get(`${service}:${port}/${protocol}`);
      return handler ? { address: bindAddress, port: handler.listenerPort } : undefined;
    },
    synced: () => chain.catch(() => {}),
    on(event, handler) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(handler as never);
      return () => set.delete(handler as never);
    },
  };
}
