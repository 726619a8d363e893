import type { Duplex } from 'node:stream';
import { createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type UDX from 'udx-native';
import { TunnelError } from './errors';
import { encodeDatagram, type Frame, int } from './frames';
import { expectNode, peerNode } from './identity';
import type { TlsMaterial } from './types';
import { udxDuplex } from './udx-duplex';

/** How often probes go to the peer while punching. */
const PROBE_INTERVAL_MS = 50;

export interface Endpoint {
  host: string;
  port: number;
}

/** What a hole punch needs from the agent. */
export interface PunchContext {
  readonly nodeName: string;
  readonly tls: TlsMaterial;
  /** The agent's one UDX socket: the one the server saw, so the NAT mapping the peer targets. */
  readonly socket: UDX.Socket;
  readonly timeoutMs: number;
  newStream(): UDX.Stream;
  track<T extends Duplex>(stream: T): T;
  later(ms: number, run: () => void): NodeJS.Timeout;
  cancel(timer: NodeJS.Timeout | undefined): void;
}

export interface HolePunch {
  readonly peer: string;
  readonly nonce: string;
  /** A `punch` datagram carrying this punch's nonce arrived. */
  onProbe(frame: Frame, from: Endpoint): void;
  /** Gives up (the agent is stopping). */
  abort(): void;
  /** The TLS-protected control stream to the peer, and where the peer answered from. */
  readonly result: Promise<{ secure: TLSSocket; remote: Endpoint }>;
}

/**
 * Punches a hole to `peer` at `target` (its public endpoint as the server saw it): both sides
 * send probes every 50 ms carrying the nonce and the id of the UDX control stream each made.
 * On the peer's first probe a side connects its control stream to the peer's id and answers at
 * once with `seen: true`; the initiator starts TLS only once the peer has seen it (so its
 * ClientHello meets a connected stream), and the other side runs the TLS server. Rejects after
 * `timeoutMs`.
 */
export function startHolePunch(
  context: PunchContext,
  punch: { peer: string; nonce: string; target: Endpoint; initiator: boolean },
): HolePunch {
  const { socket, tls, later, cancel } = context;
  const { peer, nonce, initiator } = punch;
  const localStream = context.newStream();
  let target = punch.target;
  let connected = false;
  let peerSeesUs = false;
  let tlsStarted = false;
  let settled = false;
  let probeTimer: NodeJS.Timeout | undefined;
  let settle!: (error: Error | undefined, secure?: TLSSocket) => void;

  const result = new Promise<{ secure: TLSSocket; remote: Endpoint }>((resolve, reject) => {
    settle = (error, secure) => {
      if (settled) {
        secure?.destroy();
        return;
      }
      settled = true;
      cancel(probeTimer);
      cancel(deadline);
      if (error || !secure) {
        localStream.destroy();
        reject(error);
      } else resolve({ secure, remote: target });
    };
  });
  const deadline = later(context.timeoutMs, () =>
    settle(new TunnelError('KE_TUNNEL_TIMEOUT', `hole punch to ${peer} timed out`)),
  );

  const sendProbe = () =>
    socket.trySend(
      encodeDatagram({
        t: 'punch',
        nonce,
        node: context.nodeName,
        stream: localStream.id,
        seen: connected,
      }),
      target.port,
      target.host,
    );
  const probeLoop = () => {
    sendProbe();
    probeTimer = later(PROBE_INTERVAL_MS, probeLoop);
  };

  const startTls = () => {
    if (tlsStarted) return;
    tlsStarted = true;
    const raw = context.track(udxDuplex(localStream));
    if (initiator) {
      const secure = tlsConnect({
        socket: raw,
        key: tls.key,
        cert: tls.cert,
        ca: tls.ca as string | string[],
        minVersion: 'TLSv1.3',
        servername: 'ke-mesh-tunnel',
        checkServerIdentity: expectNode(peer),
      });
      context.track(secure);
      secure.once('secureConnect', () => settle(undefined, secure));
      secure.on('error', (error) => settle(error));
      return;
    }
    const server = createServer({
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca as string | string[],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    server.once('secureConnection', (secure: TLSSocket) => {
      context.track(secure);
      secure.on('error', () => {});
      if (peerNode(secure) !== peer) {
        secure.destroy();
        settle(new TunnelError('KE_TUNNEL_AUTH', `the punched peer is not ${peer}`));
        return;
      }
      settle(undefined, secure);
    });
    server.once('tlsClientError', (error) => settle(error));
    server.emit('connection', raw);
  };

  probeLoop();
  return {
    peer,
    nonce,
    result,
    onProbe(frame, from) {
      const remoteStream = int(frame, 'stream');
      if (remoteStream === undefined || settled) return;
      if (!connected) {
        connected = true;
        // Where the peer's probe really came from is where its NAT mapping is.
        target = from;
        localStream.connect(socket, remoteStream, from.port, from.host);
        if (!initiator) startTls();
        sendProbe();
      }
      if (frame.seen === true) peerSeesUs = true;
      if (initiator && peerSeesUs) startTls();
    },
    abort() {
      settle(new TunnelError('KE_TUNNEL_STATE', 'the agent stopped'));
    },
  };
}
