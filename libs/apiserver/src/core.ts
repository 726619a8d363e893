import { isDeepStrictEqual } from 'node:util';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  type StatusCause,
  type StatusReason,
} from './errors';
import {
  clone,
  generateName,
  isPlainObject,
  newUid,
  specOf,
  timestamp,
  validateName,
} from './objects';
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  customResourcePatchTypes,
  PatchError,
  patchErrorStatus,
  patchSchemaForKind,
  unsupportedPatchTypeError,
} from './patch/index';
import { groupVersion, type ResourceInfo, storageResourceOf } from './registry';
import {
  fieldsOf,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
  validateFieldSelector,
} from './selectors/index';
import { StoreError } from './store/errors';
import type { KubeObject, ObjectKey, Store, StoredObject, StoreEvent } from './store/types';

/** Query parameters of list and watch. */
export interface ListQuery {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: string;
}

export interface WatchQuery extends ListQuery {
  readonly allowWatchBookmarks?: boolean;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Receives watch events; `close` is called when the server ends the watch. */
export interface WatchSink {
  event(type: WatchEventType, object: unknown): void;
}

export interface DeleteOptions {
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly gracePeriodSeconds?: number;
  readonly propagationPolicy?: string;
  readonly dryRun?: readonly string[];
}

export interface WriteQuery {
  readonly dryRun?: boolean;
  /**
   * `Strict` refuses fields the schema does not know (custom resources) with 400, as kubectl's
   * default `--validate=strict` expects; `Warn` and `Ignore` (default) drop them silently.
   */
  readonly fieldValidation?: string;
}

/** Options of update and patch. */
export interface ReplaceOptions extends WriteQuery {
  readonly subresource?: string;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

/**
 * Called for every write, inside its transaction, with the resulting event. Hooks update
 * in-memory state (the CRD registry) or schedule work for later (namespace clean-up); they must
 * not write to the store themselves.
 */
export type WriteHook = (info: ResourceInfo, event: StoreEvent) => void;

export interface ApiCoreOptions {
  readonly store: Store;
  /** Resolves a resource by group/version/plural (the registry). */
  readonly resolve: (group: string, version: string, resource: string) => ResourceInfo | undefined;
  /** Per-write hooks, e.g. registering a CRD's resource. */
  readonly onWrite?: readonly WriteHook[];
}

const CRD_RESOURCE = 'apiextensions.k8s.io/customresourcedefinitions';

interface ContinueToken {
  readonly rv: number;
  readonly after: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(text: string): ContinueToken {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as ContinueToken;
    if (Number.isSafeInteger(token.rv) && typeof token.after === 'string') return token;
  } catch {
    // fall through to the error below
  }
  throw badRequest('continue key is not valid: the token was not produced by this server');
}

function parseRevision(text: string, what: string): number {
  if (!/^\d+$/.test(text)) {
    throw badRequest(`invalid ${what}: "${text}" is not a resource version of this server`);
  }
  return Number(text);
}

/** Equal apart from `metadata.resourceVersion`. */
function sameObject(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { resourceVersion: _rv, ...metadata } = o.metadata;
    return { ...o, metadata };
  };
  return isDeepStrictEqual(strip(a), strip(b));
}

/** Maps store failures to the Status the client expects. */
function fromStoreError(error: unknown, info: ResourceInfo, name: string): unknown {
  if (!(error instanceof StoreError)) return error;
  switch (error.code) {
    case 'KE_STORE_NOT_FOUND':
      return notFound(info, name);
    case 'KE_STORE_ALREADY_EXISTS':
      return alreadyExists(info, name);
    case 'KE_STORE_CONFLICT':
      return conflict(
        info,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    case 'KE_STORE_GONE':
      return new ApiError('Expired', `too old resource version: ${error.message}`);
    case 'KE_STORE_INVALID':
      return badRequest(error.message);
    default:
      return new ApiError('InternalError', `storage error: ${error.message}`, { cause: error });
  }
}

/**
 * The API semantics over a store, independent of HTTP: object metadata (uid, generation,
 * timestamps, generateName), optimistic concurrency, status subresources, finalizers and
 * graceful deletion, selectors, paging, watch from a resourceVersion.
 */
export class ApiCore {
  readonly store: Store;
  readonly #resolve: ApiCoreOptions['resolve'];
  readonly #hooks: WriteHook[];

  constructor(options: ApiCoreOptions) {
    this.store = options.store;
    this.#resolve = options.resolve;
    this.#hooks = [...(options.onWrite ?? [])];
  }

  key(info: ResourceInfo, namespace: string, name: string): ObjectKey {
    return { resource: info.storageResource, namespace: info.namespaced ? namespace : '', name };
  }

  #guard<T>(info: ResourceInfo, name: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw fromStoreError(error, info, name);
    }
  }

