import { KubeError, KubeErrorCode } from './errors';
import { consoleLogger, type Logger } from './logger';
import type { WorkQueue } from './workqueue';

/**
 * Converges the state for one key. Reads the current state, acts, returns; throwing (or
 * rejecting) asks for a retry with back-off. `signal` aborts when the workers are stopped.
 */
export type Reconcile<T = string> = (key: T, signal: AbortSignal) => Promise<void> | void;

/** Options of {@link runWorkers}. */
export interface RunWorkersOptions {
  /** Stops the workers: the queue is shut down and running reconciles are awaited. */
  signal?: AbortSignal;
  /** Receives failed reconciles (warn) and those failing while stopping (debug). Default: console. */
  logger?: Logger;
  /**
   * After this many retries of one key, the key is forgotten and dropped with an error log
   * (client-go's `maxRetries` pattern). Default: retry forever, with the rate limiter's back-off.
   */
  maxRetries?: number;
  /**
   * Keep the process alive while the workers run, as a listening server does, so that an idle
   * controller waiting for a back-off timer does not exit. Default true.
   */
  keepAlive?: boolean;
}

/** Longest interval setInterval accepts; the timer only holds the event loop open. */
const KEEP_ALIVE_INTERVAL_MS = 2 ** 31 - 1;

/**
 * Runs `count` workers over `queue`, as a client-go controller's `processNextWorkItem` loop:
 * take a key, reconcile it, `forget` it on success or `addRateLimited` it on failure, and
 * always `done` it. A key is never reconciled by two workers at once.
 *
 * Resolves when the workers have stopped: after `signal` aborts (which shuts the queue down;
 * each worker finishes its current key and takes no other), or after the queue is shut down
 * and emptied. Never rejects because a reconcile failed.
 */
export async function runWorkers<T>(
  queue: WorkQueue<T>,
  count: number,
  reconcile: Reconcile<T>,
  options: RunWorkersOptions = {},
): Promise<void> {
  if (!(Number.isInteger(count) && count >= 1)) {
    throw new KubeError(
      KubeErrorCode.InvalidArgument,
      `runWorkers: count must be an integer >= 1, got ${count}`,
      { reason: 'count must be an integer >= 1' },
    );
  }
  const maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
  if (!(maxRetries >= 0)) {
    throw new KubeError(
      KubeErrorCode.InvalidArgument,
      `runWorkers: maxRetries must be >= 0, got ${maxRetries}`,
      { reason: 'maxRetries must be >= 0' },
    );
  }
  const logger = options.logger ?? consoleLogger;
  const signal = options.signal ?? new AbortController().signal;
  const stop = () => queue.shutDown();
  if (signal.aborted) {
    stop();
    return;
  }
  signal.addEventListener('abort', stop, { once: true });
  const keepAlive =
    options.keepAlive === false ? undefined : setInterval(() => {}, KEEP_ALIVE_INTERVAL_MS);

  const log = (level: keyof Logger, fields: Record<string, unknown>, message: string) => {
    try {
      logger[level]?.call(logger, { queue: queue.name, ...fields }, message);
    } catch {
      // A broken logger must not stop the workers.
    }
  };

  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const next = await queue.get();
      if (next.shutdown) return;
      const key = next.item;
      if (signal.aborted) {
        // Taken after the stop: leave it unprocessed.
        queue.done(key);
        return;
      }
      try {
        await reconcile(key, signal);
        queue.forget(key);
      } catch (err) {
        if (signal.aborted) {
          log('debug', { key, err }, 'reconcile failed while stopping');
        } else if (queue.numRequeues(key) >= maxRetries) {
          queue.forget(key);
          log('error', { key, err, retries: maxRetries }, 'reconcile failed; dropping the key');
        } else {
          const delayMs = queue.addRateLimited(key);
          const retries = queue.numRequeues(key);
          log('warn', { key, err, retries, delayMs }, 'reconcile failed; retrying after back-off');
        }
      } finally {
        queue.done(key);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: count }, worker));
  } finally {
    signal.removeEventListener('abort', stop);
    if (keepAlive !== undefined) clearInterval(keepAlive);
  }
}
