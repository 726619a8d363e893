import { KubeError, KubeErrorCode } from './errors';

/** How retries after failures are spaced. */
export interface BackoffOptions {
  /** First delay. Default 800 ms, as client-go's reflector. */
  initialMs?: number;
  /** Longest delay. Default 30 s, as client-go's reflector. */
  maxMs?: number;
}

/**
 * Exponential back-off with jitter: the n-th delay is `initialMs * 2^n`, capped at `maxMs`,
 * then scaled by a random factor in [0.5, 1] so that many clients that failed together do not
 * retry together.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #failures = 0;

  constructor(options: BackoffOptions = {}, what = 'backoff') {
    this.#initialMs = options.initialMs ?? 800;
    this.#maxMs = options.maxMs ?? 30_000;
    if (!(this.#initialMs > 0 && this.#maxMs >= this.#initialMs)) {
      throw new KubeError(
        KubeErrorCode.InvalidArgument,
        `${what}: need 0 < initialMs <= maxMs, got initialMs ${this.#initialMs} and maxMs ${this.#maxMs}`,
        { reason: 'bad backoff' },
      );
    }
  }

  /** Failures since the last {@link reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const exponent = Math.min(this.#failures, 30);
    this.#failures += 1;
    const capped = Math.min(this.#maxMs, this.#initialMs * 2 ** exponent);
    return Math.round(capped * (0.5 + Math.random() / 2));
  }

  reset(): void {
    this.#failures = 0;
  }
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects). The timer is cleared
 * on abort, so a stopped component leaves none behind.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}
