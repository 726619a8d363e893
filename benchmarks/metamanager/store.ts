/**
 * One store run, in a child process of `run.ts` (a fresh V8 heap and a fresh SQLite file per
 * run). Usage:
 *
 *   node --conditions=@ke/source --import tsx store.ts <metamanager|raw> <count> <file.db>
 *
 * Inserts `count` objects (pods and config maps, about 1 KB of JSON each, half of each), updates
 * each once, gets each once in a shuffled order, deletes each, timing every phase, after a
 * warm-up of the same code paths on other objects. Prints one JSON line: ops/s and CPU time
 * (user + system, this process) per operation for each phase, and checksums of the database
 * after the updates and after the deletes, so `run.ts` can check that both implementations
 * wrote the same rows.
 *
 * - `metamanager`: `createMetaManager({ store: createSqliteStore({ path }), router })`, fed
 *   KubeEdge messages (`apply`) and read with `get` — what ke-edge does per cloud change.
 * - `raw`: better-sqlite3 on the same schema and pragmas, running the statements the store runs
 *   for those calls, in the same order, with the minimum of JavaScript around them.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createSqliteStore } from '@ke/apiserver';
import {
  createMessage,
  createRouter,
  isNewerResourceVersion,
  type Message,
  Operation,
} from '@ke/beehive';
import { CLOUD_RESOURCE_VERSION_ANNOTATION, createMetaManager } from '@ke/metamanager';
import Database from 'better-sqlite3';
import { type BenchObject, configMap, lcg, pod } from './workload';

const [impl, countArg, path] = process.argv.slice(2);
if ((impl !== 'metamanager' && impl !== 'raw') || !countArg || !path) {
  console.error('usage: store.ts <metamanager|raw> <count> <file.db>');
  process.exit(2);
}
const COUNT = Number(countArg);
const WARM_UP = Math.min(2000, COUNT);
/** No phase runs longer than this; what finished by then is what gets reported. */
const PHASE_MS = 60_000;
/** The store's default history: automatic compaction keeps this many revisions. */
const HISTORY_REVISIONS = 10_000;
const COMPACTION_BATCH = HISTORY_REVISIONS / 10;

/** One object of the workload, with the cloud resourceVersion of each of its changes. */
interface Item {
  readonly type: 'pod' | 'configmap';
  readonly storage: string;
  readonly namespace: string;
  readonly name: string;
  readonly resource: string;
  readonly created: BenchObject;
  readonly updated: BenchObject;
  readonly versions: { insert: string; update: string; delete: string };
}

function items(namespace: string, count: number, base: number): Item[] {
  return Array.from({ length: count }, (_, i) => {
    const type = i % 2 === 0 ? 'pod' : 'configmap';
    const name = `${type}-${i}`;
    const make = type === 'pod' ? pod : configMap;
    return {
      type,
      storage: type === 'pod' ? 'core/pods' : 'core/configmaps',
      namespace,
      name,
      resource: `${namespace}/${type}/${name}`,
      created: make(namespace, name, 0),
      updated: make(namespace, name, 1),
      versions: {
        insert: String(base + i),
        update: String(base + count + i),
        delete: String(base + 2 * count + i),
      },
    };
  });
}

type Result = 'stored' | 'deleted' | 'stale' | 'absent';

