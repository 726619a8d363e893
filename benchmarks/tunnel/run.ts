/**
 * Benchmark of `@ke/mesh-tunnel` (issue #9) on the NAT test bed of shared/testbed/README.md,
 * built in network namespaces this script creates (`ke-tb-<random>-*`) and deletes at the end,
 * also on failure or Ctrl-C. Two hosts behind two NAT routers (MASQUERADE, unsolicited inbound
 * dropped), the tunnel server on a public address whose link is capped with TBF.
 *
 * Measured in one run, per server-link setting (capped, then uncapped by default):
 * - time to a usable p2p path: fresh agents, first `dial()` until one echoed message came back;
 * - RTT: 64-byte ping-pong, 1,000 round trips, over direct TCP (h1 → h2 routed without NAT over
 *   the same routers), the tunnel's p2p path, and the relay (agents with `punch: false`);
 * - throughput: bulk transfer for `--seconds`, counted by the sink on h2, over the same paths.
 *
 *   sudo npx tsx --conditions=@ke/source benchmarks/tunnel/run.ts [--runs=3] [--seconds=5]
 *     [--cap-mbit=50,0]   (comma list of server link caps in Mbit/s, one pass each; 0 = uncapped)
 *
 * Prints markdown tables: medians of the runs (min–max) and the issue's goals, met or not.
 * Needs root, iproute2 (ip, tc), iptables, nsenter.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TunnelAgentStats, TunnelServerStats } from '@ke/mesh-tunnel';
import { callNetnsDriver } from '@ke/testing';
import { createTestPki, type TestPki } from '../../libs/mesh-tunnel/test/fixtures/cluster';
import { cell, cpuPressureUs, format, median, percentile } from '../stats';
import { createTestbed, H2, PUB, type Role, sh, type Testbed } from './topology';

const args = process.argv.slice(2);
const numberArg = (name: string, fallback: number) => {
  const found = args.find((arg) => arg.startsWith(`--${name}=`));
  const value = found ? Number(found.slice(name.length + 3)) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const RUNS = Math.min(10, Math.floor(numberArg('runs', 3)));
const SECONDS = Math.min(30, numberArg('seconds', 5));
/** `--cpu-prof=<dir>`: the node.ts children write V8 CPU profiles there (for digging only). */
const CPU_PROF_DIR = args.find((arg) => arg.startsWith('--cpu-prof='))?.slice(11);
const CAPS = (args.find((arg) => arg.startsWith('--cap-mbit='))?.slice(11) ?? '50,0')
  .split(',')
  .map(Number)
  .filter((mbit) => Number.isFinite(mbit) && mbit >= 0 && mbit <= 100_000)
  .slice(0, 4);
/** Fresh-agent punches per pass. */
const ESTABLISH_SAMPLES = Math.min(10, Math.max(5, RUNS));
const RTT_COUNT = 1000;
const RTT_SIZE = 64;
const RTT_MAX_MS = 20_000;
const PORT = 10004;
const ECHO_PORT = 7070;
const SINK_PORT = 7071;

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ke-tb-'));
const children: ChildProcess[] = [];
/** The node.ts children: asked to exit at the end, and given time to. */
const nodeChildren: ChildProcess[] = [];
let testbed: Testbed | undefined;

