// The CRI v1 messages this package sends and receives, camelCased as protobufjs does.
// Received messages carry every scalar field (proto3 defaults filled in); a message field the
// runtime left unset is `null`. int64 and uint64 values arrive as decimal strings: creation
// times are nanoseconds since the epoch, beyond what a JavaScript number holds exactly.

/** An int64 or uint64 as received: a decimal string (`nanosToDate` turns times into Dates). */
export type Int64 = string;
/** An int64 or uint64 to send: a number, or a decimal string for values beyond 2^53. */
export type Int64Input = number | string;

export type ContainerState =
  | 'CONTAINER_CREATED'
  | 'CONTAINER_RUNNING'
  | 'CONTAINER_EXITED'
  | 'CONTAINER_UNKNOWN';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
/** `NODE` for a pod with `hostNetwork`, `hostPID` or `hostIPC`; `POD` otherwise. */
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type MountPropagation =
  | 'PROPAGATION_PRIVATE'
  | 'PROPAGATION_HOST_TO_CONTAINER'
  | 'PROPAGATION_BIDIRECTIONAL';

export interface PodSandboxMetadata {
  /** The pod's name. */
  name: string;
  /** The pod's UID. */
  uid: string;
  /** The pod's namespace. */
  namespace: string;
  /** How many sandboxes were created for this pod before this one. */
  attempt: number;
}

export interface ContainerMetadata {
  /** The container's name in the pod spec. */
  name: string;
  /** How many times the container was created in this sandbox before. */
  attempt: number;
}

export interface DnsConfig {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

export interface PortMapping {
  protocol?: Protocol;
  containerPort?: number;
  hostPort?: number;
  hostIp?: string;
}

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  /** The container whose namespaces a `TARGET` mode joins. */
  targetId?: string;
}

export interface SecurityProfile {
  profileType?: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  /** For `Localhost`: the seccomp profile's path, or the AppArmor profile's name. */
  localhostRef?: string;
}

export interface SeLinuxOption {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}

export interface LinuxSandboxSecurityContext {
  namespaceOptions?: NamespaceOption;
  selinuxOptions?: SeLinuxOption;
  runAsUser?: { value: Int64Input };
  runAsGroup?: { value: Int64Input };
  readonlyRootfs?: boolean;
  supplementalGroups?: Int64Input[];
  privileged?: boolean;
  seccomp?: SecurityProfile;
  apparmor?: SecurityProfile;
}

export interface LinuxContainerResources {
  cpuPeriod?: Int64Input;
  cpuQuota?: Int64Input;
  cpuShares?: Int64Input;
  memoryLimitInBytes?: Int64Input;
  oomScoreAdj?: Int64Input;
  cpusetCpus?: string;
  cpusetMems?: string;
  hugepageLimits?: { pageSize: string; limit: Int64Input }[];
  /** cgroup v2 files, e.g. `{ 'memory.high': '100000000' }`. */
  unified?: Record<string, string>;
  memorySwapLimitInBytes?: Int64Input;
}

export interface LinuxPodSandboxConfig {
  cgroupParent?: string;
  securityContext?: LinuxSandboxSecurityContext;
  sysctls?: Record<string, string>;
  overhead?: LinuxContainerResources;
  resources?: LinuxContainerResources;
}

