/**
 * The server under test, run as a child of `run.ts` (its own process, its own event loop):
 *
 *   node --expose-gc --conditions=@ke/source --import tsx server.ts <cloudhub|peer> <ca.json> <N>
 *
 * - `cloudhub`: `createCloudHub` from @ke/cloudhub with an in-memory ObjectSync store.
 * - `peer`: the floor cloudhub's logic adds to: node:https + `ws` with the same mTLS settings
 *   and the same identity check (certificate CN = `system:node:<node_id>`); it sends each
 *   message once (no queue, no window, no resend, no ledger, no metrics) and counts the ACKs.
 *
 * Both build the same messages (`createMessage`, one per node, so each has its own msg_id) and
 * encode them with the same codec. Requests on stdin (see protocol.ts): `mem` (forced GC, then
 * memory), `fanout` (one update of one object to every node) and `burst` (`perNode` distinct
 * objects to every node); both time each ACK as it is processed, from just before the first
 * dispatch.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import { Session } from 'node:inspector/promises';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import {
  cloudToEdgeResource,
  createMessage,
  encodeMessage,
  type Message,
  Operation,
  tryDecodeMessage,
} from '@ke/beehive';
import { createCloudHub, createMemoryObjectSyncStore } from '@ke/cloudhub';
import { type CertifiedKey, issueCertificate } from '@ke/pki';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { nodeName, openFileLimit, type Request, serveRequests } from './protocol';

const [kind, caFile, nodesArg] = process.argv.slice(2);
if ((kind !== 'cloudhub' && kind !== 'peer') || !caFile || !nodesArg) {
  console.error('usage: server.ts <cloudhub|peer> <ca.json> <nodes>');
  process.exit(2);
}
const NODES = Number(nodesArg);

const limit = openFileLimit();
if (!(limit >= NODES + 256)) {
  console.error(
    `server: the open-file limit is ${limit}, too low for ${NODES} connections; ` +
      'start it under `ulimit -n` of at least N + 256',
  );
  process.exit(2);
}

const ca = JSON.parse(readFileSync(caFile, 'utf8')) as CertifiedKey;
const nodes = Array.from({ length: NODES }, (_, index) => nodeName(index));

/** What each side must offer the harness. */
interface Target {
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  connected(): number;
  /** Queues or sends one message (cloud form: `node/<node>/<ns>/<type>/<name>`). */
  dispatch(message: Message): void;
  /** Messages waiting for an ACK. */
  pending(): number;
  /** Counters worth reporting (resends, warnings). */
  counters(): Promise<Record<string, number>>;
}

/** Called once per ACK the server accepts, as it processes it. */
let onAck: () => void = () => {};
let warnings = 0;

function warn(fields: object, message: string): void {
  warnings++;
  if (warnings <= 5) console.error(`[${kind} warn] ${message}`, JSON.stringify(fields));
  if (warnings === 5) console.error(`[${kind} warn] further warnings are only counted`);
}

async function counterValue(
  registry: { getSingleMetric(name: string): unknown },
  name: string,
): Promise<number> {
  const metric = registry.getSingleMetric(name) as
    | { get(): Promise<{ values: { value: number }[] }> }
    | undefined;
  if (!metric) return Number.NaN;
  const { values } = await metric.get();
  return values.reduce((sum, entry) => sum + entry.value, 0);
}

function cloudhubTarget(): Target {
  const hub = createCloudHub({
    ca,
    host: '127.0.0.1',
    port: 0,
    nodeLimit: NODES,
    objectSyncs: createMemoryObjectSyncStore(),
    logger: { warn, error: warn },
  });
  // Each ACK the hub accepts, as it processes it (the event costs the hub one small object
  // per ACK, only while someone listens).
  hub.on('acked', () => onAck());
  return {
    get url() {
      return hub.url;
    },
    start: () => hub.start(),
    stop: () => hub.stop(),
    connected: () => hub.connectedNodes().length,
    dispatch: (message) => {
      const result = hub.dispatch(message);
      if (result !== 'queued') throw new Error(`dispatch returned ${result}`);
    },
    pending: () => hub.queueDepth(),
    counters: async () => ({
      resent: await counterValue(hub.registry, 'cloudhub_messages_retried_total'),
      dropped: await counterValue(hub.registry, 'cloudhub_messages_dropped_total'),
      warnings,
    }),
  };
}

