import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as DatagramSocket } from 'node:dgram';
import { once } from 'node:events';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server,
  type Socket,
} from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { TunnelError, type TunnelErrorCode } from './errors';
import {
  decodeDatagram,
  encodeDatagram,
  encodeFrame,
  type Frame,
  int,
  newRelayTicket,
  parseRelayHello,
  RELAY_HELLO_BYTES,
  RELAY_HELLO_MAGIC,
  readFrames,
  readOneFrame,
  str,
} from './frames';
import { peerNode } from './identity';
import { joinStreams } from './relay-pipe';
import { TokenBucket } from './token-bucket';
import type {
  Logger,
  ServerAgentStats,
  TunnelServer,
  TunnelServerOptions,
  TunnelServerStats,
} from './types';

const DEFAULT_PORT = 10004;
const FIRST_FRAME_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long a failed relay's dialer leg stays open for the dialer to read why, at most. */
const RELAY_FAILED_GRACE_MS = 1000;
/** A second `connect` for a pair within this window joins the punch already under way. */
const PUNCH_WINDOW_MS = 3000;

interface Session {
  readonly node: string;
  readonly socket: TLSSocket;
  /** Proves a UDP probe comes from this agent; changes with every registration. */
  readonly token: string;
  endpoint?: { host: string; port: number };
}

interface AgentCounters {
  relayStreamsOpen: number;
  relayStreamsTotal: number;
  relayBytesSent: number;
  refusedByLimit: number;
  bucket?: TokenBucket;
}

/** One side of a relayed stream: its TCP connection, and bytes read past the hello. */
interface RelayLeg {
  readonly socket: Socket;
  readonly rest: Buffer;
  /** Fails the relay when this leg closes before the other arrived. */
  onEarlyClose?: () => void;
}

/** A relayed stream between ticket and pairing: the dialer is side a, the acceptor side b. */
interface PendingRelay {
  readonly id: string;
  readonly dialer: string;
  readonly peer: string;
  readonly timer: NodeJS.Timeout;
  readonly tickets: { readonly a: string; readonly b: string };
  readonly legs: { a?: RelayLeg; b?: RelayLeg };
}

type Side = 'a' | 'b';

/**
 * Creates the rendezvous and relay server: agents register over mutual TLS with their node
 * certificates, learn their public UDP endpoint from probes, get hole punches coordinated, and
 * have streams relayed when punching fails.
 */