/** What `RunPodSandbox` is given; `CreateContainer` and `PullImage` are given it again. */
export interface PodSandboxConfig {
  metadata: Omit<PodSandboxMetadata, 'attempt'> & { attempt?: number };
  /** Empty only when the network namespace is `NODE`. */
  hostname?: string;
  /** Host directory for the pod's container logs: `/var/log/pods/<ns>_<name>_<uid>`. */
  logDirectory?: string;
  dnsConfig?: DnsConfig;
  portMappings?: PortMapping[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: LinuxPodSandboxConfig;
}

export interface ImageSpec {
  /** A reference (`docker.io/library/busybox:1.36`) or an image id (`sha256:...`). */
  image: string;
  annotations?: Record<string, string>;
  userSpecifiedImage?: string;
  runtimeHandler?: string;
  imageRef?: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface Mount {
  containerPath: string;
  hostPath?: string;
  readonly?: boolean;
  selinuxRelabel?: boolean;
  propagation?: MountPropagation;
  recursiveReadOnly?: boolean;
  image?: ImageSpec | null;
  imageSubPath?: string;
}

export interface Device {
  containerPath: string;
  hostPath: string;
  /** Any of `r`, `w`, `m`. */
  permissions?: string;
}

export interface Capability {
  addCapabilities?: string[];
  dropCapabilities?: string[];
  addAmbientCapabilities?: string[];
}

export interface LinuxContainerSecurityContext {
  capabilities?: Capability;
  privileged?: boolean;
  namespaceOptions?: NamespaceOption;
  selinuxOptions?: SeLinuxOption;
  runAsUser?: { value: Int64Input };
  runAsGroup?: { value: Int64Input };
  runAsUsername?: string;
  readonlyRootfs?: boolean;
  supplementalGroups?: Int64Input[];
  noNewPrivs?: boolean;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: SecurityProfile;
  apparmor?: SecurityProfile;
}

/** What `CreateContainer` is given. */
export interface ContainerConfig {
  metadata: Omit<ContainerMetadata, 'attempt'> & { attempt?: number };
  image: ImageSpec;
  /** The entrypoint (Kubernetes `command`). */
  command?: string[];
  /** Its arguments (Kubernetes `args`). */
  args?: string[];
  workingDir?: string;
  envs?: KeyValue[];
  mounts?: Mount[];
  devices?: Device[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Relative to the sandbox's `logDirectory`: `<container>/<restartCount>.log`. */
  logPath?: string;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  linux?: { resources?: LinuxContainerResources; securityContext?: LinuxContainerSecurityContext };
}

/** Registry credentials for `PullImage` (from a pod's image pull secret). */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of `username:password`, as in a `.dockerconfigjson`. */
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

export interface PodSandboxFilter {
  id?: string;
  state?: PodSandboxState;
  /** Every pair must match (CRI supports only equality). */
  labelSelector?: Record<string, string>;
}

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  podSandboxId?: string;
  /** Every pair must match (CRI supports only equality). */
  labelSelector?: Record<string, string>;
}

/** An item of `ListPodSandbox`. */
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  /** Nanoseconds since the epoch. */
  createdAt: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface PodSandboxStatus extends PodSandbox {
  /** The pod IP; `null` or an empty `ip` for a sandbox in the node's network namespace. */
  network: { ip: string; additionalIps: { ip: string }[] } | null;
  linux: { namespaces: { options: NamespaceOption | null } | null } | null;
}

/** An item of `ListContainers`. */
export interface Container {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata;
  image: ImageSpec | null;
  /** The image the container runs, as `PullImage` returned it. */
  imageRef: string;
  state: ContainerState;
  /** Nanoseconds since the epoch. */
  createdAt: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  imageId: string;
}

export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata;
  state: ContainerState;
  /** Nanoseconds since the epoch; `startedAt` and `finishedAt` are `'0'` until then. */
  createdAt: Int64;
  startedAt: Int64;
  finishedAt: Int64;
  /** Meaningful once `finishedAt` is not `'0'`. */
  exitCode: number;
  image: ImageSpec | null;
  imageRef: string;
  /** `Completed`, `Error`, `OOMKilled`, ... */
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: Mount[];
  /** The absolute path of the container's log file. */
  logPath: string;
  resources: { linux: LinuxContainerResources | null } | null;
  imageId: string;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface Image {
  /** The image id (`sha256:...`); what `PullImage` returns. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Bytes. */
  size: Int64;
  uid: { value: Int64 } | null;
  username: string;
  spec: ImageSpec | null;
  pinned: boolean;
}

export interface VersionResponse {
  /** The kubelet-runtime API version the runtime speaks (`0.1.0`). */
  version: string;
  /** `containerd`, `cri-o`, or `simulated` for the fake runtime. */
  runtimeName: string;
  runtimeVersion: string;
  /** `v1`. */
  runtimeApiVersion: string;
}

export interface RuntimeCondition {
  /** `RuntimeReady` and `NetworkReady` are required for a node to be Ready. */
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

export interface StatusResponse {
  status: { conditions: RuntimeCondition[] } | null;
  info: Record<string, string>;
  runtimeHandlers: {
    name: string;
    features: { recursiveReadOnlyMounts: boolean; userNamespaces: boolean } | null;
  }[];
  features: { supplementalGroupsPolicy: boolean; userNamespacesHostNetwork: boolean } | null;
}

export interface FilesystemUsage {
  /** Nanoseconds since the epoch. */
  timestamp: Int64;
  fsId: { mountpoint: string } | null;
  usedBytes: { value: Int64 } | null;
  inodesUsed: { value: Int64 } | null;
}

export interface ImageFsInfoResponse {
  imageFilesystems: FilesystemUsage[];
  containerFilesystems: FilesystemUsage[];
}
