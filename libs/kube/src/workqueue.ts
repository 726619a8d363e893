import { type Clock, realClock, unrefTimer } from './clock';
import { DelayHeap } from './delay-heap';
import { KubeError, KubeErrorCode } from './errors';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiters';

/*
 * A work queue with the semantics of client-go's `util/workqueue` (queue.go, delaying_queue.go,
 * rate_limiting_queue.go):
 *  - fair: items come out in the order they were added;
 *  - stingy: an item added several times before it is taken is processed once (the dirty set);
 *  - never concurrent per item: an item taken by a worker is not handed to another worker until
 *    `done(item)`; if it was added again meanwhile, `done` queues it once more;
 *  - delayed adds wait in a min-heap served by a single timer for the earliest entry;
 *  - rate-limited adds ask the rate limiter how long to wait.
 * Items are compared as Map keys (SameValueZero): use strings such as `namespace/name`.
 */

/** What {@link WorkQueue.get} resolves to. */
export type WorkQueueGetResult<T> = { item: T; shutdown: false } | { shutdown: true };

/** Options of {@link createWorkQueue}. */
export interface WorkQueueOptions<T> {
  /** Name used in logs, e.g. the controller's name. */
  name?: string;
  /** Delays for `addRateLimited`; {@link defaultControllerRateLimiter} by default. */
  rateLimiter?: RateLimiter<T>;
  /** Time source for delayed adds (and for the default rate limiter); the real clock by default. */
  clock?: Clock;
}

/** A rate-limited, delaying work queue with client-go semantics. */
export interface WorkQueue<T = string> extends AsyncIterable<T> {
  /** The name given at creation ('' if none). */
  readonly name: string;
  /** True once `shutDown` or `shutDownWithDrain` was called. */
  readonly shuttingDown: boolean;
  /** Marks `item` as needing processing. Ignored while it is already queued, and after shutdown. */
  add(item: T): void;
  /** Adds `item` after `delayMs`. A waiting item keeps one entry, moved earlier by an earlier time. */
  addAfter(item: T, delayMs: number): void;
  /** Adds `item` after the delay the rate limiter decides; returns that delay in ms. */
  addRateLimited(item: T): number;
  /** Tells the rate limiter to stop tracking `item` (call it when processing succeeded). */
  forget(item: T): void;
  /** How many times `item` was re-queued with `addRateLimited` since it was last forgotten. */
  numRequeues(item: T): number;
  /**
   * The next item, waiting for one if the queue is empty. Call `done(item)` when finished with
   * it. Resolves `{ shutdown: true }` once the queue is shut down and empty; it never rejects.
   */
  get(): Promise<WorkQueueGetResult<T>>;
  /** Marks `item` as processed; if it was added again while processing, it is queued again. */
  done(item: T): void;
  /** Number of items waiting to be taken (not counting items in process or in delay). */
  len(): number;
  /**
   * Ignores further adds, drops delayed adds and wakes every waiting `get()` with
   * `{ shutdown: true }`. Items already queued can still be taken (as in client-go).
   */
  shutDown(): void;
  /** As `shutDown`, then resolves once every item in process has been marked `done`. */
  shutDownWithDrain(): Promise<void>;
}

