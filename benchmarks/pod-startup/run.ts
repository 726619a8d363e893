/**
 * Pod start-up latency (issue #6): 20 pods created at once through the cloud API, each timed from
 * its create call to the first watch event in the cloud showing it Running, with ke-edge on its
 * simulated CRI runtime and on containerd, under the same conditions: a private containerd test
 * bed (`startContainerdTestbed`: network namespace, bridge CNI, local registry with busybox), and
 * ke-cloud, ke-edge and the measuring script (`measure.ts`) all started from source inside that
 * namespace.
 *
 *   npx tsx --conditions=@ke/source benchmarks/pod-startup/run.ts [--runs=3] [--pods=20] [--quick]
 *
 * Per runtime: fresh ke-cloud and ke-edge, one warm-up run that is not counted (on containerd it
 * includes the image pull; reported on its own row), then `--runs` measured runs. Between runs
 * every pod is deleted and the edge has removed its sandbox and containers. Prints a markdown
 * table: medians of the runs (min–max in parentheses) and the ratio containerd / simulated.
 *
 * Traffic stays inside the namespace the script creates and removes; every wait is bounded; only
 * the processes started here are stopped, by their process group; the test bed goes at the end,
 * also on failure and on SIGINT/SIGTERM.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  type ContainerdTestbed,
  startContainerdTestbed,
  startSource,
  type TestProcess,
} from '@ke/testing';
import { cell, cpuPressureUs, median, percentile, ratio } from '../stats';
import type { PodTimes, RunOutput } from './measure';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const numberArg = (name: string) => {
  const found = args.find((arg) => arg.startsWith(`--${name}=`));
  return found ? Math.max(1, Number(found.slice(name.length + 3)) || 1) : undefined;
};
const RUNS = numberArg('runs') ?? (quick ? 1 : 3);
const PODS = numberArg('pods') ?? (quick ? 5 : 20);
/** Bound of one measuring child (its own waits are bounded at 120 s). */
const CHILD_MS = 180_000;
/** Bound of start-up steps and of the edge's clean-up between runs. */
const STEP_MS = 90_000;

const NODE = 'bench-edge';
const NAMESPACE = 'bench';
const RUNTIMES = ['simulated', 'containerd'] as const;
type Runtime = (typeof RUNTIMES)[number];

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const cloudMain = join(repoRoot, 'apps/reference-cloud/src/main.ts');
const edgeMain = join(repoRoot, 'apps/reference-edge/src/main.ts');
const measureScript = join(here, 'measure.ts');
const env = { KE_LOG_FORMAT: 'json' };

const log = (line: string) => console.error(line);

// ---------------------------------------------------------------------------------------------
// Processes

/** Everything started here and still running, for the signal handler. */
const live = new Set<TestProcess>();
/** Data directories of ke-cloud and ke-edge not yet removed, for the signal handler. */
const dataDirs = new Set<string>();

function track(proc: TestProcess): TestProcess {
  live.add(proc);
  proc.child.once('exit', () => live.delete(proc));
  return proc;
}

