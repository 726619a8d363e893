/** Back-off of an endpoint after a failed connect. */
export interface HealthBackoff {
  /** Out of rotation this long after the first failure. Default 1000 ms. */
  initialMs?: number;
  /** Doubling per consecutive failure up to this. Default 30 000 ms. */
  maxMs?: number;
}

/**
 * Passive health: an endpoint that refused a connect (or timed out) is skipped until its back-off
 * ends; a success forgets its failures.
 */
export class HealthTracker {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;
  readonly #failures = new Map<string, { count: number; downUntil: number }>();

  constructor(backoff: HealthBackoff = {}, now: () => number = Date.now) {
    this.#initialMs = backoff.initialMs ?? 1000;
    this.#maxMs = backoff.maxMs ?? 30_000;
    this.#now = now;
  }

  /** Records a failed connect; returns until when the endpoint is out. */
  failed(key: string): number {
    const count = (this.#failures.get(key)?.count ?? 0) + 1;
    const backoffMs = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(count - 1, 30));
    const downUntil = this.#now() + backoffMs;
    this.#failures.set(key, { count, downUntil });
    return downUntil;
  }

  succeeded(key: string): void {
    this.#failures.delete(key);
  }

  isDown(key: string): boolean {
    const entry = this.#failures.get(key);
    return entry !== undefined && entry.downUntil > this.#now();
  }

  /** Forgets endpoints no service has any more. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.#failures.keys()) if (!keys.has(key)) this.#failures.delete(key);
  }
}
