import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1NodeStatus,
  V1Pod,
  V1PodStatus,
  V1Probe,
  V1Secret,
} from '@kubernetes/client-node';
import { Backoff, type BackoffOptions } from './backoff';
import type { CriClient } from './cri/client';
import { nanosToDate } from './cri/client';
import type {
  AuthConfig,
  Container,
  ContainerConfig,
  ContainerStatus,
  NamespaceOption,
  PodSandbox,
  PodSandboxConfig,
} from './cri/types';
import { EdgedError } from './errors';
import { readContainerLog } from './logs';
import { buildNodeStatus, defaultNodeIP, type RuntimeHealth } from './node-status';
import { sandboxDnsConfig } from './pod/dns';
import { containerEnv, expandCommand, parseQuantity } from './pod/env';
import {
  CONTAINER_NAME_LABEL,
  containerAnnotations,
  containerLabels,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  POD_UID_LABEL,
  RESTART_COUNT_ANNOTATION,
  sandboxLabels,
  TERMINATION_GRACE_ANNOTATION,
} from './pod/labels';
import {
  createProbeWorker,
  type ProbeKind,
  type ProbeState,
  type ProbeWorker,
  runProbe,
} from './pod/probes';
import { containerMounts, preparePodVolumes, removePodVolumes } from './pod/volumes';
import { buildPodStatus, type ContainerView } from './status';

/** Fields first, message second (pino's order), so a pino logger fits as is. */
export interface EdgedLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
  error?(fields: object, message: string): void;
}

/** Where edged reads the ConfigMaps and Secrets pods use (MetaManager's store at the edge). */
export interface ResourceLookup {
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
}

export interface EdgedOptions {
  /** This node's name: only pods with `spec.nodeName` equal to it are run. */
  readonly nodeName: string;
  /** The container runtime: `createCriClient({ endpoint })`, or the fake runtime's client. */
  readonly runtime: CriClient;
  /** Pod volumes (`<rootDir>/pods/<uid>`) and container logs (`<rootDir>/logs`). */
  readonly rootDir: string;
  readonly lookup: ResourceLookup;
  /** Nameservers for `dnsPolicy: ClusterFirst` pods (EdgeMesh DNS); none: the host's. */
  readonly clusterDns?: readonly string[];
  /** Default `cluster.local`. */
  readonly clusterDomain?: string;
  /** The node's IP (`status.hostIP`); default the first non-internal IPv4 address. */
  readonly nodeIP?: string;
  /** How often the runtime is listed and every pod synced; default 1 s (kubelet's PLEG). */
  readonly relistPeriodMs?: number;
  /** Restart back-off of crashing containers; default 10 s doubling to 5 min. */
  readonly crashBackoff?: BackoffOptions;
  /** Back-off of failed image pulls; default 10 s doubling to 5 min. */
  readonly imageBackoff?: BackoffOptions;
  /** Probe periods are in seconds; tests shrink them with a smaller factor. Default 1000. */
  readonly probeSecondsToMs?: number;
  /** The `kubeletVersion` this node reports. */
  readonly kubeletVersion?: string;
  readonly logger?: EdgedLogger;
}

export interface EdgedEvents {
  /** A pod's status changed (sent upstream as `podstatus`). */
  podStatus: [{ pod: V1Pod; status: V1PodStatus }];
  /** A deleted pod's containers and sandbox are gone. */
  podRemoved: [{ namespace: string; name: string; uid: string }];
  /** The runtime's health changed (Ready follows it). */
  runtime: [RuntimeHealth];
  /**
   * Something happened to a pod that kubelet records as a Kubernetes Event (`Pulled`,
   * `Started`, `Killing`, `BackOff`, `Failed`, `Unhealthy`); send it upstream as one.
   */
  event: [PodEvent];
}

/** An event about a pod (or one of its containers), as kubelet reports them. */
export interface PodEvent {
  readonly pod: V1Pod;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  /** `spec.containers{name}` when it is about one container. */
  readonly fieldPath?: string;
}

export interface Edged extends EventEmitter<EdgedEvents> {
  /** Asks the runtime for its version and starts the sync loop. */
  start(): Promise<void>;
  /** Stops the loop and the probes; containers keep running (a restarted edged adopts them). */
  stop(): Promise<void>;
  /**
   * Every pod this node should run. Pods not in it are stopped; containers and sandboxes
   * edged created for pods no longer desired are removed from then on.
   */
  setPods(pods: readonly V1Pod[]): void;
  /** A pod was created or changed. */
  upsertPod(pod: V1Pod): void;
  /** A pod was deleted: its containers get their grace period, then go. */
  deletePod(namespace: string, name: string): void;
  /** A ConfigMap or Secret changed: the volumes of pods that use it are rewritten. */
  refreshVolumes(): void;
  /** The status last computed for a pod. */
  podStatus(namespace: string, name: string): V1PodStatus | undefined;
  /** What the runtime said last. */
  runtimeHealth(): RuntimeHealth;
  /** The node's status for the current runtime health (capacity, nodeInfo, Ready). */
  nodeStatus(previous?: V1NodeStatus): V1NodeStatus;
  /** A container's log as text (CRI log format decoded); `previous`: the one before. */
  containerLogs(
    namespace: string,
    name: string,
    container: string,
    options?: { previous?: boolean; tailLines?: number },
  ): Promise<string>;
}

interface ContainerProbes {
  readonly containerId: string;
  readiness?: ProbeWorker;
  liveness?: ProbeWorker;
  startup?: ProbeWorker;
  ready: boolean;
  started: boolean;
  /** The liveness probe failed: the container is killed and restarted. */
  unhealthy: boolean;
}

