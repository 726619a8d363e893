import { crdFor, type Device, DeviceResource } from '@ke/apis';
import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  byNodeName,
  createCrdClient,
  createInformer,
  type Informer,
  type InformerOptions,
  KubeErrorCode,
  metaNamespaceKey,
} from '../src/index';
import {
  createNamespace,
  type KubeListJson,
  type KubeObjectJson,
  recordEvents,
  silentLogger,
  startServer,
  stateOf,
  type TestServer,
  waitForCacheToMatch,
} from './helpers/api-server';

let api: TestServer;
const informers: Informer<KubeObjectJson>[] = [];

function pod(
  namespace: string,
  name: string,
  nodeName?: string,
  labels: Record<string, string> = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'app', image: 'nginx' }] },
  };
}

const pods: [string, string, string | undefined, Record<string, string>][] = [
  ['ns1', 'thermo-a', 'edge-1', { app: 'thermo' }],
  ['ns1', 'thermo-b', 'edge-2', { app: 'thermo' }],
  ['ns1', 'valve-a', 'edge-1', { app: 'valve' }],
  ['ns1', 'pending', undefined, { app: 'valve' }],
  ['ns2', 'thermo-c', 'edge-1', { app: 'thermo' }],
  ['ns2', 'pump-a', 'edge-3', { app: 'pump' }],
];

beforeAll(async () => {
  api = await startServer();
  await createNamespace(api, 'ns1');
  await createNamespace(api, 'ns2');
  for (const [namespace, name, nodeName, labels] of pods) {
    await api.request(
      'POST',
      `/api/v1/namespaces/${namespace}/pods`,
      pod(namespace, name, nodeName, labels),
    );
  }
});

afterEach(async () => {
  await Promise.all(informers.splice(0).map((informer) => informer.stop()));
});

afterAll(async () => {
  await api?.stop();
});

async function started(options: Partial<InformerOptions<KubeObjectJson>>) {
  const informer = createInformer<KubeObjectJson>({
    kubeConfig: api.kubeConfig,
    path: '/api/v1/pods',
    logger: silentLogger,
    ...options,
  });
  informers.push(informer);
  informer.start();
  await informer.waitForSync(AbortSignal.timeout(5000));
  return informer;
}

const keys = (objects: KubeObjectJson[]) => objects.map(metaNamespaceKey).sort();

