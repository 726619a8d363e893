/**
 * Diagnostic (not part of run.ts): the transports under the tunnel's paths, on loopback, with
 * both ends in this one process (so each number includes both ends' work on one event loop).
 * Separates UDX itself from TLS on top of it, and TLS on a native socket from TLS on a JS Duplex
 * (node:tls wraps any non-net.Socket in a JS stream shim):
 *
 * - TCP; TLS 1.3 on TCP (native); TLS 1.3 on a JS Duplex around TCP;
 * - UDX (udx-native streams); TLS 1.3 on `udxDuplex` (what a p2p tunnel stream is).
 *
 *   npx tsx --conditions=@ke/source benchmarks/tunnel/transport-baseline.ts [--seconds=3]
 *
 * Prints one markdown table: 64-byte ping-pong p50/p99 µs and bulk Mbit/s (counted on receipt).
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, connect as tcpConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import UDX from 'udx-native';
import { udxDuplex } from '../../libs/mesh-tunnel/src/udx-duplex';
import { createTestPki } from '../../libs/mesh-tunnel/test/fixtures/cluster';
import { format, percentile } from '../stats';

const secondsArg = process.argv.find((arg) => arg.startsWith('--seconds='));
const SECONDS = Math.min(30, Math.max(1, Number(secondsArg?.slice(10) ?? 3) || 3));
const pki = await createTestPki('127.0.0.1');
const a = await pki.node('a');
const b = await pki.node('b');
const tlsServer = createTlsServer({
  key: b.key,
  cert: b.cert,
  ca: a.ca as string,
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.3',
});
const tlsClient = (socket: Duplex) =>
  tlsConnect({
    socket,
    key: a.key,
    cert: a.cert,
    ca: a.ca as string,
    minVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined,
  });

/** A Duplex that only forwards to `inner`: makes node:tls use its JS stream shim. */
function jsDuplex(inner: Duplex): Duplex {
  const outer = new Duplex({
    read() {
      inner.resume();
    },
    write(chunk, _encoding, callback) {
      if (inner.write(chunk)) callback();
      else inner.once('drain', () => callback());
    },
    final(callback) {
      inner.end();
      callback();
    },
  });
  inner.on('data', (chunk) => {
    if (!outer.push(chunk)) inner.pause();
  });
  inner.on('end', () => outer.push(null));
  return outer;
}

type Pair = { client: Duplex; server: Duplex };
type Wrap = 'plain' | 'tls' | 'tls-js';

async function tcpPair(wrap: Wrap): Promise<Pair> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection');
  const raw = tcpConnect({ port: (listener.address() as AddressInfo).port, host: '127.0.0.1' });
  raw.setNoDelay(true);
  const [rawServer] = (await accepted) as [import('node:net').Socket];
  rawServer.setNoDelay(true);
  listener.close();
  if (wrap === 'plain') return { client: raw, server: rawServer };
  return secure(
    wrap === 'tls' ? raw : jsDuplex(raw),
    wrap === 'tls' ? rawServer : jsDuplex(rawServer),
  );
}

const udx = new UDX();
const socketA = udx.createSocket();
const socketB = udx.createSocket();
socketA.bind(0, '127.0.0.1');
socketB.bind(0, '127.0.0.1');
let nextId = 1;
async function udxPair(wrap: Wrap): Promise<Pair> {
  const left = udx.createStream(nextId++);
  const right = udx.createStream(nextId++);
  left.connect(socketA, right.id, socketB.address()!.port, '127.0.0.1');
  right.connect(socketB, left.id, socketA.address()!.port, '127.0.0.1');
  if (wrap === 'plain') {
    return { client: left as unknown as Duplex, server: right as unknown as Duplex };
  }
  return secure(udxDuplex(left), udxDuplex(right));
}

async function secure(client: Duplex, server: Duplex): Promise<Pair> {
  const accepted = once(tlsServer, 'secureConnection');
  tlsServer.emit('connection', server);
  const socket = tlsClient(client);
  await once(socket, 'secureConnect');
  const [serverSocket] = (await accepted) as [Duplex];
  return { client: socket, server: serverSocket };
}

async function pingPong(pair: Pair, count: number): Promise<number[]> {
  pair.server.on('data', (chunk: Buffer) => pair.server.write(chunk));
  const payload = Buffer.alloc(64, 0x6b);
  const samples: number[] = [];
  let received = 0;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received >= 64) wake?.();
  };
  pair.client.on('data', onData);
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    received = 0;
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('round trip over 5 s')), 5000);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      pair.client.write(payload);
    });
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  pair.client.off('data', onData);
  pair.server.removeAllListeners('data');
  return samples;
}

async function bulk(pair: Pair): Promise<number> {
  let bytes = 0;
  let first = 0n;
  let last = 0n;
  pair.server.on('data', (chunk: Buffer) => {
    last = process.hrtime.bigint();
    if (bytes === 0) first = last;
    bytes += chunk.length;
  });
  pair.server.resume();
  const chunk = Buffer.alloc(64 * 1024, 0x6b);
  const until = Date.now() + SECONDS * 1000;
  while (Date.now() < until) {
    if (!pair.client.write(chunk)) {
      await once(pair.client, 'drain', { signal: AbortSignal.timeout(10_000) });
    }
  }
  // Let what is in flight arrive (bounded), then count.
  const settle = Date.now() + 10_000;
  let seen = -1;
  while (seen !== bytes && Date.now() < settle) {
    seen = bytes;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return (bytes * 8) / (Number(last - first) / 1000);
}

const rows: string[] = [];
const cases: [string, (wrap: Wrap) => Promise<Pair>, Wrap][] = [
  ['TCP', tcpPair, 'plain'],
  ['TLS 1.3 on TCP (native socket)', tcpPair, 'tls'],
  ['TLS 1.3 on a JS Duplex around TCP', tcpPair, 'tls-js'],
  ['UDX stream', udxPair, 'plain'],
  ['TLS 1.3 on udxDuplex (a p2p tunnel stream)', udxPair, 'tls'],
];
for (const [name, make, wrap] of cases) {
  const rttPair = await make(wrap);
  await pingPong(rttPair, 50);
  const sorted = Float64Array.from(await pingPong(rttPair, 1000)).sort();
  rttPair.client.destroy();
  rttPair.server.destroy();
  const bulkPair = await make(wrap);
  const mbit = await bulk(bulkPair);
  bulkPair.client.destroy();
  bulkPair.server.destroy();
  rows.push(
    `| ${name} | ${format(percentile(sorted, 50), 0)} | ${format(percentile(sorted, 99), 0)} | ${format(mbit, 0)} |`,
  );
  console.error(rows.at(-1));
}
console.log(
  `\ntransports on loopback, both ends in one process, ${SECONDS} s bulk each\n\n| transport | RTT p50 µs | RTT p99 µs | bulk Mbit/s |\n|---|---|---|---|\n${rows.join('\n')}`,
);
await socketA.close();
await socketB.close();
process.exit(0);
