import { afterEach, describe, expect, it } from 'vitest';
import { createRouter, Group, type Message, type Router } from '../src/index';
import {
  caught,
  deferred,
  flush,
  message,
  recordingLogger,
  rejection,
  track,
  within,
} from './helpers';

const routers: Router[] = [];
function router(logger = recordingLogger()): Router {
  const created = createRouter({ logger });
  routers.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.stop()));
});

describe('registering modules', () => {
  it('registers by name and group, lists and removes them', async () => {
    const r = router();
    const handle = r.register({ name: 'metamanager', group: Group.Meta, queueSize: 8 });
    expect(handle).toMatchObject({ name: 'metamanager', group: 'meta' });
    expect(r.has('metamanager')).toBe(true);
    expect(r.modules()).toEqual([
      {
        name: 'metamanager',
        group: 'meta',
        queueSize: 8,
        queued: 0,
        waitingSenders: 0,
        running: 0,
      },
    ]);
    await handle.unregister();
    expect(r.has('metamanager')).toBe(false);
    expect(r.modules()).toEqual([]);
    await r.unregister('never-registered');
  });

  it('rejects a duplicate name with KE_ROUTER_DUPLICATE_MODULE', () => {
    const r = router();
    r.register({ name: 'edged' });
    const error = caught(() => r.register({ name: 'edged', group: 'x' }));
    expect(error.code).toBe('KE_ROUTER_DUPLICATE_MODULE');
    expect(error.module).toBe('edged');
  });

  it('rejects unusable options with KE_INVALID_ARGUMENT', () => {
    const r = router();
    for (const options of [
      { name: '' },
      { name: 'a', group: '' },
      { name: 'a', queueSize: 0 },
      { name: 'a', queueSize: 1.5 },
      { name: 'a', concurrency: 0 },
      { name: 'a', handler: 'nope' },
    ]) {
      expect(caught(() => r.register(options as never)).code).toBe('KE_INVALID_ARGUMENT');
    }
    expect(caught(() => createRouter({ defaultQueueSize: -1 })).code).toBe('KE_INVALID_ARGUMENT');
  });

  it('send and trySend to an unknown module fail with KE_ROUTER_UNKNOWN_MODULE', async () => {
    const r = router();
    expect((await rejection(r.send('ghost', message()))).code).toBe('KE_ROUTER_UNKNOWN_MODULE');
    expect(caught(() => r.trySend('ghost', message())).code).toBe('KE_ROUTER_UNKNOWN_MODULE');
    expect(caught(() => r.receive('ghost')).code).toBe('KE_ROUTER_UNKNOWN_MODULE');
  });

  it('keeps two routers in one process independent', async () => {
    const a = router();
    const b = router();
    const inA = a.register({ name: 'edgehub' });
    const inB = b.register({ name: 'edgehub' });
    await a.send('edgehub', message('for a'));
    await b.send('edgehub', message('for b'));
    expect((await inA.receive().next()).value?.content).toBe('for a');
    expect((await inB.receive().next()).value?.content).toBe('for b');
    await a.stop();
    expect(b.stopped).toBe(false);
    await b.send('edgehub', message('still works'));
  });
});

describe('sendToGroup', () => {
  it('delivers to every module of the group and to no other', async () => {
    const r = router();
    const got: Record<string, Message[]> = { twin: [], meta1: [], meta2: [] };
    const done = deferred();
    for (const [name, group] of [
      ['twin', Group.Twin],
      ['meta1', Group.Meta],
      ['meta2', Group.Meta],
    ] as const) {
      r.register({
        name,
        group,
        handler: (msg) => {
          got[name]?.push(msg);
          if ((got.meta1?.length ?? 0) + (got.meta2?.length ?? 0) === 2) done.resolve();
        },
      });
    }
    const msg = message('broadcast');
    expect(await within(r.sendToGroup(Group.Meta, msg))).toBe(2);
    await within(done.promise);
    expect(got.meta1).toEqual([msg]);
    expect(got.meta2).toEqual([msg]);
    expect(got.twin).toEqual([]);
  });

  it('resolves 0 for a group without modules', async () => {
    const r = router();
    r.register({ name: 'a', group: 'bus' });
    expect(await r.sendToGroup('nobody-here', message())).toBe(0);
  });

  it('waits for room in a full member, like send', async () => {
    const r = router();
    const full = r.register({ name: 'full', group: 'g', queueSize: 1 });
    r.register({ name: 'free', group: 'g' });
    await r.send('full', message('earlier'));
    const broadcast = track(r.sendToGroup('g', message('later')));
    await flush();
    expect(broadcast.settled()).toBe(false);
    const iterator = full.receive();
    expect((await iterator.next()).value?.content).toBe('earlier');
    expect(await within(broadcast.promise)).toBe(2);
  });

  it("rejects KE_ROUTER_QUEUE_FULL with ifFull: 'reject' when a member is full", async () => {
    const r = router();
    r.register({ name: 'full', group: 'g', queueSize: 1 });
    await r.send('full', message());
    expect((await rejection(r.sendToGroup('g', message(), { ifFull: 'reject' }))).code).toBe(
      'KE_ROUTER_QUEUE_FULL',
    );
  });
});

