import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { criPackageDefinition } from './client';
import type {
  AuthConfig,
  ContainerConfig,
  ContainerState,
  Mount,
  PodSandboxConfig,
  PodSandboxMetadata,
  PodSandboxState,
  RuntimeCondition,
} from './types';

/** A sandbox as the simulated runtime holds it (a copy: changing it changes nothing). */
export interface FakeSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  /** Nanoseconds since the epoch. */
  createdAt: string;
  /** The pod IP, `''` in the node's network namespace or once stopped. */
  ip: string;
  hostNetwork: boolean;
  hostname: string;
  logDirectory: string;
  runtimeHandler: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A container as the simulated runtime holds it (a copy). */
export interface FakeContainer {
  id: string;
  podSandboxId: string;
  metadata: { name: string; attempt: number };
  /** The image as the container config named it. */
  image: string;
  /** The image id it runs (`sha256:...`). */
  imageRef: string;
  state: ContainerState;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  command: string[];
  args: string[];
  envs: { key: string; value: string }[];
  mounts: Mount[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Absolute path of the log file, `''` without a sandbox log directory. */
  logPath: string;
}

/** An image the simulated node holds. */
export interface FakeImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
}

/** What a simulated `ExecSync` returns. */
export interface FakeExecResult {
  exitCode?: number;
  stdout?: string | Buffer;
  stderr?: string | Buffer;
}

export type FakeExecHandler = (exec: {
  container: FakeContainer;
  cmd: string[];
  timeoutSec: number;
}) => FakeExecResult | Promise<FakeExecResult>;

export interface FakeCriServerOptions {
  /** Where to listen. Default: a new path in the OS temp directory. */
  socketPath?: string;
  /**
   * Images the simulated registry has: `PullImage` succeeds for these and answers NOT_FOUND
   * for others. Default: `registry.k8s.io/pause:3.10` and busybox, alpine and nginx (latest).
   */
  images?: string[];
  /** `PullImage` succeeds for any image. Default false. */
  pullAnyImage?: boolean;
  /** Images on the node from the start (no pull needed). Default none. */
  preloadedImages?: string[];
  /** Images that need registry credentials, by reference. */
  privateImages?: Record<string, { username: string; password: string }>;
  /** `VersionResponse.runtime_name`. Default `simulated`. */
  runtimeName?: string;
  /** `VersionResponse.runtime_version`. Default `0.1.0`. */
  runtimeVersion?: string;
  /** Pod IPs come from here. Default `10.88.0.0/16` (containerd's default bridge network). */
  podCidr?: string;
  /** Named runtime handlers besides the default (`''`). Default `['runc']`. */
  runtimeHandlers?: string[];
  /** What `ExecSync` does. Default: nothing, exit code 0. */
  exec?: FakeExecHandler;
  /** The line a container writes to its log when it starts. */
  logLine?: (container: FakeContainer) => string;
}

export interface FakeCriServer {
  /** `unix://<socketPath>`: give it to `createCriClient`. */
  readonly endpoint: string;
  readonly socketPath: string;
  /** Listens. After `stop()`, starts again with the same state, as a restarted runtime. */
  start(): Promise<void>;
  /** Stops listening (calls fail with UNAVAILABLE); sandboxes and containers are kept. */
  stop(): Promise<void>;
  /** While true, every call answers UNAVAILABLE (the socket stays). */
  setUnavailable(unavailable: boolean): void;
  /** Sets a runtime condition `Status` reports (`RuntimeReady`, `NetworkReady`, ...). */
  setCondition(type: string, status: boolean, reason?: string, message?: string): void;
  /** The next call of `method` (e.g. `CreateContainer`) fails with this gRPC status. */
  failNext(method: string, code: status, details: string): void;
  /** A running container's process ends (a crash when `exitCode` is not 0). */
  exitContainer(containerId: string, exitCode: number, reason?: string): void;
  /** Appends a line to a container's log, in the CRI log format. */
  writeLog(containerId: string, line: string, stream?: 'stdout' | 'stderr'): Promise<void>;
  setExecHandler(handler: FakeExecHandler | undefined): void;
  sandboxes(): FakeSandbox[];
  containers(): FakeContainer[];
  images(): FakeImage[];
  /** Every `PullImage` so far, with the credentials it came with. */
  pulls(): { image: string; auth: AuthConfig | null }[];
  /** How many times `method` (e.g. `PullImage`) was called. */
  calls(method: string): number;
}

