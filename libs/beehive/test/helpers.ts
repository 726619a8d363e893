import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { BeehiveError, createMessage, type Logger, type Message } from '../src/index';

/** A copied fixture, as text. */
export function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');
}

/** JSON value with object keys sorted at every depth, so key order does not matter. */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      Object.defineProperty(sorted, key, {
        value: sortKeysDeep((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return sorted;
  }
  return value;
}

export function normalised(json: string): string {
  return JSON.stringify(sortKeysDeep(JSON.parse(json)));
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Fails the test instead of hanging when `promise` does not settle in time. */
export async function within<T>(promise: Promise<T>, ms = 2_000, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lets every queued microtask and one macrotask turn run (a flush, not a timed wait). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Tracks whether a promise has settled, without attaching a rejection to the test. */
export function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { settled: () => settled, promise };
}

export function recordingLogger() {
  return {
    debug: vi.fn<NonNullable<Logger['debug']>>(),
    warn: vi.fn<NonNullable<Logger['warn']>>(),
    error: vi.fn<NonNullable<Logger['error']>>(),
  } satisfies Logger;
}

export function message(content: unknown = null, resource = 'default/pod/p'): Message {
  return createMessage({
    source: 'test',
    group: 'resource',
    operation: 'update',
    resource,
    content,
  });
}

/** The BeehiveError `fn` throws (or `promise` rejects with); fails if it is anything else. */
export function caught(fn: () => unknown): BeehiveError {
  try {
    fn();
  } catch (error) {
    if (error instanceof BeehiveError) return error;
    throw new Error(`expected a BeehiveError, got ${String(error)}`);
  }
  throw new Error('expected a BeehiveError, nothing was thrown');
}

export async function rejection(promise: Promise<unknown>): Promise<BeehiveError> {
  try {
    await within(promise);
  } catch (error) {
    if (error instanceof BeehiveError) return error;
    throw new Error(`expected a BeehiveError, got ${String(error)}`);
  }
  throw new Error('expected a BeehiveError, the promise resolved');
}
