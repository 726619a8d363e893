import { describe, expect, it } from 'vitest';
import {
  createWorkQueue,
  itemExponentialFailure,
  KubeErrorCode,
  type Logger,
  runWorkers,
} from '../src/index';
import { type Deferred, deferred, FakeClock, flush, until } from './helpers/fake-clock';

function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const record = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, fields, message });
  const logger: Logger = {
    debug: record('debug'),
    warn: record('warn'),
    error: record('error'),
  };
  return { logger, lines };
}

describe('runWorkers', () => {
  it('retries a failing key with exponential back-off and forgets it once it succeeds', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock, rateLimiter: itemExponentialFailure(5, 1000) });
    const stop = new AbortController();
    const { logger, lines } = recordingLogger();
    const attemptsAt: number[] = [];
    const running = runWorkers(
      queue,
      1,
      (key) => {
        attemptsAt.push(clock.now());
        if (attemptsAt.length <= 3) throw new Error(`${key} not ready`);
      },
      { signal: stop.signal, logger },
    );
    queue.add('default/valve');
    for (let ms = 0; ms < 100; ms += 1) {
      await flush();
      clock.advance(1);
    }
    // Failures at 0, 5, 15 wait 5, 10, 20 ms: attempts at 0, 5, 15, 35.
    expect(attemptsAt).toEqual([0, 5, 15, 35]);
    expect(queue.numRequeues('default/valve')).toBe(0);
    expect(lines.map((line) => [line.level, line.fields.key, line.fields.delayMs])).toEqual([
      ['warn', 'default/valve', 5],
      ['warn', 'default/valve', 10],
      ['warn', 'default/valve', 20],
    ]);
    expect(lines[0]?.fields.err).toBeInstanceOf(Error);
    expect(lines[2]?.fields.retries).toBe(3);
    stop.abort();
    await running;
  });

  it('never runs more reconciles at once than workers', async () => {
    const queue = createWorkQueue();
    const stop = new AbortController();
    let running = 0;
    let peak = 0;
    const gates: Deferred[] = [];
    const done: string[] = [];
    const workers = runWorkers(
      queue,
      3,
      async (key) => {
        running += 1;
        peak = Math.max(peak, running);
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
        running -= 1;
        done.push(key);
      },
      { signal: stop.signal },
    );
    for (let i = 0; i < 10; i += 1) queue.add(`key-${i}`);
    await until('three reconciles started', () => gates.length === 3);
    await flush();
    expect(running).toBe(3);
    expect(queue.len()).toBe(7);
    while (done.length < 10) {
      gates.shift()?.resolve();
      await flush();
    }
    expect(peak).toBe(3);
    stop.abort();
    await workers;
  });

  it('stops on abort: running reconciles finish, nothing new is taken, the queue shuts down', async () => {
    const queue = createWorkQueue();
    const stop = new AbortController();
    const started: string[] = [];
    const gates = new Map<string, Deferred>();
    const abortedWhenReleased: boolean[] = [];
    let stopped = false;
    const workers = runWorkers(
      queue,
      2,
      async (key, signal) => {
        started.push(key);
        const gate = deferred();
        gates.set(key, gate);
        await gate.promise;
        abortedWhenReleased.push(signal.aborted);
      },
      { signal: stop.signal },
    ).then(() => {
      stopped = true;
    });
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    await until('two reconciles started', () => started.length === 2);

    stop.abort();
    expect(queue.shuttingDown).toBe(true);
    await flush();
    expect(stopped).toBe(false); // waits for the running reconciles
    gates.get('a')?.resolve();
    await flush();
    expect(stopped).toBe(false);
    gates.get('b')?.resolve();
    await workers;
    expect(started).toEqual(['a', 'b']);
    expect(abortedWhenReleased).toEqual([true, true]);
  });

  it('returns at once when the signal is already aborted', async () => {
    const queue = createWorkQueue();
    queue.add('a');
    let calls = 0;
    await runWorkers(queue, 2, () => void calls++, { signal: AbortSignal.abort() });
    expect(calls).toBe(0);
    expect(queue.shuttingDown).toBe(true);
  });

  it('ends after the queue is shut down and emptied, without a signal', async () => {
    const queue = createWorkQueue();
    const seen: string[] = [];
    const workers = runWorkers(queue, 2, (key) => void seen.push(key), { logger: {} });
    queue.add('a');
    queue.add('b');
    await until('both keys reconciled', () => seen.length === 2);
    queue.shutDown();
    await workers;
    expect(seen.sort()).toEqual(['a', 'b']);
  });

  it('drops a key after maxRetries, with an error log', async () => {
    const clock = new FakeClock();
    const queue = createWorkQueue({ clock, rateLimiter: itemExponentialFailure(1, 1) });
    const stop = new AbortController();
    const { logger, lines } = recordingLogger();
    let attempts = 0;
    const workers = runWorkers(
      queue,
      1,
      () => {
        attempts += 1;
        throw new Error('broken for good');
      },
      { signal: stop.signal, logger, maxRetries: 2 },
    );
    queue.add('k');
    for (let ms = 0; ms < 20; ms += 1) {
      await flush();
      clock.advance(1);
    }
    expect(attempts).toBe(3); // the first try and two retries
    expect(lines.map((line) => line.level)).toEqual(['warn', 'warn', 'error']);
    expect(queue.numRequeues('k')).toBe(0);
    stop.abort();
    await workers;
  });

  it('logs failures while stopping at debug level only', async () => {
    const queue = createWorkQueue();
    const stop = new AbortController();
    const { logger, lines } = recordingLogger();
    const gate = deferred();
    const workers = runWorkers(
      queue,
      1,
      async () => {
        await gate.promise;
        throw new Error('aborted mid-way');
      },
      { signal: stop.signal, logger },
    );
    queue.add('k');
    await flush();
    stop.abort();
    gate.resolve();
    await workers;
    expect(lines.map((line) => line.level)).toEqual(['debug']);
  });

  it('rejects a worker count below one', async () => {
    const queue = createWorkQueue();
    await expect(runWorkers(queue, 0, () => {})).rejects.toMatchObject({
      code: KubeErrorCode.InvalidArgument,
    });
    queue.shutDown();
  });
});