interface PodRecord {
  pod: V1Pod;
  readonly uid: string;
  deleted: boolean;
  /** Why containers cannot start, by container name (image pull, config, back-off). */
  readonly waiting: Map<string, { reason: string; message?: string }>;
  readonly probes: Map<string, ContainerProbes>;
  volumes?: Map<string, string>;
  volumesStale: boolean;
  sandboxIPs: Map<string, string>;
  startTime?: Date;
  failed?: { reason: string; message: string };
  status?: V1PodStatus;
  reported?: string;
  syncing?: Promise<void>;
  again: boolean;
}

interface Snapshot {
  sandboxes: PodSandbox[];
  containers: Container[];
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
const newestFirst = <T extends { createdAt: string }>(items: T[]) =>
  items.sort((a, b) => (BigInt(b.createdAt) > BigInt(a.createdAt) ? 1 : -1));
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

class EdgedImpl extends EventEmitter<EdgedEvents> implements Edged {
  readonly #options: EdgedOptions;
  readonly #runtime: CriClient;
  readonly #logger: EdgedLogger;
  readonly #records = new Map<string, PodRecord>();
  readonly #crashBackoff: Backoff;
  readonly #imageBackoff: Backoff;
  readonly #nodeIP: string;
  #health: RuntimeHealth = {};
  #healthKey = '';
  #desiredKnown = false;
  #timer: NodeJS.Timeout | undefined;
  #relisting: Promise<void> | undefined;
  #stopped = true;

  constructor(options: EdgedOptions) {
    super();
    this.#options = options;
    this.#runtime = options.runtime;
    this.#logger = options.logger ?? {};
    this.#crashBackoff = new Backoff(options.crashBackoff);
    this.#imageBackoff = new Backoff(options.imageBackoff);
    this.#nodeIP = options.nodeIP ?? defaultNodeIP();
  }

  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    await this.#checkRuntime();
    const period = this.#options.relistPeriodMs ?? 1_000;
    const tick = () => {
      if (this.#stopped) return;
      this.#relisting = this.#relist().finally(() => {
        this.#relisting = undefined;
        if (!this.#stopped) this.#timer = setTimeout(tick, period).unref();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const record of this.#records.values()) this.#stopProbes(record);
    const pending = [this.#relisting, ...[...this.#records.values()].map((r) => r.syncing)];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 5_000);
      }),
    ]);
    clearTimeout(timer);
  }

