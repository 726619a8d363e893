import type { Clock } from '../../src/index';

interface FakeTimer {
  id: number;
  at: number;
  callback: () => void;
}

/** A clock whose time moves only when a test calls `advance`; timers fire in time order. */
export class FakeClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): { id: number; unref(): void } {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.time + Math.max(0, delayMs), callback });
    return { id, unref() {} };
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Timers scheduled and neither fired nor cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, each at its own time. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.at <= target && (!next || timer.at < next.at)) next = timer;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.time = next.at;
      next.callback();
    }
    this.time = target;
  }
}

/** Lets every pending promise continuation run (a macrotask turn after all microtasks). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise with its resolve/reject exposed, to hold a reconcile open until a test lets go. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `condition` on every macrotask turn, failing after `maxTurns`. */
export async function until(what: string, condition: () => boolean, maxTurns = 10_000) {
  for (let turn = 0; turn < maxTurns; turn += 1) {
    if (condition()) return;
    await flush();
  }
  throw new Error(`gave up waiting for ${what}`);
}