interface Implementation {
  /** Work done before timing starts (building the messages the cloud would send). */
  prepare?(all: readonly Item[]): void;
  insert(item: Item): Result;
  update(item: Item): Result;
  get(item: Item): Promise<unknown> | unknown;
  delete(item: Item): Result;
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// MetaManager over @ke/apiserver's SQLite store

function metaManager(file: string): Implementation {
  const store = createSqliteStore({ path: file });
  const meta = createMetaManager({ store, router: createRouter() });
  // Messages are built ahead (their making is the sender's work, not the store's).
  const messages = new Map<Item, { insert: Message; update: Message; delete: Message }>();
  const message = (item: Item, operation: string, content: unknown, resourceVersion: string) =>
    createMessage({
      source: 'edgecontroller',
      group: 'resource',
      operation,
      resource: item.resource,
      content,
      resourceVersion,
    });
  const of = (item: Item) => {
    let built = messages.get(item);
    if (!built) {
      built = {
        insert: message(item, Operation.Insert, item.created, item.versions.insert),
        update: message(item, Operation.Update, item.updated, item.versions.update),
        delete: message(item, Operation.Delete, item.updated, item.versions.delete),
      };
      messages.set(item, built);
    }
    return built;
  };
  return {
    prepare: (all) => {
      for (const item of all) of(item);
    },
    insert: (item) => meta.apply(of(item).insert),
    update: (item) => meta.apply(of(item).update),
    get: (item) => meta.get(item.resource),
    delete: (item) => meta.apply(of(item).delete),
    close: () => store.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// The same SQL on better-sqlite3

/** libs/apiserver/src/store/schema.ts, version 1. */
const SCHEMA = `
  CREATE TABLE objects (
    resource  TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    revision  INTEGER NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (resource, namespace, name)
  );
  CREATE TABLE changes (
    revision  INTEGER PRIMARY KEY,
    resource  TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    type      TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    previous  TEXT
  );
  CREATE INDEX changes_by_resource ON changes (resource, revision);
  CREATE TABLE meta (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

interface Row {
  revision: number;
  value: string;
}

interface Stored {
  metadata: { annotations?: Record<string, string>; resourceVersion?: string };
}

function raw(file: string): Implementation {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.transaction(() => {
    db.exec(SCHEMA);
    db.pragma('user_version = 1');
  }).immediate();
  const sql = {
    getObject: db.prepare<[string, string, string], Row>(
      'SELECT revision, value FROM objects WHERE resource = ? AND namespace = ? AND name = ?',
    ),
    insertObject: db.prepare<[string, string, string, number, string]>(
      'INSERT INTO objects (resource, namespace, name, revision, value) VALUES (?, ?, ?, ?, ?)',
    ),
    updateObject: db.prepare<[number, string, string, string, string]>(
      'UPDATE objects SET revision = ?, value = ? ' +
        'WHERE resource = ? AND namespace = ? AND name = ?',
    ),
    deleteObject: db.prepare<[string, string, string]>(
      'DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?',
    ),
    insertChange: db.prepare<[number, string, string, string, string, string, string | null]>(
      'INSERT INTO changes (revision, resource, namespace, name, type, value, previous) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    deleteChanges: db.prepare<[number]>('DELETE FROM changes WHERE revision <= ?'),
    setMeta: db.prepare<[string, number]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  };
  let revision = 0;
  let compacted = 0;

  /** BEGIN IMMEDIATE … COMMIT, ROLLBACK on a throw; then the store's amortised compaction. */
  const transaction = <T>(fn: () => T): T => {
    sql.begin.run();
    let result: T;
    try {
      result = fn();
      sql.commit.run();
    } catch (error) {
      if (db.inTransaction) sql.rollback.run();
      throw error;
    }
    if (revision - compacted >= HISTORY_REVISIONS + COMPACTION_BATCH) {
      const upTo = revision - HISTORY_REVISIONS;
      sql.begin.run();
      sql.deleteChanges.run(upTo);
      sql.setMeta.run('compacted_revision', upTo);
      sql.commit.run();
      compacted = upTo;
    }
    return result;
  };

  const recordedVersion = (row: Row | undefined): [Stored | undefined, string | undefined] => {
    if (!row) return [undefined, undefined];
    const object = JSON.parse(row.value) as Stored;
    return [object, object.metadata.annotations?.[CLOUD_RESOURCE_VERSION_ANNOTATION]];
  };

  const write = (item: Item, object: BenchObject, version: string): Result =>
    transaction(() => {
      // MetaManager reads the stored object for its cloud version…
      const [existing, recorded] = recordedVersion(
        sql.getObject.get(item.storage, item.namespace, item.name),
      );
      if (existing && recorded !== undefined && !isNewerResourceVersion(version, recorded)) {
        return 'stale';
      }
      // …then the store's create/update reads the row again (existence, previous value).
      const current = sql.getObject.get(item.storage, item.namespace, item.name);
      revision += 1;
      const value = JSON.stringify({
        ...object,
        metadata: {
          ...object.metadata,
          annotations: { [CLOUD_RESOURCE_VERSION_ANNOTATION]: version },
          resourceVersion: String(revision),
        },
      });
      if (current) {
        sql.updateObject.run(revision, value, item.storage, item.namespace, item.name);
      } else {
        sql.insertObject.run(item.storage, item.namespace, item.name, revision, value);
      }
      sql.insertChange.run(
        revision,
        item.storage,
        item.namespace,
        item.name,
        current ? 'MODIFIED' : 'ADDED',
        value,
        current ? current.value : null,
      );
      return 'stored';
    });

  return {
    insert: (item) => write(item, item.created, item.versions.insert),
    update: (item) => write(item, item.updated, item.versions.update),
    get: (item) => {
      const row = sql.getObject.get(item.storage, item.namespace, item.name);
      return row === undefined ? undefined : JSON.parse(row.value);
    },
    delete: (item) =>
      transaction(() => {
        const version = item.versions.delete;
        const [existing, recorded] = recordedVersion(
          sql.getObject.get(item.storage, item.namespace, item.name),
        );
        if (!existing) return 'absent';
        if (recorded !== undefined && !isNewerResourceVersion(version, recorded)) {
          if (version !== recorded) return 'stale';
        }
        const current = sql.getObject.get(item.storage, item.namespace, item.name)!;
        revision += 1;
        // The last state stamped with the deletion revision, as the store logs a DELETED.
        existing.metadata.resourceVersion = String(revision);
        const value = JSON.stringify(existing);
        sql.deleteObject.run(item.storage, item.namespace, item.name);
        sql.insertChange.run(
          revision,
          item.storage,
          item.namespace,
          item.name,
          'DELETED',
          value,
          current.value,
        );
        return 'deleted';
      }),
    close: () => db.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Run

/** sha256 of the rows of `objects`, `changes` and `meta`, in key order. */
function checksum(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const hash = createHash('sha256');
    const tables = [
      'SELECT * FROM objects ORDER BY resource, namespace, name',
      'SELECT * FROM changes ORDER BY revision',
      'SELECT * FROM meta ORDER BY key',
    ];
    for (const query of tables) {
      for (const row of db.prepare(query).raw().iterate()) hash.update(JSON.stringify(row));
      hash.update('\n');
    }
    return hash.digest('hex').slice(0, 16);
  } finally {
    db.close();
  }
}

let failures = 0;
let firstFailure = '';
function check(result: Result, expected: Result, what: string): void {
  if (result === expected) return;
  failures++;
  firstFailure ||= `${what}: ${result}, expected ${expected}`;
}

async function phase(
  list: readonly Item[],
  task: (item: Item) => unknown,
): Promise<{ perSecond: number; cpuUs: number; done: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + PHASE_MS;
  let done = 0;
  for (const item of list) {
    const result = task(item);
    if (result instanceof Promise) await result;
    done++;
    if ((done & 255) === 0 && performance.now() > deadline) break;
  }
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: done / seconds, cpuUs: (used.user + used.system) / done, done };
}

async function main(): Promise<void> {
  const implementation = impl === 'metamanager' ? metaManager(path!) : raw(path!);
  const warm = items('warm', WARM_UP, 1_000_000);
  const bench = items('bench', COUNT, 10_000_000);
  implementation.prepare?.([...warm, ...bench]);
  const random = lcg(42);
  const shuffled = [...bench];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }

  const steps = (list: readonly Item[], order: readonly Item[]) => ({
    insert: () =>
      phase(list, (item) => check(implementation.insert(item), 'stored', `insert ${item.name}`)),
    update: () =>
      phase(list, (item) => check(implementation.update(item), 'stored', `update ${item.name}`)),
    get: () =>
      phase(order, async (item) => {
        const object = (await implementation.get(item)) as BenchObject | undefined;
        if (object?.metadata.name !== item.name) check('absent', 'stored', `get ${item.name}`);
      }),
    delete: () =>
      phase(list, (item) => check(implementation.delete(item), 'deleted', `delete ${item.name}`)),
  });

  const warmSteps = steps(warm, warm);
  for (const step of [warmSteps.insert, warmSteps.update, warmSteps.get, warmSteps.delete]) {
    await step();
  }
  const run = steps(bench, shuffled);
  const insert = await run.insert();
  const update = await run.update();
  const get = await run.get();
  const afterUpdate = checksum(path!);
  const dbBytes = statSync(path!).size;
  const remove = await run.delete();
  implementation.close();
  const afterDelete = checksum(path!);
  const complete = [insert, update, get, remove].every((p) => p.done === COUNT);
  process.stdout.write(
    `${JSON.stringify({
      insert: insert.perSecond,
      update: update.perSecond,
      get: get.perSecond,
      delete: remove.perSecond,
      insertCpuUs: insert.cpuUs,
      updateCpuUs: update.cpuUs,
      getCpuUs: get.cpuUs,
      deleteCpuUs: remove.cpuUs,
      complete,
      failures,
      firstFailure,
      afterUpdate,
      afterDelete,
      dbBytes,
    })}\n`,
  );
}

await main();
