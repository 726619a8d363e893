/**
 * Benchmark of `@ke/cloudhub` with N simulated edge nodes, side by side with a bare `ws` + TLS
 * server (the peer: same mTLS, same messages, no cloudhub logic). The server under test runs in
 * a child process (`server.ts`); the edge nodes are raw `ws` connections held by several other
 * child processes (`client.ts`). Only loopback traffic; every phase is bounded in count and in
 * time; the script stops only the children it started, by process group.
 *
 *   npx tsx --conditions=@ke/source benchmarks/cloudhub/run.ts \
 *     [--nodes=1000,10000] [--runs=3] [--clients=4] [--quick] [--cpu-prof=<dir>]
 *
 * Prints one markdown table: per N, the median of the runs for cloudhub and the peer, and the
 * ratio cloudhub / peer; then whether the goals were met. Exits non-zero on any failure.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority } from '@ke/pki';
import { cell, cpuPressureUs, format, median, percentile, ratio } from '../stats';
import { CHUNK_SIZE } from './protocol';

// ---------------------------------------------------------------------------------------------
// Parameters

const args = process.argv.slice(2);
const option = (name: string) =>
  args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const NODE_COUNTS = (option('nodes') ?? (quick ? '200' : '1000,10000'))
  .split(',')
  .map((value) => Number(value.replace(/_/g, '')));
const RUNS = Math.max(1, Number(option('runs')) || (quick ? 1 : 3));
const CLIENTS = Math.max(1, Number(option('clients')) || (quick ? 2 : 4));
/** `--cpu-prof=<dir>`: the server children write V8 CPU profiles there (for digging, not runs). */
const CPU_PROF_DIR = option('cpu-prof');
const KINDS = ['cloudhub', 'peer'] as const;
type Kind = (typeof KINDS)[number];

if (NODE_COUNTS.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000)) {
  console.error('--nodes takes a comma-separated list of integers from 1 to 20,000');
  process.exit(2);
}

/** Handshakes in flight per client process. */
const CONNECT_CONCURRENCY = 16;
/** No phase (connect, one fan-out, the burst) runs longer than this. */
const PHASE_MS = 120_000;
/** Pause before each memory reading, so the server is idle when it is taken. */
const SETTLE_MS = quick ? 500 : 2000;
const FANOUT_ROUNDS = quick ? 2 : 3;
/** Distinct objects per node in the burst, at most 100,000 messages in all. */
const burstPerNode = (nodes: number) => Math.max(1, Math.min(10, Math.floor(100_000 / nodes)));
/** Certificate issuing processes (ECDSA signing is CPU-bound). */
const ISSUERS = Math.max(1, Math.min(2, cpus().length));

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const serverScript = join(here, 'server.ts');
const clientScript = join(here, 'client.ts');
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Children: each in its own process group, with a raised open-file limit

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly ready: Record<string, unknown>;
  request<T>(cmd: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
}

/** Every child started and not yet reaped: what `stopChild` and the exit path may kill. */
const running = new Set<ChildProcess>();

function spawnNode(name: string, script: string, scriptArgs: string[], server: boolean) {
  const nodeArgs = [
    ...(server ? ['--expose-gc'] : []),
    ...(server && CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${resolve(CPU_PROF_DIR)}`] : []),
    '--conditions=@ke/source',
    '--import',
    'tsx',
    script,
    ...scriptArgs,
  ];
  // Root may raise the hard limit; in a container that forbids it, use the hard limit.
  const shell = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"';
  const child = spawn('sh', ['-c', shell, process.execPath, ...nodeArgs], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    console.error(`[${name}] ${line}`);
  });
  return { child, tail };
}

async function startChild(
  name: string,
  script: string,
  scriptArgs: string[],
  server = false,
): Promise<Child> {
  const { child, tail } = spawnNode(name, script, scriptArgs, server);
  const waiting = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (e: Error) => void }
  >();
  let nextId = 1;
  let exited = '';
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<Record<string, unknown>>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    lines.on('line', (line) => {
      let value: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: string };
      try {
        value = JSON.parse(line);
      } catch {
        console.error(`[${name} stdout] ${line}`);
        return;
      }
      if (value.ready) {
        clearTimeout(timer);
        resolvePromise(value as Record<string, unknown>);
        return;
      }
      const pending = waiting.get(value.id ?? -1);
      if (!pending) return;
      waiting.delete(value.id!);
      if (value.ok) pending.resolve(value.result);
      else pending.reject(new Error(`${name}: ${value.error}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      exited = `${name} exited (${signal ?? code}); its last stderr lines:\n  ${tail.join('\n  ')}`;
      reject(new Error(exited));
      for (const pending of waiting.values()) pending.reject(new Error(exited));
      waiting.clear();
    });
  });
  const info = await ready;
  if (info.pid !== child.pid) throw new Error(`${name}: pid ${info.pid} is not child ${child.pid}`);
  return {
    name,
    process: child,
    pid: child.pid!,
    ready: info,
    request<T>(cmd: string, params: Record<string, unknown> = {}, timeoutMs = 30_000) {
      if (exited) return Promise.reject(new Error(exited));
      const id = nextId++;
      return new Promise<T>((resolvePromise, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${name}: "${cmd}" did not answer within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolvePromise(value as T);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.stdin!.write(`${JSON.stringify({ id, cmd, ...params })}\n`);
      });
    },
  };
}

