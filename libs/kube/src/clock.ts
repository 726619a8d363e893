/**
 * The time source of the work queue and the rate limiters. Injected so that tests can drive
 * time by hand; {@link realClock} is the default.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences matter. */
  now(): number;
  /** Calls `callback` after `delayMs`. The handle may have `unref()`; the queue calls it. */
  setTimeout(callback: () => void, delayMs: number): unknown;
  /** Cancels a handle returned by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** Wall-clock timers, with `performance.now()` so that changes of the system time do not matter. */
export const realClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (callback: () => void, delayMs: number) => setTimeout(callback, delayMs),
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/** Lets a timer handle not keep the process alive, when the clock's handles support it. */
export function unrefTimer(handle: unknown): void {
  const timer = handle as { unref?: () => unknown } | null | undefined;
  if (typeof timer?.unref === 'function') timer.unref();
}
