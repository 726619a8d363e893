import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createInformer, type Informer, KubeErrorCode, metaNamespaceKey } from '../src/index';
import {
  configMap,
  createNamespace,
  type KubeListJson,
  type KubeObjectJson,
  recordEvents,
  serverState,
  silentLogger,
  startServer,
  stateOf,
  type TestServer,
  waitForCacheToMatch,
} from './helpers/api-server';

let api: TestServer;
const informers: Informer<KubeObjectJson>[] = [];

beforeAll(async () => {
  api = await startServer({ bookmarkIntervalMs: 100 });
  await createNamespace(api, 'lw');
  for (let index = 0; index < 7; index += 1) {
    await api.request(
      'POST',
      '/api/v1/namespaces/lw/configmaps',
      configMap('lw', `before-${index}`, { index: `${index}` }),
    );
  }
});

afterEach(async () => {
  await Promise.all(informers.splice(0).map((informer) => informer.stop()));
});

afterAll(async () => {
  await api?.stop();
});

function informerFor(options: Partial<Parameters<typeof createInformer>[0]> = {}) {
  const informer = createInformer<KubeObjectJson>({
    kubeConfig: api.kubeConfig,
    path: '/api/v1/configmaps',
    namespace: 'lw',
    logger: silentLogger,
    backoff: { initialMs: 20, maxMs: 200 },
    ...options,
  });
  informers.push(informer);
  return informer;
}

describe('an informer', () => {
  it('lists in pages, then its cache equals the objects on the server', async () => {
    const informer = informerFor({ pageSize: 2 });
    const recorded = recordEvents(informer);
    expect(informer.hasSynced()).toBe(false);
    expect(informer.lastSyncResourceVersion).toBe('');
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    expect(informer.hasSynced()).toBe(true);

    const expected = await serverState(api, '/api/v1/namespaces/lw/configmaps');
    expect(stateOf(informer.list())).toEqual(expected);
    expect(expected.size).toBe(7);
    // The first list arrives as adds, one per object.
    expect(recorded.events.map((event) => event.type)).toEqual(Array(7).fill('add'));
    expect(Number(informer.lastSyncResourceVersion)).toBeGreaterThanOrEqual(
      Math.max(...[...expected.values()].map(Number)),
    );
    const cached = informer.get('lw/before-3');
    expect(cached?.data).toEqual({ index: '3' });
    // List items get the kind of their list, as watch objects have it.
    expect(cached?.kind).toBe('ConfigMap');
    expect(cached?.apiVersion).toBe('v1');
    expect(informer.get('lw/missing')).toBeUndefined();
  });

  it('delivers add, update and delete in order and keeps the cache equal to the server', async () => {
    const informer = informerFor();
    const recorded = recordEvents(informer);
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    recorded.events.length = 0;

    const created = await api.request(
      'POST',
      '/api/v1/namespaces/lw/configmaps',
      configMap('lw', 'watched', { step: '1' }),
    );
    const updated = await api.request('PUT', '/api/v1/namespaces/lw/configmaps/watched', {
      ...created,
      data: { step: '2' },
    });
    const deleted = await api.request('DELETE', '/api/v1/namespaces/lw/configmaps/watched');
    await api.request('PATCH', '/api/v1/namespaces/lw/configmaps/before-0', { data: { p: '1' } });

    await waitFor('four events', () => recorded.events.length >= 4, { timeoutMs: 5000 });
    expect(recorded.of('lw/watched').map((event) => [event.type, event.resourceVersion])).toEqual([
      ['add', created.metadata.resourceVersion],
      ['update', updated.metadata.resourceVersion],
      ['delete', deleted.metadata.resourceVersion],
    ]);
    const [update] = recorded.of('lw/watched').filter((event) => event.type === 'update');
    expect(update?.oldResourceVersion).toBe(created.metadata.resourceVersion);
    expect(update?.object.data).toEqual({ step: '2' });
    const [deletion] = recorded.of('lw/watched').filter((event) => event.type === 'delete');
    expect(deletion?.finalStateUnknown).toBe(false);
    expect(recorded.of('lw/before-0').map((event) => event.type)).toEqual(['update']);

    await waitForCacheToMatch(api, informer, '/api/v1/namespaces/lw/configmaps');
    expect(informer.get('lw/watched')).toBeUndefined();
    expect(informer.get('lw/before-0')?.data).toEqual({ index: '0', p: '1' });
  });

  it('follows bookmarks: the resourceVersion advances with writes it does not watch', async () => {
    const informer = informerFor();
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    const secret = await api.request('POST', '/api/v1/namespaces/lw/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'elsewhere' },
    });
    const written = Number(secret.metadata.resourceVersion);
    await waitFor(
      'a bookmark at or after the secret',
      () => Number(informer.lastSyncResourceVersion) >= written,
      { timeoutMs: 5000 },
    );
  });

  it('replays the cache as adds to a handler registered after the sync', async () => {
    const informer = informerFor();
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    const keys: string[] = [];
    const off = informer.on('add', (object) => keys.push(metaNamespaceKey(object)));
    expect(keys.sort()).toEqual([...stateOf(informer.list()).keys()]);
    off();
    await api.request('POST', '/api/v1/namespaces/lw/configmaps', configMap('lw', 'after-off'));
    await waitForCacheToMatch(api, informer, '/api/v1/namespaces/lw/configmaps');
    expect(keys).not.toContain('lw/after-off');
  });

  it('keeps going when a handler throws', async () => {
    const informer = informerFor();
    informer.on('add', () => {
      throw new Error('handler bug');
    });
    const recorded = recordEvents(informer);
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    await api.request('POST', '/api/v1/namespaces/lw/configmaps', configMap('lw', 'throws'));
    await waitFor('the add after a throwing handler', () => recorded.of('lw/throws').length > 0);
  });

  it('watches a single namespace, or all of them', async () => {
    await createNamespace(api, 'lw-other');
    await api.request('POST', '/api/v1/namespaces/lw-other/configmaps', configMap('lw-other', 'x'));
    const all = informerFor({ namespace: undefined });
    const one = informerFor();
    all.start();
    one.start();
    await Promise.all([all.waitForSync(), one.waitForSync()]);
    expect(all.get('lw-other/x')).toBeDefined();
    expect(one.get('lw-other/x')).toBeUndefined();
    const everything = await api.request<KubeListJson>('GET', '/api/v1/configmaps');
    expect(stateOf(all.list())).toEqual(stateOf(everything.items));
  });

  it('rejects waitForSync when its signal aborts or the informer stops first', async () => {
    const informer = informerFor();
    const early = new AbortController();
    const waiting = informer.waitForSync(early.signal);
    early.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');

    const untilStop = informer.waitForSync();
    informer.start();
    await informer.stop();
    if (!informer.hasSynced()) {
      await expect(untilStop).rejects.toMatchObject({ code: KubeErrorCode.Request });
    }
  });

  it('refuses a path that is not a collection', () => {
    expect(() =>
      createInformer({ kubeConfig: api.kubeConfig, path: '/api/v1/namespaces/lw' }),
    ).toThrow(expect.objectContaining({ code: KubeErrorCode.InvalidArgument }));
    expect(() =>
      createInformer({
        kubeConfig: api.kubeConfig,
        path: '/api/v1/namespaces/lw/pods',
        namespace: 'lw',
      }),
    ).toThrow(/already names a namespace/);
  });
});
