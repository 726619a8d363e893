/**
 * The measuring side of the pod start-up benchmark. It runs inside the test bed's network
 * namespace, where ke-cloud's API listens (`run.ts` starts it there with `startSource`), talks to
 * the API with `@kubernetes/client-node` through ke-cloud's admin kubeconfig, and prints one JSON
 * line on stdout.
 *
 *   measure.ts prepare <kubeconfig> <node> <namespace>
 *     waits until the node is Ready in the cloud; creates the namespace
 *   measure.ts run <kubeconfig> <node> <namespace> <image> <count> <prefix> [<watched>]
 *     watches the namespace's pods, creates `count` pods at once, and records per pod when the
 *     create call was made, when it returned, and when the watch first showed the edge's status,
 *     phase Running and the Ready condition True; from the first create until every pod is
 *     Running, the machine's CPU use and pressure, the CPU time of the processes named in
 *     `<watched>` (JSON, `{"pids": {"ke-edge": 123}, "runtimeRoot": "/tmp/ke-ctrd-1-1"}`) and
 *     of every process whose command line names a path under `runtimeRoot`, with descendants
 *   measure.ts clean <kubeconfig> <namespace>
 *     deletes every pod of the namespace and waits until the API lists none
 *
 * Times are `performance.timeOrigin + performance.now()` in ms; `clockOffsetMs` is Date.now()
 * minus that, to place the edge's log times (pino's Date.now()) on the same axis.
 * Every wait is bounded (WAIT_MS); the process exits non-zero on failure.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { cpuPressureUs } from '../stats';

/** Bound of every wait in this script. */
const WAIT_MS = 120_000;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One pod's timeline, ms on the `now()` clock; absent when it did not happen in time. */
export interface PodTimes {
  name: string;
  /** Just before the create call. */
  sent: number;
  /** The create call returned (201). */
  created?: number;
  error?: string;
  /** First watch event carrying a status from the edge (`status.hostIP` set). */
  edgeStatus?: number;
  /** First watch event with `status.phase === 'Running'`. */
  running?: number;
  /** First watch event with the Ready condition True. */
  ready?: number;
}

/** CPU use from the first create call until every pod was Running (or the bound). */
export interface CpuUse {
  wallMs: number;
  /** Busy time of all CPUs (not idle, not iowait), % of all cores. */
  machineBusyPct: number;
  /** Share of the time some task waited for a CPU (PSI), %; NaN without PSI. */
  pressurePct: number;
  /** User + system time of each named process, % of one core. */
  processes: Record<string, number>;
  /**
   * User + system time of the processes under `runtimeRoot` (the test bed's containerd, its
   * shims, the registry), their descendants (the pods' processes) and the children they waited
   * for (runc, CNI plugins), % of one core.
   */
  runtimeTree: number;
}

export interface Watched {
  pids?: Record<string, number>;
  runtimeRoot?: string;
}

export interface RunOutput {
  pods: PodTimes[];
  cpu: CpuUse;
  /** Date.now() − (timeOrigin + performance.now()), ms. */
  clockOffsetMs: number;
  watchFailure?: string;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Busy and total jiffies of all CPUs, from the first line of /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
  const values = fields.slice(0, 8).map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  return { busy: total - values[3]! - values[4]!, total };
}

/**
 * User + system CPU time of `pid` in ms (with `children`, also that of the children it has
 * waited for); NaN when it is gone.
 */
function processCpuMs(pid: number | string, children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const own = fields[11]! + fields[12]!;
    return ((children ? own + fields[13]! + fields[14]! : own) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU ms, with waited-for children, of every process whose command line names `root` or a path
 * under it (containerd, its shims, the registry) and of their descendants (the pods' processes,
 * whose `runc init` time before the exec is theirs).
 */
function treeCpuMs(root: string | undefined): Map<string, number> {
  const times = new Map<string, number>();
  if (!root) return times;
  const parents = new Map<string, string>();
  const inTree = new Set<string>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parents.set(pid, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!);
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.some((arg) => arg === root || arg.startsWith(`${root}/`))) inTree.add(pid);
    } catch {
      // exited meanwhile
    }
  }
  for (const pid of parents.keys()) {
    const chain: string[] = [];
    let current: string | undefined = pid;
    while (current && current !== '0' && current !== '1' && !inTree.has(current)) {
      chain.push(current);
      current = parents.get(current);
    }
    if (current && inTree.has(current)) for (const member of chain) inTree.add(member);
  }
  for (const pid of inTree) {
    const ms = processCpuMs(pid, true);
    if (Number.isFinite(ms)) times.set(pid, ms);
  }
  return times;
}

function cpuSampler({ pids = {}, runtimeRoot }: Watched) {
  const t0 = now();
  const machine0 = machineJiffies();
  const pressure0 = cpuPressureUs();
  const process0 = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)]),
  );
  const tree0 = treeCpuMs(runtimeRoot);
  return (): CpuUse => {
    const wallMs = now() - t0;
    const machine1 = machineJiffies();
    const pressure1 = cpuPressureUs();
    const processes: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) {
      processes[name] = (100 * (processCpuMs(pid) - process0[name]!)) / wallMs;
    }
    // Processes that started in the window count from zero; those that ended are lost (the
    // shims and containerd outlive the window; runc and CNI plugins end in their parents').
    let treeMs = 0;
    for (const [pid, ms] of treeCpuMs(runtimeRoot)) treeMs += ms - (tree0.get(pid) ?? 0);
    return {
      wallMs,
      machineBusyPct: (100 * (machine1.busy - machine0.busy)) / (machine1.total - machine0.total),
      pressurePct:
        pressure0 !== undefined && pressure1 !== undefined
          ? (100 * (pressure1 - pressure0)) / 1000 / wallMs
          : Number.NaN,
      processes,
      runtimeTree: runtimeRoot ? (100 * treeMs) / wallMs : Number.NaN,
    };
  };
}