class CallFailure extends Error {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(details);
  }
}

const DEFAULT_IMAGES = [
  'registry.k8s.io/pause:3.10',
  'docker.io/library/busybox:latest',
  'docker.io/library/alpine:latest',
  'docker.io/library/nginx:latest',
];

/** `busybox` → `docker.io/library/busybox:latest`, as containerd names images. */
export function normalizeImageRef(reference: string): string {
  if (reference.startsWith('sha256:')) return reference;
  let name = reference;
  let suffix = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  } else if (!suffix) {
    suffix = ':latest';
  }
  const parts = name.split('/');
  const first = parts[0] ?? '';
  const hasRegistry =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) name = `docker.io/${parts.length === 1 ? `library/${name}` : name}`;
  else if (first === 'docker.io' && parts.length === 2) name = `docker.io/library/${parts[1]}`;
  return name + suffix;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function imageOf(reference: string): FakeImage {
  const digest = sha256(`digest:${reference}`);
  const repository = reference.replace(/[:@][^/]*$/, '');
  return {
    id: `sha256:${sha256(`config:${reference}`)}`,
    repoTags: reference.includes('@') ? [] : [reference],
    repoDigests: [`${repository}@sha256:${digest}`],
    size: 1_000_000 + (Number.parseInt(digest.slice(0, 6), 16) % 50_000_000),
  };
}

// Times are nanoseconds since the epoch, strictly increasing so that creation order is kept.
const epochBaseNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
let lastNs = 0n;
function nowNs(): bigint {
  let now = epochBaseNs + process.hrtime.bigint();
  if (now <= lastNs) now = lastNs + 1n;
  lastNs = now;
  return now;
}

/** Go's `time.RFC3339Nano` (fraction without trailing zeros), as the CRI log format uses. */
function rfc3339Nano(ns: bigint): string {
  const seconds = new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}

function ipPool(cidr: string): { allocate(): string; release(ip: string): void } {
  const [address, bits] = cidr.split('/');
  const octets = (address ?? '').split('.').map(Number);
  const prefix = Number(bits);
  if (
    octets.length !== 4 ||
    octets.some((o) => !(o >= 0 && o <= 255)) ||
    !(prefix >= 8 && prefix <= 30)
  ) {
    throw new Error(`podCidr must be an IPv4 CIDR between /8 and /30, got ${cidr}`);
  }
  const size = 2 ** (32 - prefix);
  const address32 = octets.reduce((n, o) => n * 256 + o, 0);
  const base = address32 - (address32 % size);
  const used = new Set<number>();
  const toIp = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
  return {
    allocate() {
      // .0 is the network, .1 the bridge, the last the broadcast address.
      for (let n = base + 2; n < base + size - 1; n++) {
        if (!used.has(n)) {
          used.add(n);
          return toIp(n);
        }
      }
      throw new CallFailure(status.RESOURCE_EXHAUSTED, `no IP address left in ${cidr}`);
    },
    release(ip) {
      used.delete(ip.split('.').reduce((n, o) => n * 256 + Number(o), 0));
    },
  };
}

function matchesLabels(labels: Record<string, string>, selector: Record<string, string> | null) {
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

function toBuffer(value: string | Buffer | undefined): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value ?? '');
}

interface SandboxRecord extends FakeSandbox {
  config: PodSandboxConfig;
}

interface ContainerRecord extends FakeContainer {
  sandboxName: string;
}

