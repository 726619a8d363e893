/** kubelet's crash and image-pull back-off: 10 s, doubling, at most 5 min. */
export interface BackoffOptions {
  /** First delay; default 10 s (kubelet's). */
  readonly initialMs?: number;
  /** Longest delay; default 5 min (kubelet's). */
  readonly maxMs?: number;
}

interface Entry {
  delayMs: number;
  /** When the current back-off ends (ms since epoch). */
  until: number;
  /** When the entry was last used: an entry idle for twice the maximum starts over. */
  lastUsed: number;
}

/**
 * Per-key exponential back-off (kubelet's `flowcontrol.Backoff`): `next(key)` starts or
 * doubles the delay; `inBackoff(key)` says whether the key must still wait. A key unused for
 * twice the maximum delay starts again at the initial delay, as a container that ran
 * for 10 minutes does.
 */
export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 10_000;
    this.maxMs = options.maxMs ?? 300_000;
  }

  /** Records a failure now; returns the delay before the next attempt. */
  next(key: string, now = Date.now()): number {
    const entry = this.#entries.get(key);
    const fresh = !entry || now - entry.lastUsed > 2 * this.maxMs;
    const delayMs = fresh ? this.initialMs : Math.min(entry.delayMs * 2, this.maxMs);
    this.#entries.set(key, { delayMs, until: now + delayMs, lastUsed: now });
    return delayMs;
  }

  /**
   * kubelet's `IsInBackOffSince`: milliseconds `key` must still wait when its last failure
   * happened at `since` (a container's finish time), 0 when it may be tried now.
   */
  remainingSince(key: string, since: number, now = Date.now()): number {
    const entry = this.#entries.get(key);
    if (!entry || now - entry.lastUsed > 2 * this.maxMs) return 0;
    return Math.max(0, entry.delayMs - (now - since));
  }

  /** Milliseconds left to wait for `key`, 0 when it may be tried. */
  remaining(key: string, now = Date.now()): number {
    const entry = this.#entries.get(key);
    return entry ? Math.max(0, entry.until - now) : 0;
  }

  /** The current delay of `key` (0 when it has none). */
  delayOf(key: string): number {
    return this.#entries.get(key)?.delayMs ?? 0;
  }

  /** Forgets `key` (a container that ran long enough, an image that was pulled). */
  reset(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every key starting with `prefix` (a pod that went away). */
  resetPrefix(prefix: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key);
  }
}
