import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ClusterObjectSyncResource,
  type Device,
  DeviceResource,
  NodeGroupResource,
  ObjectSyncResource,
  resources,
} from '@ke/apis';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type CrdClient,
  createCrdClient,
  isKubeError,
  KubeError,
  KubeErrorCode,
  type KubernetesObject,
  loadKubeConfig,
} from '../src/index';

/*
 * The CRD clients against a stub HTTP server on loopback that records each request and
 * answers as an API server would. Round trips against the real embedded API server come
 * with @ke/apiserver.
 */

interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

type Reply = { status: number; body: unknown };

let server: Server;
let port = 0;
const requests: Recorded[] = [];
let reply: (request: Recorded) => Reply = () => ({ status: 200, body: {} });

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://stub');
    const recorded: Recorded = {
      method: request.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: request.headers['content-type'],
      authorization: request.headers.authorization,
      body: await readBody(request),
    };
    requests.push(recorded);
    const { status, body } = reply(recorded);
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function kubeconfig(serverUrl: string) {
  return loadKubeConfig({
    yaml: `
current-context: stub
clusters: [{ name: stub, cluster: { server: '${serverUrl}' } }]
contexts: [{ name: stub, context: { cluster: stub, user: me } }]
users: [{ name: me, user: { token: test-token } }]
`,
  });
}

const device: Device = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'thermometer', namespace: 'default', resourceVersion: '7' },
  spec: { deviceModelRef: { name: 'thermometer-model' }, nodeName: 'edge-node-1' },
};

function last(): Recorded {
  const request = requests.at(-1);
  if (!request) throw new Error('no request reached the stub');
  return request;
}

