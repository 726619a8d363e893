/**
 * @packageDocumentation
 * The API server's storage: objects keyed by resource/namespace/name in SQLite, one global
 * revision counter (every object's `resourceVersion`), optimistic concurrency, transactions, lists
 * at a past revision with keyset paging, and watches that replay history and then follow commits.
 *
 * ```js
 * import { deepEqual, equal } from 'node:assert/strict';
 * import { createMemoryStore } from '@ke/apiserver';
 *
 * const store = createMemoryStore();
 * const key = { resource: 'core/configmaps', namespace: 'default', name: 'app' };
 *
 * // Every change after fromRevision: history first, then each commit, in revision order.
 * const seen = [];
 * const stop = store.watch('core/configmaps', { fromRevision: 0 }, (event) => {
 *   seen.push(`${event.type} ${event.key.name} ${event.revision}`);
 * });
 *
 * const metadata = { name: 'app', namespace: 'default' };
 * const created = store.create(key, { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: {} });
 * equal(created.object.metadata.resourceVersion, '1');
 *
 * // Optimistic concurrency: a write based on a stale revision is refused.
 * const edited = { ...created.object, data: { mode: 'edge' } };
 * store.update(key, edited, { expectedRevision: created.revision });
 * try {
 *   store.update(key, edited, { expectedRevision: created.revision });
 * } catch (error) {
 *   console.log('rejected:', error.code);
 * }
 *
 * // Writes in a transaction commit together; watchers see them after the commit.
 * store.transaction(() => {
 *   store.delete(key);
 *   store.create({ ...key, name: 'app-2' }, { metadata: { ...metadata, name: 'app-2' } });
 * });
 *
 * // A list at a past revision shows what was true then.
 * const then = store.list('core/configmaps', { revision: 2 });
 * deepEqual(then.items[0].data, { mode: 'edge' });
 * deepEqual(store.list('core/configmaps').items.map((item) => item.metadata.name), ['app-2']);
 * console.log('events:', seen.join(', '));
 * deepEqual(seen, ['ADDED app 1', 'MODIFIED app 2', 'DELETED app 3', 'ADDED app-2 4']);
 *
 * stop();
 * store.close();
 * console.log('store closed');
 * ```
 */
import { createSqliteStore, type SqliteStoreOptions } from './sqlite';
import type { Store } from './types';

export { StoreError, type StoreErrorCode } from './errors';
export { createSqliteStore, type SqliteStoreOptions, type StoreLogger } from './sqlite';
export type {
  KubeObject,
  ListOptions,
  ListResult,
  ObjectKey,
  Store,
  StoredObject,
  StoreEvent,
  StoreEventType,
  WatchOptions,
  WriteOptions,
} from './types';

/** Options of `createMemoryStore`: those of `createSqliteStore` without a file. */
export type MemoryStoreOptions = Omit<SqliteStoreOptions, 'path' | 'readonly'>;

/** The SQLite store on `:memory:`: the same code, gone at `close()`. For tests and throwaway servers. */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  return createSqliteStore({ ...options, path: ':memory:' });
}
