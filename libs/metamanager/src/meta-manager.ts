import type { KubeObject, ObjectKey, Store } from '@ke/apiserver';
import { StoreError } from '@ke/apiserver';
import {
  createMessage,
  createResponse,
  isNewerResourceVersion,
  type Message,
  ModuleName,
  Operation,
  parseEdgeResource,
  type Router,
} from '@ke/beehive';
import { MetaManagerError } from './errors';
import { RESOURCE_TYPES, type ResourceTypeInfo } from './resource-types';

/** The annotation that keeps the cloud's resourceVersion of a stored object. */
export const CLOUD_RESOURCE_VERSION_ANNOTATION = 'kubeedge.io/cloud-resource-version';

/** Fields first, message second (pino's order), so a pino logger fits as is. */
export interface MetaManagerLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
  error?(fields: object, message: string): void;
}

export interface MetaManagerOptions {
  /** Where objects live: `createSqliteStore({ path })` from `@ke/apiserver` (the MetaServer serves it). */
  readonly store: Store;
  /** The edge app's router: the module registers as `metamanager` in group `meta`. */
  readonly router: Router;
  /** The module that carries messages to the cloud (edgehub's adapter); default `edgehub`. */
  readonly cloudModule?: string;
  /** How long a query forwarded to the cloud may take; default 10 s. */
  readonly remoteQueryTimeoutMs?: number;
  readonly logger?: MetaManagerLogger;
}

/** What {@link MetaManager.apply} did with a change from the cloud. */
export type ApplyResult = 'stored' | 'deleted' | 'stale' | 'absent';

export interface MetaManager {
  /** Registers the module with the router. */
  start(): Promise<void>;
  /** Unregisters it (waits for the message being handled). */
  stop(): Promise<void>;
  /**
   * Stores a change from the cloud (insert, update, patch, delete of an edge resource) in one
   * transaction: an older resourceVersion never replaces a newer one. Throws
   * `KE_META_INVALID` or `KE_META_STORE_FAILED`.
   */
  apply(message: Message): ApplyResult;
  /**
   * The object at `resource` (`<ns>/<type>/<name>`) from the store; one missing here is asked
   * from the cloud, stored, and returned. Throws `KE_META_INVALID`, `KE_META_NOT_FOUND`.
   */
  get(resource: string, options?: { signal?: AbortSignal }): Promise<KubeObject>;
  /** The objects of `<ns>/<type>` (`null/<type>` for cluster-scoped) in the store. */
  list(resource: string): KubeObject[];
}

/** Operations that change an object. */
const CHANGES = new Set<string>([
  Operation.Insert,
  Operation.Update,
  Operation.Patch,
  Operation.Delete,
]);

/** Modules of this node: what they send is on its way to the cloud, not from it. */
const LOCAL_SOURCES = new Set<string>([
  ModuleName.Edged,
  ModuleName.DeviceTwin,
  ModuleName.EventBus,
  ModuleName.ServiceBus,
  'metaserver',
  'edgemesh',
]);

/** Which local module group hears about changes of each type. */
const SUBSCRIBER_GROUP: Readonly<Record<string, string>> = {
  pod: 'edged',
  configmap: 'edged',
  secret: 'edged',
  node: 'edged',
  service: 'mesh',
  endpoints: 'mesh',
  endpointslice: 'mesh',
};

interface Target {
  readonly type: string;
  readonly info: ResourceTypeInfo;
  readonly key: ObjectKey;
}

function invalid(message: string, cause?: unknown): MetaManagerError {
  return new MetaManagerError('KE_META_INVALID', message, cause === undefined ? {} : { cause });
}

/** Where `resource` lives in the store; `name` may be absent for list queries. */
function targetOf(resource: string, { needName }: { needName: boolean }): Target {
  let parts: ReturnType<typeof parseEdgeResource>;
  try {
    parts = parseEdgeResource(resource);
  } catch (cause) {
    throw invalid(`resource ${JSON.stringify(resource)} is not <namespace>/<type>/<name>`, cause);
  }
  const info = RESOURCE_TYPES[parts.type];
  if (!info) {
    throw invalid(
      `resource type ${JSON.stringify(parts.type)} is not kept at the edge ` +
        `(kept: ${Object.keys(RESOURCE_TYPES).join(', ')})`,
    );
  }
  if (info.namespaced === (parts.namespace === null)) {
    throw invalid(
      `${info.kind} is ${info.namespaced ? 'namespaced' : 'cluster-scoped'}; ` +
        `resource ${JSON.stringify(resource)} says otherwise`,
    );
  }
  if (needName && !parts.name)
    throw invalid(`resource ${JSON.stringify(resource)} names no object`);
  return {
    type: parts.type,
    info,
    key: { resource: info.storage, namespace: parts.namespace ?? '', name: parts.name ?? '' },
  };
}

