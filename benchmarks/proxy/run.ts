/**
 * Benchmark of `@ke/mesh-proxy` against direct TCP and HAProxy (Debian, TCP mode), in one run,
 * on the loopback of a network namespace this script creates and deletes (so every iptables
 * rule is its own; the host's rules and routes are never touched):
 *
 * - `iperf3` throughput of one TCP stream (5 s);
 * - `wrk` HTTP requests/s and p50/p99 latency (1 thread, 32 connections, keep-alive, 5 s)
 *   against a fast HTTP backend (a single-threaded HAProxy answering with `http-request return`).
 *
 * Paths: direct to the backend; HAProxy TCP mode in front of it; mesh-proxy userspace
 * (iptables REDIRECT of a ClusterIP to its listener, Node pipes the bytes); mesh-proxy kernel
 * fast path (iptables DNAT of a ClusterIP straight to the backend).
 *
 *   sudo npx tsx --conditions=@ke/source benchmarks/proxy/run.ts [--runs=3] [--seconds=5]
 *
 * Prints one markdown table: the median of the runs (min–max), and the ratios to direct and to
 * HAProxy. Needs root, iproute2, iptables, haproxy, iperf3, wrk.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cell, cpuPressureUs, median, ratio } from '../stats';

const args = process.argv.slice(2);
const numberArg = (name: string, fallback: number) => {
  const found = args.find((arg) => arg.startsWith(`--${name}=`));
  const value = found ? Number(found.slice(name.length + 3)) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const RUNS = Math.min(10, numberArg('runs', 3));
const SECONDS = Math.min(30, numberArg('seconds', 5));
const WRK_CONNECTIONS = 32;

const here = dirname(fileURLToPath(import.meta.url));
const netns = `ke-mp-bench-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'ke-mp-bench-'));
const BACKEND = '198.18.1.1';
const HAPROXY = '198.18.3.1';
const CLIENT = '198.18.2.1';
const children: ChildProcess[] = [];

function sh(argv: readonly string[], timeoutMs = 15_000): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (result.status !== 0) {
    throw new Error(
      `${argv.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}
const inNetns = (argv: readonly string[]) => ['nsenter', `--net=/run/netns/${netns}`, ...argv];

function missing(): string[] {
  const need = ['ip', 'iptables', 'haproxy', 'iperf3', 'wrk', 'nsenter'];
  const absent = need.filter((bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  if (process.getuid?.() !== 0) absent.push('root');
  return absent;
}

/** Starts a long-running child inside the namespace, keeping its output lines. */
function startChild(argv: readonly string[]) {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const onLine = (line: string) => lines.push(line);
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  /** The first line matching `pattern`, waiting at most `timeoutMs` (polled: bounded). */
  const waitForLine = async (pattern: RegExp, timeoutMs = 20_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = lines.find((line) => pattern.test(line));
      if (found) return found;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`${argv.join(' ')}: no line matching ${pattern}:\n${lines.join('\n')}`);
  };
  return { child, lines, waitForLine };
}