  setPods(pods: readonly V1Pod[]): void {
    const wanted = new Set<string>();
    for (const pod of pods) {
      if (pod.spec?.nodeName !== this.#options.nodeName) continue;
      wanted.add(pod.metadata?.uid ?? '');
      this.upsertPod(pod);
    }
    for (const record of this.#records.values()) {
      if (!wanted.has(record.uid)) this.#markDeleted(record);
    }
    this.#desiredKnown = true;
  }

  upsertPod(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || pod.spec?.nodeName !== this.#options.nodeName) return;
    let record = this.#records.get(uid);
    if (!record) {
      // Another pod of the same name (recreated with a new uid) replaces the old one.
      for (const other of this.#records.values()) {
        if (
          other.pod.metadata?.namespace === pod.metadata?.namespace &&
          other.pod.metadata?.name === pod.metadata?.name
        ) {
          this.#markDeleted(other);
        }
      }
      record = {
        pod,
        uid,
        deleted: false,
        waiting: new Map(),
        probes: new Map(),
        volumesStale: true,
        sandboxIPs: new Map(),
        again: false,
        ...(pod.status?.startTime ? { startTime: new Date(pod.status.startTime) } : {}),
      };
      this.#records.set(uid, record);
    } else {
      // Status-only updates come back from the cloud all the time: rewrite volumes only when
      // their definition changed (ConfigMap and Secret changes come through refreshVolumes).
      if (JSON.stringify(record.pod.spec?.volumes) !== JSON.stringify(pod.spec?.volumes)) {
        record.volumesStale = true;
      }
      record.pod = pod;
    }
    if (pod.metadata?.deletionTimestamp) record.deleted = true;
    this.#schedule(record);
  }

  deletePod(namespace: string, name: string): void {
    for (const record of this.#records.values()) {
      const meta = record.pod.metadata;
      if (meta?.namespace === namespace && meta?.name === name) this.#markDeleted(record);
    }
  }

  refreshVolumes(): void {
    for (const record of this.#records.values()) {
      record.volumesStale = true;
      this.#schedule(record);
    }
  }

  podStatus(namespace: string, name: string): V1PodStatus | undefined {
    for (const record of this.#records.values()) {
      const meta = record.pod.metadata;
      if (!record.deleted && meta?.namespace === namespace && meta?.name === name) {
        return record.status;
      }
    }
    return undefined;
  }

  runtimeHealth(): RuntimeHealth {
    return this.#health;
  }

  nodeStatus(previous?: V1NodeStatus): V1NodeStatus {
    return buildNodeStatus({
      health: this.#health,
      nodeIP: this.#nodeIP,
      kubeletVersion: this.#options.kubeletVersion ?? 'v1.31.0-kubeedge-ts',
      ...(previous ? { previous } : {}),
    });
  }

  async containerLogs(
    namespace: string,
    name: string,
    container: string,
    options: { previous?: boolean; tailLines?: number } = {},
  ): Promise<string> {
    const record = [...this.#records.values()].find(
      (r) => r.pod.metadata?.namespace === namespace && r.pod.metadata?.name === name,
    );
    if (!record) {
      throw new EdgedError(
        'KE_EDGED_POD_NOT_FOUND',
        `pod ${keyOf(namespace, name)} is not on this node`,
      );
    }
    const found = newestFirst(
      await this.#runtime.listContainers({
        labelSelector: { [POD_UID_LABEL]: record.uid, [CONTAINER_NAME_LABEL]: container },
      }),
    );
    const chosen = found[options.previous ? 1 : 0];
    if (!chosen) {
      throw new EdgedError(
        'KE_EDGED_POD_NOT_FOUND',
        `container ${container} of pod ${keyOf(namespace, name)} has ${options.previous ? 'no previous instance' : 'not been created'}`,
      );
    }
    const status = await this.#runtime.containerStatus(chosen.id);
    return readContainerLog(
      status.logPath,
      options.tailLines === undefined ? {} : { tailLines: options.tailLines },
    );
  }

  // ---- the loop ----------------------------------------------------------------------------

  #markDeleted(record: PodRecord): void {
    record.deleted = true;
    this.#schedule(record);
  }

  async #checkRuntime(): Promise<void> {
    let health: RuntimeHealth;
    try {
      const version =
        this.#health.version && !this.#health.error
          ? this.#health.version
          : await this.#runtime.version();
      const status = await this.#runtime.status();
      health = { version, conditions: status.status?.conditions ?? [] };
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'KE_EDGED_CRI_FAILED';
      health = {
        ...(this.#health.version ? { version: this.#health.version } : {}),
        error: { code, message: errorText(error) },
      };
    }
    this.#health = health;
    const key = JSON.stringify([
      health.error?.code,
      health.conditions?.map((c) => [c.type, c.status]),
    ]);
    if (key !== this.#healthKey) {
      this.#healthKey = key;
      if (health.error) {
        this.#logger.warn?.({ err: health.error }, 'the container runtime is down');
      } else {
        this.#logger.info?.(
          { runtime: `${health.version?.runtimeName}://${health.version?.runtimeVersion}` },
          'the container runtime is up',
        );
      }
      this.emit('runtime', health);
    }
  }

  async #relist(): Promise<void> {
    await this.#checkRuntime();
    if (this.#health.error) return;
    let snapshot: Snapshot;
    try {
      const selector = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
      snapshot = {
        sandboxes: await this.#runtime.listPodSandbox({ labelSelector: selector }),
        containers: await this.#runtime.listContainers({ labelSelector: selector }),
      };
    } catch (error) {
      this.#logger.warn?.({ err: error }, 'could not list the runtime');
      return;
    }
    if (this.#desiredKnown) await this.#removeOrphans(snapshot);
    for (const record of this.#records.values()) this.#schedule(record);
  }

  /** Sandboxes and containers edged made for pods that are no longer desired (after a restart). */
  async #removeOrphans(snapshot: Snapshot): Promise<void> {
    const known = new Set(this.#records.keys());
    for (const container of snapshot.containers) {
      const uid = container.labels[POD_UID_LABEL];
      if (!uid || known.has(uid)) continue;
      const grace = Number(container.annotations[TERMINATION_GRACE_ANNOTATION] ?? 30);
      await this.#ignoreMissing(async () => {
        if (container.state === 'CONTAINER_RUNNING') {
          await this.#runtime.stopContainer(container.id, grace);
        }
        await this.#runtime.removeContainer(container.id);
      });
    }
    for (const sandbox of snapshot.sandboxes) {
      const uid = sandbox.labels[POD_UID_LABEL];
      if (!uid || known.has(uid)) continue;
      this.#logger.info?.(
        { pod: keyOf(sandbox.metadata.namespace, sandbox.metadata.name), uid },
        'removing the sandbox of a pod this node no longer runs',
      );
      await this.#ignoreMissing(async () => {
        await this.#runtime.stopPodSandbox(sandbox.id);
        await this.#runtime.removePodSandbox(sandbox.id);
      });
      await rm(this.#podDir(uid), { recursive: true, force: true });
    }
  }

  async #ignoreMissing(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if ((error as { code?: string }).code !== 'KE_EDGED_CRI_NOT_FOUND') {
        this.#logger.warn?.({ err: error }, 'could not remove a container or sandbox');
      }
    }
  }

  /** One sync at a time per pod; a request during a sync runs another right after. */
  #schedule(record: PodRecord): void {
    if (this.#stopped) return;
    if (record.syncing) {
      record.again = true;
      return;
    }
    record.syncing = (async () => {
      do {
        record.again = false;
        try {
          await this.#sync(record);
        } catch (error) {
          this.#logger.warn?.(
            { pod: this.#name(record), err: error },
            'pod sync failed; will retry',
          );
        }
        // A deleted pod's record is gone once its sync removed it: nothing more to do.
      } while (record.again && !this.#stopped && this.#records.get(record.uid) === record);
    })().finally(() => {
      record.syncing = undefined;
    });
  }

  #name(record: PodRecord): string {
    return keyOf(record.pod.metadata?.namespace ?? '', record.pod.metadata?.name ?? '');
  }

  #podDir(uid: string): string {
    return join(this.#options.rootDir, 'pods', uid);
  }

  async #snapshotOf(uid: string): Promise<Snapshot> {
    const selector = { [POD_UID_LABEL]: uid };
    const [sandboxes, containers] = await Promise.all([
      this.#runtime.listPodSandbox({ labelSelector: selector }),
      this.#runtime.listContainers({ labelSelector: selector }),
    ]);
    return { sandboxes: newestFirst(sandboxes), containers: newestFirst(containers) };
  }

  async #sync(record: PodRecord): Promise<void> {
    if (this.#health.error) return;
    const snapshot = await this.#snapshotOf(record.uid);
    if (record.deleted) {
      await this.#killPod(record, snapshot);
      this.#stopProbes(record);
      this.#records.delete(record.uid);
      this.#crashBackoff.resetPrefix(`${record.uid}/`);
      this.#imageBackoff.resetPrefix(`${record.uid}/`);
      await removePodVolumes(this.#podDir(record.uid));
      const meta = record.pod.metadata ?? {};
      this.emit('podRemoved', {
        namespace: meta.namespace ?? '',
        name: meta.name ?? '',
        uid: record.uid,
      });
      return;
    }
    const pod = record.pod;
    const policy = pod.spec?.restartPolicy ?? 'Always';
    let sandbox = snapshot.sandboxes.find((s) => s.state === 'SANDBOX_READY');
    const terminal = record.status?.phase === 'Succeeded' || record.status?.phase === 'Failed';

    if (!sandbox && !terminal) {
      sandbox = await this.#createSandbox(record, snapshot);
      if (!sandbox) {
        this.#report(record, snapshot, undefined);
        return;
      }
      snapshot.containers = [];
    }
    const sandboxConfig = this.#sandboxConfig(pod, snapshot.sandboxes.length);
    const podIP = sandbox ? await this.#sandboxIP(record, sandbox) : undefined;
    if (sandbox && !terminal) {
      if (record.volumesStale || !record.volumes) {
        try {
          record.volumes = await preparePodVolumes({
            pod,
            podDir: this.#podDir(record.uid),
            lookup: this.#options.lookup,
          });
          record.volumesStale = false;
        } catch (error) {
          for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
            record.waiting.set(c.name, {
              reason: 'CreateContainerConfigError',
              message: errorText(error),
            });
          }
          this.#report(record, snapshot, sandbox, podIP);
          return;
        }
      }
      const inSandbox = snapshot.containers.filter((c) => c.podSandboxId === sandbox!.id);
      const initialized = await this.#syncInitContainers(
        record,
        inSandbox,
        sandbox,
        sandboxConfig,
        podIP,
        policy,
      );
      if (initialized) {
        for (const container of pod.spec?.containers ?? []) {
          await this.#syncContainer(
            record,
            container,
            inSandbox,
            sandbox,
            sandboxConfig,
            podIP,
            policy,
          );
        }
      }
      await this.#collectGarbage(snapshot, sandbox);
    }
    const fresh = await this.#snapshotOf(record.uid);
    const status = await this.#report(record, fresh, sandbox, podIP);
    if ((status.phase === 'Succeeded' || status.phase === 'Failed') && sandbox) {
      // A finished pod gives its IP back, as kubelet does; its containers stay for logs.
      await this.#ignoreMissing(() => this.#runtime.stopPodSandbox(sandbox!.id));
      this.#stopProbes(record);
    }
  }

  #sandboxConfig(pod: V1Pod, previousSandboxes: number): PodSandboxConfig {
    const meta = pod.metadata ?? {};
    const spec = pod.spec ?? { containers: [] };
    const hostNetwork = spec.hostNetwork === true;
    const portMappings = (spec.containers ?? []).flatMap((c) =>
      (c.ports ?? [])
        .filter((p) => p.hostPort)
        .map((p) => ({
          protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP',
          containerPort: p.containerPort,
          hostPort: p.hostPort!,
          ...(p.hostIP ? { hostIp: p.hostIP } : {}),
        })),
    );
    return {
      metadata: {
        name: meta.name ?? '',
        namespace: meta.namespace ?? '',
        uid: meta.uid ?? '',
        attempt: Math.max(0, previousSandboxes - 1),
      },
      hostname: hostNetwork ? '' : (spec.hostname ?? meta.name ?? '').slice(0, 63),
      logDirectory: join(
        this.#options.rootDir,
        'logs',
        `${meta.namespace}_${meta.name}_${meta.uid}`,
      ),
      dnsConfig: sandboxDnsConfig(pod, {
        clusterDns: [...(this.#options.clusterDns ?? [])],
        clusterDomain: this.#options.clusterDomain ?? 'cluster.local',
      }),
      portMappings,
      labels: sandboxLabels(pod),
      annotations: { ...meta.annotations },
      linux: {
        securityContext: {
          namespaceOptions: namespaceOptionsOf(pod),
          ...(spec.securityContext?.runAsUser !== undefined
            ? { runAsUser: { value: spec.securityContext.runAsUser } }
            : {}),
        },
      },
    };
  }

  async #createSandbox(record: PodRecord, snapshot: Snapshot): Promise<PodSandbox | undefined> {
    const pod = record.pod;
    const policy = pod.spec?.restartPolicy ?? 'Always';
    if (snapshot.sandboxes.length > 0) {
      // The sandbox died: kubelet kills what is left and starts over in a new one, unless
      // nothing may restart.
      const ranBefore = snapshot.containers.some((c) => c.state === 'CONTAINER_EXITED');
      if (policy === 'Never' && ranBefore) return undefined;
      for (const container of snapshot.containers) {
        if (container.state === 'CONTAINER_RUNNING') {
          await this.#ignoreMissing(() => this.#runtime.stopContainer(container.id, 0));
        }
      }
      this.#logger.info?.(
        { pod: this.#name(record) },
        'the pod sandbox is gone; creating a new one',
      );
    }
    const config = this.#sandboxConfig(pod, snapshot.sandboxes.length + 1);
    try {
      const id = await this.#runtime.runPodSandbox(config);
      const [created] = await this.#runtime.listPodSandbox({ id });
      record.startTime ??= new Date();
      record.waiting.clear();
      this.#logger.info?.({ pod: this.#name(record), sandbox: id }, 'pod sandbox started');
      return created;
    } catch (error) {
      this.#logger.warn?.(
        { pod: this.#name(record), err: error },
        'could not create the pod sandbox',
      );
      for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
        record.waiting.set(c.name, {
          reason: 'ContainerCreating',
          message: `FailedCreatePodSandBox: ${errorText(error)}`,
        });
      }
      return undefined;
    }
  }

  async #sandboxIP(record: PodRecord, sandbox: PodSandbox): Promise<string | undefined> {
    if (record.pod.spec?.hostNetwork) return this.#nodeIP;
    const cached = record.sandboxIPs.get(sandbox.id);
    if (cached !== undefined) return cached || undefined;
    const status = await this.#runtime.podSandboxStatus(sandbox.id);
    const ip = status.network?.ip ?? '';
    record.sandboxIPs = new Map([[sandbox.id, ip]]);
    record.startTime ??= nanosToDate(sandbox.createdAt) ?? new Date();
    return ip || undefined;
  }

  /** Runs init containers in order; true once all have succeeded. */
  async #syncInitContainers(
    record: PodRecord,
    inSandbox: Container[],
    sandbox: PodSandbox,
    sandboxConfig: PodSandboxConfig,
    podIP: string | undefined,
    policy: string,
  ): Promise<boolean> {
    for (const spec of record.pod.spec?.initContainers ?? []) {
      const latest = inSandbox.find((c) => c.metadata.name === spec.name);
      if (!latest) {
        await this.#startContainer(record, spec, sandbox, sandboxConfig, podIP, 0);
        return false;
      }
      if (latest.state === 'CONTAINER_RUNNING') return false;
      if (latest.state === 'CONTAINER_CREATED') {
        await this.#startCreated(record, spec.name, latest.id);
        return false;
      }
      const status = await this.#runtime.containerStatus(latest.id);
      if (status.exitCode === 0 && latest.state === 'CONTAINER_EXITED') continue;
      if (policy === 'Never') {
        record.failed = {
          reason: 'Failed',
          message: `init container ${spec.name} exited with ${status.exitCode}`,
        };
        return false;
      }
      await this.#restart(record, spec, status, sandbox, sandboxConfig, podIP);
      return false;
    }
    return true;
  }

  async #syncContainer(
    record: PodRecord,
    spec: V1Container,
    inSandbox: Container[],
    sandbox: PodSandbox,
    sandboxConfig: PodSandboxConfig,
    podIP: string | undefined,
    policy: string,
  ): Promise<void> {
    const latest = inSandbox.find((c) => c.metadata.name === spec.name);
    if (!latest) {
      await this.#startContainer(record, spec, sandbox, sandboxConfig, podIP, 0);
      return;
    }
    if (latest.state === 'CONTAINER_CREATED') {
      await this.#startCreated(record, spec.name, latest.id);
      return;
    }
    if (latest.state === 'CONTAINER_RUNNING') {
      record.waiting.delete(spec.name);
      const probes = this.#ensureProbes(record, spec, latest.id, podIP);
      if (probes.unhealthy) {
        probes.unhealthy = false;
        const grace = record.pod.spec?.terminationGracePeriodSeconds ?? 30;
        this.#logger.info?.(
          { pod: this.#name(record), container: spec.name },
          'liveness probe failed; restarting the container',
        );
        this.#event(record, 'Warning', 'Unhealthy', 'Liveness probe failed', spec.name);
        this.#event(
          record,
          'Normal',
          'Killing',
          `Container ${spec.name} failed liveness probe, will be restarted`,
          spec.name,
        );
        await this.#ignoreMissing(() => this.#runtime.stopContainer(latest.id, grace));
        this.#stopContainerProbes(record, spec.name);
      }
      return;
    }
    const status = await this.#runtime.containerStatus(latest.id);
    this.#stopContainerProbes(record, spec.name);
    const restart = policy === 'Always' || (policy === 'OnFailure' && status.exitCode !== 0);
    if (!restart) return;
    await this.#restart(record, spec, status, sandbox, sandboxConfig, podIP);
  }

  /** Restarts an exited container unless it is in crash back-off (kubelet's `doBackOff`). */
  async #restart(
    record: PodRecord,
    spec: V1Container,
    exited: ContainerStatus,
    sandbox: PodSandbox,
    sandboxConfig: PodSandboxConfig,
    podIP: string | undefined,
  ): Promise<void> {
    const key = `${record.uid}/${spec.name}`;
    const finishedAt = nanosToDate(exited.finishedAt)?.getTime() ?? Date.now();
    const startedAt = nanosToDate(exited.startedAt)?.getTime() ?? finishedAt;
    // A container that ran for twice the longest back-off starts over (kubelet resets too).
    if (finishedAt - startedAt > 2 * this.#crashBackoff.maxMs) this.#crashBackoff.reset(key);
    const wait = this.#crashBackoff.remainingSince(key, finishedAt);
    if (wait > 0) {
      if (record.waiting.get(spec.name)?.reason !== 'CrashLoopBackOff') {
        this.#event(
          record,
          'Warning',
          'BackOff',
          'Back-off restarting failed container',
          spec.name,
        );
      }
      record.waiting.set(spec.name, {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(this.#crashBackoff.delayOf(key) / 1000)}s restarting failed container=${spec.name} pod=${record.pod.metadata?.name}_${record.pod.metadata?.namespace}(${record.uid})`,
      });
      return;
    }
    this.#crashBackoff.next(key);
    const restartCount = Number(exited.annotations[RESTART_COUNT_ANNOTATION] ?? 0) + 1;
    await this.#startContainer(record, spec, sandbox, sandboxConfig, podIP, restartCount);
  }

  async #startCreated(record: PodRecord, name: string, id: string): Promise<void> {
    try {
      await this.#runtime.startContainer(id);
      record.waiting.delete(name);
    } catch (error) {
      // The container is left exited (StartError): the next sync restarts it under the crash
      // back-off, as kubelet does.
      record.waiting.set(name, { reason: 'RunContainerError', message: errorText(error) });
    }
  }

  async #startContainer(
    record: PodRecord,
    spec: V1Container,
    sandbox: PodSandbox,
    sandboxConfig: PodSandboxConfig,
    podIP: string | undefined,
    restartCount: number,
  ): Promise<void> {
    const pod = record.pod;
    const imageRef = await this.#ensureImage(record, spec, sandboxConfig);
    if (imageRef === undefined) return;
    let config: ContainerConfig;
    try {
      const env = await containerEnv(pod, spec, this.#options.lookup, {
        ...(podIP ? { podIP } : {}),
        hostIP: this.#nodeIP,
      });
      config = {
        metadata: { name: spec.name, attempt: restartCount },
        image: { image: imageRef, userSpecifiedImage: spec.image ?? '' },
        command: expandCommand(spec.command ?? [], env),
        args: expandCommand(spec.args ?? [], env),
        ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
        envs: env.map(({ name, value }) => ({ key: name, value })),
        mounts: containerMounts(spec, record.volumes ?? new Map(), {
          env,
          podVolumes: pod.spec?.volumes ?? [],
        }).map((m) => ({
          containerPath: m.containerPath,
          hostPath: m.hostPath,
          readonly: m.readonly ?? false,
        })),
        labels: containerLabels(pod, spec),
        annotations: containerAnnotations(pod, spec, restartCount),
        logPath: `${spec.name}/${restartCount}.log`,
        stdin: spec.stdin ?? false,
        stdinOnce: spec.stdinOnce ?? false,
        tty: spec.tty ?? false,
        linux: linuxConfigOf(pod, spec),
      };
    } catch (error) {
      record.waiting.set(spec.name, {
        reason: 'CreateContainerConfigError',
        message: errorText(error),
      });
      return;
    }
    let id: string;
    try {
      id = await this.#runtime.createContainer(sandbox.id, config, sandboxConfig);
    } catch (error) {
      record.waiting.set(spec.name, { reason: 'CreateContainerError', message: errorText(error) });
      this.#crashBackoff.next(`${record.uid}/${spec.name}`);
      return;
    }
    try {
      await this.#runtime.startContainer(id);
      record.waiting.delete(spec.name);
      this.#logger.info?.(
        { pod: this.#name(record), container: spec.name, restartCount },
        'container started',
      );
      this.#event(record, 'Normal', 'Started', `Started container ${spec.name}`, spec.name);
    } catch (error) {
      // The container is left exited (StartError): the next sync restarts it under the crash
      // back-off, as kubelet does.
      record.waiting.set(spec.name, { reason: 'RunContainerError', message: errorText(error) });
    }
  }

  /** The image by the container's pull policy; `undefined` (with a waiting reason) when not there. */
  async #ensureImage(
    record: PodRecord,
    spec: V1Container,
    sandboxConfig: PodSandboxConfig,
  ): Promise<string | undefined> {
    const image = spec.image ?? '';
    const tagged = /:[^/]+$|@sha256:/.test(image);
    const latest = !tagged || image.endsWith(':latest');
    const policy = spec.imagePullPolicy ?? (latest ? 'Always' : 'IfNotPresent');
    const key = `${record.uid}/${spec.name}/${image}`;
    if (policy !== 'Always') {
      const present = await this.#runtime.imageStatus(image);
      if (present) {
        this.#event(
          record,
          'Normal',
          'Pulled',
          `Container image "${image}" already present on machine`,
          spec.name,
        );
        return present.id;
      }
      if (policy === 'Never') {
        record.waiting.set(spec.name, {
          reason: 'ErrImageNeverPull',
          message: `Container image "${image}" is not present with pull policy of Never`,
        });
        return undefined;
      }
    }
    if (this.#imageBackoff.remaining(key) > 0) {
      record.waiting.set(spec.name, {
        reason: 'ImagePullBackOff',
        message: `Back-off pulling image "${image}"`,
      });
      return undefined;
    }
    try {
      const auth = await this.#pullAuth(record.pod, image);
      const ref = await this.#runtime.pullImage(image, auth, sandboxConfig);
      this.#imageBackoff.reset(key);
      this.#event(record, 'Normal', 'Pulled', `Successfully pulled image "${image}"`, spec.name);
      return ref;
    } catch (error) {
      this.#imageBackoff.next(key);
      this.#event(
        record,
        'Warning',
        'Failed',
        `Failed to pull image "${image}": ${errorText(error)}`,
        spec.name,
      );
      record.waiting.set(spec.name, {
        reason: 'ErrImagePull',
        message: `failed to pull image "${image}": ${errorText(error)}`,
      });
      this.#logger.warn?.({ pod: this.#name(record), image, err: error }, 'image pull failed');
      return undefined;
    }
  }

  /** Credentials for `image` from the pod's `imagePullSecrets` (`.dockerconfigjson`). */
  async #pullAuth(pod: V1Pod, image: string): Promise<AuthConfig | undefined> {
    const host = registryOf(image);
    for (const ref of pod.spec?.imagePullSecrets ?? []) {
      if (!ref.name) continue;
      const secret = await this.#options.lookup.secret(pod.metadata?.namespace ?? '', ref.name);
      const encoded = secret?.data?.['.dockerconfigjson'] ?? secret?.data?.['.dockercfg'];
      if (!encoded) continue;
      try {
        const parsed = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as {
          auths?: Record<string, { username?: string; password?: string; auth?: string }>;
        } & Record<string, { username?: string; password?: string; auth?: string }>;
        const auths = parsed.auths ?? parsed;
        for (const [server, entry] of Object.entries(auths)) {
          if (registryOf(`${server.replace(/^https?:\/\//, '').replace(/\/.*$/, '')}/x`) !== host)
            continue;
          return {
            ...(entry.username ? { username: entry.username } : {}),
            ...(entry.password ? { password: entry.password } : {}),
            ...(entry.auth ? { auth: entry.auth } : {}),
            serverAddress: server,
          };
        }
      } catch {
        this.#logger.warn?.({ secret: ref.name }, 'an image pull secret is not valid JSON');
      }
    }
    return undefined;
  }

  #event(
    record: PodRecord,
    type: PodEvent['type'],
    reason: string,
    message: string,
    container?: string,
  ) {
    this.emit('event', {
      pod: record.pod,
      type,
      reason,
      message,
      ...(container ? { fieldPath: `spec.containers{${container}}` } : {}),
    });
  }

  // ---- probes ------------------------------------------------------------------------------

  #ensureProbes(
    record: PodRecord,
    spec: V1Container,
    containerId: string,
    podIP: string | undefined,
  ): ContainerProbes {
    const existing = record.probes.get(spec.name);
    if (existing?.containerId === containerId) return existing;
    if (existing) this.#stopContainerProbes(record, spec.name);
    const probes: ContainerProbes = {
      containerId,
      ready: !spec.readinessProbe,
      started: !spec.startupProbe,
      unhealthy: false,
    };
    record.probes.set(spec.name, probes);
    const target = {
      podIP: podIP ?? '127.0.0.1',
      hostNetwork: record.pod.spec?.hostNetwork === true,
      containerPorts: spec.ports ?? [],
      exec: async (cmd: string[], timeoutSec: number) => {
        const result = await this.#runtime.execSync(containerId, cmd, timeoutSec);
        return {
          exitCode: result.exitCode,
          stdout: result.stdout.toString('utf8'),
          stderr: result.stderr.toString('utf8'),
        };
      },
    };
    const secondsToMs = this.#options.probeSecondsToMs ?? 1000;
    // One worker per probe the container has; `react` turns its verdicts into the container's
    // state, then the pod is synced.
    const watch = (kind: ProbeKind, probe: V1Probe, react: (state: ProbeState) => void) =>
      createProbeWorker({
        probe,
        kind,
        secondsToMs,
        run: () => runProbe(probe, target),
        onChange: (state) => {
          react(state);
          this.#schedule(record);
        },
      });
    const startLiveness = () => {
      if (!spec.livenessProbe || probes.liveness) return;
      probes.liveness = watch('liveness', spec.livenessProbe, (state) => {
        if (state === 'failure') probes.unhealthy = true;
      });
    };
    if (spec.startupProbe) {
      probes.startup = watch('startup', spec.startupProbe, (state) => {
        if (state === 'success') {
          probes.started = true;
          probes.startup?.stop();
          startLiveness();
        } else if (state === 'failure') {
          probes.unhealthy = true;
        }
      });
    } else {
      startLiveness();
    }
    if (spec.readinessProbe) {
      probes.readiness = watch('readiness', spec.readinessProbe, (state) => {
        probes.ready = state === 'success';
      });
    }
    return probes;
  }

  #stopContainerProbes(record: PodRecord, name: string): void {
    const probes = record.probes.get(name);
    if (!probes) return;
    probes.readiness?.stop();
    probes.liveness?.stop();
    probes.startup?.stop();
    record.probes.delete(name);
  }

  #stopProbes(record: PodRecord): void {
    for (const name of [...record.probes.keys()]) this.#stopContainerProbes(record, name);
  }

  // ---- teardown and garbage ----------------------------------------------------------------

  async #killPod(record: PodRecord, snapshot: Snapshot): Promise<void> {
    const pod = record.pod;
    const grace =
      pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const running = snapshot.containers.filter(
      (c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED',
    );
    for (const c of running) {
      this.#event(
        record,
        'Normal',
        'Killing',
        `Stopping container ${c.metadata.name}`,
        c.metadata.name,
      );
    }
    await Promise.all(
      running.map((c) => this.#ignoreMissing(() => this.#runtime.stopContainer(c.id, grace))),
    );
    for (const sandbox of snapshot.sandboxes) {
      await this.#ignoreMissing(async () => {
        await this.#runtime.stopPodSandbox(sandbox.id);
        await this.#runtime.removePodSandbox(sandbox.id);
      });
    }
    this.#logger.info?.({ pod: this.#name(record) }, 'pod stopped and removed');
  }

  /**
   * kubelet's container GC, per pod: the newest two instances of each container stay (for
   * status and `lastState`), older exited ones go; so do dead sandboxes and their containers.
   */
  async #collectGarbage(snapshot: Snapshot, current: PodSandbox): Promise<void> {
    const seen = new Map<string, number>();
    for (const container of snapshot.containers) {
      if (container.podSandboxId !== current.id) {
        if (container.state !== 'CONTAINER_RUNNING') {
          await this.#ignoreMissing(() => this.#runtime.removeContainer(container.id));
        }
        continue;
      }
      const count = (seen.get(container.metadata.name) ?? 0) + 1;
      seen.set(container.metadata.name, count);
      if (count > 2 && container.state === 'CONTAINER_EXITED') {
        await this.#ignoreMissing(() => this.#runtime.removeContainer(container.id));
      }
    }
    for (const sandbox of snapshot.sandboxes) {
      if (sandbox.id === current.id || sandbox.state === 'SANDBOX_READY') continue;
      await this.#ignoreMissing(() => this.#runtime.removePodSandbox(sandbox.id));
    }
  }

  // ---- status ------------------------------------------------------------------------------

  async #views(
    record: PodRecord,
    specs: readonly V1Container[],
    inSandbox: Container[],
  ): Promise<ContainerView[]> {
    const views: ContainerView[] = [];
    for (const spec of specs) {
      const instances = inSandbox.filter((c) => c.metadata.name === spec.name);
      const [latest, previous] = await Promise.all(
        instances
          .slice(0, 2)
          .map((c) => this.#runtime.containerStatus(c.id).catch(() => undefined)),
      );
      const probes = record.probes.get(spec.name);
      const running = latest?.state === 'CONTAINER_RUNNING';
      const current = probes && probes.containerId === latest?.id ? probes : undefined;
      views.push({
        name: spec.name,
        image: spec.image ?? '',
        ...(latest ? { latest } : {}),
        ...(previous ? { previous } : {}),
        ...(record.waiting.has(spec.name) ? { waiting: record.waiting.get(spec.name)! } : {}),
        restartCount: latest ? Number(latest.annotations[RESTART_COUNT_ANNOTATION] ?? 0) : 0,
        // Not ready before the startup probe passed, whatever readiness says (kubelet).
        ready:
          running &&
          (spec.startupProbe ? current?.started === true : true) &&
          (spec.readinessProbe ? current?.ready === true : true),
        started: running && (spec.startupProbe ? current?.started === true : true),
      });
    }
    return views;
  }

  async #report(
    record: PodRecord,
    snapshot: Snapshot,
    sandbox: PodSandbox | undefined,
    podIP?: string,
  ): Promise<V1PodStatus> {
    const current = sandbox ?? snapshot.sandboxes[0];
    const inSandbox = current
      ? snapshot.containers.filter((c) => c.podSandboxId === current.id)
      : [];
    const pod = record.pod;
    const status = buildPodStatus({
      pod,
      runtimeName: this.#health.version?.runtimeName ?? 'unknown',
      sandboxReady: sandbox?.state === 'SANDBOX_READY',
      ...(podIP ? { podIP } : {}),
      hostIP: this.#nodeIP,
      ...(record.startTime ? { startTime: record.startTime } : {}),
      initContainers: await this.#views(record, pod.spec?.initContainers ?? [], inSandbox),
      containers: await this.#views(record, pod.spec?.containers ?? [], inSandbox),
      ...(record.failed ? { failed: record.failed } : {}),
      ...((record.status ?? pod.status) ? { previous: (record.status ?? pod.status)! } : {}),
    });
    record.status = status;
    const serialized = JSON.stringify(status);
    if (serialized !== record.reported) {
      record.reported = serialized;
      this.emit('podStatus', { pod, status });
    }
    return status;
  }
}