export function createTunnelServer(options: TunnelServerOptions): TunnelServer {
  const logger: Logger = options.logger ?? {};
  const host = options.host ?? '0.0.0.0';
  const streamsPerAgent = options.limits?.streamsPerAgent ?? 1024;
  const bytesPerSecond = options.limits?.bytesPerSecondPerAgent;
  const relayAcceptTimeoutMs = options.relayAcceptTimeoutMs ?? 5000;
  if (!options.tls?.key || !options.tls.cert || !options.tls.ca) {
    throw new TunnelError('KE_TUNNEL_INVALID_OPTIONS', 'tls.key, tls.cert and tls.ca are required');
  }
  if (streamsPerAgent < 1 || (bytesPerSecond !== undefined && bytesPerSecond < 1)) {
    throw new TunnelError('KE_TUNNEL_INVALID_OPTIONS', 'limits must be positive');
  }

  const sessions = new Map<string, Session>();
  const counters = new Map<string, AgentCounters>();
  const pending = new Map<string, PendingRelay>();
  const tickets = new Map<string, { relay: PendingRelay; side: Side }>();
  const punches = new Map<string, { nonce: string; at: number; requester: string }>();
  const sockets = new Set<TLSSocket>();
  /** Every TCP connection accepted (TLS or relay leg, before or after its handshake). */
  const connections = new Set<Socket>();
  let server: Server | undefined;
  let udp: DatagramSocket | undefined;
  let state: 'new' | 'started' | 'stopped' = 'new';
  let addresses = { host, controlPort: 0, udpPort: 0 };
  const totals = {
    punchesCoordinated: 0,
    relayStreamsOpen: 0,
    relayStreamsTotal: 0,
    relayBytes: 0,
    relayRefused: 0,
    rejectedConnections: 0,
  };

  const countersOf = (node: string): AgentCounters => {
    let entry = counters.get(node);
    if (!entry) {
      entry = { relayStreamsOpen: 0, relayStreamsTotal: 0, relayBytesSent: 0, refusedByLimit: 0 };
      if (bytesPerSecond) entry.bucket = new TokenBucket(bytesPerSecond);
      counters.set(node, entry);
    }
    return entry;
  };

  const send = (socket: TLSSocket, frame: Frame) => {
    if (!socket.destroyed && socket.writable) socket.write(encodeFrame(frame));
  };

  const refuse = (socket: TLSSocket, code: TunnelErrorCode, message: string, id?: unknown) => {
    send(socket, { t: 'error', code, message, ...(id === undefined ? {} : { id }) });
    socket.end();
  };

  const reject = (socket: TLSSocket, fields: Record<string, unknown>, reason: string) => {
    totals.rejectedConnections += 1;
    logger.warn?.({ remote: socket.remoteAddress, ...fields }, reason);
    socket.destroy();
  };

  function onControlFrame(session: Session, frame: Frame): void {
    switch (frame.t) {
      case 'ping':
        send(session.socket, { t: 'pong', ts: frame.ts ?? null });
        return;
      case 'connect': {
        const id = int(frame, 'id');
        const peerName = str(frame, 'peer');
        if (id === undefined || !peerName) {
          throw new TunnelError('KE_TUNNEL_PROTOCOL', 'a connect without id or peer');
        }
        const peer = sessions.get(peerName);
        if (!peer || peerName === session.node) {
          send(session.socket, {
            t: 'error',
            id,
            code: 'KE_TUNNEL_UNKNOWN_PEER',
            message: `node ${peerName} is not registered with the tunnel server`,
          });
          return;
        }
        if (!session.endpoint || !peer.endpoint) {
          send(session.socket, {
            t: 'error',
            id,
            code: 'KE_TUNNEL_REFUSED',
            message: 'no public UDP endpoint is known yet for one of the nodes: relay only',
          });
          return;
        }
        const pair = [session.node, peer.node].sort().join('\n');
        const running = punches.get(pair);
        // Both nodes asking for each other at once: the second joins the first's punch.
        if (
          running &&
          running.requester !== session.node &&
          Date.now() - running.at < PUNCH_WINDOW_MS
        ) {
          send(session.socket, { t: 'punching', id, nonce: running.nonce });
          return;
        }
        const nonce = randomBytes(12).toString('hex');
        punches.set(pair, { nonce, at: Date.now(), requester: session.node });
        totals.punchesCoordinated += 1;
        send(session.socket, {
          t: 'punch',
          id,
          peer: peer.node,
          ...peer.endpoint,
          nonce,
          initiator: true,
        });
        send(peer.socket, {
          t: 'punch',
          peer: session.node,
          ...session.endpoint,
          nonce,
          initiator: false,
        });
        logger.debug?.({ a: session.node, b: peer.node }, 'coordinating a hole punch');
        return;
      }
      case 'relay': {
        const id = int(frame, 'id');
        const peerName = str(frame, 'peer');
        if (id === undefined || !peerName) {
          throw new TunnelError('KE_TUNNEL_PROTOCOL', 'a relay request without id or peer');
        }
        const refusal = relayRefusal(session.node, peerName);
        if (refusal) {
          totals.relayRefused += 1;
          send(session.socket, { t: 'error', id, ...refusal });
          return;
        }
        const relay = openRelay(session.node, peerName);
        send(sessions.get(peerName)!.socket, {
          t: 'incoming',
          id: relay.id,
          from: session.node,
          ticket: relay.tickets.b,
        });
        send(session.socket, { t: 'relay', id, relay: relay.id, ticket: relay.tickets.a });
        return;
      }
      default:
        throw new TunnelError('KE_TUNNEL_PROTOCOL', `unknown control frame ${frame.t}`);
    }
  }

  function onRegister(socket: TLSSocket, node: string, frame: Frame): void {
    const claimed = str(frame, 'node');
    if (claimed !== node) {
      totals.rejectedConnections += 1;
      logger.warn?.(
        { node, claimed },
        'refused a registration for another node than the certificate',
      );
      refuse(
        socket,
        'KE_TUNNEL_AUTH',
        `the certificate is for system:node:${node}; it cannot register as ${claimed}`,
      );
      return;
    }
    const previous = sessions.get(node);
    if (previous) {
      logger.info?.({ node }, 'a newer registration replaces the previous one');
      previous.socket.destroy();
    }
    const session: Session = { node, socket, token: randomBytes(16).toString('hex') };
    sessions.set(node, session);
    countersOf(node);
    socket.setKeepAlive(true, 15_000);
    socket.on('close', () => {
      if (sessions.get(node) === session) sessions.delete(node);
      for (const relay of [...pending.values()]) {
        if (relay.peer === node || relay.dialer === node) {
          failRelay(relay, 'KE_TUNNEL_UNKNOWN_PEER', `node ${node} went away`);
        }
      }
    });
    readFrames(
      socket,
      (next) => onControlFrame(session, next),
      (error) => reject(socket, { node }, `closing a control connection: ${error.message}`),
    );
    send(socket, { t: 'registered', node, token: session.token, udpPort: addresses.udpPort });
    logger.info?.({ node, remote: socket.remoteAddress }, 'agent registered');
  }

  /** Why `node` may not have a stream relayed to `peerName` now, if it may not. */
  function relayRefusal(
    node: string,
    peerName: string,
  ): { code: TunnelErrorCode; message: string } | undefined {
    if (!sessions.has(peerName) || peerName === node) {
      return { code: 'KE_TUNNEL_UNKNOWN_PEER', message: `node ${peerName} is not registered` };
    }
    for (const name of [node, peerName]) {
      const entry = countersOf(name);
      if (entry.relayStreamsOpen >= streamsPerAgent) {
        entry.refusedByLimit += 1;
        return {
          code: 'KE_TUNNEL_LIMIT',
          message: `node ${name} has ${entry.relayStreamsOpen} relayed streams open, the limit is ${streamsPerAgent}`,
        };
      }
    }
    return undefined;
  }

  /** A relayed stream waiting for its two legs, with one ticket for each. */
  function openRelay(dialer: string, peer: string): PendingRelay {
    const id = randomBytes(12).toString('hex');
    const relay: PendingRelay = {
      id,
      dialer,
      peer,
      tickets: { a: newRelayTicket(), b: newRelayTicket() },
      legs: {},
      timer: setTimeout(
        () => failRelay(relay, 'KE_TUNNEL_TIMEOUT', `node ${peer} did not take the stream in time`),
        relayAcceptTimeoutMs,
      ),
    };
    pending.set(id, relay);
    tickets.set(relay.tickets.a, { relay, side: 'a' });
    tickets.set(relay.tickets.b, { relay, side: 'b' });
    return relay;
  }

  function forgetRelay(relay: PendingRelay): void {
    clearTimeout(relay.timer);
    pending.delete(relay.id);
    tickets.delete(relay.tickets.a);
    tickets.delete(relay.tickets.b);
  }

  /** Gives up on a relay before it was paired; the dialer hears why on its control connection. */
  function failRelay(relay: PendingRelay, code: TunnelErrorCode, message: string): void {
    if (pending.get(relay.id) !== relay) return;
    forgetRelay(relay);
    totals.relayRefused += 1;
    relay.legs.b?.socket.destroy();
    const dialer = sessions.get(relay.dialer);
    if (dialer) send(dialer.socket, { t: 'relayFailed', relay: relay.id, code, message });
    // The dialer closes its leg when it hears why on the control connection; a closed leg
    // could overtake that frame and leave it with a bare ECONNRESET.
    const leg = relay.legs.a?.socket;
    if (leg && dialer) setTimeout(() => leg.destroy(), RELAY_FAILED_GRACE_MS).unref();
    else leg?.destroy();
    logger.debug?.({ dialer: relay.dialer, peer: relay.peer, code }, message);
  }

  /**
   * A plain TCP connection that began with the relay magic: it must complete a hello with an
   * unused ticket within the first-frame bound; then it waits, paused, for the other leg.
   */
  function onRelayLeg(raw: Socket, first: Buffer): void {
    let received = first;
    const refuseLeg = (reason: string) => {
      clearTimeout(timer);
      totals.rejectedConnections += 1;
      logger.warn?.({ remote: raw.remoteAddress }, reason);
      raw.destroy();
    };
    const timer = setTimeout(
      () => refuseLeg('a relay connection sent no ticket in time'),
      FIRST_FRAME_TIMEOUT_MS,
    );
    const check = () => {
      const head = received.subarray(0, RELAY_HELLO_MAGIC.length);
      if (!RELAY_HELLO_MAGIC.subarray(0, head.length).equals(head)) {
        refuseLeg('a connection that is neither TLS nor a relay hello');
        return;
      }
      if (received.length < RELAY_HELLO_BYTES) return;
      raw.off('data', onData);
      raw.pause();
      clearTimeout(timer);
      const ticket = parseRelayHello(received.subarray(0, RELAY_HELLO_BYTES));
      const entry = ticket === undefined ? undefined : tickets.get(ticket);
      if (!ticket || !entry) {
        refuseLeg('a relay connection with an unknown or used ticket');
        return;
      }
      tickets.delete(ticket);
      attachLeg(entry.relay, entry.side, {
        socket: raw,
        rest: received.subarray(RELAY_HELLO_BYTES),
      });
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      check();
    };
    raw.on('data', onData);
    check();
    if (!raw.destroyed && received.length < RELAY_HELLO_BYTES) raw.resume();
  }

  function attachLeg(relay: PendingRelay, side: Side, leg: RelayLeg): void {
    relay.legs[side] = leg;
    leg.onEarlyClose = () =>
      failRelay(
        relay,
        'KE_TUNNEL_UNAVAILABLE',
        'a relay connection closed before the other side arrived',
      );
    leg.socket.once('close', leg.onEarlyClose);
    const { a, b } = relay.legs;
    if (!a || !b) return;
    forgetRelay(relay);
    for (const joined of [a, b]) {
      if (joined.onEarlyClose) joined.socket.off('close', joined.onEarlyClose);
    }
    const dialer = countersOf(relay.dialer);
    const acceptor = countersOf(relay.peer);
    for (const entry of [dialer, acceptor]) {
      entry.relayStreamsOpen += 1;
      entry.relayStreamsTotal += 1;
    }
    totals.relayStreamsOpen += 1;
    totals.relayStreamsTotal += 1;
    const onBytes = (from: Side, count: number) => {
      totals.relayBytes += count;
      (from === 'a' ? dialer : acceptor).relayBytesSent += count;
    };
    // Bytes that came with a hello (a ClientHello right behind it) go first.
    if (a.rest.length > 0) {
      onBytes('a', a.rest.length);
      b.socket.write(a.rest);
    }
    if (b.rest.length > 0) {
      onBytes('b', b.rest.length);
      a.socket.write(b.rest);
    }
    joinStreams(
      a.socket,
      b.socket,
      { onBytes, bucketA: dialer.bucket, bucketB: acceptor.bucket },
      () => {
        dialer.relayStreamsOpen -= 1;
        acceptor.relayStreamsOpen -= 1;
        totals.relayStreamsOpen -= 1;
      },
    );
    a.socket.resume();
    b.socket.resume();
  }

  function onSecureConnection(socket: TLSSocket): void {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (error) => logger.debug?.({ error: error.message }, 'connection error'));
    const node = peerNode(socket);
    if (!node) {
      reject(socket, {}, 'a certificate that is not a node certificate (system:node:<name>)');
      return;
    }
    readOneFrame(socket, FIRST_FRAME_TIMEOUT_MS).then(
      (frame) => {
        switch (frame.t) {
          case 'register':
            return onRegister(socket, node, frame);
          default:
            return reject(socket, { node, type: frame.t }, 'an unknown first frame');
        }
      },
      (error: Error) => reject(socket, { node }, `no valid first frame: ${error.message}`),
    );
  }

  function onDatagram(message: Buffer, from: { address: string; port: number }): void {
    const frame = decodeDatagram(message);
    if (frame?.t !== 'probe') return;
    const session = sessions.get(str(frame, 'node') ?? '');
    if (!session || session.token !== str(frame, 'token')) return;
    const endpoint = { host: from.address, port: from.port };
    if (session.endpoint?.host !== endpoint.host || session.endpoint.port !== endpoint.port) {
      logger.debug?.({ node: session.node, ...endpoint }, 'learned a public UDP endpoint');
    }
    session.endpoint = endpoint;
    udp?.send(encodeDatagram({ t: 'observed', ...endpoint }), from.port, from.address);
  }

  return {
    get addresses() {
      return addresses;
    },
    async start() {
      if (state !== 'new') {
        throw new TunnelError('KE_TUNNEL_STATE', 'the server was started already');
      }
      state = 'started';
      const tlsServer = createServer({
        key: options.tls.key,
        cert: options.tls.cert,
        ca: options.tls.ca as string | string[],
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
        allowHalfOpen: true,
        // A client that gives up mid-handshake half-closes, and with allowHalfOpen Node would
        // keep its socket until the default 120 s: bound it.
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      });
      tlsServer.on('secureConnection', onSecureConnection);
      tlsServer.on('tlsClientError', (error, socket) => {
        totals.rejectedConnections += 1;
        logger.warn?.(
          { remote: socket.remoteAddress, error: error.message },
          'refused a TLS handshake (no or foreign certificate)',
        );
        // Node leaves a failed handshake's socket open; close it (and let stop() finish).
        socket.destroy();
      });
      // One TCP port for both: TLS control connections (first byte 0x16, handed to the TLS
      // server) and relay legs (the relay magic), which stay plain TCP so that the server only
      // copies bytes and the agents' end-to-end TLS runs on real sockets.
      const listener = createNetServer({ allowHalfOpen: true }, (raw) => {
        connections.add(raw);
        raw.once('close', () => connections.delete(raw));
        raw.on('error', (error) => logger.debug?.({ error: error.message }, 'connection error'));
        raw.setNoDelay(true);
        const silent = setTimeout(() => raw.destroy(), HANDSHAKE_TIMEOUT_MS);
        raw.once('close', () => clearTimeout(silent));
        raw.once('data', (first: Buffer) => {
          clearTimeout(silent);
          raw.pause();
          if (first[0] === RELAY_HELLO_MAGIC[0]) {
            onRelayLeg(raw, first);
            return;
          }
          raw.unshift(first);
          tlsServer.emit('connection', raw);
        });
      });
      server = listener;
      listener.listen(options.controlPort ?? DEFAULT_PORT, host);
      await once(listener, 'listening');
      const datagrams = createSocket('udp4');
      udp = datagrams;
      datagrams.on('message', onDatagram);
      datagrams.on('error', (error) => logger.warn?.({ error: error.message }, 'UDP socket error'));
      datagrams.bind(options.udpPort ?? DEFAULT_PORT, host);
      await once(datagrams, 'listening');
      addresses = {
        host,
        controlPort: (listener.address() as AddressInfo).port,
        udpPort: datagrams.address().port,
      };
      logger.info?.(addresses, 'tunnel server listening');
    },
    async stop() {
      if (state !== 'started') {
        state = 'stopped';
        return;
      }
      state = 'stopped';
      for (const relay of pending.values()) clearTimeout(relay.timer);
      pending.clear();
      tickets.clear();
      const closed = new Promise<void>((resolve) => {
        if (server) server.close(() => resolve());
        else resolve();
      });
      for (const socket of sockets) socket.destroy();
      for (const raw of connections) raw.destroy();
      sessions.clear();
      if (udp) await new Promise<void>((resolve) => udp?.close(() => resolve()));
      udp = undefined;
      await closed;
      server = undefined;
    },
    stats(): TunnelServerStats {
      const agents: Record<string, ServerAgentStats> = {};
      for (const [node, entry] of counters) {
        const endpoint = sessions.get(node)?.endpoint;
        agents[node] = {
          node,
          registered: sessions.has(node),
          ...(endpoint ? { endpoint: { ...endpoint } } : {}),
          relayStreamsOpen: entry.relayStreamsOpen,
          relayStreamsTotal: entry.relayStreamsTotal,
          relayBytesSent: entry.relayBytesSent,
          refusedByLimit: entry.refusedByLimit,
        };
      }
      return {
        agents,
        punchesCoordinated: totals.punchesCoordinated,
        relay: {
          streamsOpen: totals.relayStreamsOpen,
          streamsTotal: totals.relayStreamsTotal,
          bytes: totals.relayBytes,
          refused: totals.relayRefused,
        },
        rejectedConnections: totals.rejectedConnections,
      };
    },
  };
}