/** Waits until something listens on host:port inside the namespace (bounded). */
async function waitListening(host: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = spawnSync(
      inNetns(['ss', '-Htln', `src ${host}:${port}`])[0]!,
      inNetns(['ss', '-Htln', `src ${host}:${port}`]).slice(1),
      {
        encoding: 'utf8',
      },
    );
    if (out.stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${host}:${port}`);
}

function setup(): void {
  sh(['ip', 'netns', 'add', netns]);
  sh(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
  for (const address of [BACKEND, HAPROXY, CLIENT]) {
    sh(['ip', '-n', netns, 'addr', 'add', `${address}/32`, 'dev', 'lo']);
  }
  sh(['ip', '-n', netns, 'route', 'add', '198.18.100.0/24', 'dev', 'lo']);
}

function cleanup(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  if (existsSync(`/run/netns/${netns}`)) spawnSync('ip', ['netns', 'delete', netns]);
  rmSync(work, { recursive: true, force: true });
}

function haproxyConfig(lines: string[]): string {
  const file = join(work, `haproxy-${randomBytes(3).toString('hex')}.cfg`);
  writeFileSync(
    file,
    [
      'global',
      '  nbthread 1',
      '  maxconn 4096',
      'defaults',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      ...lines,
      '',
    ].join('\n'),
  );
  return file;
}

interface Sample {
  gbps: number;
  rps: number;
  p50ms: number;
  p99ms: number;
}

function iperf(host: string, port: number): number {
  const out = sh(
    inNetns(['iperf3', '-c', host, '-p', String(port), '-B', CLIENT, '-t', String(SECONDS), '-J']),
    (SECONDS + 20) * 1000,
  );
  const report = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return report.end.sum_received.bits_per_second / 1e9;
}

const toMs = (value: string, unit: string) =>
  Number(value) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit]!;

interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** `{minor, major}` pauses as printed under the table. */
function gcSummary(gc: { minor: GcPauses; major: GcPauses } | undefined): string {
  if (!gc) return 'not reported';
  const one = (name: string, pauses: GcPauses) =>
    `${pauses.count} ${name} (${pauses.totalMs.toFixed(0)} ms in all, longest ${pauses.maxMs.toFixed(2)} ms)`;
  return `${one('minor', gc.minor)}, ${one('major', gc.major)}`;
}

function wrk(host: string, port: number): Omit<Sample, 'gbps'> {
  const out = sh(
    inNetns([
      'wrk',
      '-t1',
      `-c${WRK_CONNECTIONS}`,
      `-d${SECONDS}s`,
      '--latency',
      `http://${host}:${port}/`,
    ]),
    (SECONDS + 20) * 1000,
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const latency = (p: string) => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
    return match ? toMs(match[1]!, match[2]!) : Number.NaN;
  };
  if (/Non-2xx|Socket errors/.test(out))
    console.error(`wrk ${host}:${port} reported errors:\n${out}`);
  return { rps, p50ms: latency('50'), p99ms: latency('99') };
}

const PATHS = [
  { name: 'direct to backend', host: BACKEND, http: 8080, iperf: 5201 },
  { name: 'HAProxy 2.6, TCP mode', host: HAPROXY, http: 80, iperf: 5201 },
  { name: 'mesh-proxy userspace', host: '198.18.100.1', http: 80, iperf: 5201 },
  { name: 'mesh-proxy kernel fast path', host: '198.18.100.2', http: 80, iperf: 5201 },
] as const;