describe('informer indexes', () => {
  it('find pods by namespace and by node name, and follow changes', async () => {
    const informer = await started({
      indexers: { app: (object) => [object.metadata.labels?.app ?? ''] },
    });
    expect(keys(informer.byIndex('namespace', 'ns1'))).toEqual([
      'ns1/pending',
      'ns1/thermo-a',
      'ns1/thermo-b',
      'ns1/valve-a',
    ]);
    expect(keys(informer.byIndex('nodeName', 'edge-1'))).toEqual([
      'ns1/thermo-a',
      'ns1/valve-a',
      'ns2/thermo-c',
    ]);
    expect(keys(informer.byIndex('app', 'thermo'))).toEqual([
      'ns1/thermo-a',
      'ns1/thermo-b',
      'ns2/thermo-c',
    ]);
    expect(informer.byIndex('nodeName', 'nowhere')).toEqual([]);
    expect(() => informer.byIndex('color', 'red')).toThrow(
      expect.objectContaining({ code: KubeErrorCode.InvalidArgument }),
    );

    // Scheduled, moved, deleted: the indexes follow.
    await api.request('PATCH', '/api/v1/namespaces/ns1/pods/pending', {
      spec: { nodeName: 'edge-1' },
    });
    await api.request('PATCH', '/api/v1/namespaces/ns1/pods/thermo-a', {
      spec: { nodeName: 'edge-2' },
    });
    await api.request('DELETE', '/api/v1/namespaces/ns2/pods/thermo-c');
    await waitForCacheToMatch(api, informer, '/api/v1/pods');
    expect(keys(informer.byIndex('nodeName', 'edge-1'))).toEqual(['ns1/pending', 'ns1/valve-a']);
    expect(keys(informer.byIndex('nodeName', 'edge-2'))).toEqual(['ns1/thermo-a', 'ns1/thermo-b']);
    expect(keys(informer.byIndex('namespace', 'ns2'))).toEqual(['ns2/pump-a']);
    expect(keys(informer.byIndex('app', 'thermo'))).toEqual(['ns1/thermo-a', 'ns1/thermo-b']);
  });

  it('index custom resources too: devices by node name', async () => {
    await api.request(
      'POST',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      crdFor(DeviceResource),
    );
    const devices = createCrdClient(api.kubeConfig, DeviceResource);
    const device = (name: string, nodeName: string) =>
      ({
        metadata: { name, namespace: 'ns1' },
        spec: { deviceModelRef: { name: 'thermometer-model' }, nodeName },
      }) as Device;
    await devices.create(device('thermometer', 'edge-1'));
    await devices.create(device('valve', 'edge-2'));
    const informer = await started({
      path: '/apis/devices.kubeedge.io/v1beta1/devices',
      namespace: 'ns1',
    });
    expect(keys(informer.byIndex('nodeName', 'edge-1'))).toEqual(['ns1/thermometer']);
    expect(informer.get('ns1/valve')?.kind).toBe('Device');
    await devices.patch('ns1', 'valve', { spec: { nodeName: 'edge-1' } });
    await waitFor(
      'the valve to move to edge-1',
      () => informer.byIndex('nodeName', 'edge-1').length === 2,
    );
    expect(byNodeName(informer.get('ns1/valve')!)).toEqual(['edge-1']);
  });
});

describe('informer selectors', () => {
  it('a label selector keeps only matching objects, and objects that stop matching leave', async () => {
    const informer = await started({ labelSelector: 'app=valve' });
    const recorded = recordEvents(informer);
    const expected = await api.request<KubeListJson>(
      'GET',
      '/api/v1/pods?labelSelector=app%3Dvalve',
    );
    expect(stateOf(informer.list())).toEqual(stateOf(expected.items));
    expect(keys(informer.list())).toEqual(['ns1/pending', 'ns1/valve-a']);
    recorded.events.length = 0;

    await api.request('PATCH', '/api/v1/namespaces/ns1/pods/valve-a', {
      metadata: { labels: { app: 'retired' } },
    });
    await api.request('PATCH', '/api/v1/namespaces/ns2/pods/pump-a', {
      metadata: { labels: { app: 'valve' } },
    });
    await waitFor('two events', () => recorded.events.length >= 2, { timeoutMs: 5000 });
    expect(recorded.events.map((event) => `${event.type} ${event.key}`)).toEqual([
      'delete ns1/valve-a',
      'add ns2/pump-a',
    ]);
    expect(keys(informer.list())).toEqual(['ns1/pending', 'ns2/pump-a']);
  });

  it('a field selector keeps only the pods of one node', async () => {
    const informer = await started({ fieldSelector: 'spec.nodeName=edge-2' });
    const expected = await api.request<KubeListJson>(
      'GET',
      '/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-2',
    );
    expect(expected.items.length).toBeGreaterThan(0);
    expect(stateOf(informer.list())).toEqual(stateOf(expected.items));
    for (const object of informer.list()) {
      expect((object.spec as { nodeName?: string }).nodeName).toBe('edge-2');
    }
    await api.request('POST', '/api/v1/namespaces/ns2/pods', pod('ns2', 'late', 'edge-2'));
    await api.request('POST', '/api/v1/namespaces/ns2/pods', pod('ns2', 'elsewhere', 'edge-9'));
    await waitFor('the pod on edge-2', () => informer.get('ns2/late') !== undefined);
    expect(informer.get('ns2/elsewhere')).toBeUndefined();
  });
});
