import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildBusyboxImage } from './busybox-image';
import { startProcess, type TestProcess } from './process';
import { command, networkNamespaces, rootUser, type SystemPrerequisite } from './system';
import { waitFor } from './wait';

/** Options of {@link startContainerdTestbed}; every field has a working default. */
export interface ContainerdTestbedOptions {
  /** Where the busybox/pause OCI layout is cached (see `buildBusyboxImage`). */
  readonly cacheDir?: string;
  /** The pod network (a /24 inside 198.18.0.0/15). Default: one derived from PID and counter. */
  readonly podSubnet?: string;
  /** `overlayfs` or `native`. Default: `overlayfs` when an overlay mount works in the temp dir. */
  readonly snapshotter?: 'overlayfs' | 'native';
  /** Port of the registry on 127.0.0.1 inside the namespace. Default 5000. */
  readonly registryPort?: number;
  /** Bound on the whole start (registry, push, containerd). Default 60 s. */
  readonly startTimeoutMs?: number;
}

/** What a command run by {@link ContainerdTestbed.exec} printed and how it ended. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; `null` when the command was killed (timeout) or could not start. */
  readonly code: number | null;
}

/** A private containerd with a CRI pod network and a local registry, in its own netns. */
export interface ContainerdTestbed {
  /** Unique name: of the network namespace, the temp dir and the CNI network. */
  readonly name: string;
  /** Network namespace name (`ip netns`); containerd, registry and pods' bridge live in it. */
  readonly netns: string;
  /** `/run/netns/<netns>`, for `nsenter --net=...`. */
  readonly netnsPath: string;
  /** CRI endpoint: `unix://<socketPath>`. */
  readonly criEndpoint: string;
  /** containerd's gRPC socket (CRI `runtime.v1` and the containerd API). */
  readonly socketPath: string;
  /** Registry host:port, `127.0.0.1:<port>`, reachable from inside the namespace only. */
  readonly registry: string;
  /** Image references in the registry: `busybox` (`/bin/sh`) and `pause` (the sandbox image). */
  readonly images: { readonly busybox: string; readonly pause: string };
  /** The pod subnet of the bridge CNI network, e.g. `198.18.42.0/24`. */
  readonly podSubnet: string;
  /** The bridge's address in the pod subnet (pods' default gateway). */
  readonly gateway: string;
  /** Name of the CNI bridge link inside the namespace. */
  readonly bridge: string;
  /** Snapshotter in use. */
  readonly snapshotter: 'overlayfs' | 'native';
  /** Temp directory holding config, state, root, CNI config and registry storage. */
  readonly root: string;
  /** The containerd process, with its log lines (for failure messages); a new one after a restart. */
  readonly containerd: TestProcess;
  /**
   * Stops containerd alone (SIGTERM), as a runtime outage: the containers' shims keep running,
   * the CRI socket stops answering.
   */
  stopContainerd(): Promise<void>;
  /** Starts containerd again with the same config and state; resolves once it answers. */
  startContainerd(): Promise<void>;
  /**
   * Runs `argv` inside the namespace (`nsenter --net`), e.g.
   * `['busybox', 'wget', '-qO-', 'http://198.18.42.2:8080/']`. Never throws on a non-zero exit.
   */
  exec(argv: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Runs `ctr --address <socketPath> ...args` inside the namespace. */
  ctr(args: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /**
   * Kills every container of this containerd, containerd itself, its shims and the registry,
   * unmounts what they mounted, deletes the bridge, the namespace and the temp dir. Idempotent.
   */
  stop(): Promise<void>;
}

const NAME_PREFIX = 'ke-ctrd-';
const NAME_PATTERN = /^ke-ctrd-(\d+)-(\d+)$/;
const CNI_BIN_DIR = '/usr/lib/cni';
const CNI_RESULTS_DIR = '/var/lib/cni/results';
const SHIM_SOCKET_DIR = '/run/containerd/s/';
const DEFAULT_RUNC_ROOT = '/run/containerd/runc';

let testbedCounter = 0;
const liveTestbeds = new Map<string, () => void>();

/** Everything a testbed leaves on the machine, derived from its name alone (for stale cleanup). */
interface TestbedPaths {
  readonly name: string;
  readonly root: string;
  readonly netns: string;
  readonly bridge: string;
  readonly socket: string;
  readonly state: string;
  readonly containerdRoot: string;
  readonly runcRoot: string;
}

function pathsOf(name: string): TestbedPaths {
  const root = join(tmpdir(), name);
  const counter = NAME_PATTERN.exec(name)?.[2] ?? '0';
  return {
    name,
    root,
    netns: name,
    bridge: `kecni${counter}`,
    socket: join(root, 'containerd.sock'),
    state: join(root, 'state'),
    containerdRoot: join(root, 'root'),
    runcRoot: join(root, 'runc'),
  };
}

function sh(file: string, args: readonly string[], timeoutMs = 10_000) {
  return spawnSync(file, [...args], { encoding: 'utf8', timeout: timeoutMs });
}

function mustRun(file: string, args: readonly string[]): void {
  const result = sh(file, args);
  if (result.status !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.error?.message}`,
    );
  }
}

function runAsync(file: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ stdout, stderr: `${stderr}${error.message}`, code: null });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) stderr += `\n[terminated by ${signal}]`;
      resolve({ stdout, stderr, code });
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is gone for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// The programs a testbed runs; a process is ours only if it is one of them and names our root.
const TESTBED_PROGRAMS = /^(containerd|containerd-shim.*|docker-registry|ctr|skopeo|nsenter|runc)$/;

/** PIDs of the testbed programs whose command line names a path inside `root`. */
function processesUsing(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!TESTBED_PROGRAMS.test(basename(args[0] ?? ''))) continue;
      if (args.some((arg) => arg === root || arg.startsWith(`${root}/`))) pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return pids.filter(processAlive);
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Mount points under `root`, deepest (latest) first. */
function mountsUnder(root: string): string[] {
  const mounts: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (!mountPoint) continue;
    const path = unescapeMountPath(mountPoint);
    if (path === root || path.startsWith(`${root}/`)) mounts.push(path);
  }
  return mounts.reverse();
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

interface TestbedContainer {
  readonly id: string;
  /** runc's state directory holding this container (ours, or runc's default for `ctr run`). */
  readonly runcRoot: string | undefined;
  /** The shim's socket in /run/containerd/s, outside our root. */
  readonly shimSocket: string | undefined;
}

/** Containers (task bundles) that this testbed's containerd created, from its state dir. */
function containersOf(paths: TestbedPaths): TestbedContainer[] {
  const taskDir = join(paths.state, 'io.containerd.runtime.v2.task');
  const containers: TestbedContainer[] = [];
  for (const namespace of listDir(taskDir)) {
    for (const id of listDir(join(taskDir, namespace))) {
      let shimSocket: string | undefined;
      try {
        const address = readFileSync(join(taskDir, namespace, id, 'address'), 'utf8').trim();
        const socket = address.replace(/^unix:\/\//, '');
        if (socket.startsWith(SHIM_SOCKET_DIR)) shimSocket = socket;
      } catch {
        // the shim never wrote its address
      }
      const runcRoot = [join(paths.runcRoot, namespace), join(DEFAULT_RUNC_ROOT, namespace)].find(
        (root) => existsSync(join(root, id)),
      );
      containers.push({ id, runcRoot, shimSocket });
    }
  }
  return containers;
}

function isShim(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.includes('containerd-shim');
  } catch {
    return false;
  }
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** `runc delete --force`: kills what is left in the container's cgroup and removes the cgroup. */
function runcDeleteArgs(container: TestbedContainer): string[] {
  return ['--root', container.runcRoot!, 'delete', '--force', container.id];
}

/**
 * Teardown, in an order that keeps it fast and complete. containerd and the registry die first,
 * so nothing starts new containers. Containers are deleted while their shims still live: a shim
 * reaps its container's init at once, while an orphan waits for this machine's PID 1 to reap it
 * and `runc delete` polls until it has (seconds). Then the shims go, then mounts, CNI cache
 * entries, the bridge, the namespace and the temp dir.
 */
function killServers(paths: TestbedPaths): number[] {
  const servers = processesUsing(paths.root).filter((pid) => !isShim(pid));
  killAll(servers);
  return servers;
}

function killShims(paths: TestbedPaths): number[] {
  const shims = processesUsing(paths.root).filter(isShim);
  killAll(shims);
  return shims;
}

function removeFiles(paths: TestbedPaths, containers: readonly TestbedContainer[]): void {
  for (const { shimSocket } of containers) if (shimSocket) rmSync(shimSocket, { force: true });

  const mounts = mountsUnder(paths.root);
  if (mounts.length > 0) sh('umount', ['-l', ...mounts]);

  // libcni caches ADD results outside our root; CRI would remove them on a CNI DEL.
  const sandboxIds = listDir(join(paths.containerdRoot, 'io.containerd.grpc.v1.cri', 'sandboxes'));
  const ids = [...sandboxIds, ...containers.map((container) => container.id)];
  for (const file of listDir(CNI_RESULTS_DIR)) {
    const ours =
      file.startsWith(`${paths.name}-`) || ids.some((id) => file.startsWith(`cni-loopback-${id}-`));
    if (ours) rmSync(join(CNI_RESULTS_DIR, file), { force: true });
  }

  if (existsSync(`/run/netns/${paths.netns}`)) {
    sh('ip', ['-n', paths.netns, 'link', 'delete', paths.bridge]);
    sh('ip', ['netns', 'delete', paths.netns]);
  }
  try {
    rmSync(paths.root, { recursive: true, force: true });
  } catch {
    // a file system that was still busy; unmount what is left and try once more
    const again = mountsUnder(paths.root);
    if (again.length > 0) sh('umount', ['-l', ...again]);
    rmSync(paths.root, { recursive: true, force: true });
  }
}

/** Synchronous teardown, for `exit` handlers and stale leftovers: waits for nothing. */
function teardownSync(paths: TestbedPaths): void {
  killServers(paths);
  const containers = containersOf(paths);
  for (const container of containers) {
    if (container.runcRoot) sh('runc', runcDeleteArgs(container), 15_000);
  }
  killShims(paths);
  removeFiles(paths, containers);
}

async function teardown(paths: TestbedPaths): Promise<void> {
  const servers = killServers(paths);
  const containers = containersOf(paths);
  await Promise.all(
    containers
      .filter((container) => container.runcRoot)
      .map((container) => runAsync('runc', runcDeleteArgs(container), 15_000)),
  );
  const killed = [...servers, ...killShims(paths)];
  await waitFor(
    `processes of ${paths.name} to exit`,
    () => killed.every((pid) => !processAlive(pid)),
    { timeoutMs: 10_000 },
  );
  removeFiles(paths, containers);
}

/**
 * Removes what testbeds of dead processes left behind: their processes (containerd, shims,
 * registry, containers), mounts, namespaces and temp dirs. A testbed's name holds the PID of the
 * process that started it (`ke-ctrd-<pid>-<n>`); testbeds of live processes are left alone.
 * `startContainerdTestbed` calls it first; returns the names it removed.
 */
export function removeStaleContainerdTestbeds(): string[] {
  const names = new Set(
    [...listDir('/run/netns'), ...listDir(tmpdir())].filter((name) => NAME_PATTERN.test(name)),
  );
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(NAME_PATTERN.exec(name)![1]);
    if (pid === process.pid || processAlive(pid)) continue;
    teardownSync(pathsOf(name));
    removed.push(name);
  }
  return removed;
}

let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const cleanAll = () => {
    for (const clean of liveTestbeds.values()) {
      try {
        clean();
      } catch {
        // best effort on the way out
      }
    }
    liveTestbeds.clear();
  };
  process.on('exit', cleanAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanAll();
      process.off(signal, onSignal);
      // Keep the default behaviour (exit by the signal) unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Whether an overlay mount works on the file system holding `dir`. */
function overlayWorks(dir: string): boolean {
  const probe = join(dir, 'overlay-probe');
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => {
    const path = join(probe, d);
    mkdirSync(path, { recursive: true });
    return path;
  }) as [string, string, string, string];
  const mounted = sh('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
    merged,
  ]);
  if (mounted.status === 0) sh('umount', [merged]);
  rmSync(probe, { recursive: true, force: true });
  return mounted.status === 0;
}

function defaultSubnet(counter: number): string {
  // Each testbed has its own namespace, so equal subnets would not collide; distinct ones keep
  // logs and captures unambiguous when several test files run at once.
  const third = 16 + ((process.pid * 4 + counter) % 224);
  return `198.18.${third}.0/24`;
}

function gatewayOf(subnet: string): string {
  // Tests use only loopback and 198.18.0.0/15 (benchmarking range), never real networks.
  const match = /^(198\.1[89]\.\d{1,3})\.0\/24$/.exec(subnet);
  if (!match) {
    throw new Error(
      `podSubnet must be a /24 inside 198.18.0.0/15 like 198.18.42.0/24, got ${subnet}`,
    );
  }
  return `${match[1]}.1`;
}

function cniConfig(paths: TestbedPaths, subnet: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: paths.name,
      plugins: [
        {
          type: 'bridge',
          bridge: paths.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(paths.root, 'cni-ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function containerdConfig(
  paths: TestbedPaths,
  sandboxImage: string,
  snapshotter: string,
  cniConfDir: string,
): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${paths.containerdRoot}"
state = "${paths.state}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "${paths.socket}"

[ttrpc]
  address = "${paths.socket}.ttrpc"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(paths.root, 'opt')}"

[${cri}]
  sandbox_image = "${sandboxImage}"
  # The machine's root lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj to -998 for the
  # sandbox. Restricting keeps every container's oom_score_adj at or above containerd's own.
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, not in the host's /run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [${cri}.containerd]
    snapshotter = "${snapshotter}"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${paths.runcRoot}"
  [${cri}.cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${cniConfDir}"
    max_conf_num = 1
`;
}

/**
 * Starts a private containerd (CRI enabled) in a network namespace of its own, with a bridge CNI
 * network for pods in 198.18.0.0/15 and a registry on 127.0.0.1 in the same namespace holding a
 * busybox and a pause image. Leftovers of crashed earlier runs are removed first. Call `stop()`
 * in `afterAll`; a process exit or SIGINT/SIGTERM also removes it, as a best effort.
 */
export async function startContainerdTestbed(
  options: ContainerdTestbedOptions = {},
): Promise<ContainerdTestbed> {
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + startTimeoutMs;
  const remaining = () => Math.max(1_000, deadline - Date.now());

  const counter = ++testbedCounter;
  const podSubnet = options.podSubnet ?? defaultSubnet(counter);
  const gateway = gatewayOf(podSubnet);
  const registry = `127.0.0.1:${options.registryPort ?? 5000}`;
  const images = {
    busybox: `${registry}/library/busybox:1.35`,
    pause: `${registry}/library/pause:3.6`,
  };

  removeStaleContainerdTestbeds();
  const image = await buildBusyboxImage({ cacheDir: options.cacheDir });

  const name = `${NAME_PREFIX}${process.pid}-${counter}`;
  const paths = pathsOf(name);
  teardownSync(paths); // a same-named leftover of a recycled PID
  installExitHooks();
  liveTestbeds.set(name, () => teardownSync(paths));

  const netnsPath = `/run/netns/${paths.netns}`;
  // Arguments of `nsenter` that run argv inside the namespace.
  const inNetns = (argv: readonly string[]) => [`--net=${netnsPath}`, '--', ...argv];

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= teardown(paths).finally(() => liveTestbeds.delete(name));
    return stopping;
  };

  try {
    mkdirSync(paths.root, { recursive: true, mode: 0o700 });
    mustRun('ip', ['netns', 'add', paths.netns]);
    mustRun('ip', ['-n', paths.netns, 'link', 'set', 'lo', 'up']);

    // The registry must hold the images before containerd's first sandbox; containerd boots
    // meanwhile, as it needs the registry only then.
    const registryConfig = join(paths.root, 'registry.yml');
    writeFileSync(
      registryConfig,
      [
        'version: 0.1',
        'log:',
        '  level: info',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(paths.root, 'registry')}`,
        'http:',
        `  addr: ${registry}`,
        `  secret: ${name}`,
        '',
      ].join('\n'),
    );
    const registryProcess = startProcess(
      'nsenter',
      inNetns(['docker-registry', 'serve', registryConfig]),
    );

    const snapshotter = options.snapshotter ?? (overlayWorks(paths.root) ? 'overlayfs' : 'native');
    const cniConfDir = join(paths.root, 'cni');
    mkdirSync(cniConfDir);
    writeFileSync(join(cniConfDir, '10-ke.conflist'), cniConfig(paths, podSubnet));
    const configFile = join(paths.root, 'containerd.toml');
    writeFileSync(configFile, containerdConfig(paths, images.pause, snapshotter, cniConfDir));
    // nsenter, not `ip netns exec`: the latter remounts /sys, and runc then finds no cgroups.
    const bootContainerd = () =>
      startProcess('nsenter', inNetns(['containerd', '--config', configFile]));
    let containerd = bootContainerd();
    const ctr = (args: readonly string[], { timeoutMs = 30_000 } = {}) =>
      runAsync('nsenter', inNetns(['ctr', '--address', paths.socket, ...args]), timeoutMs);

    const push = async (source: string, target: string) => {
      const result = await runAsync(
        'nsenter',
        inNetns([
          'skopeo',
          '--insecure-policy',
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          source,
          `docker://${target}`,
        ]),
        remaining(),
      );
      if (result.code !== 0) throw new Error(`skopeo copy to ${target} failed: ${result.stderr}`);
    };
    const registryReady = async () => {
      await registryProcess.waitForLine(/listening on/, remaining());
      await Promise.all([push(image.busybox, images.busybox), push(image.pause, images.pause)]);
    };
    const containerdReady = async (timeoutMs = remaining()) => {
      const until = Date.now() + timeoutMs;
      const left = () => Math.max(1_000, until - Date.now());
      await containerd.waitForLine(/containerd successfully booted/, left());
      await waitFor(
        'containerd to answer `ctr version`',
        async () => (await ctr(['version'], { timeoutMs: 5_000 })).code === 0,
        { timeoutMs: left() },
      );
    };
    const failed = (await Promise.allSettled([registryReady(), containerdReady()])).find(
      (outcome) => outcome.status === 'rejected',
    );
    if (failed) throw failed.reason;

    return {
      name,
      netns: paths.netns,
      netnsPath,
      criEndpoint: `unix://${paths.socket}`,
      socketPath: paths.socket,
      registry,
      images,
      podSubnet,
      gateway,
      bridge: paths.bridge,
      snapshotter,
      root: paths.root,
      get containerd() {
        return containerd;
      },
      async stopContainerd() {
        await containerd.stop('SIGTERM', 20_000);
      },
      async startContainerd() {
        if (containerd.child.exitCode === null && containerd.child.signalCode === null) return;
        containerd = bootContainerd();
        await containerdReady(60_000);
      },
      exec: (argv, { timeoutMs = 30_000 } = {}) => runAsync('nsenter', inNetns(argv), timeoutMs),
      ctr,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is an ELF executable without an interpreter (statically linked). */
function isStaticElf(path: string): boolean {
  const header = Buffer.alloc(64);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    readSync(fd, header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false; // ELF64 only
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    }
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * What {@link startContainerdTestbed} needs from the machine, for `describeWithSystem`: root,
 * network namespaces, containerd, runc, the CNI plugins, docker-registry, umoci, skopeo, nsenter
 * and a statically linked busybox.
 */
export function containerdPrerequisites(): SystemPrerequisite[] {
  return [
    rootUser(),
    networkNamespaces(),
    command('containerd', { debianPackage: 'containerd' }),
    command('ctr', { debianPackage: 'containerd' }),
    command('containerd-shim-runc-v2', { debianPackage: 'containerd' }),
    command('runc', { debianPackage: 'runc' }),
    command('nsenter', { debianPackage: 'util-linux' }),
    command('docker-registry', { debianPackage: 'docker-registry' }),
    command('umoci', { debianPackage: 'umoci' }),
    command('skopeo', { debianPackage: 'skopeo' }),
    {
      name: 'busybox-static',
      install: 'apt-get install -y busybox-static',
      check: () =>
        isStaticElf('/bin/busybox')
          ? undefined
          : '/bin/busybox is missing or not statically linked',
    },
    {
      name: 'CNI plugins',
      install: 'apt-get install -y containernetworking-plugins',
      check: () => {
        const missing = ['bridge', 'host-local', 'loopback', 'portmap'].filter(
          (plugin) => !executable(join(CNI_BIN_DIR, plugin)),
        );
        return missing.length === 0
          ? undefined
          : `missing in ${CNI_BIN_DIR}: ${missing.join(', ')}`;
      },
    },
  ];
}