async function main(): Promise<void> {
  const absent = missing();
  if (absent.length > 0) {
    console.error(
      `benchmarks/proxy needs: ${absent.join(', ')} (apt-get install -y iproute2 iptables haproxy iperf3 wrk; run as root)`,
    );
    process.exitCode = 1;
    return;
  }
  setup();
  // Backends: iperf3 and a single-threaded HAProxy that answers every HTTP request itself.
  startChild(inNetns(['iperf3', '-s', '-B', BACKEND, '-p', '5201']));
  const httpBackend = haproxyConfig([
    'frontend web',
    '  mode http',
    `  bind ${BACKEND}:8080`,
    '  http-request return status 200 content-type text/plain string "ok"',
  ]);
  startChild(inNetns(['haproxy', '-f', httpBackend, '-db']));
  // The peer: HAProxy in TCP mode (Debian's defaults otherwise), one thread like the Node proxy.
  const peer = haproxyConfig([
    'listen http',
    '  mode tcp',
    `  bind ${HAPROXY}:80`,
    `  server backend ${BACKEND}:8080`,
    'listen iperf',
    '  mode tcp',
    `  bind ${HAPROXY}:5201`,
    `  server backend ${BACKEND}:5201`,
  ]);
  startChild(inNetns(['haproxy', '-f', peer, '-db']));
  const meshProxy = startChild(
    inNetns([
      process.execPath,
      '--conditions=@ke/source',
      '--import',
      'tsx',
      join(here, 'proxy-server.ts'),
      BACKEND,
    ]),
  );
  await meshProxy.waitForLine(/"ready":true/);
  await waitListening(BACKEND, 8080);
  await waitListening(HAPROXY, 80);
  await waitListening(BACKEND, 5201);

  const samples = new Map<string, Sample[]>(PATHS.map((p) => [p.name, []]));
  const pressureBefore = cpuPressureUs();
  const started = Date.now();
  for (let run = 0; run < RUNS; run++) {
    for (const path of PATHS) {
      const gbps = iperf(path.host, path.iperf);
      const http = wrk(path.host, path.http);
      samples.get(path.name)!.push({ gbps, ...http });
      console.error(
        `run ${run + 1}/${RUNS} ${path.name}: ${gbps.toFixed(2)} Gbit/s, ${http.rps.toFixed(0)} req/s, p50 ${http.p50ms} ms, p99 ${http.p99ms} ms`,
      );
    }
  }
  const pressureAfter = cpuPressureUs();

  // The kernel path must not have touched the process: its listener count stays 0.
  const stopped = new Promise<string>((resolve) => {
    createInterface({ input: meshProxy.child.stdout! }).on('line', (line) => {
      if (line.includes('"stopped":true')) resolve(line);
    });
  });
  meshProxy.child.kill('SIGTERM');
  const finalStats = JSON.parse(
    await Promise.race([stopped, new Promise<string>((r) => setTimeout(() => r('{}'), 10_000))]),
  );
  const leftRules = sh(inNetns(['iptables-save', '-t', 'nat'])).includes('KE-MB');

  const med = (name: string, key: keyof Sample) => median(samples.get(name)!.map((s) => s[key]));
  const direct = PATHS[0].name;
  const haproxy = PATHS[1].name;
  const rows = PATHS.map((path) => {
    const values = samples.get(path.name)!;
    const col = (key: keyof Sample, digits: number) =>
      cell(
        values.map((s) => s[key]),
        digits,
      );
    return `| ${path.name} | ${col('gbps', 2)} | ${ratio(med(path.name, 'gbps'), med(direct, 'gbps'))} | ${ratio(med(path.name, 'gbps'), med(haproxy, 'gbps'))} | ${col('rps', 0)} | ${ratio(med(path.name, 'rps'), med(direct, 'rps'))} | ${ratio(med(path.name, 'rps'), med(haproxy, 'rps'))} | ${col('p50ms', 3)} | ${col('p99ms', 3)} | ${ratio(med(path.name, 'p99ms'), med(haproxy, 'p99ms'))} |`;
  });
  console.log(
    `\nservice proxy, loopback in a network namespace, ${RUNS} runs × ${SECONDS} s per tool and path; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`,
  );
  console.log(
    '| path | iperf3 Gbit/s | × direct | × HAProxy | wrk req/s | × direct | × HAProxy | p50 ms | p99 ms | p99 × HAProxy |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log(
    `\nmesh-proxy connections accepted by its listeners: ${JSON.stringify(finalStats.byService ?? {})}; rules left after stop: ${leftRules ? 'YES' : 'none'}; ` +
      `mesh-proxy garbage-collection pauses over the whole run: ${gcSummary(finalStats.gc)}; ` +
      `CPU pressure during the runs: ${pressureBefore !== undefined && pressureAfter !== undefined ? `${((pressureAfter - pressureBefore) / 1e6).toFixed(1)} s waiting over ${((Date.now() - started) / 1000).toFixed(0)} s` : 'n/a'}`,
  );
}

process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.once('uncaughtException', (error) => {
  cleanup();
  console.error(error);
  process.exit(1);
});
try {
  await main();
} finally {
  cleanup();
}