/** The object in `content`, checked against where the message says it belongs. */
function objectOf(message: Message, target: Target): KubeObject {
  const content = message.content;
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    throw invalid(`content of ${message.route.resource} is not a ${target.info.kind} object`);
  }
  const object = structuredClone(content) as Partial<KubeObject>;
  if (object.kind !== undefined && object.kind !== target.info.kind) {
    throw invalid(
      `content of ${message.route.resource} is a ${String(object.kind)}, not a ${target.info.kind}`,
    );
  }
  const metadata = object.metadata;
  if (typeof metadata !== 'object' || metadata === null) {
    throw invalid(`content of ${message.route.resource} has no metadata`);
  }
  if (metadata.name !== target.key.name) {
    throw invalid(
      `content of ${message.route.resource} is named ${JSON.stringify(metadata.name)}, ` +
        `not ${JSON.stringify(target.key.name)}`,
    );
  }
  const namespace = metadata.namespace ?? '';
  if (target.info.namespaced && namespace !== '' && namespace !== target.key.namespace) {
    throw invalid(
      `content of ${message.route.resource} is in namespace ${JSON.stringify(namespace)}`,
    );
  }
  object.kind = target.info.kind;
  object.apiVersion ??= target.info.apiVersion;
  if (target.info.namespaced) metadata.namespace = target.key.namespace;
  return object as KubeObject;
}

function cloudVersionOf(object: KubeObject | undefined): string | undefined {
  return object?.metadata.annotations?.[CLOUD_RESOURCE_VERSION_ANNOTATION];
}

function storeFailure(error: unknown, what: string): never {
  if (error instanceof MetaManagerError) throw error;
  if (error instanceof StoreError) {
    throw new MetaManagerError('KE_META_STORE_FAILED', `${what}: ${error.message}`, {
      cause: error,
    });
  }
  throw error;
}

class MetaManagerImpl implements MetaManager {
  readonly #store: Store;
  readonly #router: Router;
  readonly #cloudModule: string;
  readonly #queryTimeoutMs: number;
  readonly #logger: MetaManagerLogger;
  #registered = false;

  constructor(options: MetaManagerOptions) {
    this.#store = options.store;
    this.#router = options.router;
    this.#cloudModule = options.cloudModule ?? ModuleName.EdgeHub;
    this.#queryTimeoutMs = options.remoteQueryTimeoutMs ?? 10_000;
    this.#logger = options.logger ?? {};
  }

