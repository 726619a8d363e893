/**
 * Propagation from the cloud's API to an edge node's store: starts ke-cloud (embedded API
 * server) and one ke-edge from source, as `test/metadata-reaches-the-right-edge.test.ts` does,
 * creates pods bound to the edge node through the cloud API (HTTPS, the admin kubeconfig's
 * client certificate), and times each pod from the API's 201 to its ADDED event on a watch of
 * the edge's MetaServer. The MetaServer serves the edge store: the event is sent after the
 * store's transaction has committed, so arrival there is arrival in the edge store. A second
 * watch, on the cloud API, splits each latency at the moment the cloud's watchers (the edge
 * controller's informer among them) are sent the event.
 *
 * Phases: 20 warm-up pods; a burst with bounded concurrency; a wait until ke-cloud has written
 * the ObjectSync of every delivered pod (timed: it is slower than delivery); paced pods, one at
 * a time with a pause between them, for the latency of the path alone.
 *
 * Loopback only; free ports; a temporary data directory, removed afterwards; every wait is
 * bounded; only the two processes started here are stopped (SIGTERM to their process group,
 * SIGKILL after 20 s).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadKubeConfig } from '@ke/kube';
import { freePort, startProcess, startSource, type TestProcess } from '@ke/testing';
import Database from 'better-sqlite3';
import { percentile } from '../stats';
import { pod } from './workload';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const cloudMain = join(repoRoot, 'apps/reference-cloud/src/main.ts');
const edgeMain = join(repoRoot, 'apps/reference-edge/src/main.ts');
const NODE = 'bench-edge';
const NAMESPACE = 'bench';
const SYNCS_API = '/apis/reliablesyncs.kubeedge.io/v1alpha1';

export interface PropagationOptions {
  /** Pods created with `concurrency` requests in flight. */
  readonly burst: number;
  readonly concurrency: number;
  /** Pods created one at a time, each waited for at the edge, then `pacedGapMs` of quiet. */
  readonly paced: number;
  readonly pacedGapMs: number;
  /** Bound of each measured phase, in ms (start-up and warm-up not included). */
  readonly deadlineMs: number;
  /** Progress and failures, one line each. */
  readonly log: (line: string) => void;
  /** Write V8 CPU profiles of ke-cloud and ke-edge (`node --cpu-prof`) to this directory. */
  readonly cpuProfileDir?: string;
}

export type Metrics = Record<string, number>;

// ---------------------------------------------------------------------------------------------
// Processes

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();
/** CPU time (user + system) of `pid` so far, in ms, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

async function stop(proc: TestProcess | undefined, log: (line: string) => void): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  try {
    await proc.stop('SIGTERM', 20_000);
  } catch {
    log(`pid ${proc.child.pid} did not stop within 20 s after SIGTERM; sending SIGKILL`);
    try {
      process.kill(-proc.child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    await proc.exited(5_000).catch(() => undefined);
  }
}

const lastLines = (proc: TestProcess) => proc.lines.slice(-20).join('\n');

// ---------------------------------------------------------------------------------------------
// HTTP

interface Reply {
  status: number;
  body: string;
}

type Requester = (path: string, method: string, body?: unknown) => Promise<Reply>;

async function apiClient(kubeconfig: string, concurrency: number) {
  const kc = loadKubeConfig({ file: kubeconfig });
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const base = new URL(kc.getCurrentCluster()!.server);
  const agent = new HttpsAgent({
    keepAlive: true,
    maxSockets: concurrency,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
  });
  const call: Requester = (path, method, body) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolvePromise, reject) => {
      const req = httpsRequest(
        new URL(path, base),
        {
          method,
          agent,
          timeout: 30_000,
          headers: payload
            ? { 'Content-Type': 'application/json', 'Content-Length': payload.length }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolvePromise({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString(),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
  /** A request on its own connection (a watch holds it), with the same credentials. */
  const watchAgent = new HttpsAgent({
    keepAlive: false,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
  });
  const open: Opener = (url, onResponse) =>
    httpsRequest(new URL(url, base), { agent: watchAgent }, onResponse);
  return {
    call,
    open,
    close: () => {
      agent.destroy();
      watchAgent.destroy();
    },
  };
}

type Opener = (url: string, onResponse: (res: IncomingMessage) => void) => ClientRequest;

const plainAgent = new HttpAgent({ keepAlive: false });
/** Plain HTTP (the edge's MetaServer listens on loopback without TLS). */
const openPlain: Opener = (url, onResponse) => httpRequest(url, { agent: plainAgent }, onResponse);

