import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { ServiceProxyError } from './errors';
import type { ResolvedEndpoint, ResolvedServicePort } from './model';
import type { EndpointCounters, HandlerContext, PortHandler } from './port-handler';

interface Session {
  readonly upstream: Socket;
  readonly endpoint: ResolvedEndpoint;
  lastSeen: number;
  /** Datagrams that came before the upstream socket was connected. */
  queue: Buffer[] | undefined;
}

/**
 * One UDP service port: a socket on the bind address, and per client address a connected socket
 * to its endpoint; replies go back from the listening socket, so conntrack turns their source
 * back into ClusterIP:port. A session idle for `udpIdleTimeoutMs` is closed.
 */
export class UdpHandler implements PortHandler {
  #servicePort: ResolvedServicePort;
  readonly #context: HandlerContext;
  readonly #socket: Socket;
  readonly #sessions = new Map<string, Session>();
  readonly #perEndpoint = new Map<string, EndpointCounters>();
  readonly #sweep: NodeJS.Timeout;
  #listenerPort = 0;
  #accepted = 0;
  #failedDials = 0;
  #closed = false;

  private constructor(servicePort: ResolvedServicePort, context: HandlerContext) {
    this.#servicePort = servicePort;
    this.#context = context;
    this.#socket = createSocket('udp4');
    this.#socket.on('message', (message, from) => this.#onMessage(message, from));
    const every = Math.max(50, Math.min(5000, context.udpIdleTimeoutMs / 2));
    this.#sweep = setInterval(() => this.#expire(), every);
    this.#sweep.unref();
  }

  static async listen(
    servicePort: ResolvedServicePort,
    context: HandlerContext,
    host: string,
  ): Promise<UdpHandler> {
    const handler = new UdpHandler(servicePort, context);
    try {
      await new Promise<void>((resolve, reject) => {
        handler.#socket.once('error', reject);
        handler.#socket.bind({ address: host, port: 0 }, () => {
          handler.#socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      clearInterval(handler.#sweep);
      throw new ServiceProxyError(
        'KE_PROXY_LISTEN_FAILED',
        `cannot bind ${servicePort.id} on ${host}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    handler.#socket.on('error', (error) =>
      context.logger.warn?.({ err: error, service: servicePort.id }, 'UDP listener error'),
    );
    handler.#listenerPort = handler.#socket.address().port;
    return handler;
  }

  get servicePort(): ResolvedServicePort {
    return this.#servicePort;
  }
  get listenerPort(): number {
    return this.#listenerPort;
  }
  get accepted(): number {
    return this.#accepted;
  }
  get failedDials(): number {
    return this.#failedDials;
  }

  endpointCounters(key: string): EndpointCounters | undefined {
    return this.#perEndpoint.get(key);
  }

  update(servicePort: ResolvedServicePort): void {
    this.#servicePort = servicePort;
    // UDP has no connection to drain: a flow to a removed endpoint moves with its next datagram.
    const live = new Set(servicePort.endpoints.filter((e) => e.ready).map((e) => e.key));
    for (const [client, session] of this.#sessions) {
      if (!live.has(session.endpoint.key)) this.#endSession(client, session);
    }
  }

  retire(): void {
    void this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const [client, session] of this.#sessions) this.#endSession(client, session);
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #onMessage(message: Buffer, from: RemoteInfo): void {
    const clientKey = `${from.address}:${from.port}`;
    let session = this.#sessions.get(clientKey);
    if (!session) {
      session = this.#open(clientKey, from);
      if (!session) return;
    }
    session.lastSeen = Date.now();
    if (session.queue) session.queue.push(message);
    else session.upstream.send(message);
  }

  #open(clientKey: string, from: RemoteInfo): Session | undefined {
    const context = this.#context;
    const endpoint = context.balancer.pick(this.#servicePort, from.address);
    if (!endpoint) return undefined;
    this.#accepted++;
    context.counters.accepted++;
    context.counters.active++;
    let counters = this.#perEndpoint.get(endpoint.key);
    if (!counters) {
      counters = { active: 0, total: 0 };
      this.#perEndpoint.set(endpoint.key, counters);
    }
    counters.active++;
    counters.total++;
    const upstream = createSocket('udp4');
    const session: Session = { upstream, endpoint, lastSeen: Date.now(), queue: [] };
    this.#sessions.set(clientKey, session);
    upstream.on('message', (reply) => {
      session.lastSeen = Date.now();
      if (!this.#closed) this.#socket.send(reply, from.port, from.address);
    });
    // A connected UDP socket hears ICMP port unreachable as ECONNREFUSED: the passive health
    // signal UDP has. The session ends; the client's next datagram goes to another endpoint.
    upstream.on('error', (error) => {
      this.#failedDials++;
      context.counters.failedDials++;
      const until = context.health.failed(endpoint.key);
      context.endpointDown(this.#servicePort, endpoint.key, until, error);
      this.#endSession(clientKey, session);
    });
    upstream.connect(endpoint.port, endpoint.ip, () => {
      const queued = session.queue ?? [];
      session.queue = undefined;
      for (const datagram of queued) upstream.send(datagram);
    });
    return session;
  }

  #endSession(clientKey: string, session: Session): void {
    if (this.#sessions.get(clientKey) !== session) return;
    this.#sessions.delete(clientKey);
    this.#context.counters.active--;
    const counters = this.#perEndpoint.get(session.endpoint.key);
    if (counters) counters.active--;
    try {
      session.upstream.close();
    } catch {
      // already closed
    }
  }

  #expire(): void {
    const oldest = Date.now() - this.#context.udpIdleTimeoutMs;
    for (const [client, session] of this.#sessions) {
      if (session.lastSeen < oldest) this.#endSession(client, session);
    }
  }
}
