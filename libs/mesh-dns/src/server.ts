import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from '@ke/kube';
import { type CachedResponse, ResponseCache, responseFromCache, scanResponse } from './cache';
import { DnsError, invalidOptions } from './errors';
import type { DnsSource } from './model';
import { isDnsName, normalizeName } from './names';
import { ClientRateLimiter, type RateLimitOptions } from './rate-limit';
import { readResolvConf } from './resolv-conf';
import { parseUpstream, UpstreamClient } from './upstream';
import {
  buildResponse,
  CLASS,
  DROP,
  errorResponse,
  OPT_LENGTH,
  Query,
  RCODE,
  TYPE,
  udpLimit,
  writeOpt,
} from './wire';
import { buildZone, type Zone } from './zone';

/** Options of {@link createDnsServer}. */
export interface DnsServerOptions {
  /** Where services and endpoints come from (`createKubeServiceSource`, `createStaticSource`). */
  source: DnsSource;
  /** The cluster's DNS domain. Default `cluster.local`. */
  clusterDomain?: string;
  /** Address to listen on, UDP and TCP. Default `127.0.0.1`. */
  host?: string;
  /** Port, UDP and TCP; 0 picks a free one (see `address`). Default 53. */
  port?: number;
  /**
   * Resolvers for names outside the cluster domain: `1.1.1.1`, `10.0.0.2:5353`, `[::1]:53`.
   * Default: the nameservers of `/etc/resolv.conf`. `[]`: other names are REFUSED.
   */
  upstream?: readonly string[];
  /** Where the default upstream is read from. Default `/etc/resolv.conf`. */
  resolvConfPath?: string;
  /** How long one upstream may take to answer before the next is tried. Default 2000 ms. */
  upstreamTimeoutMs?: number;
  /** TTL, in seconds, of the cluster's records. Default 5 (EdgeMesh's and CoreDNS's). */
  ttl?: number;
  /** Cache of upstream answers, kept for their TTL. Default 10,000 entries, TTL capped at 1 h. */
  cache?: { maxEntries?: number; maxTtlSeconds?: number };
  /** A per-client-address token bucket. Default: no limit. */
  rateLimit?: RateLimitOptions;
  /** Queries larger than this get FORMERR. Default 4096 bytes. */
  maxQueryBytes?: number;
  /** At most this many TCP connections at once; more are closed at once. Default 1024. */
  maxTcpConnections?: number;
  /** A TCP connection with no query for this long is closed. Default 10 s. */
  tcpIdleTimeoutMs?: number;
  /** Receives what cannot be thrown (socket errors, source rebuilds). Default: silent. */
  logger?: Logger;
}

/** Counters since `start`. */
export interface DnsStats {
  queries: number;
  tcpQueries: number;
  /** Answered from the cluster's records (NOERROR, NODATA or NXDOMAIN). */
  local: number;
  nxdomain: number;
  cacheHits: number;
  /** Sent upstream (cache misses). */
  forwarded: number;
  /** UDP responses with TC set: too large for the client's buffer. */
  truncated: number;
  formerr: number;
  notimp: number;
  refused: number;
  servfail: number;
  /** Not answered at all: not a query, too short, or over the rate limit with `drop`. */
  dropped: number;
  rateLimited: number;
  /** Entries in the upstream cache. */
  cacheEntries: number;
  /** Names in the cluster zone (services, endpoints, SRV and reverse names). */
  zoneNames: number;
  /** Services in the source, as last built. */
  services: number;
}

export interface DnsServer {
  /** Starts the source (waits for its first list), builds the zone, binds UDP and TCP. */
  start(signal?: AbortSignal): Promise<void>;
  /** Closes the sockets and connections, stops the source, clears timers and the cache. */
  stop(): Promise<void>;
  /** Where it listens, once started (the real port when `port` was 0). */
  readonly address: { host: string; port: number } | undefined;
  stats(): DnsStats;
}

