import {
  type CallOptions,
  Client,
  type ClientUnaryCall,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { fromJSON, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { CriError, EdgedError } from '../errors';
import { CRI_API_PROTO } from './api-proto';
import type {
  AuthConfig,
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerStatus,
  ExecSyncResult,
  Image,
  ImageFsInfoResponse,
  Int64,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
  StatusResponse,
  VersionResponse,
} from './types';

/** The kubelet–runtime API version a kubelet sends in `Version`. */
const KUBELET_RUNTIME_API_VERSION = '0.1.0';
/** The kubelet's gRPC message limit for CRI calls (a node with many containers lists a lot). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface CriClientOptions {
  /** `unix:///run/containerd/containerd.sock`, a socket path, or a gRPC target (`host:port`). */
  endpoint: string;
  /** Deadline of each call (the kubelet's `--runtime-request-timeout`). Default 120,000. */
  timeoutMs?: number;
  /** Deadline of `pullImage`, which downloads. Default 1,800,000 (30 minutes). */
  pullImageTimeoutMs?: number;
  /** Longest wait between reconnection attempts to a runtime that went away. Default 5,000. */
  maxReconnectBackoffMs?: number;
}

/** Per call: an `AbortSignal`, and a deadline other than the client's. */
export interface CriCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A CRI v1 client: the calls a kubelet makes to containerd or CRI-O, as promises. */
export interface CriClient {
  /** The endpoint as given. */
  readonly endpoint: string;
  version(options?: CriCallOptions): Promise<VersionResponse>;
  /** The runtime's conditions (`RuntimeReady`, `NetworkReady`) and handlers. */
  status(options?: CriCallOptions): Promise<StatusResponse>;
  /** Creates and starts a pod sandbox; resolves with its id. */
  runPodSandbox(
    config: PodSandboxConfig,
    runtimeHandler?: string,
    options?: CriCallOptions,
  ): Promise<string>;
  /** Stops the sandbox and its containers, releases its IP. Idempotent. */
  stopPodSandbox(podSandboxId: string, options?: CriCallOptions): Promise<void>;
  /** Removes the sandbox and its containers. Idempotent. */
  removePodSandbox(podSandboxId: string, options?: CriCallOptions): Promise<void>;
  podSandboxStatus(podSandboxId: string, options?: CriCallOptions): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter, options?: CriCallOptions): Promise<PodSandbox[]>;
  /** Creates a container in a sandbox (pass the sandbox's config again); resolves with its id. */
  createContainer(
    podSandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig,
    options?: CriCallOptions,
  ): Promise<string>;
  startContainer(containerId: string, options?: CriCallOptions): Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutSec` (0: at once). Idempotent. */
  stopContainer(containerId: string, timeoutSec: number, options?: CriCallOptions): Promise<void>;
  /** Removes the container, killing it if it runs. Idempotent. */
  removeContainer(containerId: string, options?: CriCallOptions): Promise<void>;
  listContainers(filter?: ContainerFilter, options?: CriCallOptions): Promise<Container[]>;
  containerStatus(containerId: string, options?: CriCallOptions): Promise<ContainerStatus>;
  /** Asks the runtime to reopen the container's log file (after it was rotated). */
  reopenContainerLog(containerId: string, options?: CriCallOptions): Promise<void>;
  /** Runs `cmd` in the container and waits (`timeoutSec` 0: no limit but the call's deadline). */
  execSync(
    containerId: string,
    cmd: string[],
    timeoutSec?: number,
    options?: CriCallOptions,
  ): Promise<ExecSyncResult>;
  /** Pulls an image; resolves with its reference on the node (the image id). */
  pullImage(
    image: string,
    auth?: AuthConfig,
    sandboxConfig?: PodSandboxConfig,
    options?: CriCallOptions,
  ): Promise<string>;
  /** The image if the node has it, else `null`. */
  imageStatus(image: string, options?: CriCallOptions): Promise<Image | null>;
  /** The node's images, or those matching `image`. */
  listImages(image?: string, options?: CriCallOptions): Promise<Image[]>;
  /** Removes an image. Idempotent. */
  removeImage(image: string, options?: CriCallOptions): Promise<void>;
  imageFsInfo(options?: CriCallOptions): Promise<ImageFsInfoResponse>;
  /** Closes the connection; later calls fail with `KE_EDGED_CRI_UNAVAILABLE`. */
  close(): void;
}

let packageDefinition: PackageDefinition | undefined;

/**
 * The CRI v1 services, parsed once from the proto text (no file on disk): fields camelCased,
 * int64 as decimal strings, enums as names, unset fields filled with their defaults.
 */
export function criPackageDefinition(): PackageDefinition {
  if (!packageDefinition) {
    const { root } = protobuf.parse(CRI_API_PROTO, { keepCase: false });
    packageDefinition = fromJSON(root.toJSON(), {
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
  }
  return packageDefinition;
}

type CriService = 'RuntimeService' | 'ImageService';

function methodDefinition(service: CriService, method: string): MethodDefinition<object, object> {
  const definition = criPackageDefinition()[`runtime.v1.${service}`] as Record<
    string,
    MethodDefinition<object, object>
  >;
  const found = definition[method];
  if (!found) throw new Error(`runtime.v1.${service} has no method ${method}`);
  return found;
}

/** `unix:///path` and `host:port` as they are; a bare path becomes `unix://<path>`. */
function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  return endpoint;
}

