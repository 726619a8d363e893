import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeError, KubeErrorCode } from './errors';

/**
 * An index function: the values under which an object is found in one index (client-go's
 * `IndexFunc`). Return `[]` to leave the object out of the index.
 */
export type IndexFunc<T extends KubernetesObject = KubernetesObject> = (object: T) => string[];

/**
 * The key of an object in an informer's cache and a controller's work queue: `namespace/name`,
 * or `name` for cluster-scoped objects (client-go's `MetaNamespaceKeyFunc`).
 */
export function metaNamespaceKey(object: KubernetesObject): string {
  const name = object.metadata?.name ?? '';
  const namespace = object.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/** Splits a key made by {@link metaNamespaceKey}; `namespace` is '' for cluster-scoped objects. */
export function splitMetaNamespaceKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash === -1
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Indexes by `metadata.namespace` ('' for cluster-scoped objects), as client-go's `MetaNamespaceIndexFunc`. */
export const byNamespace: IndexFunc = (object) => [object.metadata?.namespace ?? ''];

/** Indexes pods (and anything else with one) by `spec.nodeName`; objects without it are left out. */
export const byNodeName: IndexFunc = (object) => {
  const nodeName = (object as { spec?: { nodeName?: unknown } }).spec?.nodeName;
  return typeof nodeName === 'string' && nodeName !== '' ? [nodeName] : [];
};

/** The indexes every informer has: `namespace` ({@link byNamespace}) and `nodeName` ({@link byNodeName}). */
export const builtinIndexers: Readonly<Record<'namespace' | 'nodeName', IndexFunc>> = Object.freeze(
  { namespace: byNamespace, nodeName: byNodeName },
);

/** Called when an index function throws; the object is left out of that index. */
export type IndexErrorHandler = (indexName: string, key: string, error: unknown) => void;

/**
 * The informer's store: objects by key, plus one inverted index per index function
 * (client-go's thread-safe store with indexers, without the threads).
 */
export class Indexer<T extends KubernetesObject> {
  readonly #objects = new Map<string, T>();
  readonly #indexers: ReadonlyMap<string, IndexFunc<T>>;
  readonly #onIndexError: IndexErrorHandler;
  /** index name → index value → keys. */
  readonly #indices = new Map<string, Map<string, Set<string>>>();
  /** key → index name → the values the object was indexed under, to unindex without recomputing. */
  readonly #indexed = new Map<string, Map<string, string[]>>();

  constructor(indexers: Record<string, IndexFunc<T>>, onIndexError: IndexErrorHandler) {
    this.#indexers = new Map(Object.entries(indexers));
    this.#onIndexError = onIndexError;
    for (const name of this.#indexers.keys()) this.#indices.set(name, new Map());
  }

  get size(): number {
    return this.#objects.size;
  }

  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  has(key: string): boolean {
    return this.#objects.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#objects.keys();
  }

  values(): T[] {
    return [...this.#objects.values()];
  }

  entries(): IterableIterator<[string, T]> {
    return this.#objects.entries();
  }

  /** Stores `object` under `key`; returns the object it replaced. */
  set(key: string, object: T): T | undefined {
    const previous = this.#objects.get(key);
    this.#unindex(key);
    this.#objects.set(key, object);
    this.#index(key, object);
    return previous;
  }

  /** Removes the object under `key`; returns it. */
  delete(key: string): T | undefined {
    const previous = this.#objects.get(key);
    if (previous === undefined) return undefined;
    this.#unindex(key);
    this.#objects.delete(key);
    return previous;
  }

  /** Whether there is an index of that name. */
  hasIndex(indexName: string): boolean {
    return this.#indices.has(indexName);
  }

  /** Objects whose index function `indexName` returned `value`. */
  byIndex(indexName: string, value: string): T[] {
    const index = this.#indices.get(indexName);
    if (index === undefined) {
      const known = [...this.#indexers.keys()].join(', ');
      throw new KubeError(
        KubeErrorCode.InvalidArgument,
        `byIndex: there is no index "${indexName}"; indexes: ${known}`,
        { reason: 'unknown index' },
      );
    }
    const keys = index.get(value);
    if (keys === undefined) return [];
    const objects: T[] = [];
    for (const key of keys) {
      const object = this.#objects.get(key);
      if (object !== undefined) objects.push(object);
    }
    return objects;
  }

  /** Values of index `indexName` that have at least one object. */
  indexValues(indexName: string): string[] {
    return [...(this.#indices.get(indexName)?.keys() ?? [])];
  }

  #index(key: string, object: T): void {
    const byName = new Map<string, string[]>();
    for (const [name, indexFunc] of this.#indexers) {
      let values: string[];
      try {
        values = [...new Set(indexFunc(object))];
      } catch (error) {
        this.#onIndexError(name, key, error);
        continue;
      }
      if (values.length === 0) continue;
      byName.set(name, values);
      const index = this.#indices.get(name)!;
      for (const value of values) {
        let keys = index.get(value);
        if (keys === undefined) {
          keys = new Set();
          index.set(value, keys);
        }
        keys.add(key);
      }
    }
    if (byName.size > 0) this.#indexed.set(key, byName);
  }

  #unindex(key: string): void {
    const byName = this.#indexed.get(key);
    if (byName === undefined) return;
    this.#indexed.delete(key);
    for (const [name, values] of byName) {
      const index = this.#indices.get(name)!;
      for (const value of values) {
        const keys = index.get(value);
        if (keys === undefined) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }
}