  #runHooks(info: ResourceInfo, event: StoreEvent): void {
    for (const hook of this.#hooks) hook(info, event);
  }

  /** Runs `fn` on the stored object in one transaction; NotFound when there is none. */
  #existing<T>(
    info: ResourceInfo,
    namespace: string,
    name: string,
    fn: (current: StoredObject, key: ObjectKey) => T,
  ): T {
    const key = this.key(info, namespace, name);
    return this.#guard(info, name, () =>
      this.store.transaction(() => {
        const current = this.store.get(key);
        if (!current) throw notFound(info, name);
        return fn(current, key);
      }),
    );
  }

  // Every write goes through these three, so each committed change reaches the hooks once.

  #create(info: ResourceInfo, key: ObjectKey, object: KubeObject): StoredObject {
    const stored = this.store.create(key, object);
    this.#runHooks(info, { type: 'ADDED', revision: stored.revision, key, object: stored.object });
    return stored;
  }

  #update(
    info: ResourceInfo,
    key: ObjectKey,
    next: KubeObject,
    previous: KubeObject,
  ): StoredObject {
    const stored = this.store.update(key, next);
    this.#runHooks(info, {
      type: 'MODIFIED',
      revision: stored.revision,
      key,
      object: stored.object,
      previous,
    });
    return stored;
  }

  #delete(info: ResourceInfo | undefined, key: ObjectKey, previous: KubeObject): StoredObject {
    const deleted = this.store.delete(key);
    if (info) {
      this.#runHooks(info, {
        type: 'DELETED',
        revision: deleted.revision,
        key,
        object: deleted.object,
        previous,
      });
    }
    return deleted;
  }

  #checkNamespace(info: ResourceInfo, namespace: string): void {
    if (!info.namespaced) return;
    if (!namespace) throw badRequest('the namespace of the object must be set');
    const ns = this.store.get({ resource: 'core/namespaces', namespace: '', name: namespace });
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, namespace);
    if (ns.object.metadata.deletionTimestamp) {
      throw new ApiError(
        'Forbidden',
        `${info.resource} "${namespace}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        { details: { name: namespace, kind: info.resource } },
      );
    }
  }

  #checkIdentity(info: ResourceInfo, namespace: string, object: unknown): KubeObject {
    if (!isPlainObject(object)) throw badRequest('the request body must be a JSON object');
    const apiVersion = object.apiVersion;
    const kind = object.kind;
    const expected = groupVersion(info);
    if (apiVersion !== undefined && apiVersion !== expected) {
      throw badRequest(
        `the API version in the data (${String(apiVersion)}) does not match the expected API version (${expected})`,
      );
    }
    if (kind !== undefined && kind !== info.kind) {
      throw badRequest(
        `the kind in the data (${String(kind)}) does not match the expected kind (${info.kind})`,
      );
    }
    if (object.metadata !== undefined && !isPlainObject(object.metadata)) {
      throw badRequest('metadata must be an object');
    }
    const metadata = (object.metadata ?? {}) as Record<string, unknown>;
    if (info.namespaced && metadata.namespace !== undefined && metadata.namespace !== namespace) {
      if (namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
    }
    return { ...object, apiVersion: expected, kind: info.kind, metadata } as unknown as KubeObject;
  }

  #validate(info: ResourceInfo, object: KubeObject): void {
    const name = object.metadata.name;
    const problems = [...validateName(info, name), ...(info.validate?.(object) ?? [])];
    if (problems.length > 0) {
      const causes: StatusCause[] = problems.map((p) => ({
        reason: p.reason ?? 'FieldValueInvalid',
        message: p.message,
        field: p.field,
      }));
      throw invalid(info, name, causes);
    }
  }

  /** With `fieldValidation=Strict`, fields the schema would prune are an error, as in Kubernetes. */
  #checkUnknownFields(info: ResourceInfo, object: KubeObject, query: WriteQuery): void {
    if (query.fieldValidation !== 'Strict' || !info.unknownFields) return;
    const unknown = info.unknownFields(object);
    if (unknown.length === 0) return;
    throw badRequest(
      `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${unknown
        .map((path) => `unknown field "${path}"`)
        .join(', ')}`,
    );
  }

  get(info: ResourceInfo, namespace: string, name: string): KubeObject {
    const stored = this.#guard(info, name, () => this.store.get(this.key(info, namespace, name)));
    if (!stored) throw notFound(info, name);
    return stored.object;
  }

  create(info: ResourceInfo, namespace: string, body: unknown, query: WriteQuery = {}): KubeObject {
    const object = this.#checkIdentity(info, namespace, body);
    const metadata = object.metadata;
    if (!metadata.name) {
      if (!metadata.generateName) {
        throw invalid(info, '', [
          {
            reason: 'FieldValueRequired',
            field: 'metadata.name',
            message: 'Required value: name or generateName is required',
          },
        ]);
      }
      metadata.name = generateName(metadata.generateName);
    }
    if (info.namespaced) metadata.namespace = namespace || metadata.namespace;
    else delete metadata.namespace;
    const ns = metadata.namespace ?? '';
    this.#checkNamespace(info, ns);
    metadata.uid = newUid();
    metadata.creationTimestamp = timestamp() as unknown as Date;
    metadata.generation = 1;
    delete metadata.resourceVersion;
    delete metadata.deletionTimestamp;
    delete metadata.deletionGracePeriodSeconds;
    // Status of a custom resource is written through its status subresource only.
    if (info.custom && info.statusSubresource) delete object.status;
    if (info.storageResource === 'core/namespaces') {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
    }
    const key = this.key(info, ns, metadata.name);
    // One transaction from prepare to write: what prepare read (the Services holding cluster
    // IPs) cannot change before the object that depends on it is stored.
    return this.#guard(info, metadata.name, () =>
      this.store.transaction(() => {
        info.prepare?.(object);
        this.#checkUnknownFields(info, object, query);
        const pruned = info.prune ? info.prune(object) : object;
        this.#validate(info, pruned);
        if (query.dryRun) return pruned;
        return this.#create(info, key, pruned).object;
      }),
    );
  }

  /**
   * Replaces an object (PUT), or its status (PUT …/status). A stale `metadata.resourceVersion`
   * is a Conflict; an absent one is allowed for built-in resources and required for custom ones.
   */
  update(
    info: ResourceInfo,
    namespace: string,
    name: string,
    body: unknown,
    options: ReplaceOptions = {},
  ): KubeObject {
    const object = this.#checkIdentity(info, namespace, body);
    if (object.metadata.name !== undefined && object.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${String(object.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    return this.#existing(info, namespace, name, (current) => {
      const rv = object.metadata.resourceVersion;
      if (rv === undefined || rv === '') {
        if (info.custom) {
          throw invalid(info, name, [
            {
              reason: 'FieldValueInvalid',
              field: 'metadata.resourceVersion',
              message: 'Invalid value: 0x0: must be specified for an update',
            },
          ]);
        }
      } else if (rv !== current.object.metadata.resourceVersion) {
        throw conflict(
          info,
          name,
          'the object has been modified; please apply your changes to the latest version and try again',
        );
      }
      return this.#replace(info, current.object, object, options);
    });
  }

  /** Builds the next version of `current` from `incoming` and stores it. */
  #replace(
    info: ResourceInfo,
    current: KubeObject,
    incoming: KubeObject,
    options: ReplaceOptions,
  ): KubeObject {
    const name = current.metadata.name;
    let next: KubeObject;
    if (options.subresource === 'status') {
      if (!info.statusSubresource) throw notFound(info, `${name}/status`);
      next = { ...clone(current), status: incoming.status };
      if (incoming.status === undefined) delete next.status;
      // A custom resource's status is pruned to its schema like the rest of the object.
      this.#checkUnknownFields(info, next, options);
      if (info.prune) next = info.prune(next);
    } else if (options.subresource) {
      throw notFound(info, `${name}/${options.subresource}`);
    } else {
      next = clone(incoming);
      if (info.statusSubresource) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      // Identity and lifecycle fields belong to the server.
      const keep = current.metadata;
      next.metadata = {
        ...next.metadata,
        name: keep.name,
        namespace: keep.namespace,
        uid: keep.uid,
        creationTimestamp: keep.creationTimestamp,
        generation: keep.generation,
        deletionTimestamp: keep.deletionTimestamp,
        deletionGracePeriodSeconds: keep.deletionGracePeriodSeconds,
      };
      for (const field of [
        'namespace',
        'deletionTimestamp',
        'deletionGracePeriodSeconds',
      ] as const) {
        if (next.metadata[field] === undefined) delete next.metadata[field];
      }
      this.#checkUnknownFields(info, next, options);
      if (info.prune) next = info.prune(next);
      info.prepareUpdate?.(next, current);
      if (specOf(next) !== specOf(current)) {
        next.metadata.generation = (current.metadata.generation ?? 1) + 1;
      }
    }
    this.#validate(info, next);
    if (options.dryRun) return next;
    const key = this.key(info, current.metadata.namespace ?? '', name);
    // Kubernetes skips writes that change nothing: no new revision, no watch event.
    if (sameObject(next, current)) return current;
    // An object being deleted goes once its last finalizer is removed.
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      const deleted = this.#delete(info, key, current);
      return deleted.object;
    }
    const stored = this.#update(info, key, next, current);
    return stored.object;
  }

  patch(
    info: ResourceInfo,
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    options: ReplaceOptions = {},
  ): KubeObject {
    return this.#existing(info, namespace, name, (current) => {
      let patched: unknown;
      try {
        switch (type) {
          case 'merge':
            patched = applyMergePatch(current.object, patch);
            break;
          case 'json':
            patched = applyJsonPatch(current.object, patch);
            break;
          case 'strategic':
            if (info.custom) throw unsupportedPatchTypeError(customResourcePatchTypes);
            patched = applyStrategicMergePatch(
              current.object,
              patch,
              patchSchemaForKind(info.kind),
            );
            break;
          default:
            throw new ApiError(
              'UnsupportedMediaType',
              'server-side apply (application/apply-patch+yaml) is not supported by this server; use kubectl apply without --server-side',
            );
        }
      } catch (error) {
        if (error instanceof PatchError) {
          const { reason } = patchErrorStatus(error.code);
          throw new ApiError(reason as StatusReason, error.message);
        }
        throw error;
      }
      const object = this.#checkIdentity(info, namespace, patched);
      if (object.metadata.name !== name) {
        throw badRequest('metadata.name cannot be changed by a patch');
      }
      const rv = object.metadata.resourceVersion;
      if (rv !== undefined && rv !== current.object.metadata.resourceVersion) {
        throw conflict(
          info,
          name,
          'the object has been modified; please apply your changes to the latest version and try again',
        );
      }
      return this.#replace(info, current.object, object, options);
    });
  }

  /**
   * Deletes an object. With finalizers it is only marked (`deletionTimestamp`) and goes when the
   * last finalizer is removed. Returns the object as the API returns it.
   */
  delete(
    info: ResourceInfo,
    namespace: string,
    name: string,
    options: DeleteOptions = {},
  ): KubeObject {
    return this.#existing(info, namespace, name, (current, key) => {
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== current.object.metadata.uid) {
        throw conflict(
          info,
          name,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.object.metadata.uid}`,
        );
      }
      if (pre?.resourceVersion && pre.resourceVersion !== current.object.metadata.resourceVersion) {
        throw conflict(
          info,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.object.metadata.resourceVersion}`,
        );
      }
      if (options.dryRun?.includes('All')) return current.object;
      const finalizers = current.object.metadata.finalizers ?? [];
      if (info.storageResource === 'core/namespaces') {
        // The namespace lifecycle empties it, then removes it (see namespaces.ts).
        if (current.object.metadata.deletionTimestamp) return current.object;
        const terminating = clone(current.object);
        terminating.metadata.deletionTimestamp = timestamp() as unknown as Date;
        terminating.status = { ...(terminating.status as object), phase: 'Terminating' };
        const stored = this.#update(info, key, terminating, current.object);
        return stored.object;
      }
      if (finalizers.length > 0) {
        if (current.object.metadata.deletionTimestamp) return current.object;
        const marked = clone(current.object);
        marked.metadata.deletionTimestamp = timestamp() as unknown as Date;
        marked.metadata.deletionGracePeriodSeconds = 0;
        const stored = this.#update(info, key, marked, current.object);
        return stored.object;
      }
      if (info.storageResource === CRD_RESOURCE) this.#deleteCustomObjects(current.object);
      const deleted = this.#delete(info, key, current.object);
      return deleted.object;
    });
  }

  /**
   * Deleting a CRD deletes its objects, as Kubernetes' customresourcecleanup finalizer does:
   * watchers see them go, and a CRD created again later starts empty instead of bringing back
   * the old objects. Unlike Kubernetes it does not wait for the objects' own finalizers.
   */
  #deleteCustomObjects(crd: KubeObject): void {
    const spec = crd.spec as
      | { group?: string; names?: { plural?: string }; versions?: Array<{ name?: string }> }
      | undefined;
    const group = spec?.group;
    const plural = spec?.names?.plural;
    if (!group || !plural) return;
    const info = (spec.versions ?? [])
      .map((version) => this.#resolve(group, version.name ?? '', plural))
      .find((found) => found !== undefined);
    const resource = storageResourceOf(group, plural);
    for (const object of this.store.list(resource).items) {
      const key = {
        resource,
        namespace: object.metadata.namespace ?? '',
        name: object.metadata.name,
      };
      this.#delete(info, key, object);
    }
  }

  /** Deletes every object the selectors match; returns them as deleted. */
  deleteCollection(
    info: ResourceInfo,
    namespace: string,
    query: ListQuery,
    options: DeleteOptions = {},
  ): KubeObject[] {
    const { items } = this.list(info, namespace, {
      ...query,
      limit: undefined,
      continue: undefined,
    });
    return items.map((item) =>
      this.delete(info, item.metadata.namespace ?? '', item.metadata.name, options),
    );
  }

  #filter(info: ResourceInfo, query: ListQuery): ((object: KubeObject) => boolean) | undefined {
    try {
      const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
      const fields = query.fieldSelector
        ? validateFieldSelector(info.storageResource, parseFieldSelector(query.fieldSelector))
        : undefined;
      if (!labels && !fields) return undefined;
      return (object) =>
        (!labels || matchesLabels(labels, object.metadata.labels ?? {})) &&
        (!fields || matchesFields(fields, fieldsOf(info.storageResource, object)));
    } catch (error) {
      if (error instanceof SelectorError) throw badRequest((error as Error).message);
      throw error;
    }
  }

  list(
    info: ResourceInfo,
    namespace: string,
    query: ListQuery,
  ): { items: KubeObject[]; revision: number; continue?: string; remaining?: number } {
    const filter = this.#filter(info, query);
    let revision: number | undefined;
    let after: string | undefined;
    if (query.continue) {
      const token = decodeContinue(query.continue);
      revision = token.rv;
      after = token.after;
      if (revision < this.store.compactedRevision) {
        throw new ApiError(
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
    } else if (query.resourceVersion && query.resourceVersion !== '0') {
      const requested = parseRevision(query.resourceVersion, 'resourceVersion');
      if (requested > this.store.currentRevision) throw this.#tooLarge(requested);
      if (query.resourceVersionMatch === 'Exact') revision = requested;
    } else if (query.resourceVersionMatch === 'Exact') {
      throw badRequest('resourceVersionMatch=Exact requires a resourceVersion');
    }
    const limit = query.limit && query.limit > 0 ? query.limit : undefined;
    const result = this.#guard(info, '', () =>
      this.store.list(info.storageResource, {
        namespace: info.namespaced ? namespace : '',
        filter,
        limit,
        continueAfter: after,
        revision,
      }),
    );
    return {
      items: result.items,
      revision: result.revision,
      ...(result.continueAfter
        ? {
            continue: encodeContinue({ rv: result.revision, after: result.continueAfter }),
            remaining: result.remaining,
          }
        : {}),
    };
  }

  /**
   * A resourceVersion this server has not reached: 504 with the cause client-go recognises
   * (apiserver's NewTooLargeResourceVersionError). Kubernetes first waits up to 3 s for it; a
   * synchronous store cannot, and the client retries after `retryAfterSeconds`.
   */
  #tooLarge(requested: number): ApiError {
    return new ApiError(
      'Timeout',
      `Too large resource version: ${requested}, current: ${this.store.currentRevision}`,
      {
        details: {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
          retryAfterSeconds: 1,
        },
      },
    );
  }

  /**
   * Streams changes to `sink` until the returned function is called. Without a resourceVersion
   * (or with "0") the current objects come first as ADDED events, as Kubernetes does. A
   * compacted resourceVersion produces one ERROR event with a 410 Status, a future one an ERROR
   * event with a 504 Status.
   */
  watch(info: ResourceInfo, namespace: string, query: WatchQuery, sink: WatchSink): () => void {
    const filter = this.#filter(info, query);
    const matches = (object: KubeObject | undefined) => !!object && (!filter || filter(object));
    const ns = info.namespaced ? namespace : '';
    let from: number;
    if (!query.resourceVersion || query.resourceVersion === '0') {
      const snapshot = this.store.list(info.storageResource, { namespace: ns, filter });
      for (const item of snapshot.items) sink.event('ADDED', item);
      from = snapshot.revision;
    } else {
      from = parseRevision(query.resourceVersion, 'resourceVersion');
      if (from > this.store.currentRevision) {
        // As Kubernetes' cacher does: the watch starts and carries the error as its only event.
        sink.event('ERROR', this.#tooLarge(from).toStatus());
        return () => {};
      }
    }
    try {
      return this.store.watch(
        info.storageResource,
        { namespace: ns, fromRevision: from },
        (event) => {
          const now = matches(event.object);
          const before = event.type !== 'ADDED' && matches(event.previous ?? event.object);
          if (event.type === 'DELETED') {
            if (before || now) sink.event('DELETED', event.object);
          } else if (event.type === 'ADDED') {
            if (now) sink.event('ADDED', event.object);
          } else if (now && before) sink.event('MODIFIED', event.object);
          else if (now) sink.event('ADDED', event.object);
          else if (before) {
            // Left the selection: Kubernetes (cacheWatcher.convertToWatchEvent) sends the last
            // state that matched, at this change's resourceVersion, so the client's cache
            // removes what it had and resumes from the right revision.
            const last = event.previous ?? event.object;
            sink.event('DELETED', {
              ...last,
              metadata: { ...last.metadata, resourceVersion: String(event.revision) },
            });
          }
        },
      );
    } catch (error) {
      if (error instanceof StoreError && error.code === 'KE_STORE_GONE') {
        sink.event(
          'ERROR',
          new ApiError(
            'Expired',
            `too old resource version: ${from} (${this.store.compactedRevision})`,
          ).toStatus(),
        );
        return () => {};
      }
      throw fromStoreError(error, info, '');
    }
  }

  /**
   * Removes a terminating namespace once nothing is left in it. Returns whether it went.
   * Called by the namespace lifecycle.
   */
  finalizeNamespace(name: string, isEmpty: () => boolean): boolean {
    const info = this.#resolve('', 'v1', 'namespaces')!;
    const key = this.key(info, '', name);
    return this.store.transaction(() => {
      const current = this.store.get(key);
      if (!current?.object.metadata.deletionTimestamp || !isEmpty()) return false;
      this.#delete(info, key, current.object);
      return true;
    });
  }

  /** The resource registry lookup, for handlers that follow references. */
  resolve(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.#resolve(group, version, resource);
  }
}
