import Database from 'better-sqlite3';
import { StoreError } from './errors';
import {
  compareKeys,
  compareText,
  decodeContinue,
  describeKey,
  encodeContinue,
  type KeyPosition,
  validateKey,
  validateNamespace,
  validateNonNegativeInteger,
  validateObject,
  validateResource,
} from './keys';
import { migrate } from './schema';
import { type FailureContext, toStoreError } from './sqlite-errors';
import type {
  KubeObject,
  ListOptions,
  ListResult,
  ObjectKey,
  Store,
  StoredObject,
  StoreEvent,
  WatchOptions,
  WriteOptions,
} from './types';
import { type Change, type HistoryPage, type StoreLogger, WatchHub } from './watch-hub';

export type { StoreLogger } from './watch-hub';

export interface SqliteStoreOptions {
  /** The database file, created when missing, or `':memory:'` for a store that ends with `close()`. */
  path: string;
  /**
   * Automatic compaction keeps at least this many recent revisions of history (for watches and
   * lists at a past revision). It runs in batches of a tenth of this. Default 10 000.
   */
  historyRevisions?: number;
  /** Open an existing file read-only: reads work, writes fail with `KE_STORE_IO`. Default false. */
  readonly?: boolean;
  /** How long to wait for a lock held by another connection, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Receives failures nobody can be told about (a throwing listener, background compaction). */
  logger?: StoreLogger;
}

const DEFAULT_HISTORY_REVISIONS = 10_000;
/** Rows read per query when a list or a history replay runs through many rows. */
const SCAN_BATCH = 1000;
/** Sorts before every real key: names are never empty. */
const START: KeyPosition = { namespace: '', name: '' };

const consoleLogger: StoreLogger = {
  warn: (fields, message) => console.warn(`[apiserver store] ${message}`, fields),
  error: (fields, message) => console.error(`[apiserver store] ${message}`, fields),
};

/**
 * Opens (or creates) a store in a SQLite file through better-sqlite3, in WAL mode. One store per
 * file: the revision counter lives in this process, so a second writer would break it.
 *
 * ```ts
 * const store = createSqliteStore({ path: '/var/lib/kubeedge/apiserver.db' });
 * store.create({ resource: 'core/configmaps', namespace: 'default', name: 'app' }, configMap);
 * store.close();
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  return new SqliteStore(options);
}

interface ObjectRow {
  revision: number;
  value: string;
}

interface ListRow {
  namespace: string;
  name: string;
  value: string;
}

interface RollbackRow {
  namespace: string;
  name: string;
  previous: string | null;
}

/** What to restore when a transaction (or a nested one) is rolled back. */
interface Frame {
  readonly revision: number;
  readonly compactedRevision: number;
  readonly pending: number;
}