function client(kubeconfig: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api) };
}

function statusCode(error: unknown): number | undefined {
  const e = error as { code?: number; statusCode?: number; response?: { statusCode?: number } };
  return e.code ?? e.statusCode ?? e.response?.statusCode;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = now() + WAIT_MS;
  let last: unknown;
  while (now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  const why = last instanceof Error ? ` (last error: ${last.message})` : '';
  throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}${why}`);
}

async function prepare(kubeconfig: string, node: string, namespace: string) {
  const { core } = client(kubeconfig);
  const runtime = await until(`node ${node} Ready in the cloud`, async () => {
    const found = await core.readNode({ name: node });
    const ready = found.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' ? found.status?.nodeInfo?.containerRuntimeVersion : undefined;
  });
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  } catch (error) {
    if (statusCode(error) !== 409) throw error;
  }
  return { runtime };
}

function podManifest(name: string, namespace: string, node: string, image: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'pod-startup-bench' } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 0,
      containers: [
        { name: 'sleep', image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] },
      ],
    },
  };
}

async function run(
  kubeconfig: string,
  node: string,
  namespace: string,
  image: string,
  count: number,
  prefix: string,
  watched: Watched,
): Promise<RunOutput> {
  const { kc, core } = client(kubeconfig);
  const times = new Map<string, PodTimes>();
  let watchFailure: string | undefined;
  /** Set before the watch is aborted at the end, so the abort is not reported as a failure. */
  let finished = false;
  let resolveAll!: () => void;
  const allRunning = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const checkDone = () => {
    if (times.size === count && [...times.values()].every((t) => t.running !== undefined)) {
      resolveAll();
    }
  };
  const controller = await new Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    {},
    (_type: string, pod: V1Pod) => {
      const at = now();
      const entry = times.get(pod.metadata?.name ?? '');
      if (!entry) return;
      const status = pod.status;
      if (entry.edgeStatus === undefined && status?.hostIP) entry.edgeStatus = at;
      if (entry.running === undefined && status?.phase === 'Running') entry.running = at;
      const ready = status?.conditions?.find((c) => c.type === 'Ready');
      if (entry.ready === undefined && ready?.status === 'True') entry.ready = at;
      checkDone();
    },
    (error: unknown) => {
      if (error && !finished) watchFailure = (error as Error).message ?? String(error);
      resolveAll();
    },
  );
  if (watchFailure) throw new Error(`the watch failed: ${watchFailure}`);
  const clockOffsetMs = Date.now() - now();

  // Entries first, so an event that beats its create call's reply is not lost.
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const name of names) times.set(name, { name, sent: Number.NaN });
  const sampleCpu = cpuSampler(watched);
  await Promise.all(
    names.map(async (name) => {
      const entry = times.get(name)!;
      const body = podManifest(name, namespace, node, image);
      entry.sent = now();
      try {
        await core.createNamespacedPod({ namespace, body });
        entry.created = now();
      } catch (error) {
        entry.error = (error as Error).message.slice(0, 300);
        entry.running = Number.NaN; // never: do not wait for it
      }
    }),
  );
  checkDone();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    allRunning,
    new Promise((resolve) => {
      timer = setTimeout(resolve, WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  const cpu = sampleCpu();
  const failure = watchFailure;
  finished = true;
  controller.abort();
  return {
    pods: [...times.values()],
    cpu,
    clockOffsetMs,
    ...(failure ? { watchFailure: failure } : {}),
  };
}

async function clean(kubeconfig: string, namespace: string) {
  const { core } = client(kubeconfig);
  const t0 = now();
  await core.deleteCollectionNamespacedPod({ namespace });
  await until('the API to list no pods', async () => {
    const list = await core.listNamespacedPod({ namespace });
    return list.items.length === 0 ? true : undefined;
  });
  return { deletedAfterMs: now() - t0 };
}

const [mode, ...rest] = process.argv.slice(2);
let output: unknown;
if (mode === 'prepare' && rest.length === 3) {
  output = await prepare(rest[0]!, rest[1]!, rest[2]!);
} else if (mode === 'run' && (rest.length === 6 || rest.length === 7)) {
  const watched = JSON.parse(rest[6] ?? '{}') as Watched;
  output = await run(rest[0]!, rest[1]!, rest[2]!, rest[3]!, Number(rest[4]), rest[5]!, watched);
} else if (mode === 'clean' && rest.length === 2) {
  output = await clean(rest[0]!, rest[1]!);
} else {
  console.error('usage: measure.ts prepare|run|clean <args> (see the comment at the top)');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(output)}\n`);
// The client's keep-alive sockets would hold the process open.
process.exit(0);