/**
 * An in-process CRI v1 runtime over a Unix socket that simulates pods in memory: sandboxes get
 * IPs from a pool, containers go CREATED → RUNNING → EXITED, images are "pulled" from a known
 * set. Nothing runs: tests drive crashes with `exitContainer`, outages with `stop` or
 * `setUnavailable`.
 */
export function createFakeCriServer(options: FakeCriServerOptions = {}): FakeCriServer {
  const socketPath =
    options.socketPath ?? join(tmpdir(), `ke-fake-cri-${randomUUID().slice(0, 8)}.sock`);
  const endpoint = `unix://${socketPath}`;
  const runtimeName = options.runtimeName ?? 'simulated';
  const runtimeVersion = options.runtimeVersion ?? '0.1.0';
  const handlers = new Set(['', ...(options.runtimeHandlers ?? ['runc'])]);
  const registry = new Set((options.images ?? DEFAULT_IMAGES).map(normalizeImageRef));
  const privateImages = new Map(
    Object.entries(options.privateImages ?? {}).map(([ref, creds]) => [
      normalizeImageRef(ref),
      creds,
    ]),
  );
  const ips = ipPool(options.podCidr ?? '10.88.0.0/16');
  let exec = options.exec;

  const sandboxes = new Map<string, SandboxRecord>();
  const containers = new Map<string, ContainerRecord>();
  const images = new Map<string, FakeImage>();
  const pulls: { image: string; auth: AuthConfig | null }[] = [];
  const callCounts = new Map<string, number>();
  const failures = new Map<string, { code: status; details: string }[]>();
  const conditions = new Map<string, RuntimeCondition>(
    ['RuntimeReady', 'NetworkReady'].map((type) => [
      type,
      { type, status: true, reason: '', message: '' },
    ]),
  );
  let unavailable = false;
  let server: Server | undefined;

  for (const reference of options.preloadedImages ?? []) {
    const normalized = normalizeImageRef(reference);
    const image = imageOf(normalized);
    images.set(image.id, image);
  }

  const newId = () => randomBytes(32).toString('hex');

  function findImage(reference: string): FakeImage | undefined {
    const normalized = normalizeImageRef(reference);
    for (const image of images.values()) {
      if (
        image.id === reference ||
        image.repoTags.includes(normalized) ||
        image.repoDigests.includes(normalized)
      ) {
        return image;
      }
    }
    return undefined;
  }

  /** Exact id, or a unique prefix of one, as containerd's truncated-id index allows. */
  function lookup<T>(map: Map<string, T>, id: string): T | undefined {
    const exact = map.get(id);
    if (exact || id.length === 0) return exact;
    const matches = [...map.keys()].filter((key) => key.startsWith(id));
    return matches.length === 1 ? map.get(matches[0]!) : undefined;
  }

  function sandboxOrFail(id: string): SandboxRecord {
    const sandbox = lookup(sandboxes, id);
    if (!sandbox) {
      throw new CallFailure(
        status.NOT_FOUND,
        `an error occurred when try to find sandbox "${id}": not found`,
      );
    }
    return sandbox;
  }

  function containerOrFail(id: string): ContainerRecord {
    const container = lookup(containers, id);
    if (!container) {
      throw new CallFailure(
        status.NOT_FOUND,
        `an error occurred when try to find container "${id}": not found`,
      );
    }
    return container;
  }

  function finish(container: ContainerRecord, exitCode: number, reason?: string): void {
    container.state = 'CONTAINER_EXITED';
    container.finishedAt = nowNs().toString();
    container.exitCode = exitCode;
    container.reason = reason ?? (exitCode === 0 ? 'Completed' : 'Error');
  }

  function publicSandbox({ config: _config, ...sandbox }: SandboxRecord): FakeSandbox {
    return structuredClone(sandbox);
  }

  function publicContainer({ sandboxName: _name, ...container }: ContainerRecord): FakeContainer {
    return structuredClone(container);
  }

  async function writeLogLine(container: ContainerRecord, line: string, stream: string) {
    if (!container.logPath) return;
    await mkdir(dirname(container.logPath), { recursive: true });
    await appendFile(container.logPath, `${rfc3339Nano(nowNs())} ${stream} F ${line}\n`);
  }

  function containerView(container: ContainerRecord) {
    return {
      id: container.id,
      podSandboxId: container.podSandboxId,
      metadata: container.metadata,
      image: { image: container.image },
      imageRef: container.imageRef,
      state: container.state,
      createdAt: container.createdAt,
      labels: container.labels,
      annotations: container.annotations,
      imageId: container.imageRef,
    };
  }

  function imageView(image: FakeImage) {
    return { ...image, size: String(image.size), uid: null, username: '', pinned: false };
  }

  // biome-ignore lint/suspicious/noExplicitAny: requests are the decoded CRI messages.
  type Handler = (request: any) => object | Promise<object>;

  const runtimeService: Record<string, Handler> = {
    Version: () => ({
      version: '0.1.0',
      runtimeName,
      runtimeVersion,
      runtimeApiVersion: 'v1',
    }),

    Status: () => ({
      status: { conditions: [...conditions.values()] },
      info: {},
      runtimeHandlers: [...handlers].map((name) => ({
        name,
        features: { recursiveReadOnlyMounts: false, userNamespaces: false },
      })),
      features: { supplementalGroupsPolicy: false, userNamespacesHostNetwork: false },
    }),

    RunPodSandbox: (request) => {
      const config = request.config as PodSandboxConfig | null;
      const metadata = config?.metadata;
      if (!config || !metadata?.name || !metadata.namespace || !metadata.uid) {
        throw new CallFailure(
          status.INVALID_ARGUMENT,
          'sandbox config must include metadata name, namespace and uid',
        );
      }
      const runtimeHandler = request.runtimeHandler as string;
      if (!handlers.has(runtimeHandler)) {
        throw new CallFailure(status.UNKNOWN, `no runtime for "${runtimeHandler}" is configured`);
      }
      const attempt = metadata.attempt ?? 0;
      const name = `${metadata.name}_${metadata.namespace}_${metadata.uid}_${attempt}`;
      for (const other of sandboxes.values()) {
        const m = other.metadata;
        if (`${m.name}_${m.namespace}_${m.uid}_${m.attempt}` === name) {
          throw new CallFailure(
            status.ALREADY_EXISTS,
            `failed to reserve sandbox name "${name}": name "${name}" is reserved for "${other.id}"`,
          );
        }
      }
      const hostNetwork = config.linux?.securityContext?.namespaceOptions?.network === 'NODE';
      const sandbox: SandboxRecord = {
        id: newId(),
        metadata: {
          name: metadata.name,
          namespace: metadata.namespace,
          uid: metadata.uid,
          attempt,
        },
        state: 'SANDBOX_READY',
        createdAt: nowNs().toString(),
        ip: hostNetwork ? '' : ips.allocate(),
        hostNetwork,
        hostname: config.hostname ?? '',
        logDirectory: config.logDirectory ?? '',
        runtimeHandler,
        labels: { ...config.labels },
        annotations: { ...config.annotations },
        config,
      };
      sandboxes.set(sandbox.id, sandbox);
      return { podSandboxId: sandbox.id };
    },

    StopPodSandbox: (request) => {
      const sandbox = sandboxOrFail(request.podSandboxId);
      for (const container of containers.values()) {
        if (container.podSandboxId === sandbox.id && container.state === 'CONTAINER_RUNNING') {
          finish(container, 137);
        }
      }
      if (sandbox.ip) ips.release(sandbox.ip);
      sandbox.ip = '';
      sandbox.state = 'SANDBOX_NOTREADY';
      return {};
    },

    RemovePodSandbox: (request) => {
      const sandbox = lookup(sandboxes, request.podSandboxId);
      if (!sandbox) return {};
      for (const container of [...containers.values()]) {
        if (container.podSandboxId === sandbox.id) containers.delete(container.id);
      }
      if (sandbox.ip) ips.release(sandbox.ip);
      sandboxes.delete(sandbox.id);
      return {};
    },

    PodSandboxStatus: (request) => {
      const sandbox = sandboxOrFail(request.podSandboxId);
      const network = sandbox.config.linux?.securityContext?.namespaceOptions ?? null;
      return {
        status: {
          id: sandbox.id,
          metadata: sandbox.metadata,
          state: sandbox.state,
          createdAt: sandbox.createdAt,
          network: { ip: sandbox.ip, additionalIps: [] },
          linux: { namespaces: { options: network } },
          labels: sandbox.labels,
          annotations: sandbox.annotations,
          runtimeHandler: sandbox.runtimeHandler,
        },
        info: {},
        containersStatuses: [],
        timestamp: '0',
      };
    },

    ListPodSandbox: (request) => {
      const filter = request.filter;
      const items = [...sandboxes.values()]
        .filter((sandbox) => {
          if (!filter) return true;
          if (filter.id && !sandbox.id.startsWith(filter.id)) return false;
          if (filter.state && filter.state.state !== sandbox.state) return false;
          return matchesLabels(sandbox.labels, filter.labelSelector);
        })
        .map((sandbox) => ({
          id: sandbox.id,
          metadata: sandbox.metadata,
          state: sandbox.state,
          createdAt: sandbox.createdAt,
          labels: sandbox.labels,
          annotations: sandbox.annotations,
          runtimeHandler: sandbox.runtimeHandler,
        }));
      return { items };
    },

    CreateContainer: (request) => {
      const sandbox = sandboxOrFail(request.podSandboxId);
      const config = request.config as ContainerConfig | null;
      if (!config?.metadata?.name || !config.image?.image) {
        throw new CallFailure(
          status.INVALID_ARGUMENT,
          'container config must include metadata name and image',
        );
      }
      if (sandbox.state !== 'SANDBOX_READY') {
        throw new CallFailure(
          status.FAILED_PRECONDITION,
          `sandbox ${sandbox.id} is not ready: cannot create container ${config.metadata.name}`,
        );
      }
      const image = findImage(config.image.image);
      if (!image) {
        throw new CallFailure(
          status.NOT_FOUND,
          `failed to get image "${config.image.image}": image "${config.image.image}": not found`,
        );
      }
      const attempt = config.metadata.attempt ?? 0;
      const name = `${config.metadata.name}_${sandbox.metadata.name}_${sandbox.metadata.namespace}_${sandbox.metadata.uid}_${attempt}`;
      for (const other of containers.values()) {
        if (other.sandboxName === name) {
          throw new CallFailure(
            status.ALREADY_EXISTS,
            `failed to reserve container name "${name}": name "${name}" is reserved for "${other.id}"`,
          );
        }
      }
      const logPath =
        sandbox.logDirectory && config.logPath
          ? isAbsolute(config.logPath)
            ? config.logPath
            : join(sandbox.logDirectory, config.logPath)
          : '';
      const container: ContainerRecord = {
        id: newId(),
        podSandboxId: sandbox.id,
        metadata: { name: config.metadata.name, attempt },
        image: config.image.image,
        imageRef: image.id,
        state: 'CONTAINER_CREATED',
        createdAt: nowNs().toString(),
        startedAt: '0',
        finishedAt: '0',
        exitCode: 0,
        reason: '',
        message: '',
        command: config.command ?? [],
        args: config.args ?? [],
        envs: config.envs ?? [],
        mounts: config.mounts ?? [],
        labels: { ...config.labels },
        annotations: { ...config.annotations },
        logPath,
        sandboxName: name,
      };
      containers.set(container.id, container);
      return { containerId: container.id };
    },

    StartContainer: async (request) => {
      const container = containerOrFail(request.containerId);
      if (container.state !== 'CONTAINER_CREATED') {
        throw new CallFailure(
          status.UNKNOWN,
          `failed to start container "${container.id}": container is in ${container.state} state`,
        );
      }
      container.state = 'CONTAINER_RUNNING';
      container.startedAt = nowNs().toString();
      container.reason = '';
      const line =
        options.logLine?.(publicContainer(container)) ??
        `simulated ${container.metadata.name}: ${[...container.command, ...container.args].join(' ')}`.trimEnd();
      await writeLogLine(container, line, 'stdout');
      return {};
    },

    StopContainer: (request) => {
      const container = containerOrFail(request.containerId);
      if (container.state === 'CONTAINER_RUNNING') {
        // A grace period lets the process exit on SIGTERM; without one it is SIGKILLed.
        finish(container, Number(request.timeout) > 0 ? 0 : 137);
      }
      return {};
    },

    RemoveContainer: (request) => {
      const container = lookup(containers, request.containerId);
      if (container) containers.delete(container.id);
      return {};
    },

    ListContainers: (request) => {
      const filter = request.filter;
      const list = [...containers.values()].filter((container) => {
        if (!filter) return true;
        if (filter.id && !container.id.startsWith(filter.id)) return false;
        if (filter.podSandboxId && !container.podSandboxId.startsWith(filter.podSandboxId)) {
          return false;
        }
        if (filter.state && filter.state.state !== container.state) return false;
        return matchesLabels(container.labels, filter.labelSelector);
      });
      return { containers: list.map(containerView) };
    },

    ContainerStatus: (request) => {
      const container = containerOrFail(request.containerId);
      return {
        status: {
          ...containerView(container),
          startedAt: container.startedAt,
          finishedAt: container.finishedAt,
          exitCode: container.exitCode,
          reason: container.reason,
          message: container.message,
          mounts: container.mounts,
          logPath: container.logPath,
          resources: null,
        },
        info: {},
      };
    },

    ReopenContainerLog: (request) => {
      const container = containerOrFail(request.containerId);
      if (container.state !== 'CONTAINER_RUNNING') {
        throw new CallFailure(status.UNKNOWN, `container ${container.id} is not running`);
      }
      return {};
    },

    ExecSync: async (request) => {
      const container = containerOrFail(request.containerId);
      if (container.state !== 'CONTAINER_RUNNING') {
        throw new CallFailure(
          status.UNKNOWN,
          `container is in ${container.state} state: cannot exec in ${container.id}`,
        );
      }
      const result = (await exec?.({
        container: publicContainer(container),
        cmd: request.cmd,
        timeoutSec: Number(request.timeout),
      })) ?? { exitCode: 0 };
      return {
        stdout: toBuffer(result.stdout),
        stderr: toBuffer(result.stderr),
        exitCode: result.exitCode ?? 0,
      };
    },
  };

  const imageService: Record<string, Handler> = {
    ListImages: (request) => {
      const wanted = request.filter?.image?.image as string | undefined;
      const list = wanted
        ? [findImage(wanted)].filter((image) => image !== undefined)
        : [...images.values()];
      return { images: list.map(imageView) };
    },

    ImageStatus: (request) => {
      const image = findImage(request.image?.image ?? '');
      return { image: image ? imageView(image) : null, info: {} };
    },

    PullImage: (request) => {
      const reference = (request.image?.image ?? '') as string;
      const auth = (request.auth ?? null) as AuthConfig | null;
      pulls.push({ image: reference, auth });
      const normalized = normalizeImageRef(reference);
      if (!options.pullAnyImage && !registry.has(normalized)) {
        throw new CallFailure(
          status.NOT_FOUND,
          `failed to pull and unpack image "${normalized}": failed to resolve reference ` +
            `"${normalized}": ${normalized}: not found`,
        );
      }
      const required = privateImages.get(normalized);
      if (required) {
        const basic = Buffer.from(`${required.username}:${required.password}`).toString('base64');
        const ok =
          (auth?.username === required.username && auth.password === required.password) ||
          auth?.auth === basic;
        if (!ok) {
          throw new CallFailure(
            status.UNKNOWN,
            `failed to pull and unpack image "${normalized}": failed to resolve reference ` +
              `"${normalized}": pull access denied, repository does not exist or may require ` +
              'authorization: authorization failed: 401 Unauthorized',
          );
        }
      }
      const image = findImage(normalized) ?? imageOf(normalized);
      images.set(image.id, image);
      return { imageRef: image.id };
    },

    RemoveImage: (request) => {
      const image = findImage(request.image?.image ?? '');
      if (image) images.delete(image.id);
      return {};
    },

    ImageFsInfo: () => {
      const used = [...images.values()].reduce((sum, image) => sum + image.size, 0);
      return {
        imageFilesystems: [
          {
            timestamp: nowNs().toString(),
            fsId: { mountpoint: `/var/lib/${runtimeName}/images` },
            usedBytes: { value: String(used) },
            inodesUsed: { value: String(images.size * 100) },
          },
        ],
        containerFilesystems: [],
      };
    },
  };

  function implement(handlers: Record<string, Handler>): UntypedServiceImplementation {
    const implementation: UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(handlers)) {
      implementation[method] = async (
        call: ServerUnaryCall<unknown, unknown>,
        callback: sendUnaryData<unknown>,
      ) => {
        callCounts.set(method, (callCounts.get(method) ?? 0) + 1);
        try {
          if (unavailable) {
            throw new CallFailure(status.UNAVAILABLE, 'the simulated runtime is unavailable');
          }
          const injected = failures.get(method)?.shift();
          if (injected) throw new CallFailure(injected.code, injected.details);
          callback(null, await handler(call.request));
        } catch (error) {
          if (error instanceof CallFailure) {
            callback({ code: error.code, details: error.details });
          } else {
            callback({ code: status.INTERNAL, details: String(error) });
          }
        }
      };
    }
    return implementation;
  }

  return {
    endpoint,
    socketPath,

    async start() {
      if (server) return;
      const definition = criPackageDefinition();
      const next = new Server();
      next.addService(
        definition['runtime.v1.RuntimeService'] as ServiceDefinition,
        implement(runtimeService),
      );
      next.addService(
        definition['runtime.v1.ImageService'] as ServiceDefinition,
        implement(imageService),
      );
      // A socket left by a runtime that did not stop cleanly would make the bind fail.
      await rm(socketPath, { force: true });
      await new Promise<void>((resolve, reject) => {
        next.bindAsync(endpoint, ServerCredentials.createInsecure(), (error) =>
          error ? reject(error) : resolve(),
        );
      });
      server = next;
    },

    async stop() {
      const current = server;
      if (!current) return;
      server = undefined;
      current.forceShutdown();
      await rm(socketPath, { force: true });
    },

    setUnavailable(value) {
      unavailable = value;
    },

    setCondition(type, value, reason = '', message = '') {
      conditions.set(type, { type, status: value, reason, message });
    },

    failNext(method, code, details) {
      const queue = failures.get(method) ?? [];
      queue.push({ code, details });
      failures.set(method, queue);
    },

    exitContainer(containerId, exitCode, reason) {
      const container = lookup(containers, containerId);
      if (!container) throw new Error(`no container ${containerId}`);
      if (container.state !== 'CONTAINER_RUNNING') {
        throw new Error(`container ${containerId} is ${container.state}, not running`);
      }
      finish(container, exitCode, reason);
    },

    async writeLog(containerId, line, stream = 'stdout') {
      const container = lookup(containers, containerId);
      if (!container) throw new Error(`no container ${containerId}`);
      await writeLogLine(container, line, stream);
    },

    setExecHandler(handler) {
      exec = handler;
    },

    sandboxes: () => [...sandboxes.values()].map(publicSandbox),
    containers: () => [...containers.values()].map(publicContainer),
    images: () => [...images.values()].map((image) => structuredClone(image)),
    pulls: () => structuredClone(pulls),
    calls: (method) => callCounts.get(method) ?? 0,
  };
}
