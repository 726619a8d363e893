/**
 * Benchmark of `@ke/apiserver` over HTTP, for each store backend: a SQLite file (the real
 * configuration) and `:memory:`. The server runs in a child process (`server.ts`) so the load
 * generator does not share its event loop; only loopback traffic; every loop is bounded in count
 * and in time; the script stops only the child it started.
 *
 *   npx tsx --conditions=@ke/source benchmarks/apiserver/run.ts [--runs=3] [--quick]
 *
 * Prints one markdown table: the median of the runs for each backend, and file / memory.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, type IncomingMessage, request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { cell, cpuPressureUs, format, median, percentile, ratio } from '../stats';

// ---------------------------------------------------------------------------------------------
// Parameters

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runsArg = args.find((arg) => arg.startsWith('--runs='));
const RUNS = runsArg ? Math.max(1, Number(runsArg.slice('--runs='.length)) || 3) : 3;
const scale = quick ? 0.1 : 1;

const CONCURRENCY = 16;
const LARGE_LIST = Math.round(10_000 * scale);
const SMALL_LIST = Math.round(1_000 * scale);
const GETS = Math.round(5_000 * scale);
const UPDATES = Math.round(5_000 * scale);
const PAGE_LIMIT = 500;
const WATCHERS = 100;
const WATCH_OBJECTS = CONCURRENCY;
const WATCH_UPDATES = Math.round(1_000 * scale);
const PACED_UPDATES = Math.round(200 * scale);
/** Lists of each kind per run: at most this many, and at most LIST_SECONDS of them. */
const LISTS_SMALL = 50;
const LISTS_LARGE = 10;
const LIST_SECONDS = 8;
/** No phase runs longer than this; what finished by then is what gets reported. */
const PHASE_SECONDS = 60;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const serverScript = join(here, 'server.ts');

// ---------------------------------------------------------------------------------------------
// HTTP client (node:http, keep-alive)

interface Reply {
  status: number;
  body: Buffer;
}

let base = new URL('http://127.0.0.1');

