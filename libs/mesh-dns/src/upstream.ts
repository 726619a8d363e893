import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { invalidOptions } from './errors';
import { writeOpt } from './wire';

/** An upstream resolver's address. */
export interface UpstreamAddress {
  host: string;
  port: number;
}

/** `1.1.1.1`, `1.1.1.1:5353`, `::1`, `[::1]:5353` → host and port. */
export function parseUpstream(text: string): UpstreamAddress {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  let host: string;
  let port = 53;
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (trimmed.split(':').length === 2) {
    const [h, p] = trimmed.split(':') as [string, string];
    host = h;
    port = Number(p);
  } else {
    host = trimmed;
  }
  if (!/^[\d.]+$/.test(host) && !isIPv6(host)) {
    throw invalidOptions(`upstream "${text}" is not an IP address (optionally with :port)`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidOptions(`upstream "${text}" has an invalid port`);
  }
  return { host, port };
}

interface Pending {
  question: Buffer;
  server: UpstreamAddress;
  resolve: (response: Buffer | undefined) => void;
  timer: NodeJS.Timeout;
}

/** At most this many upstream queries wait for an answer at once; more get SERVFAIL. */
const MAX_IN_FLIGHT = 4096;

/**
 * Sends questions to upstream resolvers over UDP (one shared socket per address family),
 * retries a truncated answer over TCP, and tries the next resolver after a timeout or a
 * SERVFAIL/REFUSED.
 */
export class UpstreamClient {
  private udp4: UdpSocket | undefined;
  private udp6: UdpSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly tcpSockets = new Set<import('node:net').Socket>();
  private running = false;

  constructor(
    private readonly servers: readonly UpstreamAddress[],
    private readonly timeoutMs: number,
  ) {}

  get inFlight(): number {
    return this.pending.size;
  }

  async start(): Promise<void> {
    this.running = true;
    const bind = async (type: 'udp4' | 'udp6') => {
      const socket = createSocket(type);
      socket.on('message', (message, rinfo) => this.onMessage(message, rinfo.address, rinfo.port));
      socket.on('error', () => {
        // A failed send surfaces as a timeout of that query.
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, type === 'udp4' ? '0.0.0.0' : '::', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return socket;
    };
    if (this.servers.some((s) => !isIPv6(s.host))) this.udp4 = await bind('udp4');
    if (this.servers.some((s) => isIPv6(s.host))) this.udp6 = await bind('udp6');
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.resolve(undefined);
    }
    for (const socket of this.tcpSockets) socket.destroy();
    this.tcpSockets.clear();
    const close = (socket: UdpSocket | undefined) =>
      socket ? new Promise<void>((resolve) => socket.close(() => resolve())) : undefined;
    await Promise.all([close(this.udp4), close(this.udp6)]);
    this.udp4 = undefined;
    this.udp6 = undefined;
  }

  /**
   * Resolves `question` (the question section's bytes: name, type, class) with the first
   * usable upstream answer, or undefined when none answered.
   */
  async resolve(question: Buffer): Promise<Buffer | undefined> {
    let last: Buffer | undefined;
    for (const server of this.servers) {
      if (!this.running) return undefined;
      let response = await this.queryUdp(server, question);
      if (response && (response.readUInt16BE(2) & 0x0200) !== 0) {
        response = (await this.queryTcp(server, question)) ?? response;
      }
      if (!response) continue;
      const rcode = response.readUInt16BE(2) & 0xf;
      if (rcode === 2 || rcode === 5) {
        last = response; // SERVFAIL, REFUSED: another resolver may do better
        continue;
      }
      return response;
    }
    return last;
  }

  private buildQuery(id: number, question: Buffer): Buffer {
    const query = Buffer.allocUnsafe(12 + question.length + 11);
    query.writeUInt16BE(id, 0);
    query.writeUInt16BE(0x0100, 2); // RD
    query.writeUInt16BE(1, 4);
    query.writeUInt16BE(0, 6);
    query.writeUInt16BE(0, 8);
    query.writeUInt16BE(1, 10);
    question.copy(query, 12);
    writeOpt(query, 12 + question.length);
    return query;
  }

  private queryUdp(server: UpstreamAddress, question: Buffer): Promise<Buffer | undefined> {
    const socket = isIPv6(server.host) ? this.udp6 : this.udp4;
    if (!socket || this.pending.size >= MAX_IN_FLIGHT) return Promise.resolve(undefined);
    let id = randomInt(0, 65536);
    for (let tries = 0; this.pending.has(id) && tries < 64; tries++) id = randomInt(0, 65536);
    if (this.pending.has(id)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(id, { question, server, resolve, timer });
      socket.send(this.buildQuery(id, question), server.port, server.host);
    });
  }

  private onMessage(message: Buffer, address: string, port: number): void {
    if (message.length < 12) return;
    const pending = this.pending.get(message.readUInt16BE(0));
    if (!pending) return;
    // Only the resolver asked, answering the question asked (RFC 5452 9.1).
    if (pending.server.port !== port || pending.server.host !== address) return;
    if (!sameQuestion(message, pending.question)) return;
    this.pending.delete(message.readUInt16BE(0));
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  private queryTcp(server: UpstreamAddress, question: Buffer): Promise<Buffer | undefined> {
    if (!this.running) return Promise.resolve(undefined);
    const id = randomInt(0, 65536);
    const query = this.buildQuery(id, question);
    return new Promise((resolve) => {
      const socket = connect({ host: server.host, port: server.port });
      this.tcpSockets.add(socket);
      let received = Buffer.alloc(0);
      let done = false;
      const finish = (response: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.tcpSockets.delete(socket);
        socket.destroy();
        resolve(response);
      };
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      socket.on('error', () => finish(undefined));
      socket.on('close', () => finish(undefined));
      socket.on('connect', () => {
        const frame = Buffer.allocUnsafe(2 + query.length);
        frame.writeUInt16BE(query.length, 0);
        query.copy(frame, 2);
        socket.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length < 2) return;
        const length = received.readUInt16BE(0);
        if (received.length < 2 + length) return;
        const message = received.subarray(2, 2 + length);
        const ok =
          message.length >= 12 && message.readUInt16BE(0) === id && sameQuestion(message, question);
        finish(ok ? Buffer.from(message) : undefined);
      });
    });
  }
}

function sameQuestion(message: Buffer, question: Buffer): boolean {
  if (message.readUInt16BE(4) !== 1 || message.length < 12 + question.length) return false;
  // Compare case-insensitively: a resolver may normalise the case of the name.
  for (let i = 0; i < question.length; i++) {
    let a = message[12 + i]!;
    let b = question[i]!;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return false;
  }
  return true;
}