type Counters = Omit<DnsStats, 'cacheEntries' | 'zoneNames' | 'services'>;

const newCounters = (): Counters => ({
  queries: 0,
  tcpQueries: 0,
  local: 0,
  nxdomain: 0,
  cacheHits: 0,
  forwarded: 0,
  truncated: 0,
  formerr: 0,
  notimp: 0,
  refused: 0,
  servfail: 0,
  dropped: 0,
  rateLimited: 0,
});

/** A `lookup` for sockets that only ever send to IP addresses. */
function sameAddress(
  address: string,
  _options: unknown,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, isIPv6(address) ? 6 : 4);
}

/** Changes from the source are applied at most this often (a burst of watch events, one rebuild). */
const REBUILD_DELAY_MS = 20;

/**
 * A DNS server for a cluster's services: A, AAAA, SRV and PTR for
 * `<svc>.<ns>.svc.<clusterDomain>` and headless endpoints, answered from precomputed records;
 * other names forwarded upstream with a TTL cache. UDP and TCP on the same port.
 */
export function createDnsServer(options: DnsServerOptions): DnsServer {
  const clusterDomain = normalizeName(options.clusterDomain ?? 'cluster.local');
  if (!isDnsName(clusterDomain)) {
    throw invalidOptions(`clusterDomain "${options.clusterDomain}" is not a DNS name`);
  }
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 53;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidOptions(`port ${port} is not in 0..65535`);
  }
  const ttl = options.ttl ?? 5;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) {
    throw invalidOptions(`ttl ${ttl} is not a whole number of seconds`);
  }
  const explicitUpstream = options.upstream?.map(parseUpstream);
  const maxQueryBytes = options.maxQueryBytes ?? 4096;
  const maxTcpConnections = options.maxTcpConnections ?? 1024;
  const tcpIdleTimeoutMs = options.tcpIdleTimeoutMs ?? 10_000;
  const logger = options.logger ?? {};
  const source = options.source;
  const domainSuffix = `.${clusterDomain}`;

  const cache = new ResponseCache(
    options.cache?.maxEntries ?? 10_000,
    options.cache?.maxTtlSeconds ?? 3600,
  );
  const rateLimiter = options.rateLimit ? new ClientRateLimiter(options.rateLimit) : undefined;
  const refuseOverLimit = options.rateLimit?.action === 'refuse';
  const query = new Query();

  let counters = newCounters();
  let zone: Zone = buildZone([], { clusterDomain, ttl });
  let upstream: UpstreamClient | undefined;
  let udp: UdpSocket | undefined;
  let tcp: Server | undefined;
  const tcpConnections = new Set<Socket>();
  const inflight = new Map<string, Promise<CachedResponse | undefined>>();
  let rebuildTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let address: { host: string; port: number } | undefined;
  let running = false;

  const rebuild = () => {
    rebuildTimer = undefined;
    try {
      zone = buildZone(source.services(), { clusterDomain, ttl });
    } catch (error) {
      logger.error?.({ err: error }, 'mesh-dns: could not rebuild the zone; keeping the last one');
    }
  };
  const scheduleRebuild = () => {
    if (!running || rebuildTimer) return;
    rebuildTimer = setTimeout(rebuild, REBUILD_DELAY_MS);
  };

  const count = (rcode: number) => {
    if (rcode === RCODE.FORMERR) counters.formerr++;
    else if (rcode === RCODE.NOTIMP) counters.notimp++;
    else if (rcode === RCODE.REFUSED) counters.refused++;
    else if (rcode === RCODE.SERVFAIL) counters.servfail++;
  };

  /** The response to `msg`, undefined to drop it, or a promise of either (forwarded names). */
  const handle = (
    msg: Buffer,
    client: string,
    overTcp: boolean,
  ): Buffer | undefined | Promise<Buffer | undefined> => {
    counters.queries++;
    if (overTcp) counters.tcpQueries++;
    if (rateLimiter && !rateLimiter.allow(client)) {
      counters.rateLimited++;
      if (!refuseOverLimit) {
        counters.dropped++;
        return undefined;
      }
      if (query.parse(msg) === DROP) return undefined;
      counters.refused++;
      return errorResponse(msg, query, RCODE.REFUSED);
    }
    const parsed = query.parse(msg);
    if (parsed === DROP) {
      counters.dropped++;
      return undefined;
    }
    if (parsed !== 0 || msg.length > maxQueryBytes) {
      const rcode = parsed !== 0 ? parsed : RCODE.FORMERR;
      count(rcode);
      return errorResponse(msg, query, rcode);
    }
    const q = query;
    const limit = overTcp ? 65535 : udpLimit(q);
    const qtype = q.qtype;
    if (q.qclass !== CLASS.IN && q.qclass !== CLASS.ANY) {
      const rcode = q.qclass === CLASS.CH || q.qclass === CLASS.HS ? RCODE.REFUSED : RCODE.NOTIMP;
      count(rcode);
      return errorResponse(msg, q, rcode);
    }
    if (qtype === 0 || qtype === TYPE.OPT) {
      count(RCODE.FORMERR);
      return errorResponse(msg, q, RCODE.FORMERR);
    }
    if (
      qtype === TYPE.AXFR ||
      qtype === TYPE.IXFR ||
      qtype === TYPE.MAILA ||
      qtype === TYPE.MAILB
    ) {
      count(RCODE.NOTIMP);
      return errorResponse(msg, q, RCODE.NOTIMP);
    }

    const name = q.plainName ? zone.names.get(q.qname) : undefined;
    if (name) {
      counters.local++;
      const answer =
        name.cname ?? (qtype === TYPE.ANY ? name.any : name.byType.get(qtype)) ?? undefined;
      if (answer) {
        const response = buildResponse(
          msg,
          q,
          RCODE.NOERROR,
          true,
          answer.bytes,
          answer.count,
          undefined,
          0,
          limit,
        );
        if ((response[2]! & 0x02) !== 0) counters.truncated++;
        return response;
      }
      // NODATA: the name exists, not with this type.
      return buildResponse(msg, q, RCODE.NOERROR, true, undefined, 0, zone.soa, 1, limit);
    }
    if (q.qname === clusterDomain || q.qname.endsWith(domainSuffix)) {
      counters.local++;
      counters.nxdomain++;
      return buildResponse(msg, q, RCODE.NXDOMAIN, true, undefined, 0, zone.soa, 1, limit);
    }
    return forward(msg, limit);
  };

  const forward = (
    msg: Buffer,
    limit: number,
  ): Buffer | undefined | Promise<Buffer | undefined> => {
    const q = query;
    if (!upstream) {
      counters.refused++;
      return errorResponse(msg, q, RCODE.REFUSED);
    }
    const key = q.plainName ? `${q.qname}/${q.qtype}/${q.qclass}` : undefined;
    const id = q.id;
    const flags = q.flags;
    const questionEnd = q.questionEnd;
    const ednsSize = q.ednsSize;
    if (key) {
      const hit = cache.get(key);
      if (hit) {
        counters.cacheHits++;
        return fromUpstream(hit, msg, id, flags, questionEnd, ednsSize, limit);
      }
    }
    counters.forwarded++;
    const question = Buffer.from(msg.subarray(12, questionEnd));
    let pending = key ? inflight.get(key) : undefined;
    if (!pending) {
      const client = upstream;
      pending = client.resolve(question).then((response) => {
        if (!response) return undefined;
        const scanned = scanResponse(response);
        if (!scanned) return undefined;
        return (
          (key ? cache.set(key, scanned) : undefined) ?? {
            message: scanned.message,
            ttlOffsets: scanned.ttlOffsets,
            ttls: scanned.ttls,
            storedAt: Date.now(),
            expiresAt: 0,
          }
        );
      });
      if (key) {
        inflight.set(key, pending);
        void pending.finally(() => inflight.delete(key));
      }
    }
    // The query's bytes stay valid: each datagram and TCP frame has its own buffer.
    return pending.then((result) => {
      if (!running) return undefined;
      if (!result) {
        counters.servfail++;
        return servfail(msg, id, flags, questionEnd, ednsSize);
      }
      return fromUpstream(result, msg, id, flags, questionEnd, ednsSize, limit);
    });
  };

  const fromUpstream = (
    entry: CachedResponse,
    msg: Buffer,
    id: number,
    flags: number,
    questionEnd: number,
    ednsSize: number,
    limit: number,
  ): Buffer => {
    const extra = ednsSize > 0 ? OPT_LENGTH : 0;
    const response = responseFromCache(entry, msg, id, flags, questionEnd, Date.now(), extra);
    if (extra > 0) {
      writeOpt(response, response.length - OPT_LENGTH);
      response.writeUInt16BE(response.readUInt16BE(10) + 1, 10);
    }
    if (response.length <= limit) return response;
    counters.truncated++;
    const truncated = Buffer.allocUnsafe(questionEnd + extra);
    response.copy(truncated, 0, 0, questionEnd);
    truncated.writeUInt16BE(truncated.readUInt16BE(2) | 0x0200, 2);
    truncated.writeUInt16BE(0, 6);
    truncated.writeUInt16BE(0, 8);
    truncated.writeUInt16BE(extra > 0 ? 1 : 0, 10);
    if (extra > 0) writeOpt(truncated, questionEnd);
    return truncated;
  };

  const servfail = (
    msg: Buffer,
    id: number,
    flags: number,
    questionEnd: number,
    ednsSize: number,
  ): Buffer => {
    const q = new Query();
    q.id = id;
    q.flags = flags;
    q.questionEnd = questionEnd;
    q.ednsSize = ednsSize;
    return errorResponse(msg, q, RCODE.SERVFAIL);
  };

  const onDatagram = (msg: Buffer, rinfo: RemoteInfo) => {
    let result: Buffer | undefined | Promise<Buffer | undefined>;
    try {
      result = handle(msg, rinfo.address, false);
    } catch (error) {
      logger.error?.({ err: error }, 'mesh-dns: a query could not be handled');
      return;
    }
    if (result === undefined) return;
    if (!(result instanceof Promise)) {
      udp?.send(result, rinfo.port, rinfo.address);
      return;
    }
    result.then(
      (response) => {
        if (response) udp?.send(response, rinfo.port, rinfo.address);
      },
      (error: unknown) => logger.error?.({ err: error }, 'mesh-dns: forwarding failed'),
    );
  };

  const onConnection = (socket: Socket) => {
    if (tcpConnections.size >= maxTcpConnections) {
      socket.destroy();
      return;
    }
    tcpConnections.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(tcpIdleTimeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => tcpConnections.delete(socket));
    let buffered: Buffer = Buffer.alloc(0);
    const reply = (response: Buffer | undefined) => {
      if (!response) return;
      if (socket.destroyed) return;
      const frame = Buffer.allocUnsafe(2 + response.length);
      frame.writeUInt16BE(response.length, 0);
      response.copy(frame, 2);
      socket.write(frame);
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      // Bounded by the data received: each frame consumes at least two bytes.
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const msg = Buffer.from(buffered.subarray(2, 2 + length));
        buffered = buffered.subarray(2 + length);
        const remote = socket.remoteAddress ?? '';
        let result: Buffer | undefined | Promise<Buffer | undefined>;
        try {
          result = handle(msg, remote, true);
        } catch (error) {
          logger.error?.({ err: error }, 'mesh-dns: a query could not be handled');
          socket.destroy();
          return;
        }
        if (result instanceof Promise) {
          result.then(reply, () => socket.destroy());
        } else if (result === undefined) {
          // Not a query: nothing sensible can follow on this stream.
          socket.destroy();
          return;
        } else {
          reply(result);
        }
      }
    });
  };

  const bind = async (): Promise<void> => {
    const udpSocket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      // Replies go to the address a query came from, always an IP: skip dns.lookup and its
      // extra tick for every datagram sent.
      lookup: sameAddress,
    });
    udpSocket.on('message', onDatagram);
    try {
      await new Promise<void>((resolve, reject) => {
        udpSocket.once('error', reject);
        udpSocket.bind(port, host, () => {
          udpSocket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udpSocket.close();
      throw new DnsError('KE_DNS_LISTEN_FAILED', `cannot listen on UDP ${host}:${port}`, {
        cause: error,
      });
    }
    udpSocket.on('error', (error) => logger.warn?.({ err: error }, 'mesh-dns: UDP socket error'));
    try {
      udpSocket.setRecvBufferSize(4 * 1024 * 1024);
      udpSocket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      // The kernel's limit applies; the defaults work, only bursts suffer.
    }
    const boundPort = udpSocket.address().port;
    const tcpServer = createServer(onConnection);
    try {
      tcpServer.listen(boundPort, host);
      await once(tcpServer, 'listening');
    } catch (error) {
      udpSocket.close();
      tcpServer.close();
      throw new DnsError(
        'KE_DNS_LISTEN_FAILED',
        `cannot listen on TCP ${host}:${boundPort} (the UDP port was free)`,
        { cause: error },
      );
    }
    tcpServer.on('error', (error) => logger.warn?.({ err: error }, 'mesh-dns: TCP server error'));
    udp = udpSocket;
    tcp = tcpServer;
    address = { host, port: boundPort };
  };

  return {
    get address() {
      return address;
    },
    async start(signal) {
      if (running) return;
      counters = newCounters();
      await source.start(signal);
      try {
        running = true;
        unsubscribe = source.onChange(scheduleRebuild);
        rebuild();
        // Port 0: UDP picks the port, then TCP takes the same one; retry if TCP's is taken.
        for (let attempt = 0; ; attempt++) {
          try {
            await bind();
            break;
          } catch (error) {
            if (port !== 0 || attempt >= 4) throw error;
          }
        }
        const servers = (
          explicitUpstream ?? readResolvConf(options.resolvConfPath).map(parseUpstream)
        )
          // Never forward to ourselves.
          .filter((server) => !(server.port === address!.port && server.host === host));
        if (servers.length === 0 && !explicitUpstream) {
          logger.warn?.(
            { resolvConf: options.resolvConfPath ?? '/etc/resolv.conf' },
            'mesh-dns: no upstream nameserver found; names outside the cluster get REFUSED',
          );
        }
        if (servers.length > 0) {
          upstream = new UpstreamClient(servers, options.upstreamTimeoutMs ?? 2000);
          await upstream.start();
        }
      } catch (error) {
        await this.stop();
        throw error;
      }
    },
    async stop() {
      running = false;
      unsubscribe?.();
      unsubscribe = undefined;
      if (rebuildTimer) clearTimeout(rebuildTimer);
      rebuildTimer = undefined;
      for (const socket of tcpConnections) socket.destroy();
      tcpConnections.clear();
      const closing: Promise<unknown>[] = [];
      if (udp) {
        const socket = udp;
        closing.push(new Promise<void>((resolve) => socket.close(() => resolve())));
      }
      if (tcp) {
        const server = tcp;
        closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
      }
      if (upstream) closing.push(upstream.stop());
      udp = undefined;
      tcp = undefined;
      upstream = undefined;
      address = undefined;
      await Promise.all(closing);
      await source.stop();
      cache.clear();
      rateLimiter?.clear();
      inflight.clear();
    },
    stats() {
      return {
        ...counters,
        cacheEntries: cache.size,
        zoneNames: zone.names.size,
        services: zone.serviceCount,
      };
    },
  };
}
