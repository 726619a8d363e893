import { waitFor } from '@ke/testing';
import { CoreV1Api, KubeConfig, makeInformer, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApiServer, createMemoryStore, type Store } from '../../src/index';

// The unmodified @kubernetes/client-node informer (ListWatch) against this server.
let server: ApiServer;
let store: Store;
let kubeConfig: KubeConfig;

beforeAll(async () => {
  store = createMemoryStore();
  server = createApiServer({ store, auth: { tokens: { 'test-token': 'tester' } } });
  await server.start();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    // client-node refuses plain http unless TLS verification is off (there is no TLS).
    clusters: [{ name: 'c', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

afterAll(async () => {
  await server.stop();
  store.close();
});

describe('@kubernetes/client-node informer', () => {
  it('holds exactly the 1,000 configmaps created while it watches', async () => {
    const api = kubeConfig.makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'informed' } } });
    const informer = makeInformer<V1ConfigMap>(
      kubeConfig,
      '/api/v1/namespaces/informed/configmaps',
      () => api.listNamespacedConfigMap({ namespace: 'informed' }),
    );
    let adds = 0;
    informer.on('add', () => {
      adds++;
    });
    await informer.start();
    try {
      const count = 1000;
      const batch = 50;
      for (let i = 0; i < count; i += batch) {
        await Promise.all(
          Array.from({ length: batch }, (_, j) =>
            api.createNamespacedConfigMap({
              namespace: 'informed',
              body: { metadata: { name: `cm-${i + j}` }, data: { n: String(i + j) } },
            }),
          ),
        );
      }
      await waitFor('1,000 objects in the informer cache', () => informer.list().length === count, {
        timeoutMs: 30_000,
      });
      const listed = await api.listNamespacedConfigMap({ namespace: 'informed' });
      const cached = new Map(
        informer.list().map((cm) => [cm.metadata?.name, cm.metadata?.resourceVersion]),
      );
      expect(cached.size).toBe(count);
      for (const item of listed.items) {
        expect(cached.get(item.metadata?.name)).toBe(item.metadata?.resourceVersion);
      }
      expect(adds).toBe(count);
    } finally {
      await informer.stop();
    }
  }, 120_000);
});