/** The registry host of an image reference (`docker.io` when none is named). */
export function registryOf(image: string): string {
  const first = image.split('/')[0] ?? '';
  const isHost =
    image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'docker.io';
}

/** CPU and memory limits, privileged mode and user from the pod and container specs. */
function linuxConfigOf(pod: V1Pod, spec: V1Container): ContainerConfig['linux'] {
  const limits = spec.resources?.limits ?? {};
  const requests = spec.resources?.requests ?? {};
  const resources: NonNullable<ContainerConfig['linux']>['resources'] = {};
  const cpuLimit = limits.cpu ? quantityOf(limits.cpu) : undefined;
  const cpuRequest = requests.cpu ? quantityOf(requests.cpu) : cpuLimit;
  if (cpuLimit !== undefined) {
    resources.cpuPeriod = 100_000;
    resources.cpuQuota = Math.max(1_000, Math.round(cpuLimit * 100_000));
  }
  resources.cpuShares = cpuRequest === undefined ? 2 : Math.max(2, Math.round(cpuRequest * 1024));
  if (limits.memory) resources.memoryLimitInBytes = Math.round(quantityOf(limits.memory));
  const security = spec.securityContext ?? {};
  const runAsUser = security.runAsUser ?? pod.spec?.securityContext?.runAsUser;
  return {
    resources,
    securityContext: {
      privileged: security.privileged ?? false,
      ...(runAsUser !== undefined ? { runAsUser: { value: runAsUser } } : {}),
      ...(security.readOnlyRootFilesystem ? { readonlyRootfs: true } : {}),
      namespaceOptions: namespaceOptionsOf(pod),
    },
  };
}

/** The sandbox's and its containers' namespaces: the node's for host* pods (kubelet's modes). */
function namespaceOptionsOf(pod: V1Pod): NamespaceOption {
  return {
    network: pod.spec?.hostNetwork ? 'NODE' : 'POD',
    pid: pod.spec?.hostPID ? 'NODE' : pod.spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
  };
}

/** A `resource.Quantity` (`500m`, `128Mi`) as a number. */
function quantityOf(text: string): number {
  const { numerator, denominator } = parseQuantity(text);
  return Number(numerator) / Number(denominator);
}

/**
 * kubelet for the edge: runs the pods of this node on a CRI runtime — sandbox, image pull by
 * policy with pull secrets, init containers in order, containers with env, volumes and
 * resources, restart policy with crash back-off, probes — and reports pod status (only when
 * it changed) and the node's readiness from the runtime's health. A restarted edged adopts
 * the containers it created (found by labels) instead of recreating them.
 */
export function createEdged(options: EdgedOptions): Edged {
  return new EdgedImpl(options);
}