function statements(db: Database.Database) {
  return {
    getObject: db.prepare<[string, string, string], ObjectRow>(
      'SELECT revision, value FROM objects WHERE resource = ? AND namespace = ? AND name = ?',
    ),
    insertObject: db.prepare<[string, string, string, number, string]>(
      'INSERT INTO objects (resource, namespace, name, revision, value) VALUES (?, ?, ?, ?, ?)',
    ),
    updateObject: db.prepare<[number, string, string, string, string]>(
      'UPDATE objects SET revision = ?, value = ? WHERE resource = ? AND namespace = ? AND name = ?',
    ),
    deleteObject: db.prepare<[string, string, string]>(
      'DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?',
    ),
    insertChange: db.prepare<[number, string, string, string, string, string, string | null]>(
      'INSERT INTO changes (revision, resource, namespace, name, type, value, previous) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    // Keyset pagination over the primary key; LIMIT -1 is no limit.
    listAll: db.prepare<[string, string, string, number], ListRow>(
      'SELECT namespace, name, value FROM objects WHERE resource = ? AND (namespace, name) > (?, ?) ORDER BY namespace, name LIMIT ?',
    ),
    // A separate statement: with `namespace = ?` SQLite would not use the row value for the range.
    listNamespace: db.prepare<[string, string, string, number], ListRow>(
      'SELECT namespace, name, value FROM objects WHERE resource = ? AND namespace = ? AND name > ? ORDER BY name LIMIT ?',
    ),
    countAll: db
      .prepare<[string, string, string], number>(
        'SELECT count(*) FROM objects WHERE resource = ? AND (namespace, name) > (?, ?)',
      )
      .pluck(),
    countNamespace: db
      .prepare<[string, string, string], number>(
        'SELECT count(*) FROM objects WHERE resource = ? AND namespace = ? AND name > ?',
      )
      .pluck(),
    historyAll: db.prepare<[string, number, number, number], Omit<Change, 'resource'>>(
      'SELECT revision, type, namespace, name, value, previous FROM changes WHERE resource = ? AND revision > ? AND revision <= ? ORDER BY revision LIMIT ?',
    ),
    historyNamespace: db.prepare<
      [string, number, number, string, number],
      Omit<Change, 'resource'>
    >(
      'SELECT revision, type, namespace, name, value, previous FROM changes WHERE resource = ? AND revision > ? AND revision <= ? AND namespace = ? ORDER BY revision LIMIT ?',
    ),
    rollbackAll: db.prepare<[string, number], RollbackRow>(
      'SELECT namespace, name, previous FROM changes WHERE resource = ? AND revision > ? ORDER BY revision',
    ),
    rollbackNamespace: db.prepare<[string, number, string], RollbackRow>(
      'SELECT namespace, name, previous FROM changes WHERE resource = ? AND revision > ? AND namespace = ? ORDER BY revision',
    ),
    deleteChanges: db.prepare<[number]>('DELETE FROM changes WHERE revision <= ?'),
    maxChange: db.prepare<[], number | null>('SELECT max(revision) FROM changes').pluck(),
    getMeta: db.prepare<[string], number>('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: db.prepare<[string, number]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    begin: db.prepare('BEGIN IMMEDIATE'),
    beginDeferred: db.prepare('BEGIN'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT ke_store'),
    release: db.prepare('RELEASE ke_store'),
    rollbackToSavepoint: db.prepare('ROLLBACK TO ke_store'),
  };
}

class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly sql: ReturnType<typeof statements>;
  private readonly path: string;
  private readonly readonly: boolean;
  private readonly logger: StoreLogger;
  private readonly historyRevisions: number;
  private readonly compactionBatch: number;
  private readonly hub: WatchHub;
  /** Newest revision written, including writes of the open transaction. */
  private revision = 0;
  /** Newest revision committed: history replays stop here. */
  private committedRevision = 0;
  private compacted = 0;
  /** Changes of the open transaction, published after the outermost commit. */
  private pending: Change[] = [];
  private readonly frames: Frame[] = [];
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new StoreError('KE_STORE_INVALID', "path must be a file name or ':memory:'");
    }
    this.path = options.path;
    this.readonly = options.readonly ?? false;
    this.logger = options.logger ?? consoleLogger;
    this.historyRevisions = options.historyRevisions ?? DEFAULT_HISTORY_REVISIONS;
    validateNonNegativeInteger(this.historyRevisions, 'historyRevisions');
    this.compactionBatch = Math.max(1, Math.ceil(this.historyRevisions / 10));
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    validateNonNegativeInteger(busyTimeoutMs, 'busyTimeoutMs');
    this.hub = new WatchHub(this.logger);

    try {
      this.db = new Database(this.path, {
        readonly: this.readonly,
        fileMustExist: this.readonly,
        timeout: busyTimeoutMs,
      });
    } catch (error) {
      throw this.openFailure(error);
    }
    try {
      if (!this.readonly) {
        this.db.pragma('journal_mode = WAL');
        // WAL with NORMAL survives a process crash; a power loss may lose the last commits.
        this.db.pragma('synchronous = NORMAL');
      }
      migrate(this.db, this.path, this.readonly);
      this.sql = statements(this.db);
      this.compacted = this.sql.getMeta.get('compacted_revision') ?? 0;
      // The compacted revision is stored, so the counter never goes back even with no history left.
      this.revision = Math.max(this.sql.maxChange.get() ?? 0, this.compacted);
      this.committedRevision = this.revision;
    } catch (error) {
      this.db.close();
      throw this.openFailure(error);
    }
  }

  get currentRevision(): number {
    return this.revision;
  }

  get compactedRevision(): number {
    return this.compacted;
  }

  get(key: ObjectKey): StoredObject | undefined {
    this.assertOpen('get');
    validateKey(key);
    const row = this.guard({ operation: 'get', key }, () =>
      this.sql.getObject.get(key.resource, key.namespace, key.name),
    );
    if (row === undefined) return undefined;
    return { key: copyKey(key), revision: row.revision, object: parse(row.value) };
  }

  count(resource: string, namespace?: string): number {
    this.assertOpen('count');
    validateResource(resource);
    if (namespace !== undefined) validateNamespace(namespace);
    return this.guard({ operation: 'count' }, () =>
      namespace
        ? this.sql.countNamespace.get(resource, namespace, '')!
        : this.sql.countAll.get(resource, '', '')!,
    );
  }

  list(resource: string, options: ListOptions = {}): ListResult {
    this.assertOpen('list');
    validateResource(resource);
    if (options.namespace !== undefined) validateNamespace(options.namespace);
    const namespace = options.namespace || undefined;
    const limit = options.limit ?? 0;
    validateNonNegativeInteger(limit, 'limit');
    const after =
      options.continueAfter === undefined ? undefined : decodeContinue(options.continueAfter);
    const filter = options.filter;
    if (filter !== undefined && typeof filter !== 'function') {
      throw new StoreError('KE_STORE_INVALID', 'filter must be a function');
    }
    const revision = options.revision ?? this.revision;
    validateNonNegativeInteger(revision, 'revision');
    this.assertHistoryFor(revision, 'list');

    return this.guard({ operation: 'list' }, () => {
      if (revision === this.revision && filter === undefined) {
        return this.listLatestPage(resource, namespace, after, limit);
      }
      const rows =
        revision === this.revision
          ? this.latestRows(resource, namespace, after)
          : this.rowsAtRevision(resource, namespace, after, revision);
      return collectPage(rows, filter, limit, revision);
    });
  }

  create(key: ObjectKey, object: KubeObject): StoredObject {
    this.assertOpen('create');
    validateKey(key);
    validateObject(key, object);
    return this.write('create', key, () => {
      if (this.sql.getObject.get(key.resource, key.namespace, key.name) !== undefined) {
        throw new StoreError('KE_STORE_ALREADY_EXISTS', `${describeKey(key)} already exists`, {
          key,
        });
      }
      const revision = this.revision + 1;
      const value = serialize(key, object, revision);
      this.sql.insertObject.run(key.resource, key.namespace, key.name, revision, value);
      this.record(revision, 'ADDED', key, value, null);
      return { key: copyKey(key), revision, object: parse(value) };
    });
  }

  update(key: ObjectKey, object: KubeObject, options: WriteOptions = {}): StoredObject {
    this.assertOpen('update');
    validateKey(key);
    validateObject(key, object);
    return this.write('update', key, () => {
      const current = this.currentFor(key, options, 'update');
      const revision = this.revision + 1;
      const value = serialize(key, object, revision);
      this.sql.updateObject.run(revision, value, key.resource, key.namespace, key.name);
      this.record(revision, 'MODIFIED', key, value, current.value);
      return { key: copyKey(key), revision, object: parse(value) };
    });
  }

  delete(key: ObjectKey, options: WriteOptions = {}): StoredObject {
    this.assertOpen('delete');
    validateKey(key);
    return this.write('delete', key, () => {
      const current = this.currentFor(key, options, 'delete');
      const revision = this.revision + 1;
      // The last state, stamped with the deletion revision, as Kubernetes sends DELETED events.
      const object = parse(current.value);
      object.metadata.resourceVersion = String(revision);
      const value = JSON.stringify(object);
      this.sql.deleteObject.run(key.resource, key.namespace, key.name);
      this.record(revision, 'DELETED', key, value, current.value);
      return { key: copyKey(key), revision, object };
    });
  }

  transaction<T>(fn: () => T): T {
    this.assertOpen('transaction');
    if (typeof fn !== 'function') {
      throw new StoreError('KE_STORE_INVALID', 'transaction needs a function');
    }
    const outermost = this.frames.length === 0;
    if (!outermost) this.assertTransactionAlive();
    const frame: Frame = {
      revision: this.revision,
      compactedRevision: this.compacted,
      pending: this.pending.length,
    };
    this.guard({ operation: 'transaction' }, () => {
      if (!outermost) this.sql.savepoint.run();
      else if (this.readonly) this.sql.beginDeferred.run();
      else this.sql.begin.run();
    });
    this.frames.push(frame);
    let result: T;
    try {
      result = fn();
      if (isThenable(result)) {
        throw new StoreError(
          'KE_STORE_INVALID',
          'transaction functions must be synchronous: the store is, and a promise would outlive the transaction; nothing was written',
        );
      }
      if (this.closed) {
        throw new StoreError(
          'KE_STORE_CLOSED',
          'the store was closed inside a transaction; nothing in it was written',
        );
      }
      this.assertTransactionAlive();
      this.guard({ operation: 'commit' }, () =>
        outermost ? this.sql.commit.run() : this.sql.release.run(),
      );
    } catch (error) {
      this.frames.pop();
      this.undo(frame, outermost);
      throw error;
    }
    this.frames.pop();
    if (outermost) this.afterCommit();
    return result;
  }

  watch(
    resource: string,
    options: WatchOptions,
    listener: (event: StoreEvent) => void,
  ): () => void {
    this.assertOpen('watch');
    validateResource(resource);
    if (typeof listener !== 'function') {
      throw new StoreError('KE_STORE_INVALID', 'watch needs a listener function');
    }
    if (typeof options !== 'object' || options === null) {
      throw new StoreError('KE_STORE_INVALID', 'watch needs options with fromRevision');
    }
    if (options.namespace !== undefined) validateNamespace(options.namespace);
    const namespace = options.namespace || undefined;
    const fromRevision = options.fromRevision;
    validateNonNegativeInteger(fromRevision, 'fromRevision');
    this.assertHistoryFor(fromRevision, 'watch');
    return this.hub.add(resource, namespace, fromRevision, listener, (after) =>
      this.readHistory(resource, namespace, after),
    );
  }

  compact(revision: number): void {
    this.assertOpen('compact');
    validateNonNegativeInteger(revision, 'revision');
    if (revision > this.revision) {
      throw new StoreError(
        'KE_STORE_INVALID',
        `cannot compact to revision ${revision}: it is newer than the current revision ${this.revision}`,
      );
    }
    if (revision <= this.compacted) return;
    this.transaction(() =>
      this.guard({ operation: 'compact' }, () => {
        this.sql.deleteChanges.run(revision);
        this.sql.setMeta.run('compacted_revision', revision);
        this.compacted = revision;
      }),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.close();
    this.pending = [];
    try {
      this.db.close();
    } catch (error) {
      throw toStoreError(error, { operation: 'close', path: this.path });
    }
  }

  /** Runs one write in a transaction (joining an open one), mapping SQLite failures. */
  private write<T>(operation: string, key: ObjectKey, fn: () => T): T {
    return this.transaction(() => {
      this.assertTransactionAlive();
      return this.guard({ operation, key }, fn);
    });
  }

  /** Appends to the change log and queues the event for after the commit. */
  private record(
    revision: number,
    type: Change['type'],
    key: ObjectKey,
    value: string,
    previous: string | null,
  ): void {
    this.sql.insertChange.run(
      revision,
      key.resource,
      key.namespace,
      key.name,
      type,
      value,
      previous,
    );
    this.revision = revision;
    this.pending.push({
      revision,
      type,
      resource: key.resource,
      namespace: key.namespace,
      name: key.name,
      value,
      previous,
    });
  }

  /** The stored row an update or delete replaces, after checking `expectedRevision`. */
  private currentFor(key: ObjectKey, options: WriteOptions, operation: string): ObjectRow {
    const current = this.sql.getObject.get(key.resource, key.namespace, key.name);
    if (current === undefined) {
      throw new StoreError('KE_STORE_NOT_FOUND', `${describeKey(key)} not found`, { key });
    }
    const expected = options.expectedRevision;
    if (expected !== undefined && expected !== current.revision) {
      throw new StoreError(
        'KE_STORE_CONFLICT',
        `cannot ${operation} ${describeKey(key)}: expected revision ${expected}, but it is at revision ${current.revision}; read it again and retry`,
        { key },
      );
    }
    return current;
  }

  private undo(frame: Frame, outermost: boolean): void {
    const open = !this.closed && this.db.inTransaction;
    if (open) {
      try {
        if (outermost) {
          this.sql.rollback.run();
        } else {
          this.sql.rollbackToSavepoint.run();
          this.sql.release.run();
        }
      } catch (error) {
        this.logger.error?.({ err: error, path: this.path }, 'store rollback failed');
      }
    }
    // SQLite rolls the whole transaction back by itself after some errors (SQLITE_FULL, IOERR):
    // then nothing of the outermost transaction survives either.
    const restore = open || outermost ? frame : (this.frames[0] ?? frame);
    this.revision = restore.revision;
    this.compacted = restore.compactedRevision;
    this.pending.length = restore.pending;
    this.hub.rewind(restore.revision);
  }

  private afterCommit(): void {
    this.committedRevision = this.revision;
    const changes = this.pending;
    this.pending = [];
    this.hub.publish(changes);
    if (this.closed || this.readonly) return;
    if (this.committedRevision - this.compacted < this.historyRevisions + this.compactionBatch) {
      return;
    }
    // Amortised: one DELETE of `compactionBatch` rows every `compactionBatch` writes.
    try {
      this.compact(this.committedRevision - this.historyRevisions);
    } catch (error) {
      this.logger.warn?.(
        { err: error, path: this.path },
        'automatic store compaction failed; it is retried after later writes',
      );
    }
  }

  /** History after `after` for one watch, up to the committed revision. */
  private readHistory(resource: string, namespace: string | undefined, after: number): HistoryPage {
    this.assertOpen('watch');
    const upTo = this.committedRevision;
    const rows = this.guard({ operation: 'watch' }, () =>
      namespace === undefined
        ? this.sql.historyAll.all(resource, after, upTo, SCAN_BATCH)
        : this.sql.historyNamespace.all(resource, after, upTo, namespace, SCAN_BATCH),
    );
    return { changes: rows.map((row) => ({ ...row, resource })), upTo };
  }

  /** The fast path: latest state, no filter; one query for the page and one count. */
  private listLatestPage(
    resource: string,
    namespace: string | undefined,
    after: KeyPosition | undefined,
    limit: number,
  ): ListResult {
    const revision = this.revision;
    const rows = this.selectObjects(resource, namespace, after ?? START, limit || -1);
    const items = rows.map((row) => parse(row.value));
    const last = rows.at(-1);
    if (limit === 0 || rows.length < limit || last === undefined) return { items, revision };
    const remaining =
      namespace === undefined
        ? this.sql.countAll.get(resource, last.namespace, last.name)!
        : this.sql.countNamespace.get(resource, namespace, last.name)!;
    if (remaining === 0) return { items, revision };
    return { items, revision, continueAfter: encodeContinue(last), remaining };
  }

  /** One page of current rows after `after`, in key order. */
  private selectObjects(
    resource: string,
    namespace: string | undefined,
    after: KeyPosition,
    limit: number,
  ): ListRow[] {
    if (namespace === undefined) {
      return this.sql.listAll.all(resource, after.namespace, after.name, limit);
    }
    const order = compareText(after.namespace, namespace);
    if (order > 0) return [];
    return this.sql.listNamespace.all(resource, namespace, order === 0 ? after.name : '', limit);
  }

  /** Current rows after `after`, in key order, read in batches (nothing held open between them). */
  private *latestRows(
    resource: string,
    namespace: string | undefined,
    after: KeyPosition | undefined,
  ): Generator<ListRow> {
    let cursor = after ?? START;
    for (;;) {
      const rows = this.selectObjects(resource, namespace, cursor, SCAN_BATCH);
      yield* rows;
      const last = rows.at(-1);
      if (last === undefined || rows.length < SCAN_BATCH) return;
      cursor = last;
    }
  }

  /**
   * The rows as they were at `revision`: the current rows, with every key changed after
   * `revision` rolled back to the `previous` of its first change after it (absent if that change
   * created it), merged in key order.
   */
  private *rowsAtRevision(
    resource: string,
    namespace: string | undefined,
    after: KeyPosition | undefined,
    revision: number,
  ): Generator<ListRow> {
    const rolledBack = new Map<string, ListRow | null>();
    const changes =
      namespace === undefined
        ? this.sql.rollbackAll.all(resource, revision)
        : this.sql.rollbackNamespace.all(resource, revision, namespace);
    for (const change of changes) {
      const id = `${change.namespace}/${change.name}`;
      if (rolledBack.has(id)) continue;
      rolledBack.set(
        id,
        change.previous === null
          ? null
          : { namespace: change.namespace, name: change.name, value: change.previous },
      );
    }
    const restored = [...rolledBack.values()]
      .filter((row): row is ListRow => row !== null && (!after || compareKeys(row, after) > 0))
      .sort(compareKeys);
    let next = 0;
    for (const row of this.latestRows(resource, namespace, after)) {
      if (rolledBack.has(`${row.namespace}/${row.name}`)) continue;
      while (next < restored.length && compareKeys(restored[next]!, row) < 0) {
        yield restored[next++]!;
      }
      yield row;
    }
    yield* restored.slice(next);
  }

  /** GONE below the compacted revision, INVALID above the current one. */
  private assertHistoryFor(revision: number, operation: 'list' | 'watch'): void {
    if (revision > this.revision) {
      // Kubernetes waits up to 3 s for a future resourceVersion, then answers 504 "Too large
      // resource version". A synchronous store cannot wait: the caller decides (see ListOptions).
      throw new StoreError(
        'KE_STORE_INVALID',
        `Too large resource version: ${revision}, current: ${this.revision}; ${operation} again with a revision that has been reached`,
      );
    }
    if (revision < this.compacted) {
      throw new StoreError(
        'KE_STORE_GONE',
        `revision ${revision} has been compacted (history starts after ${this.compacted}); ${operation} again from the latest state`,
      );
    }
  }

  private assertOpen(operation: string): void {
    if (this.closed) {
      throw new StoreError('KE_STORE_CLOSED', `store ${operation} after close (${this.path})`);
    }
  }

  /** Inside a transaction that SQLite already rolled back, writes would silently autocommit. */
  private assertTransactionAlive(): void {
    if (this.frames.length > 0 && !this.db.inTransaction) {
      throw new StoreError(
        'KE_STORE_IO',
        'the transaction was rolled back after an earlier storage error; nothing in it was written',
      );
    }
  }

  private guard<T>(context: Omit<FailureContext, 'path'>, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStoreError(error, { ...context, path: this.path });
    }
  }

  private openFailure(error: unknown): StoreError {
    if (error instanceof StoreError) return error;
    const mapped = toStoreError(error, { operation: 'open', path: this.path });
    if (mapped instanceof StoreError) return mapped;
    const detail = error instanceof Error ? error.message : String(error);
    return new StoreError(
      'KE_STORE_IO',
      `cannot open the store at ${this.path} (${detail}); check that the directory exists and is writable`,
      { cause: error },
    );
  }
}

