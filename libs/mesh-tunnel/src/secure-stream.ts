import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { TunnelError, wireCode } from './errors';
import { encodeFrame, int, readOneFrame, str } from './frames';
import { expectNode, peerNode } from './identity';
import { joinStreams } from './relay-pipe';
import type { Logger, TlsMaterial } from './types';

/** How the acceptor answered: it connected, or why not. */
export type AcceptOutcome = 'ok' | 'notAllowed' | 'dialFailed' | 'failed';

/** Rejects when `signal` aborts, running `cleanup` first. */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  cleanup: () => void,
): Promise<T> {
  if (signal.aborted) {
    cleanup();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      cleanup();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * When the transport under a tunnel stream goes away before the stream finished (the relay
 * restarted, the UDX stream was reset), the stream fails with ECONNRESET instead of looking like
 * a clean end of data.
 */
function failWithTransport(secure: TLSSocket, raw: Duplex): void {
  raw.once('close', () => failStream(secure));
}

/** Ends a tunnel stream with ECONNRESET unless it already finished. */
export function failStream(secure: TLSSocket): void {
  if (secure.destroyed || secure.writableFinished) return;
  secure.destroy(Object.assign(new Error('the tunnel transport was lost'), { code: 'ECONNRESET' }));
}

/**
 * The dialer's end of a tunnel stream: TLS 1.3 client over `raw` (a UDX stream or a relayed
 * connection), the peer must hold `system:node:<peer>`; then asks for `ip:port` and resolves
 * with the TLS socket once the peer has connected there.
 */
export async function secureDial(
  raw: Duplex,
  tls: TlsMaterial,
  peer: string,
  ip: string,
  port: number,
  signal: AbortSignal,
): Promise<TLSSocket> {
  const socket = tlsConnect({
    socket: raw,
    key: tls.key,
    cert: tls.cert,
    ca: tls.ca as string | string[],
    minVersion: 'TLSv1.3',
    servername: 'ke-mesh-tunnel',
    checkServerIdentity: expectNode(peer),
  });
  const cleanup = () => {
    socket.destroy();
    raw.destroy();
  };
  try {
    await abortable(
      new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('closed during the TLS handshake')));
      }),
      signal,
      cleanup,
    );
    socket.write(encodeFrame({ t: 'open', ip, port }));
    const answer = await abortable(readOneFrame(socket, 30_000), signal, cleanup);
    if (answer.t === 'ok') {
      failWithTransport(socket, raw);
      return socket;
    }
    cleanup();
    throw new TunnelError(
      wireCode(answer.code),
      `node ${peer} refused ${ip}:${port}: ${str(answer, 'message') ?? 'no reason given'}`,
    );
  } catch (error) {
    cleanup();
    throw error;
  }
}

export interface AcceptContext {
  readonly tls: TlsMaterial;
  readonly allow: (ip: string, port: number) => boolean;
  readonly logger: Logger;
  /** Bound on the handshake and the request. */
  readonly timeoutMs: number;
  /** Every socket made here, so `stop()` can close them. */
  track(socket: Duplex): void;
  onOutcome(peer: string, outcome: AcceptOutcome): void;
  onBytes(peer: string, direction: 'sent' | 'received', count: number): void;
}

/**
 * The acceptor's end: TLS 1.3 server over `raw` requiring a node certificate of the cluster CA
 * (of `expectedPeer` when given), then `allow(ip, port)`, a TCP connection there, and bytes
 * piped both ways.
 */
export function secureAccept(
  raw: Duplex,
  expectedPeer: string | undefined,
  context: AcceptContext,
  onSecure?: (secure: TLSSocket) => void,
): void {
  const { logger } = context;
  // One server per stream: it never listens, it only runs the handshake with full verification
  // (a bare `new TLSSocket(raw, { isServer: true })` does not reject unauthorised clients).
  const server = createServer({
    key: context.tls.key,
    cert: context.tls.cert,
    ca: context.tls.ca as string | string[],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    allowHalfOpen: true,
  });
  const timer = setTimeout(() => raw.destroy(), context.timeoutMs);
  raw.once('close', () => clearTimeout(timer));
  server.once('tlsClientError', (error) => {
    clearTimeout(timer);
    logger.warn?.(
      { peer: expectedPeer, error: error.message },
      'refused a tunnel stream handshake',
    );
    raw.destroy();
  });
  server.once('secureConnection', (socket: TLSSocket) => {
    context.track(socket);
    socket.on('error', () => socket.destroy());
    failWithTransport(socket, raw);
    onSecure?.(socket);
    const peer = peerNode(socket);
    if (!peer || (expectedPeer !== undefined && peer !== expectedPeer)) {
      clearTimeout(timer);
      logger.warn?.({ expectedPeer, peer }, 'a tunnel stream from an unexpected node');
      socket.destroy();
      return;
    }
    readOneFrame(socket, context.timeoutMs).then(
      (frame) => {
        clearTimeout(timer);
        const ip = str(frame, 'ip');
        const port = int(frame, 'port');
        const refuse = (code: string, message: string, outcome: AcceptOutcome) => {
          context.onOutcome(peer, outcome);
          socket.end(encodeFrame({ t: 'error', code, message }));
        };
        if (frame.t !== 'open' || !ip || port === undefined || port < 1 || port > 65535) {
          refuse('KE_TUNNEL_PROTOCOL', 'malformed open request', 'failed');
          return;
        }
        let allowed = false;
        try {
          allowed = context.allow(ip, port);
        } catch (error) {
          logger.warn?.({ ip, port, error: (error as Error).message }, 'allow() threw');
        }
        if (!allowed) {
          logger.info?.({ peer, ip, port }, 'refused a destination not allowed on this node');
          refuse(
            'KE_TUNNEL_NOT_ALLOWED',
            `${ip}:${port} is not served through this node`,
            'notAllowed',
          );
          return;
        }
        const target = tcpConnect({ host: ip, port, allowHalfOpen: true, noDelay: true });
        context.track(target);
        const dialTimer = setTimeout(
          () => target.destroy(new Error('connect timed out')),
          context.timeoutMs,
        );
        target.once('connect', () => {
          clearTimeout(dialTimer);
          context.onOutcome(peer, 'ok');
          socket.write(encodeFrame({ t: 'ok' }));
          joinStreams(
            socket,
            target,
            {
              onBytes: (from, count) =>
                context.onBytes(peer, from === 'a' ? 'received' : 'sent', count),
            },
            () => {},
          );
        });
        target.once('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(dialTimer);
          if (target.connecting || !target.remoteAddress) {
            refuse(
              'KE_TUNNEL_DIAL_FAILED',
              `connecting to ${ip}:${port} failed: ${error.code ?? error.message}`,
              'dialFailed',
            );
          }
        });
      },
      (error: Error) => {
        clearTimeout(timer);
        logger.debug?.({ peer, error: error.message }, 'a tunnel stream sent no request');
        context.onOutcome(peer, 'failed');
        socket.destroy();
      },
    );
  });
  server.emit('connection', raw);
}