/** Closes the child's stdin (it exits by itself), then SIGTERM and SIGKILL to its group. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  child.stdin?.end();
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  const term = setTimeout(() => signal('SIGTERM'), 5_000);
  const kill = setTimeout(() => signal('SIGKILL'), 15_000);
  await exited;
  clearTimeout(term);
  clearTimeout(kill);
}

function killAll(): void {
  for (const child of running) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Resident set size of a process, in bytes, from /proc/<pid>/status. */
function rss(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

// ---------------------------------------------------------------------------------------------
// Certificates: one CA, one client certificate (own key pair) per node, issued once per
// invocation by ISSUERS child processes in parallel, shared by every run and both servers.

async function issueCertificates(
  dir: string,
  nodes: number,
): Promise<{ ms: number; workers: number }> {
  const ca = await createCertificateAuthority({ commonName: 'cloudhub-bench-ca' });
  writeFileSync(join(dir, 'ca.json'), JSON.stringify(ca), { mode: 0o600 });
  const chunks = Math.ceil(nodes / CHUNK_SIZE);
  const workers = Math.min(ISSUERS, chunks);
  const shares = Array.from({ length: workers }, (_, worker) =>
    Array.from({ length: chunks }, (_, chunk) => chunk).filter((c) => c % workers === worker),
  );
  const t0 = performance.now();
  await Promise.all(
    shares.map(async (share, worker) => {
      const { child } = spawnNode(
        `issuer-${worker}`,
        clientScript,
        ['issue', join(dir, 'ca.json'), dir, String(nodes), share.join(',')],
        false,
      );
      const code = await new Promise<number | null>((resolvePromise) => {
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // gone
          }
        }, 600_000);
        child.once('exit', (exitCode) => {
          clearTimeout(timer);
          resolvePromise(exitCode);
        });
        child.stdout!.resume();
      });
      if (code !== 0) throw new Error(`issuer-${worker} failed (exit ${code})`);
    }),
  );
  return { ms: performance.now() - t0, workers };
}

// ---------------------------------------------------------------------------------------------
// One run: a fresh server child, fresh client children

type Metrics = Record<string, number>;

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  connected: number;
}

interface Delivery {
  dispatchMs: number;
  faults: number;
  rss: number;
  expected: number;
  acked: number;
  latencies: number[];
  pending: number;
  counters: Record<string, number>;
}

interface Connect {
  opened: number;
  failed: number;
  errors: Record<string, number>;
  ms: number;
  handshakeP50: number;
  handshakeP99: number;
}

interface Taken {
  open: number;
  received: number;
  acks: number;
  malformed: number;
  duplicates: number;
  closes: number;
  firstClose: string;
  receipts: number[];
}

/** Anomalies that did not fail the run (resends, unexpected closes): listed under the table. */
const notes = new Map<string, number>();
function note(text: string, count = 1): void {
  notes.set(text, (notes.get(text) ?? 0) + count);
}

function checkDelivery(kind: Kind, phase: string, delivery: Delivery): void {
  if (delivery.acked < delivery.expected || delivery.pending !== 0) {
    throw new Error(
      `${kind} ${phase}: ${delivery.acked} of ${delivery.expected} messages ACKed within ` +
        `${PHASE_MS / 1000} s, ${delivery.pending} still pending`,
    );
  }
  if (delivery.acked > delivery.expected) {
    note(`${kind} ${phase}: ACKs beyond the expected count`, delivery.acked - delivery.expected);
  }
  for (const [key, value] of Object.entries(delivery.counters)) {
    if (value > 0 && key !== 'resent') note(`${kind} ${phase}: ${key}`, value);
  }
}

