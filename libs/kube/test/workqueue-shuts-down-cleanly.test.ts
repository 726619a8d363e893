import { describe, expect, it } from 'vitest';
import { type Clock, createWorkQueue, realClock, runWorkers } from '../src/index';
import { flush } from './helpers/fake-clock';

/** The real clock, counting timers that are armed and neither fired nor cleared. */
function countingClock() {
  const live = new Set<unknown>();
  const clock: Clock = {
    now: () => realClock.now(),
    setTimeout(callback, delayMs) {
      const handle = realClock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, delayMs);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      realClock.clearTimeout(handle);
    },
  };
  return { clock, live };
}

const activeTimeouts = () =>
  process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

describe('shutting a work queue down', () => {
  it('wakes every waiting getter with shutdown instead of leaving it pending', async () => {
    const queue = createWorkQueue();
    const getters = [queue.get(), queue.get(), queue.get()];
    await flush();
    expect(queue.shuttingDown).toBe(false);
    queue.shutDown();
    expect(queue.shuttingDown).toBe(true);
    await expect(Promise.all(getters)).resolves.toEqual([
      { shutdown: true },
      { shutdown: true },
      { shutdown: true },
    ]);
    // Later getters do not wait either.
    await expect(queue.get()).resolves.toEqual({ shutdown: true });
  });

  it('ignores new adds but still hands out what was queued, as client-go', async () => {
    const queue = createWorkQueue();
    queue.add('queued');
    queue.shutDown();
    queue.add('late');
    expect(queue.len()).toBe(1);
    await expect(queue.get()).resolves.toEqual({ item: 'queued', shutdown: false });
    await expect(queue.get()).resolves.toEqual({ shutdown: true });
  });

  it('with drain waits until the items in process are done', async () => {
    const queue = createWorkQueue();
    queue.add('a');
    queue.add('b');
    const a = await queue.get();
    const b = await queue.get();
    expect(a.shutdown || b.shutdown).toBe(false);

    let drained = false;
    const drain = queue.shutDownWithDrain().then(() => {
      drained = true;
    });
    await flush();
    expect(drained).toBe(false);
    queue.done('a');
    await flush();
    expect(drained).toBe(false);
    queue.done('b');
    await drain;
    expect(drained).toBe(true);
  });

  it('with drain resolves at once when nothing is in process', async () => {
    const queue = createWorkQueue();
    await expect(queue.shutDownWithDrain()).resolves.toBeUndefined();
  });

  it('stops a pending drain when shutDown follows it', async () => {
    const queue = createWorkQueue();
    queue.add('stuck');
    await queue.get();
    const drain = queue.shutDownWithDrain();
    queue.shutDown();
    await expect(drain).resolves.toBeUndefined();
  });

  it('leaves no timer behind: the delay timer is unref()ed and cleared on shutdown', async () => {
    const { clock, live } = countingClock();
    const queue = createWorkQueue({ clock });
    const before = activeTimeouts();
    queue.addAfter('a', 60_000);
    queue.addAfter('b', 30_000);
    queue.addRateLimited('c');
    expect(live.size).toBe(1);
    // unref()ed: it does not keep the process alive, so Node does not count it as active.
    expect(activeTimeouts()).toBe(before);
    queue.shutDown();
    expect(live.size).toBe(0);
  });

  it('leaves no timer behind after runWorkers stops', async () => {
    const before = activeTimeouts();
    const { clock, live } = countingClock();
    const queue = createWorkQueue({ clock });
    const stop = new AbortController();
    let failures = 0;
    const running = runWorkers(
      queue,
      2,
      async () => {
        failures += 1;
        throw new Error('always failing');
      },
      { signal: stop.signal, logger: {} },
    );
    queue.add('k');
    for (let turn = 0; turn < 1000 && failures < 1; turn += 1) await flush();
    expect(failures).toBeGreaterThanOrEqual(1);
    // While the workers run they keep the process alive, like a listening server.
    expect(activeTimeouts()).toBe(before + 1);
    stop.abort();
    await running;
    expect(live.size).toBe(0);
    expect(activeTimeouts()).toBe(before);
  });
});