function call(agent: Agent, method: string, path: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolvePromise, reject) => {
    const req = request(
      new URL(path, base),
      {
        method,
        agent,
        headers: payload
          ? { 'Content-Type': 'application/json', 'Content-Length': payload.length }
          : {},
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Failures seen during a run, by phase: reported under the table, never hidden. */
const errors = new Map<string, { count: number; first: string }>();
function recordError(phase: string, message: string): void {
  const entry = errors.get(phase);
  if (entry) entry.count++;
  else errors.set(phase, { count: 1, first: message.slice(0, 300) });
}

async function expect(
  phase: string,
  reply: Promise<Reply>,
  status: number,
): Promise<Reply | undefined> {
  try {
    const result = await reply;
    if (result.status !== status) {
      recordError(phase, `HTTP ${result.status}: ${result.body.toString().slice(0, 300)}`);
      return undefined;
    }
    return result;
  } catch (error) {
    recordError(phase, (error as Error).message);
    return undefined;
  }
}

/** Runs `task(i)` for i in [0, count) with `concurrency` in flight, until done or the deadline. */
async function pool(
  count: number,
  concurrency: number,
  task: (index: number, worker: number) => Promise<void>,
  seconds = PHASE_SECONDS,
): Promise<{ done: number; ms: number }> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let next = 0;
  let done = 0;
  const worker = async (id: number) => {
    while (next < count && performance.now() < deadline) {
      const index = next++;
      await task(index, id);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, id) => worker(id)));
  return { done, ms: performance.now() - start };
}

// ---------------------------------------------------------------------------------------------
// Server child

interface Child {
  process: ChildProcess;
  pid: number;
  url: string;
}

async function startServer(target: string): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--conditions=@ke/source', '--import', 'tsx', serverScript, target],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<{ url: string; pid: number }>((resolvePromise, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n') && line) {
        clearTimeout(timer);
        try {
          resolvePromise(JSON.parse(line) as { url: string; pid: number });
        } catch (error) {
          reject(error);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening`));
    });
  });
  if (ready.pid !== child.pid) throw new Error(`server pid ${ready.pid} is not child ${child.pid}`);
  child.stdout!.resume();
  return { process: child, pid: ready.pid, url: ready.url };
}

async function stopServer(child: Child): Promise<void> {
  const proc = child.process;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolvePromise) => proc.once('exit', () => resolvePromise()));
  proc.stdin?.end();
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of the child, in MiB, from /proc/<pid>/status. */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) the child has used, in ms, from /proc/<pid>/stat. */
function serverCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Runs `phase` and stores the server's and this process's CPU use during it, in % of one core. */
async function withCpu<T>(
  m: Metrics,
  key: string,
  pid: number,
  phase: () => Promise<T>,
): Promise<T> {
  const server0 = serverCpuMs(pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await phase();
  const ms = performance.now() - t0;
  const client = process.cpuUsage(client0);
  m[`${key}CpuServer`] = (100 * (serverCpuMs(pid) - server0)) / ms;
  m[`${key}CpuClient`] = (100 * ((client.user + client.system) / 1000)) / ms;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Workload

interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data: Record<string, string>;
}

/** About 1 KB of data, different per object and per version. */
function payload(name: string, version: number): Record<string, string> {
  const seed = `${name}:${version}:`;
  let text = '';
  while (text.length < 1024) text += seed + text.length.toString(36);
  return { 'config.txt': text.slice(0, 1024) };
}

function configMap(name: string, version = 0): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: payload(name, version) };
}

const cmPath = (ns: string, name?: string) =>
  `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;

/** Deterministic pseudo-random indices, so every run does the same gets. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

type Metrics = Record<string, number>;

async function createNamespace(agent: Agent, name: string): Promise<void> {
  await expect(
    'create namespace',
    call(agent, 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    }),
    201,
  );
}

/** Creates `count` config maps in `ns` with CONCURRENCY in flight; returns what the server stored. */
async function createMany(
  agent: Agent,
  ns: string,
  count: number,
  phase: string,
): Promise<{ objects: ConfigMap[]; done: number; ms: number }> {
  const objects: ConfigMap[] = new Array(count);
  const { done, ms } = await pool(count, CONCURRENCY, async (i) => {
    const name = `cm-${i}`;
    const reply = await expect(phase, call(agent, 'POST', cmPath(ns), configMap(name)), 201);
    if (reply) objects[i] = JSON.parse(reply.body.toString()) as ConfigMap;
  });
  return { objects, done, ms };
}

/** Full lists of `ns`, one at a time: lists/s and the median latency of one full list. */
async function listLoop(
  agent: Agent,
  ns: string,
  expected: number,
  maxLists: number,
  paged: boolean,
  phase: string,
): Promise<{ perSecond: number; latencyMs: number }> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + LIST_SECONDS * 1000;
  for (let i = 0; i < maxLists && (i === 0 || performance.now() < deadline); i++) {
    const t0 = performance.now();
    let items = 0;
    let ok = true;
    if (paged) {
      let token: string | undefined;
      for (let page = 0; page < 1000; page++) {
        const query = `?limit=${PAGE_LIMIT}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
        const reply = await expect(phase, call(agent, 'GET', cmPath(ns) + query), 200);
        if (!reply) {
          ok = false;
          break;
        }
        const list = JSON.parse(reply.body.toString()) as {
          items: unknown[];
          metadata: { continue?: string };
        };
        items += list.items.length;
        token = list.metadata.continue;
        if (!token) break;
      }
    } else {
      const reply = await expect(phase, call(agent, 'GET', cmPath(ns)), 200);
      if (!reply) ok = false;
      // Count the items of the first list only: parsing 10k items is client work, not server.
      else if (i === 0)
        items = (JSON.parse(reply.body.toString()) as { items: unknown[] }).items.length;
      else items = expected;
    }
    const t1 = performance.now();
    if (ok && items !== expected) recordError(phase, `listed ${items} items, expected ${expected}`);
    if (ok) latencies.push(t1 - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    perSecond: latencies.length / seconds,
    latencyMs: median(latencies),
  };
}

interface Watcher {
  request: ReturnType<typeof request>;
  /** [resourceVersion, performance.now() at receipt] for every event. */
  received: Array<[string, number]>;
}

function openWatcher(agent: Agent, path: string): Promise<Watcher> {
  return new Promise((resolvePromise, reject) => {
    const watcher: Watcher = { request: undefined as never, received: [] };
    const req = request(new URL(path, base), { method: 'GET', agent }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        reject(new Error(`watch answered HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const now = performance.now();
        pending += chunk;
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          newline = pending.indexOf('\n');
          if (!line) continue;
          const event = JSON.parse(line) as {
            type: string;
            object: { metadata?: { resourceVersion?: string }; message?: string };
          };
          if (event.type === 'ERROR') {
            recordError('watch', `ERROR event: ${event.object.message ?? ''}`);
          } else if (event.type !== 'BOOKMARK') {
            watcher.received.push([event.object.metadata?.resourceVersion ?? '', now]);
          }
        }
      });
      res.on('error', () => {});
      // The server flushes the headers once the watch is registered: from now on nothing is missed.
      resolvePromise(watcher);
    });
    watcher.request = req;
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    req.end();
  });
}