function peerTarget(): Target {
  const sockets = new Map<string, WebSocket>();
  const waiting = new Set<string>();
  let port = 0;
  let server: ReturnType<typeof createServer> | undefined;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 8 * 1024 * 1024,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const receive = (data: RawData, isBinary: boolean) => {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    const decoded = tryDecodeMessage(isBinary ? bytes : bytes.toString('utf8'));
    if (!decoded.ok) {
      warn({}, `malformed frame: ${decoded.error.message}`);
      return;
    }
    const { header, route } = decoded.message;
    if (route.operation === Operation.Response && header.parent_msg_id) {
      if (waiting.delete(header.parent_msg_id)) onAck();
    }
  };
  const upgrade = (request: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const node = request.headers.node_id;
    const commonName = (socket as unknown as TLSSocket).getPeerCertificate()?.subject?.CN;
    if (typeof node !== 'string' || commonName !== `system:node:${node}`) {
      warn({ node, commonName }, 'refused a connection: certificate does not match node_id');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.get(node)?.terminate();
      sockets.set(node, ws);
      ws.on('message', receive);
      ws.on('error', () => {});
      ws.on('close', () => {
        if (sockets.get(node) === ws) sockets.delete(node);
      });
    });
  };
  return {
    get url() {
      return `wss://127.0.0.1:${port}`;
    },
    async start() {
      const serving = await issueCertificate(ca, {
        commonName: 'bench-peer',
        altNames: ['localhost', '127.0.0.1', '::1'],
        usage: 'server',
      });
      const https = createServer({
        key: serving.privateKeyPem,
        cert: serving.certificatePem,
        ca: ca.certificatePem,
        requestCert: true,
        rejectUnauthorized: true,
      });
      https.on('upgrade', (request, socket, head) => upgrade(request, socket as Socket, head));
      await new Promise<void>((resolve, reject) => {
        https.once('error', reject);
        https.listen(0, '127.0.0.1', () => resolve());
      });
      port = (https.address() as AddressInfo).port;
      server = https;
    },
    async stop() {
      for (const ws of sockets.values()) ws.terminate();
      sockets.clear();
      await new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    connected: () => sockets.size,
    dispatch(message) {
      const node = message.route.resource.split('/')[1]!;
      const ws = sockets.get(node);
      if (!ws) throw new Error(`node ${node} is not connected`);
      const frame = encodeMessage({
        header: message.header,
        route: { ...message.route, resource: cloudToEdgeResource(message.route.resource) },
        content: message.content,
      });
      waiting.add(message.header.msg_id);
      ws.send(frame);
    },
    pending: () => waiting.size,
    counters: async () => ({ resent: 0, dropped: 0, warnings }),
  };
}

const target = kind === 'cloudhub' ? cloudhubTarget() : peerTarget();

// ---------------------------------------------------------------------------------------------
// The workload: ConfigMaps of ~1 KB, delivered as `update`s with a uid and a resourceVersion.

let resourceVersion = 1000;
const DATA = (() => {
  let text = '';
  while (text.length < 1024) text += `bench-data-${text.length.toString(36)}:`;
  return { 'config.txt': text.slice(0, 1024) };
})();

function uid(object: number): string {
  return `00000000-0000-4000-8000-${String(object).padStart(12, '0')}`;
}

/** The ConfigMap an update carries; one object per change, shared by every node's message. */
function configMap(name: string, objectUid: string, version: string) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'default', uid: objectUid, resourceVersion: version },
    data: DATA,
  };
}

/**
 * One node's update message. Like the edge controller fanning out a Service or Endpoints
 * change, every node's message carries the same content object (the informer's copy).
 */
function update(node: string, content: ReturnType<typeof configMap>): Message {
  return createMessage({
    source: 'edgecontroller',
    group: 'resource',
    operation: Operation.Update,
    resource: `node/${node}/default/configmap/${content.metadata.name}`,
    resourceVersion: content.metadata.resourceVersion,
    content,
  });
}

