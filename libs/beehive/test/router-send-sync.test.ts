import { afterEach, describe, expect, it, vi } from 'vitest';
import { createResponse, createRouter, type Message, type Router } from '../src/index';
import { deferred, flush, message, recordingLogger, rejection, within } from './helpers';

const routers: Router[] = [];
function router(options: Parameters<typeof createRouter>[0] = {}): Router {
  const created = createRouter({ logger: recordingLogger(), ...options });
  routers.push(created);
  return created;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(routers.splice(0).map((r) => r.stop()));
});

describe('sendSync', () => {
  it('resolves with the response whose parent_msg_id is the request msg_id', async () => {
    const r = router();
    const seen: Message[] = [];
    r.register({
      name: 'meta',
      handler: (request) => {
        seen.push(request);
        r.sendResponse(createResponse(request, { source: 'meta', content: 'answer' }));
      },
    });
    const request = message('question');
    const response = await within(r.sendSync('meta', request));
    expect(response.header.parent_msg_id).toBe(request.header.msg_id);
    expect(response.content).toBe('answer');
    // The module got a copy flagged sync, as KubeEdge's SendSync sets Header.Sync; the
    // caller's message is untouched.
    expect(seen[0]?.header.sync).toBe(true);
    expect(seen[0]?.header.msg_id).toBe(request.header.msg_id);
    expect(request.header.sync).toBe(false);
    expect(r.pendingRequests).toBe(0);
  });

  it('gives each of several concurrent requests its own response, answered out of order', async () => {
    const r = router();
    const module = r.register({ name: 'meta' });
    const requests = Array.from({ length: 8 }, (_, i) => message(i));
    const calls = requests.map((request) => r.sendSync('meta', request));
    expect(r.pendingRequests).toBe(8);

    const received: Message[] = [];
    for await (const request of module.receive()) {
      received.push(request);
      if (received.length === requests.length) break;
    }
    for (const request of [...received].reverse()) {
      expect(
        r.sendResponse(
          createResponse(request, { source: 'meta', content: `re:${request.content}` }),
        ),
      ).toBe(true);
    }
    const responses = await within(Promise.all(calls));
    responses.forEach((response, i) => {
      expect(response.header.parent_msg_id).toBe(requests[i]?.header.msg_id);
      expect(response.content).toBe(`re:${i}`);
    });
    expect(r.pendingRequests).toBe(0);
  });

  it('rejects KE_ROUTER_TIMEOUT when no response comes, and forgets the request', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const r = router();
    r.register({ name: 'silent', handler: () => {} });
    const request = message();
    const call = r.sendSync('silent', request, { timeoutMs: 500 });
    expect(r.pendingRequests).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(499);
    await flush();
    expect(r.pendingRequests).toBe(1);
    vi.advanceTimersByTime(1);
    const error = await rejection(call);
    expect(error.code).toBe('KE_ROUTER_TIMEOUT');
    expect(error.module).toBe('silent');
    expect(error.msgId).toBe(request.header.msg_id);
    expect(r.pendingRequests).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // A late response finds nobody waiting: dropped, reported as false.
    expect(r.sendResponse(createResponse(request, { source: 'silent', content: 1 }))).toBe(false);
  });

  it('uses the router default timeout when timeoutMs is absent or ≤ 0, as KubeEdge does', async () => {
    const r = router({ defaultTimeoutMs: 20 });
    r.register({ name: 'silent', handler: () => {} });
    expect((await rejection(r.sendSync('silent', message()))).code).toBe('KE_ROUTER_TIMEOUT');
    expect((await rejection(r.sendSync('silent', message(), { timeoutMs: 0 }))).code).toBe(
      'KE_ROUTER_TIMEOUT',
    );
    expect((await rejection(r.sendSync('silent', message(), { timeoutMs: -5 }))).code).toBe(
      'KE_ROUTER_TIMEOUT',
    );
  });

  it('rejects KE_ROUTER_ABORTED when the signal is already aborted, without delivering', async () => {
    const r = router();
    const handler = vi.fn();
    r.register({ name: 'meta', handler });
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    const error = await rejection(r.sendSync('meta', message(), { signal: controller.signal }));
    expect(error.code).toBe('KE_ROUTER_ABORTED');
    expect(error.cause).toEqual(new Error('caller gave up'));
    await flush();
    expect(handler).not.toHaveBeenCalled();
    expect(r.modules()[0]?.queued).toBe(0);
    expect(r.pendingRequests).toBe(0);
  });

  it('rejects KE_ROUTER_ABORTED when aborted while waiting for the response', async () => {
    const r = router();
    const delivered = deferred<Message>();
    r.register({ name: 'meta', handler: (request) => delivered.resolve(request) });
    const controller = new AbortController();
    const call = r.sendSync('meta', message(), { signal: controller.signal, timeoutMs: 60_000 });
    const request = await within(delivered.promise);
    expect(r.pendingRequests).toBe(1);
    controller.abort();
    const error = await rejection(call);
    expect(error.code).toBe('KE_ROUTER_ABORTED');
    expect(r.pendingRequests).toBe(0);
    expect(r.sendResponse(createResponse(request, { source: 'meta', content: 1 }))).toBe(false);
  });

  it('rejects KE_ROUTER_UNKNOWN_MODULE for a module that is not registered', async () => {
    const r = router();
    const error = await rejection(r.sendSync('nobody', message()));
    expect(error.code).toBe('KE_ROUTER_UNKNOWN_MODULE');
    expect(error.module).toBe('nobody');
    expect(r.pendingRequests).toBe(0);
  });

  it('rejects a message without msg_id and a second sendSync for the same msg_id', async () => {
    const r = router();
    r.register({ name: 'meta', handler: () => {} });
    const noId = { ...message(), header: { ...message().header, msg_id: '' } };
    expect((await rejection(r.sendSync('meta', noId))).code).toBe('KE_INVALID_ARGUMENT');
    const request = message();
    const first = r.sendSync('meta', request, { timeoutMs: 60_000 });
    expect((await rejection(r.sendSync('meta', request))).code).toBe('KE_INVALID_ARGUMENT');
    r.sendResponse(createResponse(request, { source: 'meta', content: 'ok' }));
    expect((await within(first)).content).toBe('ok');
  });

  it('counts the time spent waiting for queue room against the timeout', async () => {
    const r = router();
    const module = r.register({ name: 'busy', queueSize: 1 });
    await r.send('busy', message('filler'));
    const error = await rejection(r.sendSync('busy', message('late'), { timeoutMs: 20 }));
    expect(error.code).toBe('KE_ROUTER_TIMEOUT');
    // The timed-out request was withdrawn: it never reaches the module.
    expect(r.modules()[0]).toMatchObject({ queued: 1, waitingSenders: 0 });
    const iterator = module.receive();
    expect((await iterator.next()).value?.content).toBe('filler');
    expect(r.modules()[0]?.queued).toBe(0);
  });

  it("rejects KE_ROUTER_QUEUE_FULL with ifFull: 'reject' and leaves nothing pending", async () => {
    const r = router();
    r.register({ name: 'busy', queueSize: 1 });
    await r.send('busy', message());
    const error = await rejection(r.sendSync('busy', message(), { ifFull: 'reject' }));
    expect(error.code).toBe('KE_ROUTER_QUEUE_FULL');
    expect(r.pendingRequests).toBe(0);
  });

  it('rejects the request when its module is unregistered before taking it', async () => {
    const r = router();
    r.register({ name: 'meta' });
    const call = r.sendSync('meta', message(), { timeoutMs: 60_000 });
    await r.unregister('meta');
    const error = await rejection(call);
    expect(error.code).toBe('KE_ROUTER_UNKNOWN_MODULE');
    expect(r.pendingRequests).toBe(0);
  });
});

describe('sendResponse', () => {
  it('returns false and logs at debug level when no sendSync waits', () => {
    const logger = recordingLogger();
    const r = router({ logger });
    const stray = createResponse(message(), { source: 'x', content: 1 });
    expect(r.sendResponse(stray)).toBe(false);
    expect(logger.debug).toHaveBeenCalledWith(
      expect.objectContaining({ parentMsgId: stray.header.parent_msg_id }),
      expect.stringContaining('no sendSync waits'),
    );
    expect(r.sendResponse(message())).toBe(false);
  });
});
