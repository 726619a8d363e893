import { describe, expect, it } from 'vitest';
import {
  bucket,
  createWorkQueue,
  defaultControllerRateLimiter,
  itemExponentialFailure,
  itemFastSlow,
  KubeErrorCode,
  maxOf,
  type RateLimiter,
} from '../src/index';
import { FakeClock } from './helpers/fake-clock';

function delays(limiter: RateLimiter, item: string, count: number): number[] {
  return Array.from({ length: count }, () => limiter.when(item));
}

describe('itemExponentialFailure', () => {
  it('doubles per failure from 5 ms and caps at the maximum', () => {
    const limiter = itemExponentialFailure(5, 1000);
    expect(delays(limiter, 'a', 10)).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    expect(limiter.numRequeues('a')).toBe(10);
  });

  it('defaults to 5 ms doubling up to 1000 s, and survives huge failure counts', () => {
    const limiter = itemExponentialFailure();
    expect(delays(limiter, 'a', 3)).toEqual([5, 10, 20]);
    for (let i = 0; i < 2000; i += 1) limiter.when('a');
    expect(limiter.when('a')).toBe(1_000_000);
  });

  it('tracks items separately and forgets one on forget', () => {
    const limiter = itemExponentialFailure(1, 100);
    expect(delays(limiter, 'a', 3)).toEqual([1, 2, 4]);
    expect(delays(limiter, 'b', 1)).toEqual([1]);
    limiter.forget('a');
    expect(limiter.numRequeues('a')).toBe(0);
    expect(limiter.numRequeues('b')).toBe(1);
    expect(limiter.when('a')).toBe(1);
  });

  it('rejects unusable delays', () => {
    expect(() => itemExponentialFailure(-1, 10)).toThrowError(
      expect.objectContaining({ code: KubeErrorCode.InvalidArgument }),
    );
  });
});

describe('itemFastSlow', () => {
  it('waits fast for the first attempts and slow after', () => {
    const limiter = itemFastSlow(5, 3000, 3);
    expect(delays(limiter, 'a', 5)).toEqual([5, 5, 5, 3000, 3000]);
    expect(limiter.numRequeues('a')).toBe(5);
    limiter.forget('a');
    expect(limiter.when('a')).toBe(5);
  });
});

describe('bucket', () => {
  it('lets a burst through at once, then one token per 1/qps', () => {
    const clock = new FakeClock();
    const limiter = bucket(10, 3, { clock });
    // Tokens are shared by all items; items are not tracked.
    expect([limiter.when('a'), limiter.when('b'), limiter.when('c')]).toEqual([0, 0, 0]);
    // Each further reservation waits for its own token: 100 ms apart at 10 qps.
    expect(limiter.when('d')).toBeCloseTo(100);
    expect(limiter.when('e')).toBeCloseTo(200);
    expect(limiter.numRequeues('a')).toBe(0);
    // After a second of quiet the bucket is full again (the debt of 2 tokens is paid first).
    clock.advance(1000);
    expect([limiter.when('f'), limiter.when('g'), limiter.when('h')]).toEqual([0, 0, 0]);
    expect(limiter.when('i')).toBeCloseTo(100);
  });

  it('refills at qps up to the burst, not beyond', () => {
    const clock = new FakeClock();
    const limiter = bucket(100, 2, { clock });
    limiter.when('a');
    limiter.when('a');
    clock.advance(60_000);
    expect([limiter.when('a'), limiter.when('a')]).toEqual([0, 0]);
    expect(limiter.when('a')).toBeCloseTo(10);
  });

  it('rejects a burst below one and a non-positive rate', () => {
    expect(() => bucket(10, 0)).toThrowError(
      expect.objectContaining({ code: KubeErrorCode.InvalidArgument }),
    );
    expect(() => bucket(0, 10)).toThrowError(
      expect.objectContaining({ code: KubeErrorCode.InvalidArgument }),
    );
  });
});

describe('maxOf', () => {
  it('waits for the slowest limiter, and every limiter sees each failure and forget', () => {
    const fast = itemExponentialFailure(1, 1000);
    const slow = itemFastSlow(50, 500, 2);
    const limiter = maxOf(fast, slow);
    expect(delays(limiter, 'a', 4)).toEqual([50, 50, 500, 500]);
    expect(fast.numRequeues('a')).toBe(4);
    expect(slow.numRequeues('a')).toBe(4);
    expect(limiter.numRequeues('a')).toBe(4);
    limiter.forget('a');
    expect(fast.numRequeues('a')).toBe(0);
    expect(slow.numRequeues('a')).toBe(0);
  });
});

describe('defaultControllerRateLimiter', () => {
  it('is per-item exponential from 5 ms, bounded overall by 10 qps with a burst of 100', () => {
    const clock = new FakeClock();
    const limiter = defaultControllerRateLimiter({ clock });
    expect(delays(limiter, 'a', 4)).toEqual([5, 10, 20, 40]);
    limiter.forget('a');
    expect(limiter.numRequeues('a')).toBe(0);
    // 96 more distinct items use up the burst of 100; the 101st waits for the bucket.
    for (let i = 0; i < 96; i += 1) expect(limiter.when(`item-${i}`)).toBe(5);
    expect(limiter.when('one-too-many')).toBeCloseTo(100);
  });
});

describe('a queue with a rate limiter', () => {
  it('re-adds with the limiter delay, counts requeues and forgets', () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock, rateLimiter: itemExponentialFailure(5, 1000) });
    expect(queue.addRateLimited('k')).toBe(5);
    expect(queue.addRateLimited('k')).toBe(10);
    expect(queue.numRequeues('k')).toBe(2);
    expect(queue.len()).toBe(0);
    clock.advance(5); // the waiting entry keeps the earlier time
    expect(queue.len()).toBe(1);
    queue.forget('k');
    expect(queue.numRequeues('k')).toBe(0);
    queue.shutDown();
  });
});
