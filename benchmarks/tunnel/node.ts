/**
 * One node of the tunnel benchmark, run inside a namespace of the test bed: the tunnel server
 * (in `pub`), or agents plus the measuring client (in `h1`) or agents that serve the sink (in
 * `h2`). run.ts drives it with HTTP on a Unix socket (a path, so it crosses the namespace
 * boundary), as the library's test driver does. Usage: node.ts <socket path>. Prints `ready`.
 *
 * The client measures in this process, on the Duplex the path gives it: `agent.dial()` for the
 * tunnel paths, `net.connect()` for direct TCP, with the same code for all of them.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createTunnelAgent,
  createTunnelServer,
  type TunnelAgent,
  type TunnelAgentOptions,
  type TunnelServer,
  type TunnelServerOptions,
} from '@ke/mesh-tunnel';
import { type NetnsDriverCommands, serveNetnsDriver } from '@ke/testing';

const socketPath = process.argv[2];
if (!socketPath) throw new Error('usage: node.ts <socket path>');

let server: TunnelServer | undefined;
const agents = new Map<string, TunnelAgent>();
const logs: string[] = [];
const keep = (level: string) => (fields: Record<string, unknown>, message: string) => {
  if (logs.length < 1000) logs.push(`${level} ${message} ${JSON.stringify(fields)}`);
};
const logger = { info: keep('info'), warn: keep('warn'), error: keep('error') };

type Path = 'direct' | 'p2p' | 'relay' | 'unknown';
interface Target {
  /** The agent to dial through; none for direct TCP. */
  agent?: string;
  peer: string;
  ip: string;
  port: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a stream along the target's path and says which path it took. */
async function open(target: Target, timeoutMs = 15_000): Promise<{ stream: Duplex; path: Path }> {
  if (!target.agent) {
    const socket = connect({ host: target.ip, port: target.port, noDelay: true });
    await once(socket, 'connect', { signal: AbortSignal.timeout(timeoutMs) });
    return { stream: socket, path: 'direct' };
  }
  const agent = agents.get(target.agent);
  if (!agent) throw new Error(`no agent ${target.agent}`);
  const count = () => agent.stats().peers[target.peer]?.streams ?? { p2p: 0, relay: 0 };
  const before = count();
  const stream = await agent.dial(
    target.peer,
    target.ip,
    target.port,
    AbortSignal.timeout(timeoutMs),
  );
  const after = count();
  const path: Path =
    after.p2p > before.p2p ? 'p2p' : after.relay > before.relay ? 'relay' : 'unknown';
  return { stream, path };
}

/**
 * `count` strict ping-pongs of `size` bytes (write, wait for all of them back), stopping at
 * `deadline` (epoch ms) or on a round trip that takes more than 5 s. Round trips in µs.
 */
async function pingPong(
  stream: Duplex,
  count: number,
  size: number,
  deadline: number,
): Promise<number[]> {
  const payload = Buffer.alloc(size, 0x6b);
  const samples: number[] = [];
  let received = 0;
  let wake: ((error?: Error) => void) | undefined;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received >= size) wake?.();
  };
  const onGone = () => wake?.(new Error('the stream closed during ping-pong'));
  stream.on('data', onData);
  stream.once('close', onGone);
  stream.once('error', onGone);
  try {
    for (let i = 0; i < count && Date.now() < deadline; i++) {
      received = 0;
      const started = process.hrtime.bigint();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('a round trip took over 5 s')), 5000);
        wake = (error) => {
          clearTimeout(timer);
          wake = undefined;
          if (error) reject(error);
          else resolve();
        };
        stream.write(payload);
      });
      samples.push(Number(process.hrtime.bigint() - started) / 1000);
    }
  } finally {
    stream.off('data', onData);
    stream.off('close', onGone);
    stream.off('error', onGone);
  }
  return samples;
}

/**
 * Writes 64 KiB chunks for `seconds` (honouring back-pressure), half-closes, and returns what
 * the sink counted on arrival. Bounded: the write loop by `seconds`, the drain afterwards by 30 s.
 */
async function pump(stream: Duplex, seconds: number): Promise<{ bytes: number; ms: number }> {
  const chunk = randomBytes(64 * 1024);
  let reply = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    reply += text;
  });
  const ended = once(stream, 'end', { signal: AbortSignal.timeout((seconds + 30) * 1000) });
  ended.catch(() => {});
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (!stream.write(chunk)) {
      await once(stream, 'drain', { signal: AbortSignal.timeout(until - Date.now() + 10_000) });
    }
  }
  stream.end();
  await ended;
  return JSON.parse(reply) as { bytes: number; ms: number };
}

const commands: NetnsDriverCommands = {
  async server(body) {
    server = createTunnelServer({ ...(body.options as TunnelServerOptions), logger });
    await server.start();
    return server.addresses;
  },
  async serverStats() {
    return server?.stats() ?? null;
  },
  /** (Re)starts the agent `name`; resolves once the server has seen its UDP endpoint. */
  async agent(body) {
    const name = body.name as string;
    await agents.get(name)?.stop();
    const allowIp = body.allowIp as string;
    const ports = new Set(body.allowPorts as number[]);
    const agent = createTunnelAgent({
      ...(body.options as TunnelAgentOptions),
      allow: (ip, port) => ip === allowIp && ports.has(port),
      logger,
    });
    agents.set(name, agent);
    await agent.start();
    const punching = (body.options as TunnelAgentOptions).punch !== false;
    for (let i = 0; i < 100 && punching && !agent.stats().publicEndpoint; i++) await sleep(50);
    return agent.stats();
  },
  async stopAgent(body) {
    const name = body.name as string;
    await agents.get(name)?.stop();
    agents.delete(name);
    return { ok: true };
  },
  async agentStats(body) {
    return agents.get(body.name as string)?.stats() ?? null;
  },
  /**
   * First dial of a fresh agent to its peer, until one echoed message came back: the time to a
   * usable stream, and the path the agent reports afterwards.
   */
  async establish(body) {
    const target = body as unknown as Target;
    const started = performance.now();
    const { stream, path } = await open(target);
    const dialMs = performance.now() - started;
    await pingPong(stream, 1, 64, Date.now() + 5000);
    const usableMs = performance.now() - started;
    stream.destroy();
    const peer = agents.get(target.agent!)!.stats().peers[target.peer];
    return { dialMs, usableMs, path, reported: peer?.path, punch: peer?.punch, rttMs: peer?.rttMs };
  },
  /** Ping-pong RTT on one stream, after a warm-up of 50 round trips. */
  async rtt(body) {
    const target = body as unknown as Target;
    const { stream, path } = await open(target);
    try {
      const deadline = Date.now() + (body.maxMs as number);
      await pingPong(stream, 50, body.size as number, deadline);
      const samples = await pingPong(stream, body.count as number, body.size as number, deadline);
      return { path, samples };
    } finally {
      stream.destroy();
    }
  },
  /** Bulk transfer for `seconds` to the sink; Mbit/s as the sink received it. */
  async throughput(body) {
    const target = body as unknown as Target;
    const { stream, path } = await open(target);
    try {
      const { bytes, ms } = await pump(stream, body.seconds as number);
      return { path, bytes, ms, mbit: (bytes * 8) / (ms * 1000) };
    } finally {
      stream.destroy();
    }
  },
  async logs() {
    return logs;
  },
  async exit() {
    for (const agent of agents.values()) await agent.stop();
    await server?.stop();
    setImmediate(() => process.exit(0));
    return { ok: true };
  },
};

serveNetnsDriver(socketPath, commands);
process.once('SIGTERM', () => process.exit(0));