/** Nanoseconds since the epoch (as CRI times are) as a Date; `null` for `'0'` (not yet). */
export function nanosToDate(nanos: Int64): Date | null {
  const value = BigInt(nanos);
  return value === 0n ? null : new Date(Number(value / 1_000_000n));
}

function toCriError(
  error: ServiceError,
  method: string,
  endpoint: string,
  timeoutMs: number,
): CriError {
  const grpc = { grpcCode: error.code, details: error.details, method, cause: error };
  switch (error.code) {
    case status.UNAVAILABLE:
      return new CriError(
        'KE_EDGED_CRI_UNAVAILABLE',
        `The container runtime at ${endpoint} is unavailable (${method}: ${error.details}); ` +
          'check that containerd or CRI-O runs and that the endpoint is its CRI socket.',
        grpc,
      );
    case status.NOT_FOUND:
      return new CriError('KE_EDGED_CRI_NOT_FOUND', `${method}: ${error.details}`, grpc);
    case status.DEADLINE_EXCEEDED:
      return new CriError(
        'KE_EDGED_CRI_TIMEOUT',
        `${method}: the container runtime at ${endpoint} did not answer within ${timeoutMs} ms.`,
        grpc,
      );
    case status.UNIMPLEMENTED:
      return new CriError(
        'KE_EDGED_CRI_FAILED',
        `${method} is not implemented by the runtime at ${endpoint} (${error.details}); ` +
          'CRI v1 needs containerd 1.6 or CRI-O 1.20 or later, with the CRI plugin enabled.',
        grpc,
      );
    default:
      return new CriError(
        'KE_EDGED_CRI_FAILED',
        `${method} failed: ${error.details} (gRPC ${status[error.code] ?? error.code}).`,
        grpc,
      );
  }
}

const noMetadata = { name: '', uid: '', namespace: '', attempt: 0 };

/** Fills a missing metadata (runtimes always send it; the types promise it). */
function withMetadata<T extends { metadata: unknown }>(item: T): T {
  if (item.metadata === null) (item as { metadata: unknown }).metadata = { ...noMetadata };
  return item;
}

function requireId(what: string, id: string): void {
  if (typeof id !== 'string' || id === '') {
    throw new EdgedError('KE_EDGED_INVALID_ARGUMENT', `${what} must be a non-empty string.`);
  }
}

/**
 * Connects (lazily, on the first call) to a CRI v1 runtime. Every call has a deadline; a
 * failure rejects with a `CriError` whose `code` says what kind, and which keeps the gRPC
 * status code and the runtime's message.
 */