/** Items of one page, filtered before the limit, and the count of matching items after it. */
function collectPage(
  rows: Iterable<ListRow>,
  filter: ((object: KubeObject) => boolean) | undefined,
  limit: number,
  revision: number,
): ListResult {
  const items: KubeObject[] = [];
  let last: ListRow | undefined;
  let remaining = 0;
  for (const row of rows) {
    if (limit > 0 && items.length >= limit) {
      if (filter === undefined || filter(parse(row.value))) remaining += 1;
      continue;
    }
    const object = parse(row.value);
    if (filter !== undefined && !filter(object)) continue;
    items.push(object);
    last = row;
  }
  if (remaining === 0 || last === undefined) return { items, revision };
  return { items, revision, continueAfter: encodeContinue(last), remaining };
}

/** The stored JSON: the caller's object with `resourceVersion` set to the write's revision. */
function serialize(key: ObjectKey, object: KubeObject, revision: number): string {
  try {
    return JSON.stringify({
      ...object,
      metadata: { ...object.metadata, resourceVersion: String(revision) },
    });
  } catch (error) {
    throw new StoreError(
      'KE_STORE_INVALID',
      `${describeKey(key)}: the object cannot be stored as JSON (${error instanceof Error ? error.message : String(error)})`,
      { key, cause: error },
    );
  }
}

function parse(value: string): KubeObject {
  return JSON.parse(value) as KubeObject;
}

function copyKey(key: ObjectKey): ObjectKey {
  return { resource: key.resource, namespace: key.namespace, name: key.name };
}

function isThenable(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
