import { describe, expect, it } from 'vitest';
import { createWorkQueue, KubeErrorCode, realClock, type WorkQueue } from '../src/index';
import { FakeClock, flush } from './helpers/fake-clock';

/** Records every item the queue hands out, at the fake time it was handed out. */
function collect(queue: WorkQueue, clock: FakeClock) {
  const got: [string, number][] = [];
  let stopped = false;
  const loop = (async () => {
    for (;;) {
      const next = await queue.get();
      if (next.shutdown) break;
      got.push([next.item, clock.now()]);
      queue.done(next.item);
    }
    stopped = true;
  })();
  return { got, loop, stopped: () => stopped };
}

describe('delayed adds', () => {
  it('add items when their delay has passed, earliest first, on fake time', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock });
    const { got, loop } = collect(queue, clock);
    queue.addAfter('c', 30);
    queue.addAfter('a', 10);
    queue.addAfter('b', 20);
    queue.addAfter('b2', 20);
    await flush();
    expect(got).toEqual([]);
    expect(clock.pendingTimers).toBe(1); // one timer, for the earliest entry

    for (let ms = 0; ms < 40; ms += 1) {
      clock.advance(1);
      await flush();
    }
    expect(got).toEqual([
      ['a', 10],
      ['b', 20],
      ['b2', 20],
      ['c', 30],
    ]);
    expect(clock.pendingTimers).toBe(0);
    queue.shutDown();
    await loop;
  });

  it('keep one waiting entry per item, moved earlier (never later) by a new addAfter', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock });
    const { got, loop } = collect(queue, clock);
    queue.addAfter('x', 50);
    queue.addAfter('x', 100); // later: ignored
    queue.addAfter('x', 20); // earlier: wins
    clock.advance(19);
    await flush();
    expect(got).toEqual([]);
    clock.advance(1);
    await flush();
    expect(got).toEqual([['x', 20]]);
    clock.advance(200);
    await flush();
    expect(got).toEqual([['x', 20]]);
    queue.shutDown();
    await loop;
  });

  it('add at once with a delay of zero or less', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock });
    queue.addAfter('now', 0);
    queue.addAfter('past', -5);
    expect(queue.len()).toBe(2);
    expect(clock.pendingTimers).toBe(0);
    expect(() => queue.addAfter('nan', Number.NaN)).toThrowError(
      expect.objectContaining({ code: KubeErrorCode.InvalidArgument }),
    );
    queue.shutDown();
  });

  it('dedupe with an item already queued when they fall due', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock });
    queue.add('k');
    queue.addAfter('k', 5);
    clock.advance(5);
    expect(queue.len()).toBe(1);
    queue.shutDown();
  });

  it('re-arm the timer when an earlier entry arrives', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock });
    const { got, loop } = collect(queue, clock);
    queue.addAfter('late', 1000);
    queue.addAfter('early', 10);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(10);
    await flush();
    expect(got).toEqual([['early', 10]]);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(990);
    await flush();
    expect(got).toEqual([
      ['early', 10],
      ['late', 1000],
    ]);
    queue.shutDown();
    await loop;
  });

  it('are dropped by shutdown together with their timer', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock });
    queue.addAfter('a', 10);
    queue.addAfter('b', 20);
    queue.shutDown();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(100);
    expect(queue.len()).toBe(0);
    queue.addAfter('c', 5); // after shutdown: ignored
    expect(clock.pendingTimers).toBe(0);
    expect(await queue.get()).toEqual({ shutdown: true });
  });

  it('work on real time with small delays', async () => {
    const queue = createWorkQueue({ clock: realClock });
    const start = performance.now();
    queue.addAfter('b', 40);
    queue.addAfter('a', 15);
    queue.add('now');
    const order: [string, number][] = [];
    for (let i = 0; i < 3; i += 1) {
      const next = await queue.get();
      if (next.shutdown) throw new Error('unexpected shutdown');
      order.push([next.item, performance.now() - start]);
      queue.done(next.item);
    }
    expect(order.map(([item]) => item)).toEqual(['now', 'a', 'b']);
    // Timers may fire a fraction of a millisecond early by the monotonic clock; never much.
    expect(order[1]![1]).toBeGreaterThanOrEqual(14);
    expect(order[2]![1]).toBeGreaterThanOrEqual(39);
    queue.shutDown();
  });
});
