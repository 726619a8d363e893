import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { createRouter } from '../src/index';
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

describe('stop()', () => {
  it('rejects every pending sendSync with KE_ROUTER_STOPPED and leaves nothing pending', async () => {
    const r = createRouter({ logger: recordingLogger() });
    r.register({ name: 'silent', handler: () => {} });
    r.register({ name: 'idle' });
    const calls = [
      r.sendSync('silent', message(1), { timeoutMs: 60_000 }),
      r.sendSync('silent', message(2), { timeoutMs: 60_000 }),
      r.sendSync('idle', message(3), { timeoutMs: 60_000 }),
    ];
    await flush();
    expect(r.pendingRequests).toBe(3);
    await within(r.stop());
    for (const call of calls) expect((await rejection(call)).code).toBe('KE_ROUTER_STOPPED');
    expect(r.pendingRequests).toBe(0);
    expect(r.modules()).toEqual([]);
  });

  it('clears the sendSync timers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const r = createRouter({ logger: recordingLogger() });
      r.register({ name: 'silent', handler: () => {} });
      const call = track(r.sendSync('silent', message(), { timeoutMs: 60_000 }));
      expect(vi.getTimerCount()).toBe(1);
      await r.stop();
      expect(vi.getTimerCount()).toBe(0);
      await flush();
      expect(call.settled()).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects waiting sends, ends receive iterators, and refuses later calls', async () => {
    const r = createRouter({ logger: recordingLogger() });
    r.register({ name: 'full', queueSize: 1 });
    const iterator = r.register({ name: 'reader' }).receive();
    const nextMessage = iterator.next();
    await r.send('full', message());
    const waiting = r.send('full', message());
    await flush();
    await r.stop();
    expect((await rejection(waiting)).code).toBe('KE_ROUTER_STOPPED');
    expect(await within(nextMessage)).toEqual({ done: true, value: undefined });
    expect(r.stopped).toBe(true);
    expect((await rejection(r.send('full', message()))).code).toBe('KE_ROUTER_STOPPED');
    expect((await rejection(r.sendSync('full', message()))).code).toBe('KE_ROUTER_STOPPED');
    expect((await rejection(r.sendToGroup('g', message()))).code).toBe('KE_ROUTER_STOPPED');
    expect(caught(() => r.trySend('full', message())).code).toBe('KE_ROUTER_STOPPED');
    expect(caught(() => r.register({ name: 'late' })).code).toBe('KE_ROUTER_STOPPED');
    expect(caught(() => r.receive('reader')).code).toBe('KE_ROUTER_STOPPED');
    expect(r.sendResponse(message())).toBe(false);
  });

  it('waits for running handlers and is idempotent', async () => {
    const r = createRouter({ logger: recordingLogger() });
    const started = deferred();
    const release = deferred();
    r.register({
      name: 'busy',
      handler: async () => {
        started.resolve();
        await release.promise;
      },
    });
    await r.send('busy', message());
    await within(started.promise);
    const stopping = track(r.stop());
    expect(r.stop()).toBe(stopping.promise);
    await flush();
    expect(stopping.settled()).toBe(false);
    release.resolve();
    await within(stopping.promise);
  });

  it('a receive loop ends on stop', async () => {
    const r = createRouter({ logger: recordingLogger() });
    const module = r.register({ name: 'reader' });
    const seen: unknown[] = [];
    const loop = (async () => {
      for await (const msg of module.receive()) seen.push(msg.content);
    })();
    await r.send('reader', message('one'));
    await flush();
    await r.stop();
    await within(loop, 2_000, 'the receive loop');
    expect(seen).toEqual(['one']);
  });

  it('does not keep the process alive while a sendSync waits (timers are unref()ed)', () => {
    const source = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const script = `
      const { createRouter, createMessage } = await import(${JSON.stringify(source)});
      const router = createRouter();
      router.register({ name: 'silent', handler: () => {} });
      const msg = createMessage({ source: 't', group: 'g', operation: 'query', resource: 'r', content: null });
      router.sendSync('silent', msg, { timeoutMs: 600000 }).catch(() => {});
      console.log('sent');
    `;
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(result.error).toBeUndefined();
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('sent');
    expect(result.status).toBe(0);
  });
});