describe('handlers', () => {
  it('reports a handler error and keeps processing the next messages', async () => {
    const logger = recordingLogger();
    const r = router(logger);
    const handled: unknown[] = [];
    const third = deferred();
    r.register({
      name: 'flaky',
      handler: async (msg) => {
        if (msg.content === 1) throw new Error('sync-style failure');
        if (msg.content === 2) return Promise.reject(new Error('async failure'));
        handled.push(msg.content);
        third.resolve();
      },
    });
    for (const i of [1, 2, 3]) await r.send('flaky', message(i));
    await within(third.promise);
    expect(handled).toEqual([3]);
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ module: 'flaky', err: new Error('sync-style failure') }),
      expect.stringContaining('handler of module "flaky" failed'),
    );
  });

  it('calls a handler for one message at a time, in order, by default', async () => {
    const r = router();
    const order: string[] = [];
    const last = deferred();
    let active = 0;
    r.register({
      name: 'ordered',
      handler: async (msg) => {
        active += 1;
        expect(active).toBe(1);
        order.push(`start ${msg.content}`);
        await flush();
        order.push(`end ${msg.content}`);
        active -= 1;
        if (msg.content === 3) last.resolve();
      },
    });
    for (const i of [1, 2, 3]) await r.send('ordered', message(i));
    await within(last.promise);
    expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('aborts the handler signal when the module is unregistered, and waits for the handler', async () => {
    const r = router();
    const started = deferred<AbortSignal>();
    const finished = deferred();
    let ended = false;
    r.register({
      name: 'long',
      handler: async (_, { signal, module }) => {
        expect(module).toBe('long');
        started.resolve(signal);
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        ended = true;
        finished.resolve();
      },
    });
    await r.send('long', message());
    const signal = await within(started.promise);
    expect(signal.aborted).toBe(false);
    await within(r.unregister('long'));
    expect(signal.aborted).toBe(true);
    expect(ended).toBe(true);
  });
});

describe('receive()', () => {
  it('yields messages in order to a for-await loop and ends when the module is unregistered', async () => {
    const r = router();
    const module = r.register({ name: 'reader' });
    const received: unknown[] = [];
    const loop = (async () => {
      for await (const msg of module.receive()) received.push(msg.content);
    })();
    for (const i of [1, 2, 3]) await r.send('reader', message(i));
    await flush();
    await r.unregister('reader');
    await within(loop, 2_000, 'the receive loop');
    expect(received).toEqual([1, 2, 3]);
  });

  it('rejects next() with KE_ROUTER_ABORTED when its signal aborts, then ends', async () => {
    const r = router();
    r.register({ name: 'reader' });
    const controller = new AbortController();
    const iterator = r.receive('reader', { signal: controller.signal });
    const pending = iterator.next();
    controller.abort();
    expect((await rejection(pending)).code).toBe('KE_ROUTER_ABORTED');
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('return() ends an iterator without taking messages', async () => {
    const r = router();
    const module = r.register({ name: 'reader' });
    const iterator = module.receive();
    const pending = iterator.next();
    await iterator.return?.();
    expect(await within(pending)).toEqual({ done: true, value: undefined });
    await r.send('reader', message('kept'));
    expect((await module.receive().next()).value?.content).toBe('kept');
  });

  it('shares the queue between several iterators, each message going to one', async () => {
    const r = router();
    const module = r.register({ name: 'workers' });
    const a = module.receive();
    const b = module.receive();
    const nextA = a.next();
    const nextB = b.next();
    await r.send('workers', message('x'));
    await r.send('workers', message('y'));
    const contents = [(await within(nextA)).value?.content, (await within(nextB)).value?.content];
    expect(contents.sort()).toEqual(['x', 'y']);
  });

  it('is refused on a module that has a handler', () => {
    const r = router();
    r.register({ name: 'handled', handler: () => {} });
    expect(caught(() => r.receive('handled')).code).toBe('KE_INVALID_ARGUMENT');
  });

  it('unregister rejects waiting senders with KE_ROUTER_UNKNOWN_MODULE', async () => {
    const r = router();
    r.register({ name: 'full', queueSize: 1 });
    await r.send('full', message());
    const waiting = r.send('full', message());
    await flush();
    await r.unregister('full');
    expect((await rejection(waiting)).code).toBe('KE_ROUTER_UNKNOWN_MODULE');
  });
});

describe('module handles', () => {
  it('stay bound to their registration when the name is registered again', async () => {
    const r = router();
    const old = r.register({ name: 'edged' });
    await old.unregister();
    const current = r.register({ name: 'edged' });
    await old.unregister();
    expect(r.has('edged')).toBe(true);
    expect(caught(() => old.receive()).code).toBe('KE_ROUTER_UNKNOWN_MODULE');
    await r.send('edged', message('new'));
    expect((await current.receive().next()).value?.content).toBe('new');
  });
});