async function stop(proc: TestProcess | undefined): Promise<void> {
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

const lastLines = (proc: TestProcess, n = 15) => proc.lines.slice(-n).join('\n');

/** Runs `measure.ts` inside the namespace and returns its JSON line. */
async function measure<T>(testbed: ContainerdTestbed, measureArgs: string[]): Promise<T> {
  const child = track(startSource(measureScript, measureArgs, { netns: testbed.netns, env }));
  let code: number | NodeJS.Signals;
  try {
    code = await child.exited(CHILD_MS);
  } catch (error) {
    await stop(child);
    throw error;
  }
  const line = [...child.lines].reverse().find((l) => l.startsWith('{'));
  if (code !== 0 || !line) {
    throw new Error(`measure.ts ${measureArgs[0]} exited ${code}:\n${lastLines(child)}`);
  }
  return JSON.parse(line) as T;
}

// ---------------------------------------------------------------------------------------------
// One runtime: fresh ke-cloud and ke-edge, a warm-up, then the measured runs

type Metrics = Record<string, number>;

interface EdgeLog {
  level?: number;
  msg?: string;
  pod?: string;
  time?: number;
}

/** Per pod, the edge's log time (ms, Date.now) of the first line with `msg`, from `from` on. */
function edgeTimes(edge: TestProcess, from: number, msg: string): Map<string, number> {
  const times = new Map<string, number>();
  for (const line of edge.lines.slice(from)) {
    if (!line.includes(msg)) continue;
    try {
      const entry = JSON.parse(line) as EdgeLog;
      if (entry.msg !== msg || !entry.pod || entry.time === undefined) continue;
      const name = entry.pod.slice(entry.pod.indexOf('/') + 1);
      if (!times.has(name)) times.set(name, entry.time);
    } catch {
      // not a log line
    }
  }
  return times;
}

/** ke-edge's warnings and errors (pino level 40 and up) from line `from` on, by message. */
function edgeWarnings(edge: TestProcess, from: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of edge.lines.slice(from)) {
    if (!/"level":[4-6]0/.test(line)) continue;
    try {
      const entry = JSON.parse(line) as EdgeLog;
      if ((entry.level ?? 0) < 40) continue;
      const key = entry.msg ?? line.slice(0, 120);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }
  return counts;
}

function summarize(output: RunOutput, edge: TestProcess, from: number): Metrics {
  const sandboxes = edgeTimes(edge, from, 'pod sandbox started');
  const containers = edgeTimes(edge, from, 'container started');
  // Edge log times are Date.now(); the pods' times are timeOrigin + performance.now().
  const onOurClock = (t: number | undefined) =>
    t === undefined ? Number.NaN : t - output.clockOffsetMs;
  const lists = {
    toRunning: [] as number[],
    toReady: [] as number[],
    toCreated: [] as number[],
    toEdgeStatus: [] as number[],
    toSandbox: [] as number[],
    sandboxToContainer: [] as number[],
    containerToRunning: [] as number[],
  };
  const push = (list: number[], value: number) => {
    if (Number.isFinite(value)) list.push(value);
  };
  let lastRunning = Number.NaN;
  let notRunning = 0;
  for (const pod of output.pods as PodTimes[]) {
    const running = pod.running ?? Number.NaN;
    if (!Number.isFinite(running)) notRunning++;
    else lastRunning = Number.isFinite(lastRunning) ? Math.max(lastRunning, running) : running;
    const sandbox = onOurClock(sandboxes.get(pod.name));
    const container = onOurClock(containers.get(pod.name));
    push(lists.toRunning, running - pod.sent);
    push(lists.toReady, (pod.ready ?? Number.NaN) - pod.sent);
    push(lists.toCreated, (pod.created ?? Number.NaN) - pod.sent);
    push(lists.toEdgeStatus, (pod.edgeStatus ?? Number.NaN) - pod.sent);
    push(lists.toSandbox, sandbox - pod.sent);
    push(lists.sandboxToContainer, container - sandbox);
    push(lists.containerToRunning, running - container);
  }
  for (const list of Object.values(lists)) list.sort((a, b) => a - b);
  const firstSent = Math.min(...output.pods.map((p) => p.sent));
  return {
    p50: percentile(lists.toRunning, 50),
    p99: percentile(lists.toRunning, 99),
    max: percentile(lists.toRunning, 100),
    allRunning: notRunning === 0 ? lastRunning - firstSent : Number.NaN,
    readyP50: percentile(lists.toReady, 50),
    createdP50: percentile(lists.toCreated, 50),
    edgeStatusP50: percentile(lists.toEdgeStatus, 50),
    sandboxP50: percentile(lists.toSandbox, 50),
    sandboxMax: percentile(lists.toSandbox, 100),
    sandboxToContainerP50: percentile(lists.sandboxToContainer, 50),
    containerToRunningP50: percentile(lists.containerToRunning, 50),
    notRunning,
    edgeWarnings: [...edgeWarnings(edge, from).values()].reduce((sum, n) => sum + n, 0),
    machineBusy: output.cpu.machineBusyPct,
    pressure: output.cpu.pressurePct,
    cpuCloud: output.cpu.processes['ke-cloud'] ?? Number.NaN,
    cpuEdge: output.cpu.processes['ke-edge'] ?? Number.NaN,
    cpuContainerd: output.cpu.processes.containerd ?? Number.NaN,
    cpuRuntimeTree: output.cpu.runtimeTree,
    // Busy CPU not accounted to ke-cloud, ke-edge or the test bed: the measuring client, the
    // kernel's own threads and whatever else runs on the machine.
    cpuElse:
      output.cpu.machineBusyPct * cpus().length -
      (output.cpu.processes['ke-cloud'] ?? 0) -
      (output.cpu.processes['ke-edge'] ?? 0) -
      output.cpu.runtimeTree,
  };
}

interface Session {
  runtimeVersion: string;
  warmup?: Metrics;
  runs: Metrics[];
  errors: string[];
}

/** Deletes the run's pods and waits until the edge has removed them (and containerd is empty). */
async function cleanUp(
  testbed: ContainerdTestbed,
  kubeconfig: string,
  edge: TestProcess,
  from: number,
  names: string[],
  runtime: Runtime,
): Promise<void> {
  await measure(testbed, ['clean', kubeconfig, NAMESPACE]);
  const deadline = performance.now() + STEP_MS;
  for (;;) {
    const removed = edgeTimes(edge, from, 'pod stopped and removed');
    let empty = true;
    if (runtime === 'containerd') {
      const left = await testbed.ctr(['-n', 'k8s.io', 'containers', 'list', '-q']);
      empty = left.code === 0 && left.stdout.trim() === '';
    }
    if (empty && names.every((name) => removed.has(name))) return;
    if (performance.now() > deadline) {
      throw new Error(`the edge had not removed the pods of the run within ${STEP_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function session(testbed: ContainerdTestbed, runtime: Runtime): Promise<Session> {
  const dir = await mkdtemp(join(tmpdir(), 'ke-bench-pod-startup-'));
  dataDirs.add(dir);
  let cloud: TestProcess | undefined;
  let edge: TestProcess | undefined;
  const result: Session = { runtimeVersion: '', runs: [], errors: [] };
  try {
    // The namespace is private: fixed cloudhub ports cannot collide with anything.
    const ports = { websocket: '20000', https: '20002' };
    cloud = track(
      startSource(
        cloudMain,
        [
          '--data-dir',
          join(dir, 'cloud'),
          '--embeddedAPIServer.port',
          '0',
          '--commonConfig.monitorServer.bindAddress',
          '127.0.0.1:0',
          '--modules.cloudHub.websocket.address',
          '127.0.0.1',
          '--modules.cloudHub.websocket.port',
          ports.websocket,
          '--modules.cloudHub.https.address',
          '127.0.0.1',
          '--modules.cloudHub.https.port',
          ports.https,
        ],
        { env, netns: testbed.netns },
      ),
    );
    const { kubeconfig } = JSON.parse(
      await cloud.waitForLine(/embedded API server ready/, STEP_MS),
    ) as { kubeconfig: string };
    await cloud.waitForLine(/ke-cloud running/, STEP_MS);
    const token = track(
      startSource(cloudMain, ['token', 'create', '--data-dir', join(dir, 'cloud')]),
    );
    const tokenExit = await token.exited(STEP_MS);
    if (tokenExit !== 0) throw new Error(`token create exited ${tokenExit}`);
    edge = track(
      startSource(
        edgeMain,
        [
          '--data-dir',
          join(dir, 'edge'),
          '--node-name',
          NODE,
          '--token',
          token.lines.join('').trim(),
          ...(runtime === 'containerd' ? ['--cri-endpoint', testbed.criEndpoint] : []),
          '--modules.edgeHub.websocket.server',
          `127.0.0.1:${ports.websocket}`,
          '--modules.edgeHub.httpServer',
          `https://127.0.0.1:${ports.https}`,
          '--modules.eventBus.mqttServerInternal',
          'tcp://127.0.0.1:0',
          '--modules.metaManager.metaServer.server',
          '127.0.0.1:0',
        ],
        { env, netns: testbed.netns },
      ),
    );
    await edge.waitForLine(/"msg":"edged running"/, STEP_MS);
    await edge.waitForLine(/"msg":"connected to the cloud"/, STEP_MS);
    const prepared = await measure<{ runtime: string }>(testbed, [
      'prepare',
      kubeconfig,
      NODE,
      NAMESPACE,
    ]);
    result.runtimeVersion = prepared.runtime;
    log(`${runtime}: node ${NODE} Ready, runtime ${prepared.runtime}`);

    for (let run = 0; run <= RUNS; run++) {
      const label = run === 0 ? 'warm-up' : `run ${run}/${RUNS}`;
      const prefix = run === 0 ? 'warm' : `r${run}`;
      const from = edge.lines.length;
      const t0 = performance.now();
      try {
        const output = await measure<RunOutput>(testbed, [
          'run',
          kubeconfig,
          NODE,
          NAMESPACE,
          testbed.images.busybox,
          String(PODS),
          prefix,
          JSON.stringify({
            pids: {
              'ke-cloud': cloud.child.pid,
              'ke-edge': edge.child.pid,
              containerd: testbed.containerd.child.pid,
            },
            runtimeRoot: testbed.root,
          }),
        ]);
        const metrics = summarize(output, edge, from);
        for (const [message, n] of edgeWarnings(edge, from)) {
          log(`${runtime} ${label}: ke-edge warned ${n}× "${message}"`);
        }
        if (run === 0) result.warmup = metrics;
        else result.runs.push(metrics);
        const failed = output.pods.filter((p) => p.error).map((p) => `${p.name}: ${p.error}`);
        if (metrics.notRunning! > 0 || output.watchFailure) {
          const why = [
            `${metrics.notRunning} of ${PODS} pods not seen Running`,
            ...(output.watchFailure ? [`watch: ${output.watchFailure}`] : []),
            ...failed.slice(0, 3),
          ].join('; ');
          result.errors.push(`${runtime} ${label}: ${why}`);
          log(`${runtime} ${label}: ${why}\n--- ke-edge last lines:\n${lastLines(edge)}`);
        }
        log(
          `${runtime} ${label}: p50 ${metrics.p50!.toFixed(0)} ms, max ${metrics.max!.toFixed(0)} ms, ` +
            `all Running after ${metrics.allRunning!.toFixed(0)} ms`,
        );
      } catch (error) {
        result.errors.push(`${runtime} ${label}: ${(error as Error).message.split('\n')[0]}`);
        log(`${runtime} ${label} failed: ${(error as Error).message}`);
      }
      const names = Array.from({ length: PODS }, (_, i) => `${prefix}-${i}`);
      await cleanUp(testbed, kubeconfig, edge, from, names, runtime);
      log(`${runtime} ${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s with clean-up`);
    }
    return result;
  } catch (error) {
    const context = [cloud, edge]
      .filter((p): p is TestProcess => p !== undefined)
      .map((p) => `--- pid ${p.child.pid} last lines:\n${lastLines(p)}`)
      .join('\n');
    throw new Error(`${runtime}: ${(error as Error).message}\n${context}`);
  } finally {
    await stop(edge);
    await stop(cloud);
    await rm(dir, { recursive: true, force: true });
    dataDirs.delete(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function table(sessions: Map<Runtime, Session>): string[] {
  const rows: Array<{ key: string; label: string; warmup?: boolean; noRatio?: boolean }> = [
    { key: 'p50', label: 'p50 ms, create → Running seen in the cloud' },
    { key: 'p99', label: `p99 ms, same (nearest rank: the slowest of ${PODS})` },
    { key: 'max', label: 'max ms, same' },
    { key: 'allRunning', label: `all ${PODS} Running after (ms), first create → last Running` },
    { key: 'readyP50', label: 'p50 ms, create → Ready condition True seen in the cloud' },
    { key: 'createdP50', label: 'split: p50 ms, create call → API reply (201)' },
    {
      key: 'edgeStatusP50',
      label: "split: p50 ms, create → the edge's first status seen in the cloud",
    },
    { key: 'sandboxP50', label: 'split: p50 ms, create → sandbox started (edge log)' },
    { key: 'sandboxMax', label: 'split: max ms, create → sandbox started (edge log)' },
    {
      key: 'sandboxToContainerP50',
      label: 'split: p50 ms, sandbox started → container started (edge log)',
    },
    {
      key: 'containerToRunningP50',
      label: 'split: p50 ms, container started → Running seen in the cloud',
    },
    {
      key: 'edgeWarnings',
      label: 'ke-edge warnings and errors logged while the pods started (sync retries etc.)',
      noRatio: true,
    },
    {
      key: 'machineBusy',
      label: `machine CPU busy, first create → last Running, % of ${cpus().length} cores`,
      noRatio: true,
    },
    { key: 'pressure', label: 'same window: some task waited for a CPU, % (PSI)', noRatio: true },
    { key: 'cpuCloud', label: 'same window: ke-cloud CPU, % of one core', noRatio: true },
    { key: 'cpuEdge', label: 'same window: ke-edge CPU, % of one core', noRatio: true },
    {
      key: 'cpuContainerd',
      label: 'same window: containerd daemon alone, % of one core',
      noRatio: true,
    },
    {
      key: 'cpuRuntimeTree',
      label:
        'same window: containerd with its shims, runc, CNI plugins and the pods (and the idle registry), % of one core',
      noRatio: true,
    },
    {
      key: 'cpuElse',
      label:
        'same window: all other busy CPU (measuring client, kernel threads, other work on the machine), % of one core',
      noRatio: true,
    },
    {
      key: 'p50',
      label: 'first run, not counted above (containerd: image pull): p50 ms',
      warmup: true,
    },
    { key: 'max', label: 'first run: max ms', warmup: true },
    { key: 'allRunning', label: `first run: all ${PODS} Running after (ms)`, warmup: true },
  ];
  const lines = [
    `| ${PODS} pods created at once, one edge node | simulated runtime | containerd | containerd / simulated |`,
    '|---|---:|---:|---:|',
  ];
  const values = (runtime: Runtime, key: string, warmup?: boolean) => {
    const s = sessions.get(runtime);
    if (!s) return [];
    return warmup ? [s.warmup?.[key] ?? Number.NaN] : s.runs.map((r) => r[key] ?? Number.NaN);
  };
  for (const row of rows) {
    const simulated = values('simulated', row.key, row.warmup);
    const containerd = values('containerd', row.key, row.warmup);
    lines.push(
      `| ${row.label} | ${cell(simulated, 0)} | ${cell(containerd, 0)} | ` +
        `${row.noRatio ? '' : ratio(median(containerd), median(simulated))} |`,
    );
  }
  return lines;
}

function git(...gitArgs: string[]): string {
  try {
    return execFileSync('git', gitArgs, { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function tool(file: string, toolArgs: string[]): string {
  try {
    return execFileSync(file, toolArgs, { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  let testbed: ContainerdTestbed | undefined;
  let interrupted = false;
  const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping ${live.size} process group(s) and removing the test bed`);
    for (const proc of live) {
      try {
        process.kill(-proc.child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    // Asynchronously: the event loop keeps turning, so the tsx CLI (which SIGKILLs a child
    // that has not acknowledged a signal within ~60 ms) sees the acknowledgement.
    void (testbed?.stop() ?? Promise.resolve())
      .catch((error: Error) => log(`removing the test bed: ${error.message}`))
      .finally(() => {
        for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));

  const started = new Date();
  const wall0 = performance.now();
  const loadBefore = loadavg();
  const pressure0 = cpuPressureUs();
  const sessions = new Map<Runtime, Session>();
  const errors: string[] = [];
  try {
    testbed = await startContainerdTestbed();
    // The test bed's own SIGINT/SIGTERM handlers tear it down synchronously, blocking the event
    // loop for seconds; under the tsx CLI the child is then SIGKILLed half-way (tsx waits ~60 ms
    // for the signal's acknowledgement). They go; onSignal stops the test bed asynchronously,
    // and the test bed's exit hook stays as the last resort.
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)!.has(listener)) process.off(signal, listener);
      }
    }
    log(`test bed ${testbed.name} (${testbed.snapshotter}, pods in ${testbed.podSubnet})`);
    for (const runtime of RUNTIMES) {
      if (interrupted) break;
      const t0 = performance.now();
      try {
        const s = await session(testbed, runtime);
        sessions.set(runtime, s);
        errors.push(...s.errors);
      } catch (error) {
        errors.push((error as Error).message.split('\n')[0] ?? '');
        log((error as Error).message);
      }
      log(`${runtime}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const proc of live) await stop(proc);
    await testbed?.stop();
  }
  if (interrupted) return; // onSignal exits once the test bed is gone
  const loadAfter = loadavg();
  const pressure1 = cpuPressureUs();
  const wallMs = performance.now() - wall0;
  const stalled =
    pressure0 !== undefined && pressure1 !== undefined
      ? `; some task waited for a CPU ${((100 * (pressure1 - pressure0)) / 1000 / wallMs).toFixed(0)}% of the time (PSI)`
      : '';
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'libs', 'apps', 'benchmarks/pod-startup') !== '';
  const cpu = cpus();
  const versions = RUNTIMES.map((r) => `${r}: \`${sessions.get(r)?.runtimeVersion || '?'}\``);
  const lines = [
    '## Pod start-up (`benchmarks/pod-startup`)',
    '',
    `Date ${started.toISOString()}; ` +
      `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after${stalled}; ` +
      `commit ${commit}${dirty ? ' with uncommitted changes' : ''}; ` +
      `${(wallMs / 1000).toFixed(0)} s.`,
    `Runtimes as the node reports them: ${versions.join(', ')} ` +
      `(${tool('runc', ['--version'])}; snapshotter ${testbed?.snapshotter ?? '?'}).`,
    `Median of ${RUNS} run${RUNS > 1 ? 's' : ''} per runtime (min–max in parentheses), after one ` +
      `warm-up run per runtime${quick ? '; QUICK MODE (1 run, 5 pods)' : ''}.`,
    '',
    ...table(sessions),
  ];
  if (errors.length > 0) lines.push('', ...errors.map((e) => `Problem: ${e}`));
  console.log(lines.join('\n'));
  if (errors.length > 0) process.exitCode = 1;
}

await main();
