import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type UDX from 'udx-native';
import { TunnelError } from './errors';
import { encodeFrame, type Frame, int, readFrames } from './frames';
import type { Endpoint } from './punch';
import { type AcceptContext, abortable, secureAccept, secureDial } from './secure-stream';
import type { TlsMaterial } from './types';
import { udxDuplex } from './udx-duplex';

/** How long the peer has to answer an `open` before the link counts as dead. */
const OPEN_TIMEOUT_MS = 2000;
/** Pings missed in a row before the link counts as dead. */
const MISSED_PINGS = 3;

export interface LinkContext {
  readonly tls: TlsMaterial;
  readonly socket: UDX.Socket;
  readonly keepaliveMs: number;
  readonly accept: AcceptContext;
  newStream(): UDX.Stream;
  track<T extends Duplex>(stream: T): T;
  later(ms: number, run: () => void): NodeJS.Timeout;
  cancel(timer: NodeJS.Timeout | undefined): void;
  /** Runs once when the link closes, for whatever reason. */
  onClose(link: PeerLink, reason: string): void;
}

/** A live peer-to-peer path: a TLS-protected UDX control stream to one peer. */
export interface PeerLink {
  readonly peer: string;
  readonly nonce: string;
  readonly remote: Endpoint;
  /** Round trip of the last ping, ms. */
  readonly rttMs: number | undefined;
  readonly closed: boolean;
  /** Opens a tunnel stream to `ip:port` on the peer over a new UDX stream. */
  open(ip: string, port: number, signal: AbortSignal): Promise<TLSSocket>;
  close(reason: string): void;
}

/**
 * Runs the control protocol of a punched path: pings every `keepaliveMs` (RTT, liveness, NAT
 * mappings), and stream set-up — UDX needs the remote stream id before connecting, so the dialer
 * sends `open <its id>`, the acceptor makes a stream, connects it and answers `opened <its id>`.
 */
export function createPeerLink(
  context: LinkContext,
  path: { peer: string; nonce: string; remote: Endpoint; control: TLSSocket },
): PeerLink {
  const { control, remote, peer } = path;
  const opens = new Map<number, { resolve(stream: number): void; reject(error: Error): void }>();
  let nextOpen = 1;
  let lastPong = Date.now();
  let rttMs: number | undefined;
  let closed = false;

  const send = (frame: Frame) => {
    if (!closed) control.write(encodeFrame(frame));
  };

  const close = (reason: string) => {
    if (closed) return;
    closed = true;
    for (const open of opens.values()) {
      open.reject(new TunnelError('KE_TUNNEL_UNAVAILABLE', `the p2p path closed: ${reason}`));
    }
    opens.clear();
    control.destroy();
    context.onClose(link, reason);
  };

  const onFrame = (frame: Frame) => {
    switch (frame.t) {
      case 'ping':
        send({ t: 'pong', ts: frame.ts ?? 0 });
        return;
      case 'pong': {
        lastPong = Date.now();
        const ts = int(frame, 'ts');
        if (ts !== undefined) rttMs = Math.max(0, Date.now() - ts);
        return;
      }
      case 'open': {
        const id = int(frame, 'id');
        const remoteStream = int(frame, 'stream');
        if (id === undefined || remoteStream === undefined) return;
        const stream = context.newStream();
        stream.connect(context.socket, remoteStream, remote.port, remote.host);
        send({ t: 'opened', id, stream: stream.id });
        secureAccept(context.track(udxDuplex(stream)), peer, context.accept);
        return;
      }
      case 'opened': {
        const id = int(frame, 'id');
        const stream = int(frame, 'stream');
        const open = id === undefined ? undefined : opens.get(id);
        if (id === undefined || !open || stream === undefined) return;
        opens.delete(id);
        open.resolve(stream);
        return;
      }
      default:
        return;
    }
  };

  const link: PeerLink = {
    peer,
    nonce: path.nonce,
    remote,
    get rttMs() {
      return rttMs;
    },
    get closed() {
      return closed;
    },
    close,
    async open(ip, port, signal) {
      if (closed) throw new TunnelError('KE_TUNNEL_UNAVAILABLE', 'the p2p path is closed');
      const stream = context.newStream();
      const id = nextOpen++;
      let timer: NodeJS.Timeout | undefined;
      const forget = () => {
        context.cancel(timer);
        opens.delete(id);
      };
      const remoteStream = await abortable(
        new Promise<number>((resolve, reject) => {
          opens.set(id, { resolve, reject });
          timer = context.later(OPEN_TIMEOUT_MS, () => {
            opens.delete(id);
            reject(new TunnelError('KE_TUNNEL_TIMEOUT', 'the peer did not answer an open'));
          });
          send({ t: 'open', id, stream: stream.id });
        }),
        signal,
        () => stream.destroy(),
      ).catch((error: unknown) => {
        forget();
        stream.destroy();
        throw error;
      });
      forget();
      stream.connect(context.socket, remoteStream, remote.port, remote.host);
      return secureDial(context.track(udxDuplex(stream)), context.tls, peer, ip, port, signal);
    },
  };

  readFrames(control, onFrame, (error) => close(error.message));
  control.on('close', () => close('control stream closed'));
  const ping = () => {
    if (closed) return;
    if (Date.now() - lastPong > context.keepaliveMs * MISSED_PINGS) {
      close('no answer to keepalives');
      return;
    }
    send({ t: 'ping', ts: Date.now() });
    context.later(context.keepaliveMs, ping);
  };
  ping();
  return link;
}
