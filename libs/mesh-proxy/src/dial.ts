import { connect, type NetConnectOpts, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResolvedEndpoint } from './model';
import { PIPE_HIGH_WATER_MARK } from './relay';
import type { Tunnel } from './types';

/** Opens a TCP connection to `ip:port` (no Nagle, half-close kept); rejects on error or timeout. */
export function dialDirect(ip: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // highWaterMark: for the pipe fallback (see relay.ts); @types/node lacks it on connect.
    const options = {
      host: ip,
      port,
      noDelay: true,
      allowHalfOpen: true,
      highWaterMark: PIPE_HIGH_WATER_MARK,
    };
    const socket = connect(options as NetConnectOpts);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${ip}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
  });
}

/** The tunnel used until `@ke/mesh-tunnel` is given: dials the endpoint directly. */
export const directTunnel: Tunnel = {
  dial: (_node, ip, port) => dialDirect(ip, port, 10_000),
};

/** Dials an endpoint: directly when reachable, else through the tunnel to its node. */
export function dialEndpoint(
  endpoint: ResolvedEndpoint,
  tunnel: Tunnel,
  timeoutMs: number,
): Promise<Duplex> {
  if (endpoint.tunnelNode === undefined) return dialDirect(endpoint.ip, endpoint.port, timeoutMs);
  const signal = AbortSignal.timeout(timeoutMs);
  return tunnel.dial(endpoint.tunnelNode, endpoint.ip, endpoint.port, signal);
}
