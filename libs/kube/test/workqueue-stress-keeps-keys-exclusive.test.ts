import { describe, expect, it } from 'vitest';
import { createWorkQueue, itemExponentialFailure, runWorkers } from '../src/index';
import { flush, until } from './helpers/fake-clock';

describe('under load', () => {
  it('never reconciles one key twice at once, and reconciles every key after its last add', async () => {
    const KEYS = 100;
    const ADDS = 10_000;
    const WORKERS = 4;
    // Zero back-off: failed keys come straight back, to mix retries into the load.
    const queue = createWorkQueue({ rateLimiter: itemExponentialFailure(0, 0) });
    const stop = new AbortController();

    let clock = 0; // a logical clock: one tick per add and per reconcile
    const lastAdd = new Map<string, number>();
    const lastSuccess = new Map<string, number>();
    const active = new Set<string>();
    let overlaps = 0;
    let running = 0;
    let peak = 0;
    let reconciles = 0;

    const workers = runWorkers(
      queue,
      WORKERS,
      async (key) => {
        const startedAt = ++clock;
        reconciles += 1;
        if (active.has(key)) overlaps += 1;
        active.add(key);
        running += 1;
        peak = Math.max(peak, running);
        try {
          // Yield a varying number of times so that reconciles interleave with adds.
          for (let i = 0; i < reconciles % 3; i += 1) await Promise.resolve();
          if (reconciles % 17 === 0) throw new Error('transient');
          lastSuccess.set(key, startedAt);
        } finally {
          running -= 1;
          active.delete(key);
        }
      },
      { signal: stop.signal, logger: {} },
    );

    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let added = 0; added < ADDS; added += 1) {
      const key = `ns/key-${Math.floor(random() * KEYS)}`;
      lastAdd.set(key, ++clock);
      queue.add(key);
      if (added % 50 === 49) await flush();
    }

    await until(
      'every key reconciled after its last add',
      () =>
        lastAdd.size === KEYS &&
        [...lastAdd].every(([key, addedAt]) => (lastSuccess.get(key) ?? 0) > addedAt),
    );
    stop.abort();
    await workers;

    expect(overlaps).toBe(0);
    expect(peak).toBeLessThanOrEqual(WORKERS);
    expect(peak).toBeGreaterThan(1);
    // Deduplication: far fewer reconciles than adds.
    expect(reconciles).toBeLessThan(ADDS);
    expect(queue.len()).toBe(0);
  });
});
