import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as DatagramSocket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { TunnelError, type TunnelErrorCode } from './errors';
import {
  decodeDatagram,
  encodeDatagram,
  encodeFrame,
  type Frame,
  int,
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

interface PendingRelay {
  readonly dialer: string;
  readonly peer: string;
  readonly socket: TLSSocket;
  readonly timer: NodeJS.Timeout;
}

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
  const punches = new Map<string, { nonce: string; at: number; requester: string }>();
  const sockets = new Set<TLSSocket>();
  const handshaking = new Set<Socket>();
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
      for (const [id, relay] of pending) {
        if (relay.peer === node) {
          clearTimeout(relay.timer);
          pending.delete(id);
          refuse(relay.socket, 'KE_TUNNEL_UNKNOWN_PEER', `node ${node} went away`);
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

  function onRelayRequest(socket: TLSSocket, node: string, frame: Frame): void {
    const id = str(frame, 'id');
    const peerName = str(frame, 'peer');
    if (!id || !peerName || pending.has(id)) {
      reject(socket, { node }, 'malformed relay request');
      return;
    }
    const peer = sessions.get(peerName);
    if (!peer || peerName === node) {
      totals.relayRefused += 1;
      refuse(socket, 'KE_TUNNEL_UNKNOWN_PEER', `node ${peerName} is not registered`);
      return;
    }
    for (const name of [node, peerName]) {
      const entry = countersOf(name);
      if (entry.relayStreamsOpen >= streamsPerAgent) {
        entry.refusedByLimit += 1;
        totals.relayRefused += 1;
        refuse(
          socket,
          'KE_TUNNEL_LIMIT',
          `node ${name} has ${entry.relayStreamsOpen} relayed streams open, the limit is ${streamsPerAgent}`,
        );
        return;
      }
    }
    const timer = setTimeout(() => {
      pending.delete(id);
      totals.relayRefused += 1;
      refuse(socket, 'KE_TUNNEL_TIMEOUT', `node ${peerName} did not take the stream in time`);
    }, relayAcceptTimeoutMs);
    pending.set(id, { dialer: node, peer: peerName, socket, timer });
    socket.once('close', () => {
      const relay = pending.get(id);
      if (relay?.socket === socket) {
        clearTimeout(relay.timer);
        pending.delete(id);
      }
    });
    send(peer.socket, { t: 'incoming', id, from: node });
  }

  function onRelayAccept(socket: TLSSocket, node: string, frame: Frame): void {
    const id = str(frame, 'id');
    const relay = id ? pending.get(id) : undefined;
    if (!id || !relay || relay.peer !== node) {
      reject(socket, { node, id }, 'an accept for no pending relay of this node');
      return;
    }
    clearTimeout(relay.timer);
    pending.delete(id);
    const dialer = countersOf(relay.dialer);
    const acceptor = countersOf(node);
    for (const entry of [dialer, acceptor]) {
      entry.relayStreamsOpen += 1;
      entry.relayStreamsTotal += 1;
    }
    totals.relayStreamsOpen += 1;
    totals.relayStreamsTotal += 1;
    send(relay.socket, { t: 'ok' });
    joinStreams(
      relay.socket,
      socket,
      {
        onBytes(from, count) {
          totals.relayBytes += count;
          (from === 'a' ? dialer : acceptor).relayBytesSent += count;
        },
        bucketA: dialer.bucket,
        bucketB: acceptor.bucket,
      },
      () => {
        dialer.relayStreamsOpen -= 1;
        acceptor.relayStreamsOpen -= 1;
        totals.relayStreamsOpen -= 1;
      },
    );
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
          case 'relay':
            return onRelayRequest(socket, node, frame);
          case 'accept':
            return onRelayAccept(socket, node, frame);
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
      // Every TCP connection, handshaken or not, so that stop() can close them all.
      tlsServer.on('connection', (raw: Socket) => {
        handshaking.add(raw);
        raw.once('close', () => handshaking.delete(raw));
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
      server = tlsServer;
      tlsServer.listen(options.controlPort ?? DEFAULT_PORT, host);
      await once(tlsServer, 'listening');
      const datagrams = createSocket('udp4');
      udp = datagrams;
      datagrams.on('message', onDatagram);
      datagrams.on('error', (error) => logger.warn?.({ error: error.message }, 'UDP socket error'));
      datagrams.bind(options.udpPort ?? DEFAULT_PORT, host);
      await once(datagrams, 'listening');
      addresses = {
        host,
        controlPort: (tlsServer.address() as AddressInfo).port,
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
      const closed = new Promise<void>((resolve) => {
        if (server) server.close(() => resolve());
        else resolve();
      });
      for (const socket of sockets) socket.destroy();
      for (const raw of handshaking) raw.destroy();
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
