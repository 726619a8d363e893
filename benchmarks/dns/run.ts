// Queries per second and latency of @ke/mesh-dns against dnsmasq serving the same names, both
// loaded by dnsperf in the same run. Usage (from the repository root):
//   npx tsx --conditions=@ke/source benchmarks/dns/run.ts [--runs=3] [--seconds=10] [--quick]
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDnsServer, createStaticSource, type DnsService } from '@ke/mesh-dns';
import { cell, cpuPressureUs, median, ratio } from '../stats';

const run = promisify(execFile);
const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key!, value ?? 'true'] as const;
  }),
);
const quick = args.has('quick');
const runs = Number(args.get('runs') ?? (quick ? 1 : 3));
const seconds = Number(args.get('seconds') ?? (quick ? 2 : 10));
const SERVICES = 1000;
const CLIENTS = 4;

interface Result {
  qps: number;
  avgLatencyMs: number;
  stddevLatencyMs: number;
  lostPercent: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(),
      );
    });
  });
}

function ipOf(i: number): string {
  return `198.18.${(i >> 8) & 0xff}.${i & 0xff}`;
}

async function dnsperf(port: number, queryFile: string): Promise<Result> {
  const { stdout } = await run(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-d',
      queryFile,
      '-l',
      String(seconds),
      '-c',
      String(CLIENTS),
    ],
    { timeout: (seconds + 30) * 1000 },
  );
  const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? Number.NaN);
  return {
    qps: number(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: number(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    stddevLatencyMs: number(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000,
    lostPercent: number(/Queries lost:\s+\d+ \(([\d.]+)%\)/),
  };
}

async function startDnsmasq(dir: string, port: number): Promise<ChildProcess> {
  const config = Array.from(
    { length: SERVICES },
    (_, i) => `host-record=svc-${i}.default.svc.cluster.local,${ipOf(i)}`,
  ).join('\n');
  await writeFile(join(dir, 'dnsmasq.conf'), `${config}\n`);
  const child = spawn(
    'dnsmasq',
    [
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--keep-in-foreground',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--user=root',
      '--local-ttl=5',
      `--conf-file=${join(dir, 'dnsmasq.conf')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Ready when it answers.
  for (let i = 0; i < 100; i++) {
    try {
      await run('dig', [
        '-p',
        String(port),
        '@127.0.0.1',
        '+short',
        '+time=1',
        '+tries=1',
        'svc-0.default.svc.cluster.local',
      ]);
      return child;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill('SIGTERM');
  throw new Error('dnsmasq did not start');
}

async function measureMeshDns(queryFile: string): Promise<Result> {
  const services: DnsService[] = Array.from({ length: SERVICES }, (_, i) => ({
    namespace: 'default',
    name: `svc-${i}`,
    clusterIPs: [ipOf(i)],
    ports: [{ name: 'http', port: 80 }],
  }));
  const server = createDnsServer({ source: createStaticSource(services), port: 0, upstream: [] });
  await server.start();
  try {
    // dnsperf runs in its own process; this process only serves while it waits.
    return await dnsperf(server.address!.port, queryFile);
  } finally {
    await server.stop();
  }
}

async function measureDnsmasq(dir: string, queryFile: string): Promise<Result> {
  const port = await freePort();
  const child = await startDnsmasq(dir, port);
  try {
    return await dnsperf(port, queryFile);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.pid) process.kill(child.pid, 'SIGTERM');
    await exited;
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-dns-'));
  const queryFile = join(dir, 'queries.txt');
  await writeFile(
    queryFile,
    `${Array.from({ length: SERVICES }, (_, i) => `svc-${i}.default.svc.cluster.local A`).join('\n')}\n`,
  );
  const mesh: Result[] = [];
  const peer: Result[] = [];
  const load = [loadavg()[0]!];
  const pressureStart = cpuPressureUs();
  const started = Date.now();
  try {
    for (let i = 0; i < runs; i++) {
      // Alternate the order, so that neither side always runs on a warmer (or busier) machine.
      if (i % 2 === 0) {
        mesh.push(await measureMeshDns(queryFile));
        peer.push(await measureDnsmasq(dir, queryFile));
      } else {
        peer.push(await measureDnsmasq(dir, queryFile));
        mesh.push(await measureMeshDns(queryFile));
      }
      console.error(
        `run ${i + 1}/${runs}: mesh-dns ${mesh.at(-1)!.qps.toFixed(0)} q/s, dnsmasq ${peer.at(-1)!.qps.toFixed(0)} q/s`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  load.push(loadavg()[0]!);
  const pressureEnd = cpuPressureUs();
  const elapsedUs = (Date.now() - started) * 1000;
  const pressure =
    pressureStart !== undefined && pressureEnd !== undefined
      ? `${(((pressureEnd - pressureStart) / elapsedUs) * 100).toFixed(0)}%`
      : 'n/a';

  const column = (results: Result[], key: keyof Result) => results.map((r) => r[key]);
  const rows: [string, keyof Result, number, boolean][] = [
    ['queries/s', 'qps', 0, true],
    ['average latency (ms)', 'avgLatencyMs', 3, false],
    ['latency std dev (ms)', 'stddevLatencyMs', 3, false],
    ['queries lost (%)', 'lostPercent', 2, false],
  ];
  console.log(
    `\n${SERVICES} ClusterIP services, A queries round-robin, dnsperf -c ${CLIENTS} -l ${seconds}, ${runs} run(s); ` +
      `${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `load ${load.map((l) => l.toFixed(1)).join(' → ')}, CPU pressure ${pressure}\n`,
  );
  console.log('| Metric | @ke/mesh-dns | dnsmasq | mesh-dns / dnsmasq |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [label, key, digits, higherIsBetter] of rows) {
    const a = median(column(mesh, key));
    const b = median(column(peer, key));
    console.log(
      `| ${label} | ${cell(column(mesh, key), digits)} | ${cell(column(peer, key), digits)} | ${
        key === 'lostPercent' ? '' : higherIsBetter ? ratio(a, b) : ratio(a, b)
      } |`,
    );
  }
}

await main();
