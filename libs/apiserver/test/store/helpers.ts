import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import {
  createMemoryStore,
  createSqliteStore,
  type KubeObject,
  type ObjectKey,
  type SqliteStoreOptions,
  type Store,
  StoreError,
  type StoreErrorCode,
  type StoreEvent,
  type StoreLogger,
} from '../../src/store/index';

export type BackendOptions = Omit<SqliteStoreOptions, 'path'>;

export interface Backend {
  readonly name: string;
  /** A fresh, empty store, closed after the test. */
  open(options?: BackendOptions): Store;
}

/** A directory for the test file's databases, removed after the file's tests. */
export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), `ke-store-${prefix}-`));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/**
 * The two ways the store runs: a file in a temp directory and `:memory:`. For `describe.each`;
 * every store opened in a test is closed after it.
 */
export function backends(prefix: string): Backend[] {
  const directory = temporaryDirectory(prefix);
  const opened: Store[] = [];
  let files = 0;
  afterEach(() => {
    for (const store of opened.splice(0)) store.close();
  });
  const track = (store: Store) => {
    opened.push(store);
    return store;
  };
  return [
    {
      name: 'a temp file',
      open: (options = {}) =>
        track(
          createSqliteStore({
            logger: silentLogger,
            ...options,
            path: join(directory, `store-${++files}.db`),
          }),
        ),
    },
    {
      name: ':memory:',
      open: (options = {}) => track(createMemoryStore({ logger: silentLogger, ...options })),
    },
  ];
}

export const silentLogger: StoreLogger = {};

/** A logger that keeps what it is given. */
export function recordingLogger() {
  const records: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const logger: StoreLogger = {
    warn: (fields, message) => records.push({ level: 'warn', fields, message }),
    error: (fields, message) => records.push({ level: 'error', fields, message }),
  };
  return { logger, records };
}

export const PODS = 'core/pods';
export const NODES = 'core/nodes';

export function podKey(namespace: string, name: string): ObjectKey {
  return { resource: PODS, namespace, name };
}

export function nodeKey(name: string): ObjectKey {
  return { resource: NODES, namespace: '', name };
}

/** A minimal object for a key, with extra top-level fields. */
export function objectFor(key: ObjectKey, fields: Record<string, unknown> = {}): KubeObject {
  const metadata =
    key.namespace === '' ? { name: key.name } : { name: key.name, namespace: key.namespace };
  return { apiVersion: 'v1', kind: 'Thing', metadata, ...fields };
}

/** The StoreError code `fn` throws; fails the test when it throws something else or nothing. */
export function codeOf(fn: () => unknown): StoreErrorCode {
  try {
    fn();
  } catch (error) {
    if (error instanceof StoreError) return error.code;
    throw error;
  }
  throw new Error('expected a StoreError, but nothing was thrown');
}

/** The thrown StoreError itself. */
export function errorOf(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError, but nothing was thrown');
}

/** `namespace/name` of each item, in list order. */
export function names(items: readonly KubeObject[]): string[] {
  return items.map((item) => `${item.metadata.namespace ?? ''}/${item.metadata.name}`);
}

/** A compact description of an event for comparisons. */
export function describeEvent(event: StoreEvent): string {
  return `${event.revision} ${event.type} ${event.key.namespace}/${event.key.name}`;
}

/** A small deterministic PRNG (mulberry32), so interleavings are random but reproducible. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
