/**
 * Benchmark of one `ke-mapper-modbus` process (issue #7): N simulated Modbus TCP devices × 2
 * holding-register properties, collected and reported every second, with the mapper's CPU, its
 * memory, and the end-to-end report latency (a register changes on the device → the first
 * ReportDeviceStatus carrying the new value arrives at edgecore's DMI socket).
 *
 *   npx tsx --conditions=@ke/source benchmarks/mapper/run.ts [--runs=3] [--quick]
 *   KE_BENCH_MAPPER_DEVICES=100 KE_BENCH_MAPPER_SECONDS=30 (the defaults)
 *
 * Each run measures N devices and 10 devices, each with a fresh mapper process, fresh devices
 * and a fresh DMI server. There is no peer: KubeEdge's Go Modbus mapper cannot be fetched here.
 * Prints one markdown table: medians of the runs (min–max in parentheses).
 * Loopback and a Unix socket in a temp dir only; every loop bounded in count and time; stops
 * only the processes it started, by pid.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  createDeviceManagerServer,
  type Device,
  type DeviceModel,
  type DmiInput,
  type DmiServer,
  packConfigData,
} from '@ke/dmi';
import { createModbusTestServer, type ModbusTestServer } from '@ke/mapper-modbus';
import { cell, cpuPressureUs, format, median, percentile } from '../stats';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runsArg = args.find((arg) => arg.startsWith('--runs='));
const RUNS = runsArg ? Math.max(1, Number(runsArg.slice('--runs='.length)) || 1) : quick ? 1 : 3;

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name}=${raw}: expected a number from ${min} to ${max}`);
  }
  return Math.floor(value);
}

const DEVICES = envNumber('KE_BENCH_MAPPER_DEVICES', 100, 1, 1_000);
const WINDOW_S = envNumber('KE_BENCH_MAPPER_SECONDS', quick ? 5 : 30, 1, 600);
/** The scaling row: the same measurement with this many devices. */
const SMALL = 10;
const SIZES = [...new Set([DEVICES, SMALL])];
const PROPERTIES = 2;
const COLLECT_MS = 1_000;
const REPORT_MS = 1_000;
/** One probe (a new value written into a random device's register) every this many ms. */
const PROBE_EVERY_MS = 200;
/** Probes still on their way when the window ends get this long to arrive. */
const DRAIN_MS = 5_000;
/** After the last property's first report, before the window opens. */
const SETTLE_MS = 3_000;
/** Bounds: mapper start to every property reported once; SIGTERM to exit. */
const WARMUP_MS = 90_000;
const STOP_MS = 15_000;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const mapperCli = join(repoRoot, 'apps/reference-mappers/src/modbus.ts');
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

const log = (line: string) => console.error(line);

// ---------------------------------------------------------------------------------------------
// /proc

/** utime + stime of one process in clock ticks, and its parent pid; undefined once it is gone. */
function procTicks(pid: number): { ticks: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** Every descendant of `root` now (children, their children, ...), at most 1,000. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = procTicks(Number(entry));
    if (info) parents.set(Number(entry), info.ppid);
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0 && found.length < 1_000) {
    const parent = frontier.pop()!;
    for (const [pid, ppid] of parents) {
      if (ppid === parent && !found.includes(pid)) {
        found.push(pid);
        frontier.push(pid);
      }
    }
  }
  return found;
}

function statusKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Busy and total jiffies of the whole machine. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

// ---------------------------------------------------------------------------------------------
// One measurement

type Metrics = Record<string, number>;

interface Probe {
  key: string;
  value: string;
  written: number;
  writtenWall: number;
  arrived?: number;
  /** The twin's metadata.timestamp: the mapper's last read before it reported. */
  readWall?: number;
  arrivedWall?: number;
}

function model(): DmiInput<DeviceModel> {
  return {
    name: 'bench-model',
    namespace: 'default',
    spec: {
      properties: Array.from({ length: PROPERTIES }, (_, i) => ({
        name: `p${i}`,
        type: 'int',
        accessMode: 'ReadOnly',
      })),
    },
  };
}

function deviceSpec(name: string, port: number): DmiInput<Device> {
  return {
    name,
    namespace: 'default',
    spec: {
      deviceModelReference: 'bench-model',
      protocol: {
        protocolName: 'modbus',
        configData: packConfigData({ ip: '127.0.0.1', port, slaveID: 1 }),
      },
      properties: Array.from({ length: PROPERTIES }, (_, i) => ({
        name: `p${i}`,
        collectCycle: COLLECT_MS,
        reportCycle: REPORT_MS,
        reportToCloud: true,
        visitors: {
          protocolName: 'modbus',
          configData: packConfigData({ register: 'HoldingRegister', offset: i, limit: 1 }),
        },
      })),
    },
  };
}

