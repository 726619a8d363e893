import type { V1ObjectMeta } from '@kubernetes/client-node';

/**
 * The storage contract of the API server. One implementation (SQLite through better-sqlite3,
 * a file or `:memory:`) serves the embedded control plane and tests; the edge MetaServer plugs
 * MetaManager's store in behind the same interface.
 *
 * All calls are synchronous: better-sqlite3 is, and a synchronous store makes every call atomic
 * with respect to the others, which is what read-modify-write in the server relies on.
 */

/** Any Kubernetes object as JSON. `metadata.name` is always set on stored objects. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta & { name: string };
  [field: string]: unknown;
}

/**
 * Where an object lives. `resource` names the collection, `<group>/<plural>` with `core` for the
 * legacy group: `core/pods`, `apps/deployments`, `devices.kubeedge.io/devices`. `namespace` is
 * `''` for cluster-scoped objects.
 */
export interface ObjectKey {
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
}

/** An object with the global revision at which it was last written. */
export interface StoredObject {
  readonly key: ObjectKey;
  /** Equals `Number(object.metadata.resourceVersion)`. */
  readonly revision: number;
  readonly object: KubeObject;
}

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * One change, as watchers see it. Parsed once per change and shared by every listener of it:
 * treat it as read-only.
 */
export interface StoreEvent {
  readonly type: StoreEventType;
  /** The revision this change created. */
  readonly revision: number;
  readonly key: ObjectKey;
  /**
   * The object after the change. For DELETED: its last state, with `metadata.resourceVersion`
   * set to the deletion's revision (as Kubernetes sends it).
   */
  readonly object: KubeObject;
  /** The object before the change (absent for ADDED). */
  readonly previous?: KubeObject;
}

export interface ListOptions {
  /** Only this namespace; `undefined` or `''` lists every namespace. */
  readonly namespace?: string;
  /** Keep only objects for which this returns true (selectors). Applied before `limit`. */
  readonly filter?: (object: KubeObject) => boolean;
  /**
   * At most this many items; more remaining is reported through `continueAfter`. `0` or
   * undefined: no limit, as in Kubernetes.
   */
  readonly limit?: number;
  /** Resume after this key (from a previous page's `continueAfter`; anything else: `KE_STORE_INVALID`). */
  readonly continueAfter?: string;
  /**
   * List the state as of this revision (consistent pages, `resourceVersionMatch=Exact`).
   * Undefined: the latest state. Older than the compacted revision: `KE_STORE_GONE`.
   *
   * Newer than `currentRevision`: `KE_STORE_INVALID` with the message `Too large resource version:
   * <revision>, current: <current>`. Kubernetes waits up to 3 s for such a revision and then answers
   * 504 (reason Timeout) with that message; a synchronous store cannot wait, so a server that wants
   * the Kubernetes behaviour compares with `currentRevision` (and waits on a watch) before listing.
   */
  readonly revision?: number;
}

export interface ListResult {
  /** In key order: namespace, then name. Each carries its own `metadata.resourceVersion`. */
  readonly items: KubeObject[];
  /** The revision the list reflects (the list's `metadata.resourceVersion`). */
  readonly revision: number;
  /** Set when more items remain: pass it back as `continueAfter` (with the same `revision`). */
  readonly continueAfter?: string;
  /** How many matching items remain after this page, when `continueAfter` is set. */
  readonly remaining?: number;
}

export interface WatchOptions {
  /** Only this namespace; `undefined` or `''` for all. */
  readonly namespace?: string;
  /**
   * Deliver every change with a revision greater than this, first from history, then live, each
   * exactly once and in revision order. Older than the compacted revision: `KE_STORE_GONE`; newer
   * than `currentRevision`: `KE_STORE_INVALID` ("Too large resource version", as for lists).
   * A watch started inside a transaction gets that transaction's writes after it commits.
   */
  readonly fromRevision: number;
}

export interface WriteOptions {
  /** Fail with `KE_STORE_CONFLICT` unless the stored object is at exactly this revision. */
  readonly expectedRevision?: number;
}

export interface Store {
  /** The newest revision written (0 for an empty store); inside a transaction, including its writes. */
  readonly currentRevision: number;
  /** History at or below this revision is gone; watches and lists from it fail with GONE. */
  readonly compactedRevision: number;

  get(key: ObjectKey): StoredObject | undefined;
  list(resource: string, options?: ListOptions): ListResult;
  /** Number of objects of `resource` (in `namespace` when given). */
  count(resource: string, namespace?: string): number;

  /** Stores a new object at a new revision. `KE_STORE_ALREADY_EXISTS` if the key is taken. */
  create(key: ObjectKey, object: KubeObject): StoredObject;
  /** Replaces an object at a new revision. `KE_STORE_NOT_FOUND`, `KE_STORE_CONFLICT`. */
  update(key: ObjectKey, object: KubeObject, options?: WriteOptions): StoredObject;
  /** Removes an object at a new revision; returns its last state. `KE_STORE_NOT_FOUND`, `KE_STORE_CONFLICT`. */
  delete(key: ObjectKey, options?: WriteOptions): StoredObject;

  /**
   * Runs `fn` atomically: every write inside commits together (one revision each, in order) or
   * none does, and watchers see the events only after the commit. Nested calls join the outer one;
   * a nested call that throws undoes its own writes, and the outer `fn` may catch that and go on.
   * `fn` must be synchronous: a returned promise fails with `KE_STORE_INVALID` and writes nothing.
   */
  transaction<T>(fn: () => T): T;

  /**
   * Calls `listener` for each change of `resource` after `options.fromRevision` (history first,
   * synchronously before `watch` returns, then live after each commit). Returns the function
   * that stops the watch. A listener that throws is removed and the error is not rethrown to
   * writers (also during the replay: `watch` then returns a stop function that does nothing).
   */
  watch(resource: string, options: WatchOptions, listener: (event: StoreEvent) => void): () => void;

  /** Drops history at or below `revision` (never the current objects). */
  compact(revision: number): void;

  /** Closes the database; later calls fail with `KE_STORE_CLOSED`. Idempotent. */
  close(): void;
}
