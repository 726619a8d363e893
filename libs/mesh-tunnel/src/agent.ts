import { randomInt } from 'node:crypto';
import { isIPv4, type Socket, connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import UDX from 'udx-native';
import { TunnelError, wireCode } from './errors';
import {
  decodeDatagram,
  encodeDatagram,
  encodeFrame,
  encodeRelayHello,
  type Frame,
  int,
  readFrames,
  str,
} from './frames';
import { isAuthFailure } from './identity';
import { createPeerLink, type PeerLink } from './link';
import { type Endpoint, type HolePunch, startHolePunch } from './punch';
import {
  type AcceptContext,
  abortable,
  failStream,
  secureAccept,
  secureDial,
} from './secure-stream';
import type {
  Logger,
  PeerStats,
  TunnelAgent,
  TunnelAgentOptions,
  TunnelAgentStats,
  TunnelServerAddress,
} from './types';

const SERVER_PROBE_FAST_MS = 250;
const SERVER_KEEPALIVE_MS = 15_000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 5000;
const START_ENDPOINT_WAIT_MS = 2000;

interface Peer {
  readonly name: string;
  link?: PeerLink;
  attempt?: Promise<void>;
  attempted: boolean;
  nextPunchAt: number;
  backoffMs: number;
  readonly linkWaiters: Set<() => void>;
  streams: { p2p: number; relay: number; open: number; failed: number };
  bytesSent: number;
  bytesReceived: number;
  punch: { attempts: number; succeeded: number; failed: number; lastError?: string };
}

/**
 * Creates a tunnel agent: registers with a tunnel server, dials streams to other nodes over a
 * punched peer-to-peer UDX path when it can and through the server's relay when it cannot, and
 * serves the streams peers open to destinations `allow(ip, port)` accepts.
 */
export function createTunnelAgent(options: TunnelAgentOptions): TunnelAgent {
  const logger: Logger = options.logger ?? {};
  const nodeName = options.nodeName;
  const tls = options.tls;
  const allow = options.allow ?? (() => false);
  const dialTimeoutMs = options.dialTimeoutMs ?? 10_000;
  const punchTimeoutMs = options.punchTimeoutMs ?? 1500;
  const keepaliveMs = options.keepaliveMs ?? 5000;
  const punchEnabled = options.punch !== false;
  if (!nodeName) throw new TunnelError('KE_TUNNEL_INVALID_OPTIONS', 'nodeName is required');
  if (!tls?.key || !tls.cert || !tls.ca) {
    throw new TunnelError('KE_TUNNEL_INVALID_OPTIONS', 'tls.key, tls.cert and tls.ca are required');
  }
  if (!options.servers?.length) {
    throw new TunnelError('KE_TUNNEL_INVALID_OPTIONS', 'at least one tunnel server is required');
  }
  for (const server of options.servers) {
    if (!isIPv4(server.host)) {
      throw new TunnelError('KE_TUNNEL_INVALID_OPTIONS', `server host ${server.host} is not IPv4`);
    }
  }

  const udx = new UDX();
  let socket: UDX.Socket | undefined;
  let state: 'new' | 'started' | 'stopped' = 'new';
  const peers = new Map<string, Peer>();
  const punches = new Map<string, HolePunch>();
  const tracked = new Set<Duplex>();
  const streamIds = new Set<number>();
  const timers = new Set<NodeJS.Timeout>();
  const accepted = { ok: 0, notAllowed: 0, dialFailed: 0 };
  /** Relay legs to the server of the current control connection, and the stream inside each. */
  const relayConnections = new Map<Socket, TLSSocket | undefined>();
  /** Relays asked for and not paired yet: the server may still report why they failed. */
  const relayFailures = new Map<string, (error: TunnelError) => void>();

  // The control connection to the current server.
  let serverIndex = 0;
  let control: TLSSocket | undefined;
  let registered: { server: TunnelServerAddress; token: string; udpPort: number } | undefined;
  let publicEndpoint: Endpoint | undefined;
  let serverProbeTimer: NodeJS.Timeout | undefined;
  let reconnectDelay = RECONNECT_MIN_MS;
  let lastServerPong = 0;
  let nextRequestId = 1;
  const requests = new Map<number, { resolve(frame: Frame): void; reject(error: Error): void }>();
  let startOutcome: { resolve(): void; reject(error: Error): void } | undefined;

  const later = (ms: number, run: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    timers.add(timer);
    return timer;
  };
  const cancel = (timer: NodeJS.Timeout | undefined) => {
    if (!timer) return;
    clearTimeout(timer);
    timers.delete(timer);
  };
  const track = <T extends Duplex>(stream: T): T => {
    tracked.add(stream);
    stream.once('close', () => tracked.delete(stream));
    return stream;
  };
  const newStream = (): UDX.Stream => {
    let id = randomInt(1, 2 ** 31);
    while (streamIds.has(id)) id = randomInt(1, 2 ** 31);
    streamIds.add(id);
    const stream = udx.createStream(id);
    stream.once('close', () => streamIds.delete(id));
    stream.on('error', () => {});
    return stream;
  };

  function peerState(name: string): Peer {
    let peer = peers.get(name);
    if (!peer) {
      peer = {
        name,
        attempted: false,
        nextPunchAt: 0,
        backoffMs: 0,
        linkWaiters: new Set(),
        streams: { p2p: 0, relay: 0, open: 0, failed: 0 },
        bytesSent: 0,
        bytesReceived: 0,
        punch: { attempts: 0, succeeded: 0, failed: 0 },
      };
      peers.set(name, peer);
    }
    return peer;
  }

  const acceptContext: AcceptContext = {
    tls,
    allow,
    logger,
    timeoutMs: dialTimeoutMs,
    track,
    onOutcome(_peer, outcome) {
      if (outcome !== 'failed') accepted[outcome] += 1;
    },
    onBytes(peer, direction, count) {
      const entry = peerState(peer);
      if (direction === 'sent') entry.bytesSent += count;
      else entry.bytesReceived += count;
    },
  };

  // ---- control connection to the server -------------------------------------------------

  function sendControl(frame: Frame): boolean {
    if (!control || !registered || control.destroyed) return false;
    control.write(encodeFrame(frame));
    return true;
  }

  function request(frame: Frame, timeoutMs: number): Promise<Frame> {
    const id = nextRequestId++;
    return new Promise<Frame>((resolve, reject) => {
      const timer = later(timeoutMs, () => {
        requests.delete(id);
        reject(new TunnelError('KE_TUNNEL_TIMEOUT', `the server did not answer ${frame.t}`));
      });
      requests.set(id, {
        resolve: (answer) => {
          cancel(timer);
          resolve(answer);
        },
        reject: (error) => {
          cancel(timer);
          reject(error);
        },
      });
      if (!sendControl({ ...frame, id })) {
        requests.get(id)?.reject(new TunnelError('KE_TUNNEL_UNAVAILABLE', 'no tunnel server'));
        requests.delete(id);
      }
    });
  }

  function connectServer(): void {
    if (state !== 'started') return;
    const server = options.servers[serverIndex % options.servers.length]!;
    const connection = tlsConnect({
      host: server.host,
      port: server.controlPort,
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca as string | string[],
      minVersion: 'TLSv1.3',
    });
    control = connection;
    connection.setNoDelay(true);
    let wasRegistered = false;
    let secured = false;
    let answered = false;
    connection.setKeepAlive(true, 15_000);
    connection.once('secureConnect', () => {
      secured = true;
      connection.write(encodeFrame({ t: 'register', node: nodeName }));
    });
    readFrames(
      connection,
      (frame) => {
        answered = true;
        if (frame.t === 'registered') {
          wasRegistered = true;
          reconnectDelay = RECONNECT_MIN_MS;
          lastServerPong = Date.now();
          publicEndpoint = undefined;
          registered = {
            server,
            token: str(frame, 'token') ?? '',
            udpPort: int(frame, 'udpPort') ?? server.udpPort,
          };
          logger.info?.(
            { node: nodeName, server: server.host },
            'registered with the tunnel server',
          );
          probeServer(0);
          // start() resolves once the public UDP endpoint is known (punching needs it), or
          // after a bound when UDP to the server is blocked (then every stream is relayed).
          if (startOutcome) later(START_ENDPOINT_WAIT_MS, resolveStart);
          return;
        }
        onServerFrame(frame);
      },
      (error) => {
        logger.warn?.({ error: error.message }, 'the tunnel server broke the control protocol');
        connection.destroy();
      },
    );
    connection.on('error', (error) => {
      const auth = isAuthFailure(error);
      logger.warn?.(
        { server: server.host, error: error.message, code: (error as NodeJS.ErrnoException).code },
        auth
          ? 'the tunnel server refused this node certificate'
          : 'tunnel server connection failed',
      );
      if (auth) failStart(new TunnelError('KE_TUNNEL_AUTH', error.message, { cause: error }));
    });
    connection.once('close', () => {
      if (secured && !answered) {
        // In TLS 1.3 the client's handshake completes before the server checks the client
        // certificate; a server that rejects it just closes, without an alert.
        logger.warn?.(
          { server: server.host },
          'the tunnel server closed the connection without answering the registration',
        );
        failStart(
          new TunnelError(
            'KE_TUNNEL_AUTH',
            `the tunnel server ${server.host}:${server.controlPort} closed the connection right after the TLS handshake: it does not accept this node certificate (is it signed by the cluster CA?)`,
          ),
        );
      }
      if (control === connection) {
        control = undefined;
        registered = undefined;
        // The relay is the same server process: when its control connection is gone, relayed
        // streams are (almost always) dead too. End them with an error now rather than let them
        // look like a clean end of data or hang.
        for (const [outer, inner] of relayConnections) {
          if (inner) failStream(inner);
          outer.destroy();
        }
        relayConnections.clear();
        cancel(serverProbeTimer);
        serverProbeTimer = undefined;
      }
      for (const pending of requests.values()) {
        pending.reject(new TunnelError('KE_TUNNEL_UNAVAILABLE', 'the tunnel server went away'));
      }
      requests.clear();
      if (state !== 'started') return;
      if (!wasRegistered) serverIndex += 1;
      const delay = reconnectDelay;
      reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
      later(delay + randomInt(0, 100), connectServer);
      // Not able to reach any server on the first round: let start() resolve, keep trying.
      if (startOutcome && serverIndex >= options.servers.length) {
        startOutcome.resolve();
        startOutcome = undefined;
      }
    });
  }

  function resolveStart(): void {
    startOutcome?.resolve();
    startOutcome = undefined;
  }

  function failStart(error: TunnelError): void {
    if (!startOutcome) return;
    const outcome = startOutcome;
    startOutcome = undefined;
    void stop().finally(() => outcome.reject(error));
  }

  function onServerFrame(frame: Frame): void {
    const id = int(frame, 'id');
    if (id !== undefined && requests.has(id)) {
      const pending = requests.get(id)!;
      requests.delete(id);
      if (frame.t === 'error') {
        pending.reject(
          new TunnelError(wireCode(frame.code), str(frame, 'message') ?? 'refused by the server'),
        );
      } else pending.resolve(frame);
      return;
    }
    switch (frame.t) {
      case 'pong':
        lastServerPong = Date.now();
        return;
      case 'error':
        if (frame.code === 'KE_TUNNEL_AUTH') {
          logger.error?.({ message: frame.message }, 'the tunnel server refused the registration');
          failStart(new TunnelError('KE_TUNNEL_AUTH', str(frame, 'message') ?? 'refused'));
        }
        return;
      case 'punch': {
        const peer = str(frame, 'peer');
        const nonce = str(frame, 'nonce');
        const host = str(frame, 'host');
        const port = int(frame, 'port');
        if (!peer || !nonce || !host || port === undefined || !punchEnabled) return;
        runPunch(peerState(peer), nonce, { host, port }, false).catch(() => {});
        return;
      }
      case 'incoming': {
        const from = str(frame, 'from');
        const ticket = str(frame, 'ticket');
        if (from && ticket) acceptRelay(from, ticket);
        return;
      }
      case 'relayFailed': {
        const fail = relayFailures.get(str(frame, 'relay') ?? '');
        fail?.(new TunnelError(wireCode(frame.code), str(frame, 'message') ?? 'the relay failed'));
        return;
      }
      default:
        return;
    }
  }

  /** UDP probes to the server from the UDX socket: learn and hold the public endpoint. */
  function probeServer(round: number): void {
    cancel(serverProbeTimer);
    if (!registered || !socket || !control) return;
    if (round > 0 && publicEndpoint) {
      // The slow rounds: also a ping on the control connection, to notice a dead server.
      if (Date.now() - lastServerPong > SERVER_KEEPALIVE_MS * 3) {
        logger.warn?.({ server: registered.server.host }, 'the tunnel server stopped answering');
        control.destroy();
        return;
      }
      control.write(encodeFrame({ t: 'ping', ts: Date.now() }));
    }
    socket.trySend(
      encodeDatagram({ t: 'probe', node: nodeName, token: registered.token }),
      registered.udpPort,
      registered.server.host,
    );
    const fast = !publicEndpoint && round < 40;
    serverProbeTimer = later(fast ? SERVER_PROBE_FAST_MS : SERVER_KEEPALIVE_MS, () =>
      probeServer(round + 1),
    );
  }

  function onDatagram(message: Buffer, from: Endpoint): void {
    const frame = decodeDatagram(message);
    if (!frame) return;
    if (frame.t === 'observed') {
      const host = str(frame, 'host');
      const port = int(frame, 'port');
      if (!host || port === undefined || from.host !== registered?.server.host) return;
      const changed = publicEndpoint?.host !== host || publicEndpoint?.port !== port;
      publicEndpoint = { host, port };
      if (changed) logger.debug?.({ host, port }, 'public UDP endpoint');
      if (registered) resolveStart();
      return;
    }
    if (frame.t === 'punch') {
      const nonce = str(frame, 'nonce');
      const punch = nonce ? punches.get(nonce) : undefined;
      if (punch && str(frame, 'node') === punch.peer) punch.onProbe(frame, from);
    }
  }

  // ---- hole punching and the p2p link ---------------------------------------------------

  /** Starts a punch towards `peer` unless one runs or the back-off says wait. */
  function maybePunch(peer: Peer): void {
    if (!punchEnabled || peer.link || peer.attempt || Date.now() < peer.nextPunchAt) return;
    if (!registered) return;
    peer.attempted = true;
    const attempt = (async () => {
      const answer = await request({ t: 'connect', peer: peer.name }, punchTimeoutMs + 1000);
      if (answer.t === 'punch') {
        const host = str(answer, 'host');
        const port = int(answer, 'port');
        const nonce = str(answer, 'nonce');
        if (!host || port === undefined || !nonce) {
          throw new TunnelError('KE_TUNNEL_PROTOCOL', 'the server sent a malformed punch');
        }
        await runPunch(peer, nonce, { host, port }, true);
      } else {
        // The peer asked for a punch to us at the same time: ours joins that one.
        peer.punch.attempts += 1;
        if (await waitForLink(peer, punchTimeoutMs + 500)) {
          peer.punch.succeeded += 1;
        } else {
          peer.punch.failed += 1;
          throw new TunnelError('KE_TUNNEL_TIMEOUT', 'the joined punch did not succeed');
        }
      }
    })();
    peer.attempt = attempt.then(
      () => {
        peer.backoffMs = 0;
        peer.nextPunchAt = 0;
      },
      (error: Error) => {
        peer.punch.lastError = error.message;
        peer.backoffMs = Math.min(Math.max(peer.backoffMs * 2, BACKOFF_MIN_MS), BACKOFF_MAX_MS);
        peer.nextPunchAt = Date.now() + peer.backoffMs;
        logger.debug?.(
          { peer: peer.name, error: error.message, retryInMs: peer.backoffMs },
          'no peer-to-peer path; relaying',
        );
      },
    );
    void peer.attempt.finally(() => {
      peer.attempt = undefined;
    });
  }

  function waitForLink(peer: Peer, timeoutMs: number): Promise<boolean> {
    if (peer.link) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        cancel(timer);
        peer.linkWaiters.delete(done);
        resolve(peer.link !== undefined);
      };
      const timer = later(timeoutMs, done);
      peer.linkWaiters.add(done);
    });
  }

  function runPunch(
    peer: Peer,
    nonce: string,
    target: Endpoint,
    initiator: boolean,
  ): Promise<void> {
    if (!socket || punches.has(nonce)) return Promise.resolve();
    peer.punch.attempts += 1;
    const punch = startHolePunch(
      {
        nodeName,
        tls,
        socket,
        timeoutMs: punchTimeoutMs,
        newStream,
        track,
        later,
        cancel,
      },
      { peer: peer.name, nonce, target, initiator },
    );
    punches.set(nonce, punch);
    return punch.result.then(
      ({ secure, remote }) => {
        punches.delete(nonce);
        peer.punch.succeeded += 1;
        installLink(peer, nonce, remote, secure);
      },
      (error: Error) => {
        punches.delete(nonce);
        peer.punch.failed += 1;
        peer.punch.lastError = error.message;
        throw error;
      },
    );
  }

  function installLink(peer: Peer, nonce: string, remote: Endpoint, secure: TLSSocket): void {
    if (!socket) {
      secure.destroy();
      return;
    }
    const link = createPeerLink(
      {
        tls,
        socket,
        keepaliveMs,
        accept: acceptContext,
        newStream,
        track,
        later,
        cancel,
        onClose(closed, reason) {
          if (peer.link !== closed) return;
          peer.link = undefined;
          peer.backoffMs = BACKOFF_MIN_MS;
          peer.nextPunchAt = Date.now() + BACKOFF_MIN_MS;
          logger.info?.({ peer: peer.name, reason }, 'peer-to-peer path down; relaying');
        },
      },
      { peer: peer.name, nonce, remote, control: secure },
    );
    const previous = peer.link;
    peer.link = link;
    previous?.close('replaced by a newer link');
    logger.info?.({ peer: peer.name, ...remote }, 'peer-to-peer path up');
    for (const waiter of [...peer.linkWaiters]) waiter();
  }

  // ---- relay ----------------------------------------------------------------------------

  /**
   * A relay leg: plain TCP to the server's control port, opened with the one-time `ticket` the
   * server gave over the control connection. Resolves once connected and the hello is written;
   * the stream inside is end-to-end TLS, so the server only copies bytes.
   */
  async function connectRelay(
    server: TunnelServerAddress,
    ticket: string,
    signal?: AbortSignal,
  ): Promise<Socket> {
    const hello = encodeRelayHello(ticket);
    const leg = track(
      tcpConnect({
        host: server.host,
        port: server.controlPort,
        allowHalfOpen: true,
        noDelay: true,
      }),
    );
    leg.on('error', (error) => logger.debug?.({ error: error.message }, 'relay connection failed'));
    relayConnections.set(leg, undefined);
    leg.once('close', () => relayConnections.delete(leg));
    const connected = new Promise<void>((resolve, reject) => {
      leg.once('connect', () => resolve());
      leg.once('close', () =>
        reject(new TunnelError('KE_TUNNEL_UNAVAILABLE', 'the relay connection closed')),
      );
    });
    if (signal) await abortable(connected, signal, () => leg.destroy());
    else await connected;
    leg.write(hello);
    return leg;
  }

  async function openRelay(peer: string, ip: string, port: number, signal: AbortSignal) {
    const server = registered?.server;
    if (!server) {
      throw new TunnelError('KE_TUNNEL_UNAVAILABLE', 'no tunnel server is connected');
    }
    const answer = await abortable(request({ t: 'relay', peer }, dialTimeoutMs), signal, () => {});
    const relayId = str(answer, 'relay');
    const ticket = str(answer, 'ticket');
    if (answer.t !== 'relay' || !relayId || !ticket) {
      throw new TunnelError(
        'KE_TUNNEL_PROTOCOL',
        `the tunnel server answered a relay request with ${answer.t}`,
      );
    }
    let failure: TunnelError | undefined;
    let leg: Socket | undefined;
    relayFailures.set(relayId, (error) => {
      failure = error;
      leg?.destroy();
    });
    try {
      leg = await connectRelay(server, ticket, signal);
      if (failure) throw failure;
      const inner = await secureDial(leg, tls, peer, ip, port, signal);
      if (relayConnections.has(leg)) relayConnections.set(leg, inner);
      return inner;
    } catch (error) {
      leg?.destroy();
      throw failure ?? error;
    } finally {
      relayFailures.delete(relayId);
    }
  }

  function acceptRelay(from: string, ticket: string): void {
    const server = registered?.server;
    if (!server) return;
    connectRelay(server, ticket).then(
      (leg) =>
        secureAccept(leg, from, acceptContext, (inner) => {
          if (relayConnections.has(leg)) relayConnections.set(leg, inner);
        }),
      (error: Error) => logger.debug?.({ from, error: error.message }, 'relay accept failed'),
    );
  }

  // ---- dial -----------------------------------------------------------------------------

  function account(peer: Peer, secure: TLSSocket, path: 'p2p' | 'relay'): TLSSocket {
    peer.streams[path] += 1;
    peer.streams.open += 1;
    secure.once('close', () => {
      peer.streams.open -= 1;
      peer.bytesSent += secure.bytesWritten;
      peer.bytesReceived += secure.bytesRead;
    });
    return secure;
  }

  async function dial(
    node: string,
    ip: string,
    port: number,
    signal?: AbortSignal,
  ): Promise<Duplex> {
    if (state !== 'started') throw new TunnelError('KE_TUNNEL_STATE', 'the agent is not started');
    if (!node || node === nodeName) {
      throw new TunnelError('KE_TUNNEL_UNKNOWN_PEER', `cannot tunnel to node '${node}'`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TunnelError('KE_TUNNEL_INVALID_OPTIONS', `bad port ${port}`);
    }
    const controller = new AbortController();
    const timer = later(dialTimeoutMs, () =>
      controller.abort(
        new TunnelError('KE_TUNNEL_TIMEOUT', `no stream to ${node} within ${dialTimeoutMs} ms`),
      ),
    );
    const onAbort = () =>
      controller.abort(new TunnelError('KE_TUNNEL_ABORTED', 'the dial was aborted'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const peer = peerState(node);
    try {
      const firstTry = !peer.attempted;
      maybePunch(peer);
      // Wait for the first punch to a peer; later ones run in the background while relaying.
      if (!peer.link && firstTry && peer.attempt) {
        await abortable(peer.attempt, controller.signal, () => {});
      }
      const link = peer.link;
      if (link) {
        try {
          return account(peer, await link.open(ip, port, controller.signal), 'p2p');
        } catch (error) {
          if (controller.signal.aborted || isRefusal(error)) throw error;
          link.close(`opening a stream failed: ${(error as Error).message}`);
        }
      }
      return account(peer, await openRelay(node, ip, port, controller.signal), 'relay');
    } catch (error) {
      peer.streams.failed += 1;
      throw error instanceof TunnelError
        ? error
        : new TunnelError(
            isAuthFailure(error) ? 'KE_TUNNEL_AUTH' : 'KE_TUNNEL_UNAVAILABLE',
            `no stream to ${node}: ${(error as Error).message}`,
            { cause: error },
          );
    } finally {
      cancel(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------

  async function stop(): Promise<void> {
    if (state !== 'started') {
      state = 'stopped';
      return;
    }
    state = 'stopped';
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const pending of requests.values()) {
      pending.reject(new TunnelError('KE_TUNNEL_STATE', 'the agent stopped'));
    }
    requests.clear();
    for (const peer of peers.values()) peer.link?.close('agent stopping');
    for (const punch of punches.values()) punch.abort();
    punches.clear();
    control?.destroy();
    control = undefined;
    registered = undefined;
    for (const stream of tracked) stream.destroy();
    tracked.clear();
    if (socket) {
      const udpSocket = socket;
      socket = undefined;
      for (const stream of udpSocket.streams) stream.destroy();
      await udpSocket.close();
    }
  }

  return {
    async start() {
      if (state !== 'new') {
        throw new TunnelError('KE_TUNNEL_STATE', 'the agent was started already');
      }
      state = 'started';
      const udpSocket = udx.createSocket();
      udpSocket.bind(options.udpPort ?? 0, options.udpHost ?? '0.0.0.0');
      udpSocket.on('message', (message, from) =>
        onDatagram(message, { host: from.host, port: from.port }),
      );
      socket = udpSocket;
      await new Promise<void>((resolve, reject) => {
        startOutcome = { resolve, reject };
        connectServer();
      });
    },
    stop,
    dial,
    stats(): TunnelAgentStats {
      const result: Record<string, PeerStats> = {};
      for (const peer of peers.values()) {
        result[peer.name] = {
          path: peer.link ? 'p2p' : registered ? 'relay' : 'none',
          ...(peer.link?.rttMs !== undefined ? { rttMs: peer.link.rttMs } : {}),
          ...(peer.link ? { endpoint: { ...peer.link.remote } } : {}),
          streams: { ...peer.streams },
          bytesSent: peer.bytesSent,
          bytesReceived: peer.bytesReceived,
          punch: { ...peer.punch },
        };
      }
      return {
        node: nodeName,
        registered: registered !== undefined,
        ...(registered
          ? { server: `${registered.server.host}:${registered.server.controlPort}` }
          : {}),
        ...(publicEndpoint ? { publicEndpoint: { ...publicEndpoint } } : {}),
        peers: result,
        accepted: { ...accepted },
      };
    },
  };
}

function isRefusal(error: unknown): boolean {
  return (
    error instanceof TunnelError &&
    (error.code === 'KE_TUNNEL_NOT_ALLOWED' ||
      error.code === 'KE_TUNNEL_DIAL_FAILED' ||
      error.code === 'KE_TUNNEL_PROTOCOL')
  );
}