export function createCriClient(options: CriClientOptions): CriClient {
  const { endpoint } = options;
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new EdgedError(
      'KE_EDGED_INVALID_ARGUMENT',
      'endpoint must be a CRI socket, e.g. unix:///run/containerd/containerd.sock.',
    );
  }
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pullImageTimeoutMs = options.pullImageTimeoutMs ?? 1_800_000;
  const client = new Client(grpcTarget(endpoint), credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs ?? 5_000,
    'grpc.initial_reconnect_backoff_ms': Math.min(1_000, options.maxReconnectBackoffMs ?? 1_000),
    // The runtime is local: an http_proxy in the environment must not be used to reach it.
    'grpc.enable_http_proxy': 0,
  });
  let closed = false;

  function unary<Response>(
    service: CriService,
    method: string,
    request: object,
    call: CriCallOptions | undefined,
    defaultTimeoutMs = timeoutMs,
  ): Promise<Response> {
    const name = `${service}/${method}`;
    const deadlineMs = call?.timeoutMs ?? defaultTimeoutMs;
    const signal = call?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (closed) {
      return Promise.reject(
        new EdgedError('KE_EDGED_CRI_UNAVAILABLE', `${name}: the CRI client was closed.`),
      );
    }
    const definition = methodDefinition(service, method);
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => pending.cancel();
      const callOptions: CallOptions = { deadline: Date.now() + deadlineMs };
      const pending: ClientUnaryCall = client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        new Metadata(),
        callOptions,
        (error, response) => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) reject(signal.reason);
          else if (error) reject(toCriError(error, name, endpoint, deadlineMs));
          else resolve(response as Response);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  const runtime = <Response>(method: string, request: object, call?: CriCallOptions) =>
    unary<Response>('RuntimeService', method, request, call);
  const images = <Response>(method: string, request: object, call?: CriCallOptions) =>
    unary<Response>('ImageService', method, request, call);

  return {
    endpoint,

    version: (call) =>
      runtime<VersionResponse>('Version', { version: KUBELET_RUNTIME_API_VERSION }, call),

    status: (call) => runtime<StatusResponse>('Status', { verbose: false }, call),

    async runPodSandbox(config, runtimeHandler = '', call) {
      const response = await runtime<{ podSandboxId: string }>(
        'RunPodSandbox',
        { config, runtimeHandler },
        call,
      );
      return response.podSandboxId;
    },

    async stopPodSandbox(podSandboxId, call) {
      requireId('podSandboxId', podSandboxId);
      await runtime('StopPodSandbox', { podSandboxId }, call);
    },

    async removePodSandbox(podSandboxId, call) {
      requireId('podSandboxId', podSandboxId);
      await runtime('RemovePodSandbox', { podSandboxId }, call);
    },

    async podSandboxStatus(podSandboxId, call) {
      requireId('podSandboxId', podSandboxId);
      const response = await runtime<{ status: PodSandboxStatus | null }>(
        'PodSandboxStatus',
        { podSandboxId, verbose: false },
        call,
      );
      if (!response.status) {
        throw new CriError('KE_EDGED_CRI_NOT_FOUND', `no status for sandbox ${podSandboxId}`, {
          grpcCode: status.NOT_FOUND,
          details: 'empty PodSandboxStatusResponse',
          method: 'RuntimeService/PodSandboxStatus',
        });
      }
      return withMetadata(response.status);
    },

    async listPodSandbox(filter, call) {
      const request = filter
        ? {
            filter: {
              id: filter.id ?? '',
              state: filter.state === undefined ? null : { state: filter.state },
              labelSelector: filter.labelSelector ?? {},
            },
          }
        : {};
      const response = await runtime<{ items: PodSandbox[] }>('ListPodSandbox', request, call);
      return response.items.map(withMetadata);
    },

    async createContainer(podSandboxId, config, sandboxConfig, call) {
      requireId('podSandboxId', podSandboxId);
      const response = await runtime<{ containerId: string }>(
        'CreateContainer',
        { podSandboxId, config, sandboxConfig },
        call,
      );
      return response.containerId;
    },

    async startContainer(containerId, call) {
      requireId('containerId', containerId);
      await runtime('StartContainer', { containerId }, call);
    },

    async stopContainer(containerId, timeoutSec, call) {
      requireId('containerId', containerId);
      // As the kubelet does: the grace period comes on top of the call's own deadline.
      const grace = Math.max(0, Math.floor(timeoutSec));
      await unary(
        'RuntimeService',
        'StopContainer',
        { containerId, timeout: grace },
        call,
        timeoutMs + grace * 1000,
      );
    },

    async removeContainer(containerId, call) {
      requireId('containerId', containerId);
      await runtime('RemoveContainer', { containerId }, call);
    },

    async listContainers(filter, call) {
      const request = filter
        ? {
            filter: {
              id: filter.id ?? '',
              state: filter.state === undefined ? null : { state: filter.state },
              podSandboxId: filter.podSandboxId ?? '',
              labelSelector: filter.labelSelector ?? {},
            },
          }
        : {};
      const response = await runtime<{ containers: Container[] }>('ListContainers', request, call);
      return response.containers.map(withMetadata);
    },

    async containerStatus(containerId, call) {
      requireId('containerId', containerId);
      const response = await runtime<{ status: ContainerStatus | null }>(
        'ContainerStatus',
        { containerId, verbose: false },
        call,
      );
      if (!response.status) {
        throw new CriError('KE_EDGED_CRI_NOT_FOUND', `no status for container ${containerId}`, {
          grpcCode: status.NOT_FOUND,
          details: 'empty ContainerStatusResponse',
          method: 'RuntimeService/ContainerStatus',
        });
      }
      return withMetadata(response.status);
    },

    async reopenContainerLog(containerId, call) {
      requireId('containerId', containerId);
      await runtime('ReopenContainerLog', { containerId }, call);
    },

    async execSync(containerId, cmd, timeoutSec = 0, call) {
      requireId('containerId', containerId);
      const limit = Math.max(0, Math.floor(timeoutSec));
      return unary<ExecSyncResult>(
        'RuntimeService',
        'ExecSync',
        { containerId, cmd, timeout: limit },
        call,
        timeoutMs + limit * 1000,
      );
    },

    async pullImage(image, auth, sandboxConfig, call) {
      requireId('image', image);
      const response = await unary<{ imageRef: string }>(
        'ImageService',
        'PullImage',
        { image: { image }, auth: auth ?? null, sandboxConfig: sandboxConfig ?? null },
        call,
        pullImageTimeoutMs,
      );
      return response.imageRef;
    },

    async imageStatus(image, call) {
      requireId('image', image);
      const response = await images<{ image: Image | null }>(
        'ImageStatus',
        { image: { image }, verbose: false },
        call,
      );
      return response.image;
    },

    async listImages(image, call) {
      const request = image ? { filter: { image: { image } } } : {};
      const response = await images<{ images: Image[] }>('ListImages', request, call);
      return response.images;
    },

    async removeImage(image, call) {
      requireId('image', image);
      await images('RemoveImage', { image: { image } }, call);
    },

    imageFsInfo: (call) => images<ImageFsInfoResponse>('ImageFsInfo', {}, call),

    close() {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}