/** SIGTERM to `child` by pid, SIGKILL after STOP_MS; then the same for leftover descendants. */
async function stopMapper(child: ChildProcess, extra: number[]): Promise<string> {
  const exited = new Promise<string>((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolvePromise(String(child.exitCode ?? child.signalCode));
      return;
    }
    child.once('exit', (code, signal) => resolvePromise(String(code ?? signal)));
  });
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    log(`mapper ${child.pid} did not exit ${STOP_MS / 1000} s after SIGTERM: SIGKILL`);
    child.kill('SIGKILL');
  }, STOP_MS);
  const code = await exited;
  clearTimeout(timer);
  for (const pid of extra) {
    if (procTicks(pid) === undefined) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return code;
}

let nextProbeValue = 10_000;

async function measure(devices: number): Promise<Metrics> {
  const dir = mkdtempSync(join(tmpdir(), 'ke-bench-mapper-'));
  const servers: ModbusTestServer[] = [];
  let edge: DmiServer | undefined;
  let mapper: ChildProcess | undefined;
  const children = new Set<number>();
  try {
    // The devices: own server, own port, each property's register starts at a distinct value.
    for (let d = 0; d < devices; d++) {
      const holding = Array.from({ length: PROPERTIES }, (_, i) => d * PROPERTIES + i + 1);
      const server = createModbusTestServer({ host: '127.0.0.1', holding });
      await server.start();
      servers.push(server);
    }
    const names = servers.map((_, d) => `bench-device-${String(d).padStart(3, '0')}`);
    const byName = new Map(names.map((name, d) => [name, servers[d]!]));
    const allKeys = names.flatMap((name) =>
      Array.from({ length: PROPERTIES }, (_, i) => `${name}/p${i}`),
    );

    // edgecore's device manager.
    const firstReport = new Map<string, number>();
    const pending = new Map<string, Probe>();
    let calls = 0;
    let twins = 0;
    let stateCalls = 0;
    let registrations = 0;
    /** Per property, its reports inside the window: the first, the last, how many. */
    const cadence = new Map<string, { first: number; last: number; count: number }>();
    let windowOpen = false;
    edge = createDeviceManagerServer({
      socketPath: join(dir, 'dmi.sock'),
      handlers: {
        mapperRegister: async () => {
          registrations++;
          return { modelList: [model()], deviceList: names.map((n) => deviceSpec(n, port(n))) };
        },
        reportDeviceStatus: async (request) => {
          const now = performance.now();
          calls++;
          for (const twin of request.reportedDevice?.twins ?? []) {
            twins++;
            const key = `${request.deviceName}/${twin.propertyName}`;
            if (!firstReport.has(key)) firstReport.set(key, now);
            if (windowOpen) {
              const seen = cadence.get(key);
              if (seen) {
                seen.last = now;
                seen.count++;
              } else {
                cadence.set(key, { first: now, last: now, count: 1 });
              }
            }
            const probe = pending.get(key);
            if (probe && twin.reported?.value === probe.value) {
              probe.arrived = now;
              probe.arrivedWall = Date.now();
              probe.readWall = Number(twin.reported.metadata.timestamp);
              pending.delete(key);
            }
          }
        },
        reportDeviceStates: async () => {
          stateCalls++;
        },
      },
    });
    const port = (name: string) => byName.get(name)!.port;
    await edge.start();

    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        'grpc_server:',
        '  socket_path: modbus.sock',
        'common:',
        '  name: modbus-mapper',
        '  version: v1.0.0',
        '  api_version: v1.0.0',
        '  protocol: modbus',
        '  address: 127.0.0.1',
        '  edgecore_sock: dmi.sock',
        '',
      ].join('\n'),
    );
    const started = performance.now();
    mapper = spawn(
      process.execPath,
      [
        '--conditions=@ke/source',
        '--import',
        'tsx',
        mapperCli,
        '--config',
        config,
        '--log-level',
        'warn',
        '--log-format',
        'json',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const pid = mapper.pid!;
    const output: string[] = [];
    let warnings = 0;
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        if (/"level":(40|50|60)/.test(line)) warnings++;
        if (output.length < 200) output.push(line);
      }
    };
    mapper.stdout!.on('data', onData);
    mapper.stderr!.on('data', onData);

    // Warm-up: every property of every device reported at least once.
    while (firstReport.size < allKeys.length) {
      if (mapper.exitCode !== null || mapper.signalCode !== null) {
        throw new Error(`mapper exited early:\n${output.slice(-20).join('\n')}`);
      }
      if (performance.now() - started > WARMUP_MS) {
        throw new Error(
          `only ${firstReport.size}/${allKeys.length} properties reported within ` +
            `${WARMUP_MS / 1000} s:\n${output.slice(-20).join('\n')}`,
        );
      }
      await sleep(50);
    }
    const warmup = performance.now() - started;
    log(`  ${devices} devices: all reported ${(warmup / 1000).toFixed(1)} s after the spawn`);
    await sleep(SETTLE_MS);
    for (const child of descendants(pid)) children.add(child);

    // The window.
    const ticks = () =>
      (procTicks(pid)?.ticks ?? Number.NaN) +
      [...children].reduce((sum, child) => sum + (procTicks(child)?.ticks ?? 0), 0);
    const mapperOnly = () => procTicks(pid)?.ticks ?? Number.NaN;
    const t0 = performance.now();
    const ticks0 = ticks();
    const own0 = mapperOnly();
    const self0 = process.cpuUsage();
    const machine0 = machineTicks();
    const pressure0 = cpuPressureUs();
    const calls0 = calls;
    const twins0 = twins;
    const warnings0 = warnings;
    windowOpen = true;
    const probes: Probe[] = [];
    const maxProbes = Math.floor((WINDOW_S * 1_000) / PROBE_EVERY_MS);
    let skipped = 0;
    for (let i = 0; i < maxProbes; i++) {
      const due = t0 + i * PROBE_EVERY_MS + Math.random() * PROBE_EVERY_MS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (performance.now() - t0 >= WINDOW_S * 1_000) break;
      // A property with no probe on its way: a second write would hide the first.
      const free = allKeys.filter((key) => !pending.has(key));
      if (free.length === 0) {
        skipped++;
        continue;
      }
      const key = free[Math.floor(Math.random() * free.length)]!;
      const [name, property] = key.split('/') as [string, string];
      const value = nextProbeValue++;
      const probe: Probe = {
        key,
        value: String(value),
        written: performance.now(),
        writtenWall: Date.now(),
      };
      byName.get(name)!.holding[Number(property.slice(1))] = value;
      pending.set(key, probe);
      probes.push(probe);
    }
    const remaining = WINDOW_S * 1_000 - (performance.now() - t0);
    if (remaining > 0) await sleep(remaining);
    windowOpen = false;
    const elapsed = (performance.now() - t0) / 1_000;
    const ticks1 = ticks();
    const own1 = mapperOnly();
    const self1 = process.cpuUsage(self0);
    const machine1 = machineTicks();
    const pressure1 = cpuPressureUs();
    const rssKiB = statusKiB(pid, 'VmRSS');
    const hwmKiB = statusKiB(pid, 'VmHWM');
    const callsInWindow = calls - calls0;
    const twinsInWindow = twins - twins0;
    const warningsInWindow = warnings - warnings0;

    // Drain: probes written late in the window get DRAIN_MS to arrive.
    const drainEnd = performance.now() + DRAIN_MS;
    while (probes.some((p) => p.arrived === undefined) && performance.now() < drainEnd) {
      await sleep(50);
    }
    const arrived = probes.filter((p) => p.arrived !== undefined);
    const latencies = arrived.map((p) => p.arrived! - p.written).sort((a, b) => a - b);
    const toRead = arrived.map((p) => p.readWall! - p.writtenWall).sort((a, b) => a - b);
    const readToArrival = arrived.map((p) => p.arrivedWall! - p.readWall!).sort((a, b) => a - b);
    const mean = (values: number[]) =>
      values.length ? values.reduce((sum, v) => sum + v, 0) / values.length : Number.NaN;

    const code = await stopMapper(mapper, [...children]);
    if (code !== '0') log(`  mapper exited ${code} after SIGTERM`);
    return {
      warmupS: warmup / 1_000,
      windowS: elapsed,
      cpu: (100 * (ticks1 - ticks0)) / CLK_TCK / elapsed,
      cpuOwn: (100 * (own1 - own0)) / CLK_TCK / elapsed,
      children: children.size,
      rssMiB: rssKiB / 1_024,
      hwmMiB: hwmKiB / 1_024,
      probes: probes.length,
      skipped,
      missing: probes.length - arrived.length,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
      min: latencies[0] ?? Number.NaN,
      mean: mean(latencies),
      readP50: percentile(toRead, 50),
      readMax: toRead.at(-1) ?? Number.NaN,
      sendP50: percentile(readToArrival, 50),
      sendMin: readToArrival[0] ?? Number.NaN,
      sendMax: readToArrival.at(-1) ?? Number.NaN,
      interval: median(
        [...cadence.values()]
          .filter((c) => c.count > 1)
          .map((c) => (c.last - c.first) / (c.count - 1)),
      ),
      twinsPerS: twinsInWindow / elapsed,
      callsPerS: callsInWindow / elapsed,
      stateCalls,
      registrations,
      warnings: warningsInWindow,
      exitClean: code === '0' ? 1 : 0,
      bench: (100 * (self1.user + self1.system)) / 1e6 / elapsed,
      machine:
        (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total),
      psi:
        pressure0 !== undefined && pressure1 !== undefined
          ? (100 * (pressure1 - pressure0)) / 1e6 / elapsed
          : Number.NaN,
    };
  } finally {
    if (mapper && mapper.exitCode === null && mapper.signalCode === null) {
      await stopMapper(mapper, [...children]);
    }
    await edge?.stop().catch(() => undefined);
    await Promise.all(servers.map((server) => server.stop().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function table(results: Map<number, Metrics[]>): string[] {
  const rows: Array<{
    key: string;
    label: string;
    digits: number;
    expected: (n: number) => string;
  }> = [
    { key: 'cpu', label: 'mapper CPU, % of one core', digits: 1, expected: () => '' },
    {
      key: 'rssMiB',
      label: 'mapper RSS at the end of the window, MiB (VmRSS)',
      digits: 1,
      expected: () => '',
    },
    {
      key: 'hwmMiB',
      label: 'mapper peak RSS since its start, MiB (VmHWM)',
      digits: 1,
      expected: () => '',
    },
    {
      key: 'p50',
      label: 'report latency p50 ms, register written → first ReportDeviceStatus with it',
      digits: 0,
      expected: () => '0–2,000 (collect ≤ 1 s + report ≤ 1 s)',
    },
    { key: 'p90', label: 'report latency p90 ms', digits: 0, expected: () => '≤ 2,000' },
    { key: 'p99', label: 'report latency p99 ms', digits: 0, expected: () => '≤ 2,000' },
    { key: 'max', label: 'report latency max ms', digits: 0, expected: () => '≤ 2,000' },
    { key: 'min', label: 'report latency min ms', digits: 0, expected: () => '≥ 0' },
    {
      key: 'mean',
      label: 'report latency mean ms',
      digits: 0,
      expected: () => '~1,000 with independent timer phases',
    },
    {
      key: 'readP50',
      label: "split: p50 ms, written → the mapper's last read before the report",
      digits: 0,
      expected: () => '0–1,000',
    },
    {
      key: 'sendP50',
      label: 'split: p50 ms, that read → arrival at the DMI server',
      digits: 0,
      expected: () => '0–1,000',
    },
    {
      key: 'probes',
      label: `probes written (one every ~${PROBE_EVERY_MS} ms)`,
      digits: 0,
      expected: () => '',
    },
    {
      key: 'missing',
      label: `probes never reported (within the window + ${DRAIN_MS / 1000} s)`,
      digits: 0,
      expected: () => '0',
    },
    {
      key: 'twinsPerS',
      label: 'property reports received per s',
      digits: 1,
      expected: (n) => format(n * PROPERTIES * (1_000 / REPORT_MS), 0),
    },
    {
      key: 'interval',
      label: 'mean ms between two reports of one property (median over the properties)',
      digits: 1,
      expected: () => format(REPORT_MS, 0),
    },
    {
      key: 'callsPerS',
      label: 'DMI ReportDeviceStatus calls per s',
      digits: 1,
      expected: (n) => format(n * PROPERTIES * (1_000 / REPORT_MS), 0),
    },
    {
      key: 'warnings',
      label: 'mapper warnings and errors logged in the window',
      digits: 0,
      expected: () => '0',
    },
    {
      key: 'warmupS',
      label: 'warm-up: s from spawn until every property was reported once',
      digits: 1,
      expected: () => '',
    },
    {
      key: 'bench',
      label: 'benchmark process CPU (the simulated devices + DMI server), % of one core',
      digits: 1,
      expected: () => '',
    },
    {
      key: 'machine',
      label: `machine CPU busy in the window, % of ${cpus().length} cores`,
      digits: 0,
      expected: () => '',
    },
    {
      key: 'psi',
      label: 'window: some task waited for a CPU, % (PSI)',
      digits: 0,
      expected: () => '',
    },
  ];
  const head = SIZES.map((n) => `${n} devices × ${PROPERTIES}`);
  const lines = [
    `| ${WINDOW_S} s window, 1 s collect + 1 s report | ${head.join(' | ')} | expected |`,
    `|---|${SIZES.map(() => '---:').join('|')}|---|`,
  ];
  for (const row of rows) {
    const cells = SIZES.map((n) =>
      cell(
        (results.get(n) ?? []).map((r) => r[row.key] ?? Number.NaN),
        row.digits,
      ),
    );
    lines.push(
      `| ${row.label} | ${cells.join(' | ')} | ${[...new Set(SIZES.map(row.expected))].filter(Boolean).join(' / ')} |`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const wall0 = performance.now();
  const loadBefore = loadavg();
  const results = new Map<number, Metrics[]>(SIZES.map((n) => [n, []]));
  const failures: string[] = [];
  for (let run = 1; run <= RUNS; run++) {
    // Alternate the order so drift in background load favours neither size.
    const order = run % 2 ? SIZES : [...SIZES].reverse();
    for (const n of order) {
      log(`run ${run}/${RUNS}: ${n} devices × ${PROPERTIES} properties, ${WINDOW_S} s window`);
      try {
        const metrics = await measure(n);
        results.get(n)!.push(metrics);
        log(
          `  CPU ${format(metrics.cpu!, 1)}%, RSS ${format(metrics.rssMiB!, 1)} MiB, ` +
            `p50 ${format(metrics.p50!, 0)} ms, max ${format(metrics.max!, 0)} ms, ` +
            `missing ${metrics.missing}/${metrics.probes}, ${format(metrics.twinsPerS!, 1)} reports/s`,
        );
      } catch (error) {
        const message = (error as Error).message;
        const cause = message.split('\n').find((line) => /Error|error|failed/.test(line));
        failures.push(`${n} devices, run ${run}: ${message.split('\n')[0]} ${cause ?? ''}`.trim());
        log(`  failed: ${(error as Error).message}`);
      }
    }
  }
  const loadAfter = loadavg();
  const git = (...gitArgs: string[]) => {
    try {
      return execFileSync('git', gitArgs, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'libs', 'apps', 'benchmarks/mapper') !== '';
  const cpu = cpus();
  const all = [...results.values()].flat();
  const lines: string[] = ['## Mapper (`benchmarks/mapper`)', ''];
  lines.push(
    `Date ${startedAt.toISOString()}; ` +
      `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after; ` +
      `commit ${commit}${dirty ? ' with uncommitted changes' : ''}; ` +
      `${((performance.now() - wall0) / 1000).toFixed(0)} s.`,
    `One \`ke-mapper-modbus\` process (from source, \`node --import tsx\`), each device its own ` +
      `simulated Modbus TCP server on 127.0.0.1, ${PROPERTIES} holding registers per device, ` +
      `collectCycle ${COLLECT_MS} ms, reportCycle ${REPORT_MS} ms. Median of ${RUNS} ` +
      `run${RUNS > 1 ? 's' : ''} (min–max in parentheses)${quick ? '; QUICK MODE' : ''}.`,
    'No peer: KubeEdge\'s Go Modbus mapper cannot be downloaded on this machine; the "expected" ' +
      'column is what the cycles allow, and the second column shows how the cost scales.',
    '',
    ...table(results),
    '',
  );
  const childCounts = [...new Set(all.map((r) => r.children))];
  const rejoins = all.reduce((sum, r) => sum + Math.max(0, (r.registrations ?? 1) - 1), 0);
  const unclean = all.filter((r) => r.exitClean !== 1).length;
  const skipped = all.reduce((sum, r) => sum + (r.skipped ?? 0), 0);
  lines.push(
    `Mapper child processes: ${childCounts.join(', ')} (their CPU is in the CPU row); ` +
      `re-registrations: ${rejoins}; probes skipped because every property had one on its way: ` +
      `${skipped}; mapper runs that did not exit 0 on SIGTERM: ${unclean}.`,
  );
  for (const failure of failures) lines.push(`Failed: ${failure}`);
  console.log(lines.join('\n'));
  if (all.length === 0) process.exitCode = 1;
}

await main();