/**
 * Updates the watched objects `count` times with `concurrency` in flight, and waits until every
 * watcher has every event (bounded). Returns events/s over all watchers and delivery latencies.
 */
async function fanOut(
  agent: Agent,
  watchers: Watcher[],
  objects: ConfigMap[],
  count: number,
  concurrency: number,
  phase: string,
): Promise<{ eventsPerSecond: number; fromAck: number[]; fromSend: number[]; missing: number }> {
  for (const watcher of watchers) watcher.received.length = 0;
  const sent = new Map<string, number>();
  const acked = new Map<string, number>();
  const start = performance.now();
  let version = 1;
  let acknowledged = 0;
  await pool(count, concurrency, async (_, worker) => {
    // Each worker owns one object, so concurrent updates never conflict.
    const slot = worker % objects.length;
    const current = objects[slot]!;
    const body = { ...current, data: payload(current.metadata.name, version++) };
    const t0 = performance.now();
    const reply = await expect(
      phase,
      call(agent, 'PUT', cmPath('bench-watch', current.metadata.name), body),
      200,
    );
    const t1 = performance.now();
    if (!reply) return;
    const stored = JSON.parse(reply.body.toString()) as ConfigMap;
    objects[slot] = stored;
    const rv = stored.metadata.resourceVersion!;
    sent.set(rv, t0);
    acked.set(rv, t1);
    acknowledged++;
  });
  const expected = acknowledged * watchers.length;
  const total = () => watchers.reduce((sum, watcher) => sum + watcher.received.length, 0);
  const deadline = performance.now() + PHASE_SECONDS * 1000;
  while (total() < expected && performance.now() < deadline) {
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 5));
  }
  let last = start;
  const fromAck: number[] = [];
  const fromSend: number[] = [];
  let delivered = 0;
  for (const watcher of watchers) {
    for (const [rv, at] of watcher.received) {
      const ack = acked.get(rv);
      const send = sent.get(rv);
      if (ack === undefined || send === undefined) continue;
      delivered++;
      last = Math.max(last, at);
      fromAck.push(at - ack);
      fromSend.push(at - send);
    }
  }
  if (delivered < expected) {
    recordError(phase, `${expected - delivered} of ${expected} events not delivered in time`);
  }
  fromAck.sort((a, b) => a - b);
  fromSend.sort((a, b) => a - b);
  return {
    eventsPerSecond: delivered / ((last - start) / 1000),
    fromAck,
    fromSend,
    missing: expected - delivered,
  };
}