/** setTimeout's longest delay; longer waits are re-armed when the timer fires. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

class RateLimitedWorkQueue<T> implements WorkQueue<T> {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter<T>;

  /** Items in the order they will be taken; every one is in `dirty` and not in `processing`. */
  private fifo: T[] = [];
  private head = 0;
  /** Items that need processing (queued, or re-added while in process). */
  private readonly dirty = new Set<T>();
  /** Items handed out by `get()` and not yet `done()`. */
  private readonly processing = new Set<T>();
  /** Resolvers of `get()` calls waiting for an item; non-empty only while `fifo` is empty. */
  private readonly getters: ((result: WorkQueueGetResult<T>) => void)[] = [];
  private readonly drainers: (() => void)[] = [];
  private readonly delayed = new DelayHeap<T>();
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  private isShuttingDown = false;

  constructor(options: WorkQueueOptions<T>) {
    this.name = options.name ?? '';
    this.clock = options.clock ?? realClock;
    this.rateLimiter =
      options.rateLimiter ?? defaultControllerRateLimiter<T>({ clock: this.clock });
  }

  get shuttingDown(): boolean {
    return this.isShuttingDown;
  }

  add(item: T): void {
    if (this.isShuttingDown || this.dirty.has(item)) return;
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    this.fifo.push(item);
    this.handOut();
  }

  addAfter(item: T, delayMs: number): void {
    if (Number.isNaN(delayMs)) {
      throw new KubeError(KubeErrorCode.InvalidArgument, 'addAfter: delayMs is NaN', {
        reason: 'delayMs is NaN',
      });
    }
    if (this.isShuttingDown) return;
    if (delayMs <= 0) {
      this.add(item);
      return;
    }
    this.delayed.schedule(item, this.clock.now() + delayMs);
    this.armTimer();
  }

  addRateLimited(item: T): number {
    const delayMs = this.rateLimiter.when(item);
    this.addAfter(item, delayMs);
    return delayMs;
  }

  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  get(): Promise<WorkQueueGetResult<T>> {
    if (this.head < this.fifo.length) return Promise.resolve(this.take());
    if (this.isShuttingDown) return Promise.resolve({ shutdown: true });
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(item: T): void {
    // client-go would queue a dirty item twice on a stray Done; an item not in process is ignored.
    if (!this.processing.delete(item)) return;
    if (this.dirty.has(item)) {
      this.fifo.push(item);
      this.handOut();
    } else if (this.processing.size === 0) {
      this.resolveDrainers();
    }
  }

  len(): number {
    return this.fifo.length - this.head;
  }

  shutDown(): void {
    this.shutdown();
    this.resolveDrainers();
  }

  shutDownWithDrain(): Promise<void> {
    this.shutdown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainers.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = await this.get();
      if (next.shutdown) return;
      yield next.item;
    }
  }

  private shutdown(): void {
    this.isShuttingDown = true;
    this.delayed.clear();
    this.disarmTimer();
    // Getters wait only while nothing is queued, so every one of them gets `shutdown`.
    for (const resolve of this.getters.splice(0)) resolve({ shutdown: true });
  }

  private resolveDrainers(): void {
    for (const resolve of this.drainers.splice(0)) resolve();
  }

  private take(): WorkQueueGetResult<T> {
    const item = this.fifo[this.head] as T;
    this.fifo[this.head] = undefined as T;
    this.head += 1;
    if (this.head === this.fifo.length) {
      this.fifo = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    this.processing.add(item);
    this.dirty.delete(item);
    return { item, shutdown: false };
  }

  /** Gives queued items to waiting getters, first come first served. */
  private handOut(): void {
    while (this.getters.length > 0 && this.head < this.fifo.length) {
      const resolve = this.getters.shift()!;
      resolve(this.take());
    }
  }

  /** Keeps one timer, due when the earliest delayed entry is. */
  private armTimer(): void {
    const next = this.delayed.peek();
    if (!next) {
      this.disarmTimer();
      return;
    }
    if (this.timer !== undefined && this.timerAt <= next.readyAt) return;
    this.disarmTimer();
    const now = this.clock.now();
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(next.readyAt - now)));
    this.timerAt = now + delay;
    this.timer = this.clock.setTimeout(() => this.onTimer(), delay);
    unrefTimer(this.timer);
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (let next = this.delayed.peek(); next && next.readyAt <= now; next = this.delayed.peek()) {
      this.delayed.pop();
      this.add(next.item);
    }
    this.armTimer();
  }
}

/**
 * A work queue with client-go semantics: deduplicating, never processing one item in two
 * workers at once, FIFO otherwise, with delayed and rate-limited adds.
 *
 * @example
 * ```ts
 * const queue = createWorkQueue({ name: 'devices' });
 * queue.add('default/thermometer');
 * const next = await queue.get();
 * if (!next.shutdown) {
 *   try { await reconcile(next.item); queue.forget(next.item); }
 *   catch { queue.addRateLimited(next.item); }
 *   finally { queue.done(next.item); }
 * }
 * ```
 */
export function createWorkQueue<T = string>(options: WorkQueueOptions<T> = {}): WorkQueue<T> {
  return new RateLimitedWorkQueue<T>(options);
}
