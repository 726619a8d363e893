import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInformer } from '../src/index';
import {
  configMap,
  createNamespace,
  recordEvents,
  silentLogger,
  startServer,
  stateOf,
  type TestServer,
  waitForCacheToMatch,
} from './helpers/api-server';

let api: TestServer;

beforeAll(async () => {
  api = await startServer();
  await createNamespace(api, 'bulk');
});

afterAll(async () => {
  await api?.stop();
});

it('holds exactly the 1,000 configmaps created while it watches', async () => {
  const informer = createInformer({
    kubeConfig: api.kubeConfig,
    path: '/api/v1/configmaps',
    namespace: 'bulk',
    logger: silentLogger,
  });
  const recorded = recordEvents(informer);
  informer.start();
  await informer.waitForSync(AbortSignal.timeout(5000));
  expect(informer.list()).toEqual([]);

  const names = Array.from({ length: 1000 }, (_, index) => `cm-${String(index).padStart(4, '0')}`);
  const started = performance.now();
  // 16 writers at a time, as a busy cluster would see.
  const pending = [...names];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
        await api.request(
          'POST',
          '/api/v1/namespaces/bulk/configmaps',
          configMap('bulk', name, { name }),
        );
      }
    }),
  );

  const expected = await waitForCacheToMatch(
    api,
    informer,
    '/api/v1/namespaces/bulk/configmaps',
    20_000,
  );
  const elapsedMs = performance.now() - started;
  expect(expected.size).toBe(1000);
  expect([...stateOf(informer.list()).keys()]).toEqual(names.map((name) => `bulk/${name}`));
  // One add per configmap, nothing else.
  expect(recorded.events).toHaveLength(1000);
  expect(new Set(recorded.events.map((event) => event.type))).toEqual(new Set(['add']));
  expect(new Set(recorded.events.map((event) => event.key)).size).toBe(1000);
  // Watch events come in resourceVersion order.
  const versions = recorded.events.map((event) => Number(event.resourceVersion));
  expect(versions).toEqual([...versions].sort((a, b) => a - b));
  expect(elapsedMs).toBeLessThan(20_000);
  await informer.stop();
}, 30_000);
