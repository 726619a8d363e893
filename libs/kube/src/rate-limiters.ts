import { type Clock, realClock } from './clock';
import { KubeError, KubeErrorCode } from './errors';

/**
 * Decides how long an item waits before it is retried, as client-go's `workqueue.RateLimiter`.
 * Delays are in milliseconds.
 */
export interface RateLimiter<T = string> {
  /** Records a failure of `item` and returns how long to wait before retrying it. */
  when(item: T): number;
  /** Stops tracking `item` (it succeeded, or the caller gave up on it). */
  forget(item: T): void;
  /** How many failures of `item` are being tracked. */
  numRequeues(item: T): number;
}

function invalid(message: string): KubeError {
  return new KubeError(KubeErrorCode.InvalidArgument, message, { reason: message });
}

function requireDelay(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) {
    throw invalid(`${name} must be a finite number of milliseconds >= 0, got ${value}`);
  }
}

/**
 * Per-item exponential back-off: `baseMs * 2^failures`, capped at `maxMs`. `forget` resets
 * the item. client-go's `ItemExponentialFailureRateLimiter`; the defaults are those of its
 * `DefaultControllerRateLimiter` (5 ms, 1000 s).
 */
export function itemExponentialFailure<T = string>(baseMs = 5, maxMs = 1_000_000): RateLimiter<T> {
  requireDelay('baseMs', baseMs);
  requireDelay('maxMs', maxMs);
  const failures = new Map<T, number>();
  return {
    when(item) {
      const exponent = failures.get(item) ?? 0;
      failures.set(item, exponent + 1);
      // 2 ** exponent becomes Infinity long before the counter overflows; min() caps both.
      return Math.min(baseMs * 2 ** exponent, maxMs);
    },
    forget(item) {
      failures.delete(item);
    },
    numRequeues(item) {
      return failures.get(item) ?? 0;
    },
  };
}

/**
 * Per-item: `fastMs` for the first `maxFastAttempts` failures, `slowMs` after that.
 * client-go's `ItemFastSlowRateLimiter`.
 */
export function itemFastSlow<T = string>(
  fastMs: number,
  slowMs: number,
  maxFastAttempts: number,
): RateLimiter<T> {
  requireDelay('fastMs', fastMs);
  requireDelay('slowMs', slowMs);
  if (!(Number.isInteger(maxFastAttempts) && maxFastAttempts >= 0)) {
    throw invalid(`maxFastAttempts must be an integer >= 0, got ${maxFastAttempts}`);
  }
  const failures = new Map<T, number>();
  return {
    when(item) {
      const count = (failures.get(item) ?? 0) + 1;
      failures.set(item, count);
      return count <= maxFastAttempts ? fastMs : slowMs;
    },
    forget(item) {
      failures.delete(item);
    },
    numRequeues(item) {
      return failures.get(item) ?? 0;
    },
  };
}

/** Options of {@link bucket}. */
export interface BucketOptions {
  /** Time source; {@link realClock} by default. */
  clock?: Clock;
}

/**
 * Overall token bucket over all items: `burst` retries at once, then `qps` per second. It
 * never refuses: a retry beyond the budget waits until its token is due, as client-go's
 * `BucketRateLimiter` (a `rate.Limiter` reservation). Does not track items: `numRequeues` is 0.
 */
export function bucket<T = string>(
  qps = 10,
  burst = 100,
  options: BucketOptions = {},
): RateLimiter<T> {
  if (!(qps > 0)) throw invalid(`qps must be > 0 (Infinity for no limit), got ${qps}`);
  if (!(Number.isInteger(burst) && burst >= 1)) {
    throw invalid(`burst must be an integer >= 1, got ${burst}`);
  }
  const clock = options.clock ?? realClock;
  let tokens = burst;
  let last = clock.now();
  return {
    when() {
      if (qps === Number.POSITIVE_INFINITY) return 0;
      const now = clock.now();
      tokens = Math.min(burst, tokens + (Math.max(0, now - last) * qps) / 1000);
      last = now;
      // Tokens may go negative: each reservation past the budget waits for its own token.
      tokens -= 1;
      return tokens >= 0 ? 0 : (-tokens * 1000) / qps;
    },
    forget() {},
    numRequeues() {
      return 0;
    },
  };
}

/**
 * The longest delay of several limiters; every limiter records the failure, and `forget`
 * reaches them all. client-go's `MaxOfRateLimiter`.
 */
export function maxOf<T = string>(...limiters: RateLimiter<T>[]): RateLimiter<T> {
  if (limiters.length === 0) throw invalid('maxOf needs at least one rate limiter');
  return {
    when(item) {
      let delay = 0;
      for (const limiter of limiters) delay = Math.max(delay, limiter.when(item));
      return delay;
    },
    forget(item) {
      for (const limiter of limiters) limiter.forget(item);
    },
    numRequeues(item) {
      let count = 0;
      for (const limiter of limiters) count = Math.max(count, limiter.numRequeues(item));
      return count;
    },
  };
}

/**
 * client-go's `DefaultControllerRateLimiter`: per item 5 ms doubling up to 1000 s, and
 * overall 10 retries per second with a burst of 100, whichever waits longer.
 */
export function defaultControllerRateLimiter<T = string>(
  options: BucketOptions = {},
): RateLimiter<T> {
  return maxOf<T>(itemExponentialFailure<T>(5, 1_000_000), bucket<T>(10, 100, options));
}
