import { describe, expect, it } from 'vitest';
import { createWorkQueue, type WorkQueue } from '../src/index';

async function take(queue: WorkQueue): Promise<string> {
  const next = await queue.get();
  if (next.shutdown) throw new Error('queue shut down');
  return next.item;
}

describe('a work queue', () => {
  it('hands items out in the order they were added', async () => {
    const queue = createWorkQueue();
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    expect(queue.len()).toBe(4);
    const taken = [await take(queue), await take(queue), await take(queue), await take(queue)];
    expect(taken).toEqual(['a', 'b', 'c', 'd']);
    expect(queue.len()).toBe(0);
    queue.shutDown();
  });

  it('processes an item added several times while queued only once', async () => {
    const queue = createWorkQueue();
    queue.add('default/thermometer');
    queue.add('default/valve');
    queue.add('default/thermometer');
    queue.add('default/thermometer');
    expect(queue.len()).toBe(2);
    // The duplicate keeps the first position, as client-go's dirty set does.
    expect(await take(queue)).toBe('default/thermometer');
    expect(await take(queue)).toBe('default/valve');
    queue.shutDown();
    expect(await queue.get()).toEqual({ shutdown: true });
  });

  it('does not hand an item in process to a second worker, and re-queues it once after done', async () => {
    const queue = createWorkQueue();
    queue.add('k');
    const first = await take(queue);
    expect(first).toBe('k');

    // Re-added (twice) while in process: not handed out, not counted as queued.
    queue.add('k');
    queue.add('k');
    expect(queue.len()).toBe(0);
    let secondGot: string | undefined;
    const second = queue.get().then((next) => {
      secondGot = next.shutdown ? 'shutdown' : next.item;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondGot).toBeUndefined();

    queue.done('k');
    await second;
    expect(secondGot).toBe('k');
    queue.done('k');
    expect(queue.len()).toBe(0);
    queue.shutDown();
    expect(await queue.get()).toEqual({ shutdown: true });
  });

  it('puts an item re-added during processing behind the items queued meanwhile', async () => {
    const queue = createWorkQueue();
    queue.add('a');
    expect(await take(queue)).toBe('a');
    queue.add('a');
    queue.add('b');
    queue.done('a');
    expect([await take(queue), await take(queue)]).toEqual(['b', 'a']);
    queue.shutDown();
  });

  it('ignores done() for an item that is not in process', async () => {
    const queue = createWorkQueue();
    queue.add('a');
    queue.done('a'); // queued, not taken: a stray done must not queue it twice
    expect(queue.len()).toBe(1);
    expect(await take(queue)).toBe('a');
    queue.done('a');
    queue.done('a');
    expect(queue.len()).toBe(0);
    queue.shutDown();
  });

  it('serves waiting getters first come, first served', async () => {
    const queue = createWorkQueue();
    const got: string[] = [];
    const getters = [1, 2, 3].map((n) =>
      queue.get().then((next) => got.push(`${n}:${next.shutdown ? '-' : next.item}`)),
    );
    queue.add('x');
    queue.add('y');
    queue.add('z');
    await Promise.all(getters);
    expect(got).toEqual(['1:x', '2:y', '3:z']);
    queue.shutDown();
  });

  it('can be consumed with for await until it shuts down', async () => {
    const queue = createWorkQueue<number>();
    for (const n of [1, 2, 3]) queue.add(n);
    const seen: number[] = [];
    for await (const n of queue) {
      seen.push(n);
      queue.done(n);
      if (n === 3) queue.shutDown();
    }
    expect(seen).toEqual([1, 2, 3]);
  });
});
