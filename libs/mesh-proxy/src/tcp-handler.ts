import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { dialEndpoint } from './dial';
import { ServiceProxyError } from './errors';
import type { ResolvedServicePort } from './model';
import type { EndpointCounters, HandlerContext, PortHandler } from './port-handler';
import { PIPE_HIGH_WATER_MARK, relay } from './relay';

interface Flow {
  readonly client: Socket;
  readonly upstream: Duplex;
  readonly endpointKey: string;
  drainTimer?: NodeJS.Timeout;
}

const clientIpOf = (socket: Socket) => (socket.remoteAddress ?? '').replace(/^::ffff:/, '');

/** Listens for one TCP service port and pipes each connection to an endpoint. */
export class TcpHandler implements PortHandler {
  #servicePort: ResolvedServicePort;
  readonly #context: HandlerContext;
  readonly #server: Server;
  readonly #flows = new Set<Flow>();
  readonly #pending = new Set<Socket>();
  readonly #perEndpoint = new Map<string, EndpointCounters>();
  #listenerPort = 0;
  #accepted = 0;
  #failedDials = 0;
  #retired = false;

  private constructor(servicePort: ResolvedServicePort, context: HandlerContext) {
    this.#servicePort = servicePort;
    this.#context = context;
    // Paused until the upstream is connected: early bytes wait in the kernel, not in memory.
    this.#server = createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: true,
      highWaterMark: PIPE_HIGH_WATER_MARK,
    });
    this.#server.on('connection', (client) => void this.#accept(client));
  }

  static async listen(
    servicePort: ResolvedServicePort,
    context: HandlerContext,
    host: string,
  ): Promise<TcpHandler> {
    const handler = new TcpHandler(servicePort, context);
    await new Promise<void>((resolve, reject) => {
      handler.#server.once('error', (error) =>
        reject(
          new ServiceProxyError(
            'KE_PROXY_LISTEN_FAILED',
            `cannot listen for ${servicePort.id} on ${host}: ${error.message}`,
            { cause: error },
          ),
        ),
      );
      handler.#server.listen({ host, port: 0 }, () => resolve());
    });
    handler.#server.on('error', (error) =>
      context.logger.error?.({ err: error, service: servicePort.id }, 'listener failed'),
    );
    const address = handler.#server.address();
    handler.#listenerPort = typeof address === 'object' && address ? address.port : 0;
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
    const live = new Set(servicePort.endpoints.map((endpoint) => endpoint.key));
    for (const flow of this.#flows) {
      if (!live.has(flow.endpointKey)) this.#drain(flow);
    }
  }

  retire(): void {
    this.#retired = true;
    this.#server.close();
    for (const client of this.#pending) client.destroy();
    for (const flow of this.#flows) this.#drain(flow);
  }

  async close(): Promise<void> {
    this.#retired = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const client of this.#pending) client.destroy();
    for (const flow of this.#flows) this.#end(flow);
    await closed;
  }

  #drain(flow: Flow): void {
    if (flow.drainTimer) return;
    flow.drainTimer = setTimeout(() => this.#end(flow), this.#context.drainTimeoutMs);
    flow.drainTimer.unref();
  }

  #end(flow: Flow): void {
    flow.client.destroy();
    flow.upstream.destroy();
  }

  async #accept(client: Socket): Promise<void> {
    const context = this.#context;
    this.#accepted++;
    context.counters.accepted++;
    this.#pending.add(client);
    client.on('error', () => client.destroy());
    const clientIp = clientIpOf(client);
    const tried = new Set<string>();
    try {
      for (;;) {
        const servicePort = this.#servicePort;
        const endpoint = context.balancer.pick(servicePort, clientIp, tried);
        if (!endpoint || this.#retired || client.destroyed) break;
        tried.add(endpoint.key);
        let upstream: Duplex;
        try {
          upstream = await dialEndpoint(endpoint, context.tunnel, context.connectTimeoutMs);
        } catch (error) {
          this.#failedDials++;
          context.counters.failedDials++;
          const until = context.health.failed(endpoint.key);
          context.endpointDown(servicePort, endpoint.key, until, error as Error);
          continue;
        }
        context.health.succeeded(endpoint.key);
        if (client.destroyed || this.#retired) {
          upstream.destroy();
          break;
        }
        this.#pipe(client, upstream, endpoint.key);
        return;
      }
      if (!client.destroyed) {
        const refusal =
          tried.size === 0
            ? new ServiceProxyError(
                'KE_PROXY_NO_ENDPOINTS',
                `${this.#servicePort.id} has no ready endpoint`,
              )
            : new ServiceProxyError(
                'KE_PROXY_DIAL_FAILED',
                `${this.#servicePort.id}: every endpoint tried (${[...tried].join(', ')}) failed`,
              );
        context.logger.debug?.({ err: refusal, client: clientIp }, 'connection refused');
        client.resetAndDestroy();
      }
    } finally {
      this.#pending.delete(client);
    }
  }

  #pipe(client: Socket, upstream: Duplex, endpointKey: string): void {
    const counters = this.#context.counters;
    let perEndpoint = this.#perEndpoint.get(endpointKey);
    if (!perEndpoint) {
      perEndpoint = { active: 0, total: 0 };
      this.#perEndpoint.set(endpointKey, perEndpoint);
    }
    perEndpoint.active++;
    perEndpoint.total++;
    counters.active++;
    const flow: Flow = { client, upstream, endpointKey };
    this.#flows.add(flow);
    let closed = 0;
    const onClose = (side: Duplex, other: Duplex) => {
      // A side that closed before its data ended was cut off: cut the other one too. A side
      // that ended normally leaves the other to flush and end through the pipe.
      if (!side.readableEnded) other.destroy();
      if (++closed < 2) return;
      this.#flows.delete(flow);
      if (flow.drainTimer) clearTimeout(flow.drainTimer);
      counters.active--;
      perEndpoint.active--;
    };
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    // Half-close travels through: allowHalfOpen on both sides, and the relay ends the other
    // side once a side has sent everything. An error on either side ends both.
    upstream.on('error', fail);
    client.on('error', fail);
    upstream.once('close', () => onClose(upstream, client));
    client.once('close', () => onClose(client, upstream));
    relay(client, upstream);
    relay(upstream, client);
  }
}