  async start(): Promise<void> {
    if (this.#registered) return;
    this.#router.register({
      name: ModuleName.MetaManager,
      group: 'meta',
      handler: (message) => this.#handle(message),
    });
    this.#registered = true;
  }

  async stop(): Promise<void> {
    if (!this.#registered) return;
    this.#registered = false;
    if (!this.#router.stopped) await this.#router.unregister(ModuleName.MetaManager);
  }

  apply(message: Message): ApplyResult {
    if (!CHANGES.has(message.route.operation)) {
      throw invalid(`operation ${JSON.stringify(message.route.operation)} does not change objects`);
    }
    const target = targetOf(message.route.resource, { needName: true });
    const deleting = message.route.operation === Operation.Delete;
    const object = deleting ? undefined : objectOf(message, target);
    const version =
      message.header.resourceversion ||
      (object?.metadata.resourceVersion as string | undefined) ||
      undefined;
    try {
      return this.#store.transaction((): ApplyResult => {
        const existing = this.#store.get(target.key)?.object;
        const recorded = cloudVersionOf(existing);
        if (deleting) {
          if (!existing) return 'absent';
          if (version !== undefined && recorded !== undefined) {
            if (!isNewerResourceVersion(version, recorded) && version !== recorded) return 'stale';
          }
          this.#store.delete(target.key);
          return 'deleted';
        }
        if (!object) throw invalid('no object');
        if (existing && recorded !== undefined && !isNewerResourceVersion(version, recorded)) {
          return 'stale';
        }
        if (version !== undefined) {
          object.metadata.annotations = {
            ...object.metadata.annotations,
            [CLOUD_RESOURCE_VERSION_ANNOTATION]: version,
          };
        }
        delete object.metadata.resourceVersion;
        if (existing) this.#store.update(target.key, object);
        else this.#store.create(target.key, object);
        return 'stored';
      });
    } catch (error) {
      storeFailure(error, `storing ${message.route.resource}`);
    }
  }

  async get(resource: string, options: { signal?: AbortSignal } = {}): Promise<KubeObject> {
    const target = targetOf(resource, { needName: true });
    const local = this.#store.get(target.key);
    if (local) return local.object;
    return this.#queryCloud(resource, target, options.signal);
  }

  list(resource: string): KubeObject[] {
    const target = targetOf(resource, { needName: false });
    return this.#store.list(target.key.resource, { namespace: target.key.namespace }).items;
  }

  async #queryCloud(resource: string, target: Target, signal?: AbortSignal): Promise<KubeObject> {
    if (!this.#router.has(this.#cloudModule)) {
      throw new MetaManagerError('KE_META_NOT_FOUND', `${resource} is not here and no cloud link`);
    }
    const request = createMessage({
      source: ModuleName.MetaManager,
      group: 'resource',
      operation: Operation.Query,
      resource,
      content: null,
    });
    let reply: Message;
    try {
      reply = await this.#router.sendSync(this.#cloudModule, request, {
        timeoutMs: this.#queryTimeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (cause) {
      throw new MetaManagerError(
        'KE_META_NOT_FOUND',
        `${resource} is not here and the cloud did not answer: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (reply.route.operation === Operation.Error || reply.content === null) {
      throw new MetaManagerError(
        'KE_META_NOT_FOUND',
        `${resource} is not here and the cloud says: ${JSON.stringify(reply.content)}`,
      );
    }
    const insert = createMessage({
      source: 'cloud-query',
      group: 'resource',
      operation: Operation.Insert,
      resource,
      content: reply.content,
      ...(typeof reply.header.resourceversion === 'string'
        ? { resourceVersion: reply.header.resourceversion }
        : {}),
    });
    this.apply(insert);
    const stored = this.#store.get(target.key);
    if (!stored) throw new MetaManagerError('KE_META_NOT_FOUND', `${resource} vanished`);
    return stored.object;
  }

  async #handle(message: Message): Promise<void> {
    const { operation, source } = message.route;
    if (operation === Operation.Query) {
      const { resource } = message.route;
      await this.#answer(message, () =>
        parseEdgeResourceName(resource) ? this.get(resource) : this.list(resource),
      );
      return;
    }
    if (CHANGES.has(operation) && !LOCAL_SOURCES.has(source ?? '')) {
      await this.#answer(message, () => {
        const result = this.apply(message);
        if (result === 'stored' || result === 'deleted') this.#publish(message);
        this.#logger.debug?.({ resource: message.route.resource, operation, result }, 'applied');
        return 'OK';
      });
      return;
    }
    // From a local module (status, events) or anything else: on its way to the cloud.
    if (this.#router.has(this.#cloudModule)) {
      await this.#router.send(this.#cloudModule, message).catch((error: Error) => {
        this.#logger.warn?.({ resource: message.route.resource, err: error }, 'not sent upstream');
      });
    }
  }

  /** Answers a request (when someone waits for it) with the result or the error. */
  async #answer(message: Message, work: () => unknown): Promise<void> {
    let response: Message;
    try {
      const content = await work();
      response = createResponse(message, { source: ModuleName.MetaManager, content });
    } catch (error) {
      const failure =
        error instanceof MetaManagerError
          ? error
          : new MetaManagerError('KE_META_STORE_FAILED', (error as Error).message, {
              cause: error,
            });
      this.#logger.warn?.(
        { resource: message.route.resource, code: failure.code, err: failure.message },
        'message refused',
      );
      response = createResponse(message, {
        source: ModuleName.MetaManager,
        operation: Operation.Error,
        content: { code: failure.code, message: failure.message, retryable: failure.retryable },
      });
    }
    if (message.header.sync) this.#router.sendResponse(response);
  }

  #publish(message: Message): void {
    const type = message.route.resource.split('/')[1] ?? '';
    const group = SUBSCRIBER_GROUP[type];
    if (!group) return;
    const notice = { ...message, header: { ...message.header, sync: false } };
    void this.#router.sendToGroup(group, notice, { ifFull: 'reject' }).catch((error: Error) => {
      this.#logger.warn?.({ group, err: error }, 'a local subscriber missed a change');
    });
  }
}

/** Whether an edge resource names one object (`ns/type/name`) rather than a list. */
function parseEdgeResourceName(resource: string): boolean {
  try {
    return parseEdgeResource(resource).name !== undefined;
  } catch {
    return true; // targetOf reports the real problem
  }
}

/**
 * KubeEdge's MetaManager: the edge node's copy of what the cloud sent it, in a store the
 * MetaServer serves, answered locally when the cloud is gone.
 */
export function createMetaManager(options: MetaManagerOptions): MetaManager {
  return new MetaManagerImpl(options);
}