/**
 * A watch of pods in NAMESPACE at `base` (the edge's MetaServer, or the cloud API): the first
 * ADDED time of each pod name.
 */
function watchPods(base: string, open: Opener, what: string, log: (line: string) => void) {
  const seen = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  let failure: Error | undefined;
  let destroy = () => {};
  const ready = new Promise<void>((resolvePromise, reject) => {
    const req = open(
      new URL(`/api/v1/namespaces/${NAMESPACE}/pods?watch=1`, base).toString(),
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`${what} watch answered HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        resolvePromise();
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
              object: { metadata?: { name?: string }; message?: string };
            };
            if (event.type === 'ERROR') {
              log(`${what} watch ERROR event: ${event.object.message ?? ''}`);
              continue;
            }
            const name = event.object.metadata?.name;
            if (event.type !== 'ADDED' || !name || seen.has(name)) continue;
            seen.set(name, now);
            waiters.get(name)?.();
            waiters.delete(name);
          }
        });
        res.on('end', () => {
          failure = new Error(`the ${what} watch ended`);
          log(failure.message);
        });
      },
    );
    req.on('error', (error) => {
      failure = error;
      reject(error);
    });
    req.end();
    destroy = () => req.destroy();
  });
  return {
    seen,
    ready,
    destroy: () => destroy(),
    get failure() {
      return failure;
    },
    /** Resolves when `name` has been seen, or after `ms`. */
    arrival(name: string, ms: number): Promise<boolean> {
      if (seen.has(name)) return Promise.resolve(true);
      return new Promise((resolvePromise) => {
        const timer = setTimeout(() => {
          waiters.delete(name);
          resolvePromise(false);
        }, ms);
        waiters.set(name, () => {
          clearTimeout(timer);
          resolvePromise(true);
        });
      });
    },
  };
}

async function poll(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Run

interface Timing {
  sent: number;
  acked?: number;
}

/** One propagation run with a fresh ke-cloud and ke-edge. */
export async function runPropagation(options: PropagationOptions): Promise<Metrics> {
  const { log } = options;
  const dir = await mkdtemp(join(tmpdir(), 'ke-bench-meta-'));
  const env = { KE_LOG_FORMAT: 'json' };
  let cloud: TestProcess | undefined;
  let edge: TestProcess | undefined;
  let api: Awaited<ReturnType<typeof apiClient>> | undefined;
  let watch: ReturnType<typeof watchPods> | undefined;
  let cloudWatch: ReturnType<typeof watchPods> | undefined;
  const m: Metrics = {};
  let failures = 0;
  const fail = (message: string) => {
    if (failures++ < 5) log(message);
  };
  try {
    const ports = { websocket: await freePort(), https: await freePort() };
    const profileDir = options.cpuProfileDir;
    /** startSource, with `--cpu-prof` when asked. */
    const start = (entry: string, args: string[]) =>
      profileDir
        ? startProcess(
            process.execPath,
            [
              '--cpu-prof',
              `--cpu-prof-dir=${profileDir}`,
              '--conditions=@ke/source',
              '--import',
              'tsx',
              entry,
              ...args,
            ],
            { env: { ...process.env, ...env } },
          )
        : startSource(entry, args, { env });
    cloud = start(cloudMain, [
      '--data-dir',
      join(dir, 'cloud'),
      '--embeddedAPIServer.port',
      '0',
      '--commonConfig.monitorServer.bindAddress',
      '127.0.0.1:0',
      '--modules.cloudHub.websocket.address',
      '127.0.0.1',
      '--modules.cloudHub.websocket.port',
      String(ports.websocket),
      '--modules.cloudHub.https.address',
      '127.0.0.1',
      '--modules.cloudHub.https.port',
      String(ports.https),
    ]);
    const { kubeconfig, url: apiUrl } = JSON.parse(
      await cloud.waitForLine(/embedded API server ready/, 60_000),
    ) as { kubeconfig: string; url: string };
    await cloud.waitForLine(/ke-cloud running/, 60_000);
    const tokenProcess = startSource(cloudMain, [
      'token',
      'create',
      '--data-dir',
      join(dir, 'cloud'),
    ]);
    const tokenExit = await tokenProcess.exited(60_000);
    if (tokenExit !== 0) throw new Error(`token create exited ${tokenExit}`);
    edge = start(edgeMain, [
      '--data-dir',
      join(dir, 'edge'),
      '--node-name',
      NODE,
      '--token',
      tokenProcess.lines.join('').trim(),
      '--modules.edgeHub.websocket.server',
      `127.0.0.1:${ports.websocket}`,
      '--modules.edgeHub.httpServer',
      `https://127.0.0.1:${ports.https}`,
      '--modules.eventBus.mqttServerInternal',
      'tcp://127.0.0.1:0',
      '--modules.metaManager.metaServer.server',
      '127.0.0.1:0',
    ]);
    const ready = JSON.parse(await edge.waitForLine(/metadata store ready/, 60_000)) as {
      database: string;
      metaServer: string;
    };
    await edge.waitForLine(/"msg":"connected to the cloud"/, 60_000);

    api = await apiClient(kubeconfig, options.concurrency);
    const call = api.call;
    await poll('the edge node registered in the cloud', 60_000, async () => {
      return (await call(`/api/v1/nodes/${NODE}`, 'GET')).status === 200;
    });
    const namespace = await call('/api/v1/namespaces', 'POST', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    if (namespace.status !== 201 && namespace.status !== 409) {
      throw new Error(
        `creating namespace ${NAMESPACE}: HTTP ${namespace.status} ${namespace.body}`,
      );
    }
    watch = watchPods(ready.metaServer, openPlain, 'MetaServer', log);
    await watch.ready;
    // The same event at the cloud API, as the edge controller's informer gets it.
    cloudWatch = watchPods(apiUrl, api.open, 'cloud API', log);
    await cloudWatch.ready;
    const podsPath = `/api/v1/namespaces/${NAMESPACE}/pods`;

    /** POSTs one pod; returns the send and 201 times (no `acked` on a failure). */
    const create = async (name: string): Promise<Timing> => {
      const timing: Timing = { sent: performance.now() };
      try {
        const reply = await call(podsPath, 'POST', pod(NAMESPACE, name, 0, NODE));
        if (reply.status === 201) timing.acked = performance.now();
        else fail(`POST ${name}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`);
      } catch (error) {
        fail(`POST ${name}: ${(error as Error).message}`);
      }
      return timing;
    };

    // Warm-up: the whole path once (connections, informers, JIT), not measured.
    for (let i = 0; i < 20; i++) {
      const name = `warm-${i}`;
      await create(name);
      if (!(await watch.arrival(name, 30_000))) throw new Error(`${name} never reached the edge`);
    }

    const deadline = performance.now() + options.deadlineMs;
    const cpu0 = { cloud: cpuMs(cloud.child.pid!), edge: cpuMs(edge.child.pid!) };

    // Burst: `burst` pods with `concurrency` POSTs in flight.
    const timings = new Map<string, Timing>();
    const burstStart = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < options.burst && performance.now() < deadline) {
        const name = `pod-${next++}`;
        timings.set(name, await create(name));
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const postsDone = performance.now();
    await Promise.all(
      [...timings].map(([name, timing]) =>
        timing.acked === undefined
          ? undefined
          : watch!.arrival(name, Math.max(0, deadline - performance.now())),
      ),
    );
    let burstEnd = postsDone;
    for (const name of timings.keys()) burstEnd = Math.max(burstEnd, watch.seen.get(name) ?? 0);
    const cpu1 = { cloud: cpuMs(cloud.child.pid!), edge: cpuMs(edge.child.pid!) };
    const fromAck: number[] = [];
    const fromSend: number[] = [];
    const split = { toCloudWatch: [] as number[], cloudWatchToEdge: [] as number[] };
    let missing = 0;
    for (const [name, timing] of timings) {
      const arrived = watch.seen.get(name);
      if (timing.acked === undefined) continue;
      if (arrived === undefined) {
        missing++;
        continue;
      }
      fromAck.push(arrived - timing.acked);
      fromSend.push(arrived - timing.sent);
      const atCloud = cloudWatch.seen.get(name);
      if (atCloud !== undefined) {
        split.toCloudWatch.push(atCloud - timing.acked);
        split.cloudWatchToEdge.push(arrived - atCloud);
      }
    }
    for (const list of [fromAck, fromSend, split.toCloudWatch, split.cloudWatchToEdge]) {
      list.sort((a, b) => a - b);
    }
    m.burstCloudWatchP50 = percentile(split.toCloudWatch, 50);
    m.burstCloudWatchP99 = percentile(split.toCloudWatch, 99);
    m.burstHopP50 = percentile(split.cloudWatchToEdge, 50);
    m.burstHopP99 = percentile(split.cloudWatchToEdge, 99);
    const acked = [...timings.values()].filter((t) => t.acked !== undefined).length;
    m.burstCreated = acked;
    m.burstArrived = fromAck.length;
    m.burstMissing = missing;
    m.burstP50 = percentile(fromAck, 50);
    m.burstP99 = percentile(fromAck, 99);
    m.burstMax = percentile(fromAck, 100);
    m.burstSendP50 = percentile(fromSend, 50);
    m.burstSendP99 = percentile(fromSend, 99);
    m.burstPostSeconds = (postsDone - burstStart) / 1000;
    m.burstSeconds = (burstEnd - burstStart) / 1000;
    m.burstApiRate = acked / m.burstPostSeconds;
    m.burstEdgeRate = fromAck.length / m.burstSeconds;
    const burstMs = burstEnd - burstStart;
    m.cpuCloud = (100 * (cpu1.cloud - cpu0.cloud)) / burstMs;
    m.cpuEdge = (100 * (cpu1.edge - cpu0.edge)) / burstMs;

    // ke-cloud records each delivery the edge acknowledged as an ObjectSync (three API calls
    // to itself per new object): wait until it has caught up with the burst, so the paced phase
    // measures the path alone.
    const syncsPath = `${SYNCS_API}/namespaces/${NAMESPACE}/objectsyncs`;
    const expectedSyncs = 20 + fromAck.length;
    let syncs = 0;
    const syncDeadline = performance.now() + options.deadlineMs;
    while (performance.now() < syncDeadline) {
      const reply = await call(syncsPath, 'GET').catch(() => undefined);
      if (reply?.status === 200) {
        const items = (
          JSON.parse(reply.body) as { items: { status?: { objectResourceVersion?: string } }[] }
        ).items;
        syncs = items.filter((item) => item.status?.objectResourceVersion).length;
        if (syncs >= expectedSyncs) break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const cpu2 = cpuMs(cloud.child.pid!);
    m.cpuCloudSync = (100 * (cpu2 - cpu1.cloud)) / (performance.now() - burstEnd);
    m.syncSeconds = (performance.now() - burstStart) / 1000;
    m.syncRate = Math.max(0, syncs - 20) / m.syncSeconds;
    if (syncs < expectedSyncs) {
      fail(`only ${syncs} of ${expectedSyncs} ObjectSyncs written within the bound`);
    }

    // Paced: one pod at a time, each waited for at the edge, then a pause for ke-cloud's
    // ObjectSync writes of that pod: no queueing anywhere.
    const pacedDeadline = performance.now() + options.deadlineMs;
    const paced: number[] = [];
    const pacedCloud: number[] = [];
    const pacedHop: number[] = [];
    for (let i = 0; i < options.paced && performance.now() < pacedDeadline; i++) {
      const name = `paced-${i}`;
      await new Promise((r) => setTimeout(r, options.pacedGapMs));
      const timing = await create(name);
      if (timing.acked === undefined) continue;
      if (!(await watch.arrival(name, Math.max(0, pacedDeadline - performance.now())))) {
        fail(`${name} did not reach the edge before the deadline`);
        break;
      }
      const arrived = watch.seen.get(name)!;
      paced.push(arrived - timing.acked);
      const atCloud = cloudWatch.seen.get(name);
      if (atCloud !== undefined) {
        pacedCloud.push(atCloud - timing.acked);
        pacedHop.push(arrived - atCloud);
      }
    }
    for (const list of [paced, pacedCloud, pacedHop]) list.sort((a, b) => a - b);
    m.pacedCount = paced.length;
    m.pacedP50 = percentile(paced, 50);
    m.pacedP99 = percentile(paced, 99);
    m.pacedCloudWatchP50 = percentile(pacedCloud, 50);
    m.pacedHopP50 = percentile(pacedHop, 50);
    m.pacedHopP99 = percentile(pacedHop, 99);

    // The edge's SQLite file agrees with what its MetaServer announced.
    const db = new Database(ready.database, { readonly: true, fileMustExist: true });
    try {
      m.edgeStorePods = db
        .prepare<[string, string], number>(
          'SELECT count(*) FROM objects WHERE resource = ? AND namespace = ?',
        )
        .pluck()
        .get('core/pods', NAMESPACE)!;
    } finally {
      db.close();
    }
    if (watch.failure) fail(`watch: ${watch.failure.message}`);
    if (cloudWatch.failure) fail(`cloud watch: ${cloudWatch.failure.message}`);
    m.failures = failures;
    return m;
  } catch (error) {
    const context = [cloud, edge]
      .filter((p): p is TestProcess => p !== undefined)
      .map((p) => `--- pid ${p.child.pid} last lines:\n${lastLines(p)}`)
      .join('\n');
    throw new Error(`${(error as Error).message}\n${context}`);
  } finally {
    watch?.destroy();
    cloudWatch?.destroy();
    api?.close();
    await stop(edge, log);
    await stop(cloud, log);
    await rm(dir, { recursive: true, force: true });
  }
}