async function runOnce(kind: Kind, nodes: number, certDir: string): Promise<Metrics> {
  const m: Metrics = {};
  const started: Child[] = [];
  const caFile = join(certDir, 'ca.json');
  try {
    // The clients load their certificates while the server starts; neither is timed.
    const shares = Math.min(CLIENTS, nodes);
    const track = (child: Child) => {
      started.push(child);
      return child;
    };
    const [server, ...clients] = await Promise.all([
      startChild(kind, serverScript, [kind, caFile, String(nodes)], true).then(track),
      ...Array.from({ length: shares }, (_, index) => {
        const from = Math.floor((index * nodes) / shares);
        const to = Math.floor(((index + 1) * nodes) / shares);
        const clientArgs = ['run', caFile, certDir, String(from), String(to)];
        return startChild(`client-${index}`, clientScript, clientArgs).then(track);
      }),
    ]);
    if (!server) throw new Error('no server');
    await sleep(SETTLE_MS);
    const base = await server.request<Memory>('mem');
    m.rssBase = base.rss / MiB;

    const clientsRss = () => clients.reduce((sum, client) => sum + rss(client.pid), 0);
    const clientsCpu = () => clients.reduce((sum, client) => sum + cpuMs(client.pid), 0);
    const clientRss0 = clientsRss();

    // Connect: every client process opens its share, CONNECT_CONCURRENCY handshakes at a time.
    const serverCpu0 = cpuMs(server.pid);
    const connectClientCpu0 = clientsCpu();
    const t0 = performance.now();
    const connects = await Promise.all(
      clients.map((client) =>
        client.request<Connect>(
          'connect',
          { url: server.ready.url, concurrency: CONNECT_CONCURRENCY, timeoutMs: PHASE_MS },
          PHASE_MS + 30_000,
        ),
      ),
    );
    const connectMs = performance.now() - t0;
    m.connectCpu = (100 * (cpuMs(server.pid) - serverCpu0)) / connectMs;
    m.connectClientCpu = (100 * (clientsCpu() - connectClientCpu0)) / connectMs;
    const opened = connects.reduce((sum, c) => sum + c.opened, 0);
    const errors = Object.assign({}, ...connects.map((c) => c.errors)) as Record<string, number>;
    for (const [error, count] of Object.entries(errors)) {
      note(`${kind}: connection attempt failed (${error})`, count);
    }
    if (opened < nodes) {
      throw new Error(
        `${kind}: ${opened} of ${nodes} nodes connected within ${PHASE_MS / 1000} s ` +
          `(errors: ${JSON.stringify(errors)})`,
      );
    }
    m.connectS = connectMs / 1000;
    m.connectRate = nodes / (connectMs / 1000);
    m.handshakeP99 = Math.max(...connects.map((c) => c.handshakeP99));

    await sleep(SETTLE_MS);
    const idle = await server.request<Memory>('mem');
    if (idle.connected !== nodes) {
      throw new Error(`${kind}: the server counts ${idle.connected} of ${nodes} nodes connected`);
    }
    m.rssIdle = idle.rss / MiB;
    m.perNode = (idle.rss - base.rss) / nodes / 1024;
    m.heapPerNode = (idle.heapUsed - base.heapUsed) / nodes / 1024;
    m.externalPerNode = (idle.external - base.external) / nodes / 1024;
    m.clientPerNode = (clientsRss() - clientRss0) / nodes / 1024;

    // Fan-out: one update of one object to every node, FANOUT_ROUNDS times.
    const fan: number[] = [];
    const receipts: number[] = [];
    const dispatch: number[] = [];
    let fanCpuMs = 0;
    let fanClientCpuMs = 0;
    let fanWallMs = 0;
    m.fanResent = 0;
    const laterRounds: number[] = [];
    for (let round = 1; round <= FANOUT_ROUNDS; round++) {
      const cpu0 = cpuMs(server.pid);
      const clientCpu0 = clientsCpu();
      const w0 = performance.now();
      const delivery = await server.request<Delivery>(
        'fanout',
        { timeoutMs: PHASE_MS },
        PHASE_MS + 30_000,
      );
      fanWallMs += performance.now() - w0;
      fanCpuMs += cpuMs(server.pid) - cpu0;
      fanClientCpuMs += clientsCpu() - clientCpu0;
      checkDelivery(kind, 'fan-out', delivery);
      m.fanResent += delivery.counters.resent ?? 0;
      fan.push(...delivery.latencies);
      dispatch.push(delivery.dispatchMs);
      const lastAck = delivery.latencies[delivery.latencies.length - 1] ?? Number.NaN;
      if (round === 1) {
        m.fanFirstMs = lastAck;
        m.fanFirstFaults = delivery.faults / 1000;
        m.rssFirstFanout = delivery.rss / 2 ** 20;
      } else {
        laterRounds.push(lastAck);
      }
      for (const client of clients)
        receipts.push(...(await client.request<Taken>('take')).receipts);
      await sleep(250);
    }
    fan.sort((a, b) => a - b);
    receipts.sort((a, b) => a - b);
    m.fanP50 = percentile(fan, 50);
    m.fanP99 = percentile(fan, 99);
    m.fanMax = fan[fan.length - 1] ?? Number.NaN;
    m.fanDispatch = median(dispatch);
    m.fanLaterMs = median(laterRounds);
    m.receiptP50 = percentile(receipts, 50);
    m.receiptP99 = percentile(receipts, 99);
    m.fanCpu = (100 * fanCpuMs) / fanWallMs;
    m.fanClientCpu = (100 * fanClientCpuMs) / fanWallMs;
    if (receipts.length !== FANOUT_ROUNDS * nodes) {
      note(`${kind}: fan-out receipts seen by the clients ≠ rounds × N`);
    }

    // Burst: burstPerNode(N) distinct objects to every node at once, until all are ACKed.
    const cpu0 = cpuMs(server.pid);
    const clientCpu0 = clientsCpu();
    const w0 = performance.now();
    const burst = await server.request<Delivery>(
      'burst',
      { perNode: burstPerNode(nodes), timeoutMs: PHASE_MS },
      PHASE_MS + 30_000,
    );
    const burstWallMs = performance.now() - w0;
    m.burstCpu = (100 * (cpuMs(server.pid) - cpu0)) / burstWallMs;
    m.burstClientCpu = (100 * (clientsCpu() - clientCpu0)) / burstWallMs;
    checkDelivery(kind, 'burst', burst);
    m.burstResent = burst.counters.resent ?? 0;
    const lastAck = burst.latencies[burst.latencies.length - 1] ?? Number.NaN;
    m.burstRate = burst.expected / (lastAck / 1000);
    m.burstDispatch = burst.dispatchMs;

    await sleep(SETTLE_MS);
    const loaded = await server.request<Memory>('mem');
    m.rssLoaded = loaded.rss / MiB;
    m.heapLoaded = loaded.heapUsed / MiB;
    for (const client of clients) {
      const taken = await client.request<Taken>('take');
      if (taken.closes > 0) note(`${kind}: connections closed by the server (${taken.firstClose})`);
      if (taken.malformed > 0) note(`${kind}: malformed frames at the clients`, taken.malformed);
      if (taken.duplicates > 0) {
        note(
          `${kind}: duplicate messages at the clients (resent before the ACK was read)`,
          taken.duplicates,
        );
      }
    }
    if (loaded.connected !== nodes) {
      note(`${kind}: nodes connected at the end ${loaded.connected} of ${nodes}`);
    }
    for (const client of clients) await client.request('close').catch(() => undefined);
  } finally {
    // Clients first, so the server sees them go; then the server.
    const isClient = (child: Child) => child.name.startsWith('client-');
    await Promise.all(started.filter(isClient).map((child) => stopChild(child.process)));
    for (const child of started.filter((c) => !isClient(c))) await stopChild(child.process);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  key: string;
  label: string;
  digits: number;
  /** No ratio (it means nothing for this row). */
  noRatio?: boolean;
}

const ROWS = (nodes: number): Row[] => [
  { key: 'connectS', label: `connect: all ${fmtInt(nodes)} connected (s)`, digits: 1 },
  { key: 'connectRate', label: 'connect: connections/s', digits: 0 },
  { key: 'handshakeP99', label: 'connect: p99 ms per connection (worst client)', digits: 0 },
  {
    key: 'connectCpu',
    label: 'connect: CPU % of one core, server',
    digits: 0,
    noRatio: true,
  },
  {
    key: 'connectClientCpu',
    label: 'connect: CPU % of one core, all clients',
    digits: 0,
    noRatio: true,
  },
  { key: 'rssBase', label: 'server RSS before any connection (MiB)', digits: 0 },
  { key: 'rssIdle', label: 'server RSS, all connected, idle (MiB)', digits: 0 },
  { key: 'perNode', label: '**server RSS per idle node (KB)**', digits: 1 },
  { key: 'heapPerNode', label: '… of which V8 heap (KB)', digits: 1 },
  { key: 'externalPerNode', label: '… V8 external memory (KB)', digits: 1, noRatio: true },
  { key: 'fanP50', label: 'fan-out: p50 ms, dispatch → ACK at the server', digits: 0 },
  { key: 'fanP99', label: '**fan-out: p99 ms, dispatch → ACK at the server**', digits: 0 },
  { key: 'fanMax', label: 'fan-out: ms until all N ACKed', digits: 0 },
  { key: 'fanDispatch', label: 'fan-out: ms in the dispatch loop', digits: 0 },
  { key: 'fanFirstMs', label: 'fan-out: first round, ms until all N ACKed', digits: 0 },
  { key: 'fanLaterMs', label: 'fan-out: later rounds, ms until all N ACKed', digits: 0 },
  {
    key: 'fanFirstFaults',
    label: 'fan-out: first round, server page faults (thousands)',
    digits: 1,
  },
  { key: 'rssFirstFanout', label: 'server RSS after the first fan-out, no GC (MiB)', digits: 0 },
  { key: 'receiptP50', label: 'fan-out: p50 ms, message created → edge receipt', digits: 0 },
  { key: 'receiptP99', label: 'fan-out: p99 ms, message created → edge receipt', digits: 0 },
  { key: 'fanResent', label: 'fan-out: messages resent (ACK timeout 5 s)', digits: 0 },
  { key: 'fanCpu', label: 'fan-out: CPU % of one core, server', digits: 0, noRatio: true },
  {
    key: 'fanClientCpu',
    label: 'fan-out: CPU % of one core, all clients',
    digits: 0,
    noRatio: true,
  },
  {
    key: 'burstRate',
    label: `burst: ACKs/s (${burstPerNode(nodes)} objects × N at once)`,
    digits: 0,
  },
  { key: 'burstDispatch', label: 'burst: ms in the dispatch loop', digits: 0 },
  { key: 'burstResent', label: 'burst: messages resent (ACK timeout 5 s)', digits: 0 },
  { key: 'burstCpu', label: 'burst: CPU % of one core, server', digits: 0, noRatio: true },
  {
    key: 'burstClientCpu',
    label: 'burst: CPU % of one core, all clients',
    digits: 0,
    noRatio: true,
  },
  { key: 'rssLoaded', label: 'server RSS after the burst, after GC (MiB)', digits: 0 },
  { key: 'heapLoaded', label: 'V8 heap used after the burst, after GC (MiB)', digits: 0 },
  { key: 'clientPerNode', label: 'client RSS per connection, for scale (KB)', digits: 0 },
];

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

async function main(): Promise<void> {
  const started = new Date();
  const pressure0 = cpuPressureUs();
  const wall0 = performance.now();
  const loadBefore = loadavg();
  const certDir = mkdtempSync(join(tmpdir(), 'ke-cloudhub-bench-'));
  const results = new Map<number, Record<Kind, Metrics[]>>();
  let issued: { ms: number; workers: number };
  const maxNodes = Math.max(...NODE_COUNTS);
  try {
    issued = await issueCertificates(certDir, maxNodes);
    console.error(
      `issued ${fmtInt(maxNodes)} client certificates in ${(issued.ms / 1000).toFixed(1)} s ` +
        `(${issued.workers} process${issued.workers === 1 ? '' : 'es'})`,
    );
    for (const nodes of NODE_COUNTS) {
      const byKind: Record<Kind, Metrics[]> = { cloudhub: [], peer: [] };
      results.set(nodes, byKind);
      for (let run = 1; run <= RUNS; run++) {
        // Alternate the order so drift in background load does not favour one side.
        const order: Kind[] = run % 2 ? ['cloudhub', 'peer'] : ['peer', 'cloudhub'];
        for (const kind of order) {
          const t0 = performance.now();
          byKind[kind].push(await runOnce(kind, nodes, certDir));
          const seconds = ((performance.now() - t0) / 1000).toFixed(1);
          console.error(`N=${nodes} run ${run}/${RUNS} ${kind}: ${seconds} s`);
        }
      }
    }
  } finally {
    rmSync(certDir, { recursive: true, force: true });
  }

  const loadAfter = loadavg();
  const pressure1 = cpuPressureUs();
  const wallMs = performance.now() - wall0;
  const stalledPercent =
    pressure0 !== undefined && pressure1 !== undefined
      ? ((100 * (pressure1 - pressure0)) / 1000 / wallMs).toFixed(0)
      : undefined;
  const stalled =
    stalledPercent === undefined
      ? ''
      : `; some task waited for a CPU ${stalledPercent}% of the time (PSI)`;
  const git = (...gitArgs: string[]) => {
    try {
      return execFileSync('git', gitArgs, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'libs/cloudhub/src') !== '';
  const cpu = cpus();
  const lines: string[] = [];
  lines.push('## Cloud hub (`benchmarks/cloudhub`)', '');
  const model = cpu[0]?.model.trim() ?? 'unknown CPU';
  const [before, after] = [loadBefore[0]!.toFixed(2), loadAfter[0]!.toFixed(2)];
  const load = `load average ${before} before, ${after} after`;
  lines.push(
    `Date ${started.toISOString()}; ${cpu.length} cores (${model}), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `${load}${stalled}; ` +
      `commit ${commit}${dirty ? ' with uncommitted changes in libs/cloudhub/src' : ''}; ` +
      `${(wallMs / 60_000).toFixed(1)} min in all.`,
  );
  lines.push(
    `Median of ${RUNS} run${RUNS > 1 ? 's' : ''} per side (min–max in parentheses); a fresh ` +
      `server child and ${CLIENTS} fresh client children per run; ` +
      `${FANOUT_ROUNDS} fan-out rounds per run, percentiles over all their ACKs` +
      `${quick ? '; QUICK MODE (a smoke test)' : ''}. ` +
      `${fmtInt(maxNodes)} client certificates issued in ${(issued.ms / 1000).toFixed(1)} s by ` +
      `${issued.workers} process${issued.workers === 1 ? '' : 'es'} ` +
      `(${(issued.ms / maxNodes).toFixed(1)} ms each, not in the table).`,
  );
  lines.push(
    'Peer: a bare node:https + `ws` server with the same mTLS and identity check that sends ' +
      'each message once and counts the ACKs (no queue, window, resend or ledger), not KubeEdge ' +
      "cloudcore: the floor cloudhub's logic adds to.",
    '',
  );
  lines.push('| Metric | cloudhub | peer (bare ws + TLS) | cloudhub / peer |');
  lines.push('|---|---:|---:|---:|');
  for (const [nodes, byKind] of results) {
    lines.push(`| **${fmtInt(nodes)} nodes** | | | |`);
    for (const row of ROWS(nodes)) {
      const hub = byKind.cloudhub.map((metrics) => metrics[row.key] ?? Number.NaN);
      const peer = byKind.peer.map((metrics) => metrics[row.key] ?? Number.NaN);
      const shown = row.noRatio ? '' : ratio(median(hub), median(peer));
      lines.push(
        `| ${row.label} | ${cell(hub, row.digits)} | ${cell(peer, row.digits)} | ${shown} |`,
      );
    }
  }
  lines.push('');
  if (notes.size > 0) {
    lines.push('Noted during the runs (none failed a run):');
    for (const [text, count] of notes) lines.push(`- ${text}: ${fmtInt(count)}`);
  } else {
    lines.push('Every node connected, every message was ACKed once, nothing was resent.');
  }
  lines.push('', 'Goals (cloudhub, median of the runs):');
  const at10k = results.get(10_000)?.cloudhub;
  if (at10k) {
    const perNode = median(at10k.map((metrics) => metrics.perNode ?? Number.NaN));
    const p99 = median(at10k.map((metrics) => metrics.fanP99 ?? Number.NaN));
    lines.push(`- 10,000 nodes in one process: met (all connected in ${at10k.length} runs)`);
    lines.push(
      `- ≤ 30 KB per idle node: ${perNode <= 30 ? 'met' : 'NOT met'} (${format(perNode, 1)} KB)`,
    );
    lines.push(
      `- fan-out p99 ≤ 2 s at 10,000: ${p99 <= 2000 ? 'met' : 'NOT met'} (${format(p99, 0)} ms)`,
    );
  } else {
    lines.push('- not assessed: the goals are stated at 10,000 nodes, not among --nodes');
  }
  console.log(lines.join('\n'));
}

const onSignal = () => {
  killAll();
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  await main();
} catch (error) {
  console.error(`\nbenchmark failed: ${error instanceof Error ? error.message : String(error)}`);
  killAll();
  process.exit(1);
}
