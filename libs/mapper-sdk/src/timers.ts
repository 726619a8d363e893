/** Timers that never keep the process alive and that `clear()` cancels all at once. */
export class Timers {
  private readonly intervals = new Set<NodeJS.Timeout>();
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();

  /** Runs `fn` every `ms`; cleared by `clear()`. */
  every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    timer.unref();
    this.intervals.add(timer);
  }

  /** Resolves after `ms`, or at once when `clear()` is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeps.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.sleeps.set(timer, resolve);
    });
  }

  clear(): void {
    for (const timer of this.intervals) clearInterval(timer);
    this.intervals.clear();
    for (const [timer, resolve] of this.sleeps) {
      clearTimeout(timer);
      resolve();
    }
    this.sleeps.clear();
  }
}

/** Exponential back-off: `initialMs`, doubling, capped at `maxMs`. */
export function backoff(initialMs: number, maxMs: number): () => number {
  let next = initialMs;
  return () => {
    const delay = next;
    next = Math.min(next * 2, maxMs);
    return delay;
  };
}
