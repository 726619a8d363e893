import { afterEach, describe, expect, it } from 'vitest';
import { createRouter, type Message, type Router } from '../src/index';
import {
  type Deferred,
  deferred,
  flush,
  message,
  recordingLogger,
  rejection,
  track,
  within,
} from './helpers';

const routers: Router[] = [];
function router(): Router {
  const created = createRouter({ logger: recordingLogger() });
  routers.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.stop()));
});

/** A module whose handler blocks on one gate per message until the test opens it. */
function slowModule(r: Router, queueSize: number, concurrency = 1) {
  const gates: Deferred<void>[] = [];
  const started: Array<Deferred<Message>> = [];
  const handled: unknown[] = [];
  let next = 0;
  const startedAt = (i: number) => {
    while (started.length <= i) started.push(deferred<Message>());
    return started[i] as Deferred<Message>;
  };
  const gateAt = (i: number) => {
    while (gates.length <= i) gates.push(deferred());
    return gates[i] as Deferred<void>;
  };
  let maxQueued = 0;
  let running = 0;
  let maxRunning = 0;
  r.register({
    name: 'slow',
    queueSize,
    concurrency,
    handler: async (msg) => {
      const i = next;
      next += 1;
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      maxQueued = Math.max(maxQueued, r.modules().find((m) => m.name === 'slow')?.queued ?? 0);
      startedAt(i).resolve(msg);
      await gateAt(i).promise;
      handled.push(msg.content);
      running -= 1;
    },
  });
  return {
    handled,
    started: (i: number) => within(startedAt(i).promise, 2_000, `handler call ${i}`),
    open: (i: number) => gateAt(i).resolve(),
    info: () => r.modules().find((m) => m.name === 'slow'),
    maxQueued: () => maxQueued,
    maxRunning: () => maxRunning,
  };
}

describe('bounded queues with back-pressure', () => {
  it('makes a sender wait while the queue is full and lets it in when the handler drains', async () => {
    const r = router();
    const slow = slowModule(r, 2);
    await r.send('slow', message(0));
    await slow.started(0); // message 0 is in the handler, the queue is empty
    await r.send('slow', message(1));
    await r.send('slow', message(2));
    expect(slow.info()).toMatchObject({ queued: 2, waitingSenders: 0, running: 1 });

    const blocked = track(r.send('slow', message(3)));
    await flush();
    expect(blocked.settled()).toBe(false);
    expect(slow.info()).toMatchObject({ queued: 2, waitingSenders: 1 });
    expect(r.trySend('slow', message('dropped'))).toBe(false);

    slow.open(0);
    await within(blocked.promise, 2_000, 'the waiting send');
    expect(slow.info()?.queued).toBeLessThanOrEqual(2);
    for (let i = 1; i <= 3; i += 1) {
      await slow.started(i);
      slow.open(i);
    }
    await flush();
    expect(slow.handled).toEqual([0, 1, 2, 3]);
    expect(slow.maxQueued()).toBeLessThanOrEqual(2);
  });

  it('never holds more than queueSize messages, however many senders wait', async () => {
    const r = router();
    const queueSize = 4;
    const slow = slowModule(r, queueSize);
    const sends = Array.from({ length: 50 }, (_, i) => track(r.send('slow', message(i))));
    await slow.started(0);
    await flush();
    expect(slow.info()).toMatchObject({ queued: queueSize, waitingSenders: 50 - 1 - queueSize });
    for (let i = 0; i < 50; i += 1) {
      await slow.started(i);
      expect(slow.info()?.queued).toBeLessThanOrEqual(queueSize);
      slow.open(i);
    }
    await within(Promise.all(sends.map((s) => s.promise)));
    await flush();
    // Delivered once each, in the order the senders called send().
    expect(slow.handled).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(slow.maxQueued()).toBeLessThanOrEqual(queueSize);
    expect(slow.info()).toMatchObject({ queued: 0, waitingSenders: 0 });
  });

  it('trySend enqueues while there is room and returns false when full', async () => {
    const r = router();
    r.register({ name: 'idle', queueSize: 2 });
    expect(r.trySend('idle', message(1))).toBe(true);
    expect(r.trySend('idle', message(2))).toBe(true);
    expect(r.trySend('idle', message(3))).toBe(false);
    expect(r.modules()[0]?.queued).toBe(2);
  });

  it("send with ifFull: 'reject' fails fast with KE_ROUTER_QUEUE_FULL", async () => {
    const r = router();
    r.register({ name: 'idle', queueSize: 1 });
    await r.send('idle', message(1), { ifFull: 'reject' });
    const error = await rejection(r.send('idle', message(2), { ifFull: 'reject' }));
    expect(error.code).toBe('KE_ROUTER_QUEUE_FULL');
    expect(error.module).toBe('idle');
  });

  it('aborting a waiting send rejects it and the message is never delivered', async () => {
    const r = router();
    const module = r.register({ name: 'idle', queueSize: 1 });
    await r.send('idle', message('first'));
    const controller = new AbortController();
    const waiting = r.send('idle', message('withdrawn'), { signal: controller.signal });
    await flush();
    expect(r.modules()[0]?.waitingSenders).toBe(1);
    controller.abort();
    expect((await rejection(waiting)).code).toBe('KE_ROUTER_ABORTED');
    expect(r.modules()[0]).toMatchObject({ queued: 1, waitingSenders: 0 });
    const iterator = module.receive();
    expect((await iterator.next()).value?.content).toBe('first');
    await r.send('idle', message('after'));
    expect((await iterator.next()).value?.content).toBe('after');
  });

  it('a receive() consumer frees room for the next waiting sender', async () => {
    const r = router();
    const module = r.register({ name: 'reader', queueSize: 1 });
    await r.send('reader', message(1));
    const second = track(r.send('reader', message(2)));
    await flush();
    expect(second.settled()).toBe(false);
    const iterator = module.receive();
    expect((await iterator.next()).value?.content).toBe(1);
    await within(second.promise);
    expect((await iterator.next()).value?.content).toBe(2);
  });

  it('runs up to `concurrency` handler calls at once, and no more', async () => {
    const r = router();
    const slow = slowModule(r, 10, 3);
    for (let i = 0; i < 6; i += 1) await r.send('slow', message(i));
    await slow.started(2);
    await flush();
    expect(slow.info()).toMatchObject({ running: 3, queued: 3 });
    for (let i = 0; i < 6; i += 1) {
      await slow.started(i);
      slow.open(i);
    }
    await within(
      (async () => {
        while (slow.handled.length < 6) await flush();
      })(),
    );
    expect(slow.maxRunning()).toBe(3);
  });
});