function missing(): string[] {
  const need = ['ip', 'tc', 'iptables', 'nsenter', 'iperf3', 'haproxy'];
  const absent = need.filter((bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  if (process.getuid?.() !== 0) absent.push('root');
  return absent;
}

/** Starts a TypeScript file of this folder from source inside `role`'s namespace. */
async function startInNetns(role: Role, file: string, argv: string[]): Promise<ChildProcess> {
  const command = testbed!.inNetns(role, [
    process.execPath,
    ...(CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : []),
    '--conditions=@ke/source',
    '--import',
    'tsx',
    join(here, file),
    ...argv,
  ]);
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  nodeChildren.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  const deadline = Date.now() + 30_000;
  while (!lines.includes('ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${file} in ${role} did not start:\n${lines.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

/** Starts a non-Node child (iperf3) inside `role`'s namespace. */
function startPlain(role: Role, argv: string[]): void {
  const command = testbed!.inNetns(role, argv);
  children.push(spawn(command[0]!, command.slice(1), { stdio: 'ignore' }));
}

/** A node.ts process in a namespace and a way to call its commands. */
async function startNode(role: Role) {
  const socketPath = join(work, `${role}.sock`);
  await startInNetns(role, 'node.ts', [socketPath]);
  return <T>(command: string, body: unknown = {}, timeoutMs = 120_000) =>
    callNetnsDriver<T>(socketPath, command, body, timeoutMs).catch((error: Error) => {
      throw Object.assign(new Error(`${role} ${error.message}`), {
        code: (error as { code?: string }).code,
      });
    });
}
type Call = Awaited<ReturnType<typeof startNode>>;

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
  testbed?.delete();
  rmSync(work, { recursive: true, force: true });
}

type PathName = 'direct' | 'p2p' | 'relay' | 'haproxy';
/** The relay's peer: HAProxy in pub forwarding TCP to the sink on h2 (pub routes to h2's LAN). */
const HAPROXY_ECHO_PORT = 7170;
const HAPROXY_SINK_PORT = 7171;
const PATHS: {
  name: PathName;
  label: string;
  agent?: string;
  peer: string;
  ip: string;
  echoPort: number;
  sinkPort: number;
}[] = [
  {
    name: 'direct',
    label: 'direct TCP (routed, no NAT)',
    peer: 'h2',
    ip: H2,
    echoPort: ECHO_PORT,
    sinkPort: SINK_PORT,
  },
  {
    name: 'p2p',
    label: 'tunnel p2p (UDX)',
    agent: 'h1',
    peer: 'h2',
    ip: H2,
    echoPort: ECHO_PORT,
    sinkPort: SINK_PORT,
  },
  {
    name: 'relay',
    label: 'tunnel relay (via server)',
    agent: 'h1-relay',
    peer: 'h2-relay',
    ip: H2,
    echoPort: ECHO_PORT,
    sinkPort: SINK_PORT,
  },
  {
    name: 'haproxy',
    label: 'peer: plain TCP relay via pub (HAProxy 2.6, mode tcp)',
    peer: 'h2',
    ip: PUB,
    echoPort: HAPROXY_ECHO_PORT,
    sinkPort: HAPROXY_SINK_PORT,
  },
];

interface PassResult {
  cap: number;
  establish: { usableMs: number; dialMs: number; p2p: boolean }[];
  rtt: Record<PathName, { p50: number; p99: number }[]>;
  mbit: Record<PathName, number[]>;
  /** iperf3 h1 → pub: one plain TCP stream through nat1 and the server's link. */
  iperf: number[];
  pressureS: number | undefined;
  seconds: number;
  qdiscs: string;
}

async function main(): Promise<void> {
  const absent = missing();
  if (absent.length > 0) {
    console.error(`benchmarks/tunnel needs: ${absent.join(', ')} (iproute2 iptables; run as root)`);
    process.exitCode = 1;
    return;
  }
  if (CAPS.length === 0) throw new Error('--cap-mbit: a comma list of numbers ≥ 0, like 50,0');
  const pki: TestPki = await createTestPki(PUB);
  testbed = createTestbed('ke-tb');
  console.error(`test bed ${testbed.prefix}-*: server ${PUB}, h1 behind nat1, h2 behind nat2`);
  const pub = await startNode('pub');
  const h1 = await startNode('h1');
  const h2 = await startNode('h2');
  await startInNetns('h2', 'sink.ts', [H2, String(ECHO_PORT), String(SINK_PORT)]);
  startPlain('pub', ['iperf3', '-s', '-B', PUB, '-p', '5201']);
  const haproxyConfig = join(work, 'haproxy.cfg');
  writeFileSync(
    haproxyConfig,
    [
      'global',
      '  nbthread 1',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 120s',
      '  timeout server 120s',
      'listen echo',
      `  bind ${PUB}:${HAPROXY_ECHO_PORT}`,
      `  server h2 ${H2}:${ECHO_PORT}`,
      'listen sink',
      `  bind ${PUB}:${HAPROXY_SINK_PORT}`,
      `  server h2 ${H2}:${SINK_PORT}`,
      '',
    ].join('\n'),
  );
  startPlain('pub', ['haproxy', '-f', haproxyConfig, '-db']);
  await pub('server', {
    options: { tls: pki.server, host: PUB, controlPort: PORT, udpPort: PORT },
  });
  const servers = [{ host: PUB, controlPort: PORT, udpPort: PORT }];
  const tlsOf = new Map<string, unknown>();
  const startAgent = async (call: Call, name: string, punch: boolean) => {
    if (!tlsOf.has(name)) tlsOf.set(name, await pki.node(name));
    const stats = await call<TunnelAgentStats>('agent', {
      name,
      options: { nodeName: name, tls: tlsOf.get(name), servers, punch },
      allowIp: H2,
      allowPorts: [ECHO_PORT, SINK_PORT],
    });
    if (!stats.registered) throw new Error(`agent ${name} did not register`);
  };
  await startAgent(h2, 'h2-relay', false);
  await startAgent(h1, 'h1-relay', false);

  const passes: PassResult[] = [];
  for (const cap of CAPS) {
    testbed.capServer(cap);
    const qdiscs = testbed.serverQdiscs();
    const pass: PassResult = {
      cap,
      establish: [],
      rtt: { direct: [], p2p: [], relay: [], haproxy: [] },
      mbit: { direct: [], p2p: [], relay: [], haproxy: [] },
      iperf: [],
      pressureS: undefined,
      seconds: 0,
      qdiscs,
    };
    const pressureBefore = cpuPressureUs();
    const started = Date.now();
    const link = cap > 0 ? `server link ${cap} Mbit/s` : 'server link uncapped';
    // Fresh agents each time: new UDP sockets, new NAT mappings, no path known.
    for (let i = 0; i < ESTABLISH_SAMPLES; i++) {
      await h1('stopAgent', { name: 'h1' });
      await startAgent(h2, 'h2', true);
      await startAgent(h1, 'h1', true);
      const sample = await h1<{
        dialMs: number;
        usableMs: number;
        path: string;
        reported: string;
      }>('establish', { agent: 'h1', peer: 'h2', ip: H2, port: ECHO_PORT });
      const p2p = sample.path === 'p2p' && sample.reported === 'p2p';
      pass.establish.push({ usableMs: sample.usableMs, dialMs: sample.dialMs, p2p });
      console.error(
        `${link}: establish ${i + 1}/${ESTABLISH_SAMPLES}: usable after ${sample.usableMs.toFixed(0)} ms (dial ${sample.dialMs.toFixed(0)} ms), stream ${sample.path}, agent reports ${sample.reported}`,
      );
    }
    for (let run = 0; run < RUNS; run++) {
      for (const path of PATHS) {
        const target = { agent: path.agent, peer: path.peer, ip: path.ip };
        const rtt = await h1<{ path: string; samples: number[] }>('rtt', {
          ...target,
          port: path.echoPort,
          count: RTT_COUNT,
          size: RTT_SIZE,
          maxMs: RTT_MAX_MS,
        });
        const sorted = Float64Array.from(rtt.samples).sort();
        const expected = path.agent ? path.name : 'direct';
        const rightPath = rtt.path === expected;
        pass.rtt[path.name].push(
          rightPath
            ? { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
            : { p50: Number.NaN, p99: Number.NaN },
        );
        const bulk = await h1<{ path: string; mbit: number; bytes: number; ms: number }>(
          'throughput',
          { ...target, port: path.sinkPort, seconds: SECONDS },
          (SECONDS + 60) * 1000,
        );
        pass.mbit[path.name].push(bulk.path === expected ? bulk.mbit : Number.NaN);
        console.error(
          `${link}: run ${run + 1}/${RUNS} ${path.label}: stream went ${rtt.path}/${bulk.path}; ${sorted.length} round trips p50 ${format(percentile(sorted, 50), 0)} µs p99 ${format(percentile(sorted, 99), 0)} µs; ${format(bulk.mbit, 1)} Mbit/s (${format(bulk.bytes / 1e6, 1)} MB in ${format(bulk.ms, 0)} ms)`,
        );
      }
      const out = sh(
        testbed.inNetns('h1', ['iperf3', '-c', PUB, '-p', '5201', '-t', String(SECONDS), '-J']),
        (SECONDS + 20) * 1000,
      );
      const mbit =
        (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received
          .bits_per_second / 1e6;
      pass.iperf.push(mbit);
      console.error(
        `${link}: run ${run + 1}/${RUNS} reference iperf3 h1 → pub: ${format(mbit, 1)} Mbit/s`,
      );
    }
    const pressureAfter = cpuPressureUs();
    pass.seconds = (Date.now() - started) / 1000;
    if (pressureBefore !== undefined && pressureAfter !== undefined) {
      pass.pressureS = (pressureAfter - pressureBefore) / 1e6;
    }
    passes.push(pass);
  }
  const server = await pub<TunnelServerStats>('serverStats');
  const h1Stats = await h1<TunnelAgentStats>('agentStats', { name: 'h1' });
  report(passes, server, h1Stats);
  for (const call of [h1, h2, pub]) await call('exit').catch(() => {});
  // Let them exit on their own (and write their CPU profiles) before cleanup kills what is left.
  for (let i = 0; i < 100 && nodeChildren.some((child) => child.exitCode === null); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function report(passes: PassResult[], server: TunnelServerStats, h1: TunnelAgentStats): void {
  const linkOf = (cap: number) => (cap > 0 ? `${cap} Mbit/s` : 'uncapped');
  const out: string[] = [];
  out.push(
    `\nmesh-tunnel on the NAT test bed (h1 → h2 through two MASQUERADE routers; server link capped with TBF both ways), ${RUNS} runs × ${SECONDS} s per throughput, ${RTT_COUNT} × ${RTT_SIZE}-byte round trips per RTT; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`,
  );
  out.push('');
  out.push(
    '| server link | path | RTT p50 µs | RTT p99 µs | p50 × direct | throughput Mbit/s | × direct | × relay |',
  );
  out.push('|---|---|---|---|---|---|---|---|');
  const med = (values: number[]) => median(values);
  for (const pass of passes) {
    const directP50 = med(pass.rtt.direct.map((r) => r.p50));
    const directMbit = med(pass.mbit.direct);
    const relayMbit = med(pass.mbit.relay);
    for (const path of PATHS) {
      const p50s = pass.rtt[path.name].map((r) => r.p50);
      const p99s = pass.rtt[path.name].map((r) => r.p99);
      const mbit = pass.mbit[path.name];
      const x = (a: number, b: number) =>
        Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '';
      out.push(
        `| ${linkOf(pass.cap)} | ${path.label} | ${cell(p50s, 0)} | ${cell(p99s, 0)} | ${x(med(p50s), directP50)} | ${cell(mbit, 1)} | ${x(med(mbit), directMbit)} | ${x(med(mbit), relayMbit)} |`,
      );
    }
    out.push(
      `| ${linkOf(pass.cap)} | reference: iperf3 TCP h1 → pub (through the server link) | | | | ${cell(pass.iperf, 1)} | | |`,
    );
  }
  out.push('');
  out.push(
    '| server link | fresh-agent first dials | went p2p | dial → echoed p50 ms | max ms | dial() resolved p50 ms |',
  );
  out.push('|---|---|---|---|---|---|');
  for (const pass of passes) {
    const usable = pass.establish.map((e) => e.usableMs);
    out.push(
      `| ${linkOf(pass.cap)} | ${usable.length} | ${pass.establish.filter((e) => e.p2p).length} | ${format(median(usable), 0)} | ${format(Math.max(...usable), 0)} | ${format(median(pass.establish.map((e) => e.dialMs)), 0)} |`,
    );
  }
  out.push('');
  out.push('| goal (issue #9) | measured | met |');
  out.push('|---|---|---|');
  const goal = (name: string, measured: string, ok: boolean | undefined) =>
    out.push(`| ${name} | ${measured} | ${ok === undefined ? 'n/a' : ok ? 'met' : 'not met'} |`);
  const all = passes.flatMap((pass) => pass.establish);
  const worst = Math.max(...all.map((e) => e.usableMs));
  goal(
    'punch: fresh agents, first dial to a usable p2p stream ≤ 1 s (every sample)',
    `p50 ${format(median(all.map((e) => e.usableMs)), 0)} ms, max ${format(worst, 0)} ms, ${all.filter((e) => e.p2p).length}/${all.length} p2p`,
    all.length > 0 ? worst <= 1000 && all.every((e) => e.p2p) : undefined,
  );
  for (const pass of passes) {
    const link = linkOf(pass.cap);
    const p2p = med(pass.rtt.p2p.map((r) => r.p50));
    const direct = med(pass.rtt.direct.map((r) => r.p50));
    goal(
      `p2p RTT ≤ 1.1 × direct (p50, server link ${link})`,
      `${format(p2p, 0)} µs vs ${format(direct, 0)} µs = ${format(p2p / direct, 2)}×`,
      Number.isFinite(p2p / direct) ? p2p <= 1.1 * direct : undefined,
    );
    const p2pMbit = med(pass.mbit.p2p);
    const relayMbit = med(pass.mbit.relay);
    const directMbit = med(pass.mbit.direct);
    if (pass.cap > 0) {
      goal(
        `p2p throughput ≥ 5 × relay (server link ${link})`,
        `${format(p2pMbit, 1)} vs ${format(relayMbit, 1)} Mbit/s = ${format(p2pMbit / relayMbit, 2)}×`,
        Number.isFinite(p2pMbit / relayMbit) ? p2pMbit >= 5 * relayMbit : undefined,
      );
      goal(
        `relay ≥ 0.9 × the cap (${link})`,
        `${format(relayMbit, 1)} Mbit/s = ${format(relayMbit / pass.cap, 3)}× the cap (one TCP stream through the cap, iperf3: ${format(med(pass.iperf), 1)}; HAProxy relay: ${format(med(pass.mbit.haproxy), 1)})`,
        Number.isFinite(relayMbit) ? relayMbit >= 0.9 * pass.cap : undefined,
      );
    } else {
      goal(
        'relay ≥ 0.5 × direct TCP (server link uncapped)',
        `${format(relayMbit, 1)} vs ${format(directMbit, 1)} Mbit/s = ${format(relayMbit / directMbit, 2)}× (HAProxy relay: ${format(med(pass.mbit.haproxy), 1)})`,
        Number.isFinite(relayMbit / directMbit) ? relayMbit >= 0.5 * directMbit : undefined,
      );
    }
  }
  out.push('');
  for (const pass of passes) {
    out.push(
      `- server link ${linkOf(pass.cap)}: ${pass.seconds.toFixed(0)} s; CPU pressure ${pass.pressureS !== undefined ? `${pass.pressureS.toFixed(1)} s waiting (some tasks) over ${pass.seconds.toFixed(0)} s` : 'n/a'}; qdiscs: ${pass.qdiscs}`,
    );
  }
  out.push(
    `- server totals: ${server.punchesCoordinated} punches coordinated, ${server.relay.streamsTotal} relayed streams, ${format(server.relay.bytes / 1e6, 1)} MB relayed; h1's last p2p agent: path ${h1.peers.h2?.path}, control-link RTT ${h1.peers.h2?.rttMs ?? 'n/a'} ms, punches ${JSON.stringify(h1.peers.h2?.punch)}`,
  );
  out.push(
    `- load average at the end: ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  console.log(out.join('\n'));
}

process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.once('SIGTERM', () => {
  cleanup();
  process.exit(143);
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