async function runOnce(backend: 'file' | 'memory'): Promise<Metrics> {
  const dir = backend === 'file' ? mkdtempSync(join(tmpdir(), 'ke-apiserver-bench-')) : undefined;
  const child = await startServer(dir ? join(dir, 'apiserver.db') : ':memory:');
  base = new URL(child.url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const watchAgent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const m: Metrics = {};
  const watchers: Watcher[] = [];
  try {
    await expect('healthz', call(agent, 'GET', '/healthz'), 200);
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 500));
    m.rssIdle = rssMiB(child.pid);

    for (const ns of ['bench-large', 'bench-small', 'bench-watch'])
      await createNamespace(agent, ns);

    // create/s: LARGE_LIST config maps of ~1 KB each.
    const large = await withCpu(m, 'create', child.pid, () =>
      createMany(agent, 'bench-large', LARGE_LIST, 'create'),
    );
    m.create = large.done / (large.ms / 1000);
    m.rssLarge = rssMiB(child.pid);
    await createMany(agent, 'bench-small', SMALL_LIST, 'create (small list)');

    // get/s: random objects of the large namespace.
    const random = lcg(42);
    const gets = await withCpu(m, 'get', child.pid, () =>
      pool(GETS, CONCURRENCY, async () => {
        const name = `cm-${Math.floor(random() * LARGE_LIST)}`;
        await expect('get', call(agent, 'GET', cmPath('bench-large', name)), 200);
      }),
    );
    m.get = gets.done / (gets.ms / 1000);

    // update/s: PUT with the current resourceVersion, each object once (no conflicts).
    const updates = await withCpu(m, 'update', child.pid, () =>
      pool(UPDATES, CONCURRENCY, async (i) => {
        const current = large.objects[i % LARGE_LIST];
        if (!current) return;
        const body = { ...current, data: payload(current.metadata.name, 1) };
        const reply = await expect(
          'update',
          call(agent, 'PUT', cmPath('bench-large', current.metadata.name), body),
          200,
        );
        if (reply) large.objects[i % LARGE_LIST] = JSON.parse(reply.body.toString()) as ConfigMap;
      }),
    );
    m.update = updates.done / (updates.ms / 1000);

    // Lists, one at a time: full, then paged.
    const small = await listLoop(agent, 'bench-small', SMALL_LIST, LISTS_SMALL, false, 'list 1k');
    m.listSmall = small.perSecond;
    m.listSmallMs = small.latencyMs;
    const big = await withCpu(m, 'list', child.pid, () =>
      listLoop(agent, 'bench-large', LARGE_LIST, LISTS_LARGE, false, 'list 10k'),
    );
    m.listLarge = big.perSecond;
    m.listLargeMs = big.latencyMs;
    const smallPaged = await listLoop(agent, 'bench-small', SMALL_LIST, LISTS_SMALL, true, 'paged');
    m.pagedSmall = smallPaged.perSecond;
    m.pagedSmallMs = smallPaged.latencyMs;
    const bigPaged = await listLoop(agent, 'bench-large', LARGE_LIST, LISTS_LARGE, true, 'paged');
    m.pagedLarge = bigPaged.perSecond;
    m.pagedLargeMs = bigPaged.latencyMs;

    // Watch fan-out: WATCHERS HTTP watches on the same resource, then updates.
    const watched = (await createMany(agent, 'bench-watch', WATCH_OBJECTS, 'create (watch)'))
      .objects;
    const listed = await expect('watch list', call(agent, 'GET', cmPath('bench-watch')), 200);
    const rv = listed
      ? (JSON.parse(listed.body.toString()) as { metadata: { resourceVersion: string } }).metadata
          .resourceVersion
      : '0';
    const watchPath = `${cmPath('bench-watch')}?watch=true&resourceVersion=${rv}&timeoutSeconds=300`;
    for (let i = 0; i < WATCHERS; i++) watchers.push(await openWatcher(watchAgent, watchPath));

    const burst = await withCpu(m, 'watch', child.pid, () =>
      fanOut(agent, watchers, watched, WATCH_UPDATES, CONCURRENCY, 'watch burst'),
    );
    m.watchEvents = burst.eventsPerSecond;
    m.watchAckP50 = percentile(burst.fromAck, 50);
    m.watchAckP99 = percentile(burst.fromAck, 99);
    m.watchSendP50 = percentile(burst.fromSend, 50);
    m.watchSendP99 = percentile(burst.fromSend, 99);
    m.rssWatch = rssMiB(child.pid);

    const paced = await fanOut(agent, watchers, watched, PACED_UPDATES, 1, 'watch paced');
    m.pacedAckP50 = percentile(paced.fromAck, 50);
    m.pacedAckP99 = percentile(paced.fromAck, 99);
    m.pacedSendP50 = percentile(paced.fromSend, 50);
    m.pacedSendP99 = percentile(paced.fromSend, 99);
    m.pacedBeforeAck =
      (100 * paced.fromAck.filter((latency) => latency < 0).length) /
      Math.max(1, paced.fromAck.length);
    m.burstBeforeAck =
      (100 * burst.fromAck.filter((latency) => latency < 0).length) /
      Math.max(1, burst.fromAck.length);
  } finally {
    for (const watcher of watchers) watcher.request.destroy();
    agent.destroy();
    watchAgent.destroy();
    await stopServer(child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  key: string;
  label: string;
  digits: number;
  /** Show `<key>Server / <key>Client` medians instead of one value with its range. */
  pair?: boolean;
  /** No file / memory ratio (it means nothing for this row). */
  noRatio?: boolean;
}

const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
const ROWS: Row[] = [
  { key: 'create', label: `create/s (ConfigMap ~1 KB, ${CONCURRENCY} in flight)`, digits: 0 },
  { key: 'get', label: `get/s (${CONCURRENCY} in flight)`, digits: 0 },
  { key: 'update', label: `update/s (PUT, ${CONCURRENCY} in flight)`, digits: 0 },
  { key: 'listSmall', label: `list ${k(SMALL_LIST)}: lists/s (one at a time)`, digits: 1 },
  { key: 'listSmallMs', label: `list ${k(SMALL_LIST)}: ms per full list`, digits: 1 },
  { key: 'listLarge', label: `list ${k(LARGE_LIST)}: lists/s`, digits: 2 },
  { key: 'listLargeMs', label: `list ${k(LARGE_LIST)}: ms per full list`, digits: 0 },
  {
    key: 'pagedSmall',
    label: `list ${k(SMALL_LIST)} paged (limit=${PAGE_LIMIT}): lists/s`,
    digits: 1,
  },
  { key: 'pagedSmallMs', label: `list ${k(SMALL_LIST)} paged: ms per full list`, digits: 1 },
  {
    key: 'pagedLarge',
    label: `list ${k(LARGE_LIST)} paged (limit=${PAGE_LIMIT}): lists/s`,
    digits: 2,
  },
  { key: 'pagedLargeMs', label: `list ${k(LARGE_LIST)} paged: ms per full list`, digits: 0 },
  {
    key: 'watchEvents',
    label: `watch fan-out: events/s delivered (${WATCHERS} watchers, ${k(WATCH_UPDATES)} updates, ${CONCURRENCY} in flight)`,
    digits: 0,
  },
  { key: 'watchAckP50', label: 'watch burst: p50 ms, write ack → watcher', digits: 1 },
  { key: 'watchAckP99', label: 'watch burst: p99 ms, write ack → watcher', digits: 1 },
  { key: 'watchSendP50', label: 'watch burst: p50 ms, write sent → watcher', digits: 1 },
  { key: 'watchSendP99', label: 'watch burst: p99 ms, write sent → watcher', digits: 1 },
  {
    key: 'burstBeforeAck',
    label: 'watch burst: % of events seen before the ack',
    digits: 0,
    noRatio: true,
  },
  {
    key: 'pacedAckP50',
    label: `watch paced (1 in flight): p50 ms, write ack → watcher`,
    digits: 2,
  },
  { key: 'pacedAckP99', label: 'watch paced: p99 ms, write ack → watcher', digits: 2 },
  { key: 'pacedSendP50', label: 'watch paced: p50 ms, write sent → watcher', digits: 2 },
  { key: 'pacedSendP99', label: 'watch paced: p99 ms, write sent → watcher', digits: 2 },
  {
    key: 'pacedBeforeAck',
    label: 'watch paced: % of events seen before the ack',
    digits: 0,
    noRatio: true,
  },
  { key: 'createCpu', label: 'CPU % of one core, server / client: create', digits: 0, pair: true },
  { key: 'getCpu', label: 'CPU % of one core, server / client: get', digits: 0, pair: true },
  { key: 'updateCpu', label: 'CPU % of one core, server / client: update', digits: 0, pair: true },
  {
    key: 'listCpu',
    label: `CPU % of one core, server / client: list ${k(LARGE_LIST)}`,
    digits: 0,
    pair: true,
  },
  {
    key: 'watchCpu',
    label: 'CPU % of one core, server / client: watch burst',
    digits: 0,
    pair: true,
  },
  { key: 'rssIdle', label: 'server RSS idle (MiB)', digits: 0 },
  { key: 'rssLarge', label: `server RSS after ${k(LARGE_LIST)} objects (MiB)`, digits: 0 },
  {
    key: 'rssWatch',
    label: `server RSS with ${WATCHERS} watchers, after the burst (MiB)`,
    digits: 0,
  },
];

async function main(): Promise<void> {
  const started = new Date();
  const pressure0 = cpuPressureUs();
  const wall0 = performance.now();
  const loadBefore = loadavg();
  const results: Record<'file' | 'memory', Metrics[]> = { file: [], memory: [] };
  for (let run = 1; run <= RUNS; run++) {
    // Alternate the order so drift in background load does not favour one backend.
    const order: Array<'file' | 'memory'> = run % 2 ? ['file', 'memory'] : ['memory', 'file'];
    for (const backend of order) {
      const t0 = performance.now();
      results[backend].push(await runOnce(backend));
      console.error(
        `run ${run}/${RUNS} ${backend}: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
  }
  const loadAfter = loadavg();
  const pressure1 = cpuPressureUs();
  const stalled =
    pressure0 !== undefined && pressure1 !== undefined
      ? `; some task waited for a CPU ${((100 * (pressure1 - pressure0)) / 1000 / (performance.now() - wall0)).toFixed(0)}% of the time (PSI)`
      : '';
  const git = (...gitArgs: string[]) => {
    try {
      return execFileSync('git', gitArgs, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'libs/apiserver') !== '';
  const cpu = cpus();
  const lines: string[] = [];
  lines.push('## API server (`benchmarks/apiserver`)', '');
  lines.push(
    `Date ${started.toISOString()}; ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after${stalled}; ` +
      `commit ${commit}${dirty ? ' with uncommitted changes in libs/apiserver' : ''}.`,
  );
  lines.push(
    `Median of ${RUNS} runs per backend (min–max in parentheses), fresh server child per run${quick ? '; QUICK MODE (one tenth of the counts)' : ''}.`,
  );
  lines.push(
    'No real kube-apiserver is available on this machine, so there is no peer column: the table ' +
      'compares the two store backends of @ke/apiserver, SQLite file (the real configuration) and ' +
      ':memory:.',
    '',
  );
  lines.push('| Metric | SQLite file | :memory: | file / memory |');
  lines.push('|---|---:|---:|---:|');
  for (const row of ROWS) {
    if (row.pair) {
      const pair = (runs: Metrics[]) =>
        ['Server', 'Client']
          .map((side) =>
            format(median(runs.map((metrics) => metrics[row.key + side] ?? Number.NaN)), 0),
          )
          .join(' / ');
      lines.push(`| ${row.label} | ${pair(results.file)} | ${pair(results.memory)} | |`);
      continue;
    }
    const file = results.file.map((metrics) => metrics[row.key] ?? Number.NaN);
    const memory = results.memory.map((metrics) => metrics[row.key] ?? Number.NaN);
    lines.push(
      `| ${row.label} | ${cell(file, row.digits)} | ${cell(memory, row.digits)} | ${row.noRatio ? '' : ratio(median(file), median(memory))} |`,
    );
  }
  if (errors.size > 0) {
    lines.push('', 'Errors during the runs:');
    for (const [phase, { count, first }] of errors) {
      lines.push(`- ${phase}: ${count} (first: ${first})`);
    }
  } else {
    lines.push('', 'No request failed and every watcher received every event.');
  }
  console.log(lines.join('\n'));
}

await main();