describe('a CRD client', () => {
  let devices: CrdClient<Device>;
  beforeAll(() => {
    devices = createCrdClient(kubeconfig(`http://127.0.0.1:${port}`), DeviceResource);
  });

  it('is typed by the resource definition', () => {
    expectTypeOf(devices.get).returns.resolves.toEqualTypeOf<Device>();
    const syncs = createCrdClient(kubeconfig('http://127.0.0.1:1'), ObjectSyncResource);
    expectTypeOf(syncs.list).returns.resolves.toHaveProperty('items');
    const explicit = createCrdClient<Device>(kubeconfig('http://127.0.0.1:1'), DeviceResource);
    expectTypeOf(explicit).toEqualTypeOf<CrdClient<Device>>();
    const untyped = createCrdClient(kubeconfig('http://127.0.0.1:1'), resources[0]!);
    expectTypeOf(untyped).toEqualTypeOf<CrdClient<KubernetesObject>>();
  });

  it('gets a namespaced object by namespace and name', async () => {
    reply = () => ({ status: 200, body: device });
    const got = await devices.get('default', 'thermometer');
    expect(got.spec.nodeName).toBe('edge-node-1');
    expect(last()).toMatchObject({
      method: 'GET',
      path: '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermometer',
      authorization: 'Bearer test-token',
    });
  });

  it('lists in one namespace or in all, with selectors and paging', async () => {
    const list = {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'DeviceList',
      metadata: { resourceVersion: '42', continue: 'next-page' },
      items: [device],
    };
    reply = () => ({ status: 200, body: list });
    const page = await devices.list(undefined, {
      labelSelector: 'app=thermo',
      fieldSelector: 'metadata.name=thermometer',
      limit: 1,
      continue: 'token-1',
    });
    expect(page.metadata.continue).toBe('next-page');
    expect(page.items[0]?.metadata.name).toBe('thermometer');
    expect(last()).toMatchObject({
      method: 'GET',
      path: '/apis/devices.kubeedge.io/v1beta1/devices',
      query: {
        labelSelector: 'app=thermo',
        fieldSelector: 'metadata.name=thermometer',
        limit: '1',
        continue: 'token-1',
      },
    });
    await devices.list('edge');
    expect(last().path).toBe('/apis/devices.kubeedge.io/v1beta1/namespaces/edge/devices');
  });

  it('creates in the object namespace, filling in apiVersion and kind', async () => {
    reply = (request) => ({ status: 201, body: request.body });
    const { apiVersion: _a, kind: _k, ...bare } = device;
    await devices.create(bare as Device);
    expect(last()).toMatchObject({
      method: 'POST',
      path: '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices',
      body: { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device' },
    });
  });

  it('replaces, and patches with a merge or a JSON patch', async () => {
    reply = (request) => ({ status: 200, body: { ...device, echoed: request.body } });
    await devices.replace(device);
    expect(last()).toMatchObject({
      method: 'PUT',
      path: '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermometer',
      body: { metadata: { resourceVersion: '7' } },
    });
    await devices.patch('default', 'thermometer', { spec: { nodeName: 'edge-node-2' } });
    expect(last()).toMatchObject({
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { spec: { nodeName: 'edge-node-2' } },
    });
    const ops = [{ op: 'replace', path: '/spec/nodeName', value: 'edge-node-3' }];
    await devices.patch('default', 'thermometer', ops, 'json');
    expect(last()).toMatchObject({ contentType: 'application/json-patch+json', body: ops });
  });

  it('deletes with delete options', async () => {
    reply = () => ({ status: 200, body: { kind: 'Status', status: 'Success' } });
    await devices.delete('default', 'thermometer', { propagationPolicy: 'Foreground' });
    expect(last()).toMatchObject({
      method: 'DELETE',
      path: '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermometer',
      body: { kind: 'DeleteOptions', propagationPolicy: 'Foreground' },
    });
  });

  it('addresses cluster-scoped kinds and the status subresource', async () => {
    const kc = kubeconfig(`http://127.0.0.1:${port}`);
    const syncs = createCrdClient(kc, ClusterObjectSyncResource);
    const sync = {
      apiVersion: 'reliablesyncs.kubeedge.io/v1alpha1' as const,
      kind: 'ClusterObjectSync' as const,
      metadata: { name: 'edge-node-1.node-abc' },
      spec: { objectAPIVersion: 'v1', objectKind: 'Node', objectName: 'edge-node-1' },
      status: { objectResourceVersion: '12' },
    };
    reply = () => ({ status: 200, body: sync });
    await syncs.get(undefined, 'edge-node-1.node-abc');
    expect(last().path).toBe(
      '/apis/reliablesyncs.kubeedge.io/v1alpha1/clusterobjectsyncs/edge-node-1.node-abc',
    );
    await syncs.replaceStatus(sync);
    expect(last()).toMatchObject({
      method: 'PUT',
      path: '/apis/reliablesyncs.kubeedge.io/v1alpha1/clusterobjectsyncs/edge-node-1.node-abc/status',
    });
    await syncs.patchStatus(undefined, 'edge-node-1.node-abc', {
      status: { objectResourceVersion: '13' },
    });
    expect(last()).toMatchObject({
      method: 'PATCH',
      path: '/apis/reliablesyncs.kubeedge.io/v1alpha1/clusterobjectsyncs/edge-node-1.node-abc/status',
    });
    expect(last().contentType).toBe('application/merge-patch+json');
    await syncs.list();
    expect(last().path).toBe('/apis/reliablesyncs.kubeedge.io/v1alpha1/clusterobjectsyncs');
  });

  it('rejects a namespace for a cluster-scoped kind, and none for a namespaced one', async () => {
    const nodeGroups = createCrdClient(kubeconfig(`http://127.0.0.1:${port}`), NodeGroupResource);
    const before = requests.length;
    await expect(nodeGroups.get('default', 'hangzhou')).rejects.toMatchObject({
      code: KubeErrorCode.InvalidArgument,
    });
    await expect(devices.get(undefined, 'thermometer')).rejects.toMatchObject({
      code: KubeErrorCode.InvalidArgument,
    });
    await expect(devices.replaceStatus(device)).rejects.toThrow(/no status subresource/);
    await expect(devices.patchStatus('default', 'thermometer', {})).rejects.toThrow(
      /no status subresource/,
    );
    await expect(devices.get('default', '')).rejects.toThrow(/name is required/);
    await expect(devices.patch('default', 'x', { op: 'add' }, 'json')).rejects.toMatchObject({
      code: KubeErrorCode.InvalidArgument,
    });
    expect(requests.length).toBe(before);
  });

  it('turns a Status error into a KubeError with the server reason and message', async () => {
    reply = () => ({
      status: 404,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        message: 'devices.devices.kubeedge.io "ghost" not found',
        reason: 'NotFound',
        details: { name: 'ghost', group: 'devices.kubeedge.io', kind: 'devices' },
        code: 404,
      },
    });
    const error = await devices.get('default', 'ghost').catch((e: unknown) => e);
    expect(isKubeError(error, KubeErrorCode.NotFound)).toBe(true);
    expect((error as KubeError).reason).toBe('NotFound');
    expect((error as KubeError).statusCode).toBe(404);
    expect((error as KubeError).message).toBe(
      'get devices.devices.kubeedge.io default/ghost: devices.devices.kubeedge.io "ghost" not found (HTTP 404 NotFound)',
    );

    reply = () => ({
      status: 409,
      body: {
        kind: 'Status',
        reason: 'Conflict',
        code: 409,
        message: 'the object has been modified',
      },
    });
    await expect(devices.replace(device)).rejects.toMatchObject({ code: KubeErrorCode.Conflict });
  });

  it('reports an API server that is not there as KE_KUBE_UNAVAILABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const offline = createCrdClient(kubeconfig(`http://127.0.0.1:${closedPort}`), DeviceResource);
    await expect(offline.get('default', 'thermometer')).rejects.toMatchObject({
      code: KubeErrorCode.Unavailable,
      reason: 'ECONNREFUSED',
    });
  });

  it('gives the watch path for client-node Watch', () => {
    expect(devices.watchPath()).toBe('/apis/devices.kubeedge.io/v1beta1/devices');
    expect(devices.watchPath('edge')).toBe(
      '/apis/devices.kubeedge.io/v1beta1/namespaces/edge/devices',
    );
    const syncs = createCrdClient(kubeconfig('http://127.0.0.1:1'), ClusterObjectSyncResource);
    expect(() => syncs.watchPath('default')).toThrowError(KubeError);
  });
});