interface Delivery {
  /** ms spent in the synchronous dispatch loop (building, encoding, queueing, sending). */
  dispatchMs: number;
  /** Minor page faults of the server from the first dispatch to the last ACK (new memory). */
  faults: number;
  /** Server RSS when the last ACK was in (no forced GC). */
  rss: number;
  expected: number;
  acked: number;
  /** ms from just before the first dispatch to each ACK, sorted, rounded to 0.01 ms. */
  latencies: number[];
  /** Messages still waiting for an ACK when the phase ended (0 when all arrived). */
  pending: number;
  counters: Record<string, number>;
}

/** Dispatches `perNode` messages (`build(node, k)`) to every node and waits for every ACK. */
async function deliver(
  perNode: number,
  timeoutMs: number,
  build: (node: string, k: number) => Message,
): Promise<Delivery> {
  const expected = nodes.length * perNode;
  const times = new Float64Array(expected);
  let acked = 0;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  onAck = () => {
    if (acked < expected) times[acked] = performance.now();
    acked++;
    if (acked === expected) finished();
  };
  const before = await target.counters();
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  for (const node of nodes) for (let k = 0; k < perNode; k++) target.dispatch(build(node, k));
  const dispatchMs = performance.now() - t0;
  const timer = setTimeout(finished, timeoutMs);
  await done;
  clearTimeout(timer);
  const faults = process.resourceUsage().minorPageFault - faults0;
  const rss = process.memoryUsage().rss;
  onAck = () => {};
  // Let the hub finish the turn that processed the last ACK before asking for its queue depth.
  await sleep(10);
  const after = await target.counters();
  const counted = Math.min(acked, expected);
  const latencies = Array.from(
    times.subarray(0, counted),
    (at) => Math.round((at - t0) * 100) / 100,
  ).sort((a, b) => a - b);
  return {
    dispatchMs,
    faults,
    rss,
    expected,
    acked,
    latencies,
    pending: target.pending(),
    counters: Object.fromEntries(
      Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]),
    ),
  };
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('start the server with --expose-gc');
  collect();
}

/**
 * Memory after forced collections: collects, waits a quarter second (finalizers of sockets and
 * buffers run, V8 and the allocator give pages back), and again, until RSS moves by less than
 * 256 KB between two readings (at most 12 rounds).
 */
async function mem(): Promise<Record<string, number>> {
  let last = Number.NaN;
  for (let round = 0; round < 12; round++) {
    gc();
    await sleep(250);
    const rss = process.memoryUsage().rss;
    if (Math.abs(rss - last) < 256 * 1024) break;
    last = rss;
  }
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    connected: target.connected(),
  };
}

let burst = 0;

/** How long a delivery phase waits for ACKs: the request's `timeoutMs`, default 120 s. */
function phaseMs(request: Request): number {
  const value = Number(request.timeoutMs);
  return value > 0 ? value : 120_000;
}

await target.start();
serveRequests(
  { url: target.url, kind, nodes: NODES, openFiles: limit },
  {
    mem,
    connected: () => ({ connected: target.connected() }),
    fanout: async (request: Request) => {
      const version = String(++resourceVersion);
      const content = configMap('bench-fanout', uid(0), version);
      // KE_BENCH_FANOUT_PROFILE=<dir>: a CPU profile of the first round alone, for digging.
      const profileDir = process.env.KE_BENCH_FANOUT_PROFILE;
      const profiler = profileDir && version === '1001' ? new Session() : undefined;
      if (profiler) {
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
      }
      const delivery = await deliver(1, phaseMs(request), (node) => update(node, content));
      if (profiler && profileDir) {
        const { profile } = await profiler.post('Profiler.stop');
        writeFileSync(
          `${profileDir}/fanout-${kind}-${process.pid}.cpuprofile`,
          JSON.stringify(profile),
        );
        profiler.disconnect();
      }
      return delivery;
    },
    burst: (request: Request) => {
      const perNode = Number(request.perNode);
      if (!(perNode >= 1)) throw new Error('burst needs perNode >= 1');
      burst++;
      const version = String(++resourceVersion);
      const contents = Array.from({ length: perNode }, (_, k) =>
        configMap(`bench-burst-${k}`, uid(1000 * burst + k + 1), version),
      );
      return deliver(perNode, phaseMs(request), (node, k) => update(node, contents[k]!));
    },
    counters: () => target.counters(),
  },
  () => target.stop(),
);
