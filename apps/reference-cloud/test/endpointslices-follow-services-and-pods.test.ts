import { type ApiServer, createApiServer, createMemoryStore, type Store } from '@ke/apiserver';
import { loadKubeConfig } from '@ke/kube';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEndpointSliceController,
  desiredSlices,
  type EndpointSliceController,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
} from '../src/endpointslice-controller';

// biome-ignore lint/suspicious/noExplicitAny: assertions read deep into Kubernetes objects
type Json = any;

/** A change shows in the slices within this long (the brief: within a second, with margin). */
const within = { timeoutMs: 3000 };

let store: Store;
let api: ApiServer;
let controller: EndpointSliceController;
/** Warnings the controller logged: a cache catching up after our own write is not one. */
const warnings: unknown[] = [];
const logger = { warn: (fields: object, message: string) => warnings.push({ message, fields }) };

const kubeConfig = () =>
  loadKubeConfig({
    yaml: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'embedded', cluster: { server: api.url } }],
      users: [{ name: 'anonymous', user: {} }],
      contexts: [{ name: 'embedded', context: { cluster: 'embedded', user: 'anonymous' } }],
      'current-context': 'embedded',
    }),
  });

async function call(method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json: Json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${json.message}`);
  return json;
}

const NS = 'shop';
const services = `/api/v1/namespaces/${NS}/services`;
const pods = `/api/v1/namespaces/${NS}/pods`;

async function slicesOf(service: string): Promise<Json[]> {
  const list = await call(
    'GET',
    `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=${encodeURIComponent(
      `${SERVICE_NAME_LABEL}=${service}`,
    )}`,
  );
  return list.items;
}

/** The only slice of `service` once `accept` is true of it. */
function sliceWhen(service: string, what: string, accept: (slice: Json) => boolean) {
  return waitFor(
    what,
    async () => {
      const slices = await slicesOf(service);
      return slices.length === 1 && accept(slices[0]) ? slices[0] : undefined;
    },
    within,
  );
}

const endpointFor = (slice: Json, pod: string) =>
  (slice.endpoints ?? []).find((e: Json) => e.targetRef?.name === pod);

async function startPod(
  name: string,
  ip: string,
  { labels = { app: 'web' }, ready = true, node = 'edge-1', extra = {} as object } = {},
) {
  await call('POST', pods, {
    metadata: { name, labels },
    spec: {
      nodeName: node,
      containers: [{ name: 'web', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }] }],
      ...extra,
    },
  });
  await setReady(name, ip, ready);
}

async function setReady(name: string, ip: string, ready: boolean) {
  const pod = await call('GET', `${pods}/${name}`);
  await call('PUT', `${pods}/${name}/status`, {
    ...pod,
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  });
}

beforeAll(async () => {
  store = createMemoryStore();
  api = createApiServer({ store, port: 0, auth: { anonymous: true } });
  await api.start();
  await call('POST', '/api/v1/namespaces', { metadata: { name: NS } });
  controller = createEndpointSliceController({ kubeConfig: kubeConfig(), logger });
  await controller.start();
});

afterAll(async () => {
  await controller?.stop();
  await api?.stop();
  store?.close();
});

describe('the EndpointSlice controller', () => {
  it('lists the ready pods of a Service with resolved ports', async () => {
    await startPod('web-1', '10.244.1.5');
    await startPod('other', '10.244.1.9', { labels: { app: 'other' } });
    await startPod('web-no-ip', '', {});
    const service = await call('POST', services, {
      metadata: { name: 'web', labels: { tier: 'front' } },
      spec: {
        selector: { app: 'web' },
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { name: 'metrics', port: 9090, targetPort: 9091, protocol: 'TCP' },
        ],
      },
    });
    const slice = await sliceWhen('web', 'a slice with web-1', (s) => !!endpointFor(s, 'web-1'));
    expect(slice.metadata.name).toMatch(/^web-[0-9a-f]{8}$/);
    expect(slice.metadata.labels).toEqual({
      tier: 'front',
      [SERVICE_NAME_LABEL]: 'web',
      [MANAGED_BY_LABEL]: MANAGED_BY,
    });
    expect(slice.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Service',
        name: 'web',
        uid: service.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(slice.addressType).toBe('IPv4');
    expect(slice.ports).toEqual([
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'metrics', port: 9091, protocol: 'TCP' },
    ]);
    const pod = await call('GET', `${pods}/web-1`);
    expect(slice.endpoints).toEqual([
      {
        addresses: ['10.244.1.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'edge-1',
        targetRef: { kind: 'Pod', namespace: NS, name: 'web-1', uid: pod.metadata.uid },
      },
    ]);
  });

  it('follows readiness, new pods and deleted pods', async () => {
    await setReady('web-1', '10.244.1.5', false);
    await sliceWhen(
      'web',
      'web-1 not ready',
      (s) => endpointFor(s, 'web-1')?.conditions.ready === false,
    );
    expect(endpointFor((await slicesOf('web'))[0], 'web-1').conditions.serving).toBe(false);

    await startPod('web-2', '10.244.2.7', { node: 'edge-2' });
    const both = await sliceWhen('web', 'web-2 listed', (s) => !!endpointFor(s, 'web-2'));
    expect(endpointFor(both, 'web-2')).toMatchObject({
      addresses: ['10.244.2.7'],
      nodeName: 'edge-2',
      conditions: { ready: true },
    });

    await call('DELETE', `${pods}/web-1`);
    const after = await sliceWhen('web', 'web-1 gone', (s) => !endpointFor(s, 'web-1'));
    expect(after.endpoints.map((e: Json) => e.targetRef.name)).toEqual(['web-2']);
  });

  it('marks a pod being deleted as terminating', async () => {
    await startPod('web-3', '10.244.3.3', { extra: {} });
    await sliceWhen('web', 'web-3 listed', (s) => !!endpointFor(s, 'web-3'));
    // A finalizer keeps the pod, with a deletionTimestamp, as a kubelet's graceful stop does.
    await call('PATCH', `${pods}/web-3`, { metadata: { finalizers: ['test/hold'] } });
    await call('DELETE', `${pods}/web-3`);
    const slice = await sliceWhen(
      'web',
      'web-3 terminating',
      (s) => endpointFor(s, 'web-3')?.conditions.terminating === true,
    );
    expect(endpointFor(slice, 'web-3').conditions).toEqual({
      ready: false,
      serving: true,
      terminating: true,
    });
    await call('PATCH', `${pods}/web-3`, { metadata: { finalizers: null } });
    await sliceWhen('web', 'web-3 gone', (s) => !endpointFor(s, 'web-3'));
  });

  it('gives a hostname to pods whose subdomain is the headless Service', async () => {
    await call('POST', services, {
      metadata: { name: 'db' },
      spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] },
    });
    await startPod('db-0', '10.244.4.1', {
      labels: { app: 'db' },
      extra: { hostname: 'db-0', subdomain: 'db' },
    });
    const slice = await sliceWhen('db', 'db-0 listed', (s) => !!endpointFor(s, 'db-0'));
    expect(endpointFor(slice, 'db-0').hostname).toBe('db-0');
    expect(slice.metadata.labels['service.kubernetes.io/headless']).toBe('');
    expect(slice.ports).toEqual([{ name: '', port: 5432, protocol: 'TCP' }]);
  });

  it('leaves out a port a pod does not have, and keeps an empty slice without pods', async () => {
    await call('POST', services, {
      metadata: { name: 'admin' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'admin', port: 81, targetPort: 'admin' }] },
    });
    const slice = await sliceWhen('admin', 'admin slice', (s) => !!endpointFor(s, 'web-2'));
    expect(slice.ports).toEqual([]);
    await call('POST', services, {
      metadata: { name: 'nobody' },
      spec: { selector: { app: 'nobody' }, ports: [{ port: 80 }] },
    });
    const empty = await sliceWhen('nobody', 'an empty slice', () => true);
    expect(empty.endpoints ?? []).toEqual([]);
  });

  it('writes nothing for Services without a selector or of type ExternalName', async () => {
    await call('POST', services, { metadata: { name: 'manual' }, spec: { ports: [{ port: 80 }] } });
    await call('POST', services, {
      metadata: { name: 'ext' },
      spec: { type: 'ExternalName', externalName: 'example.com', selector: { app: 'web' } },
    });
    // The Services created after these already have their slice: the queue has passed them.
    await call('POST', services, {
      metadata: { name: 'marker' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    });
    await sliceWhen('marker', 'the marker slice', () => true);
    expect(await slicesOf('manual')).toEqual([]);
    expect(await slicesOf('ext')).toEqual([]);
  });

  it('does not rewrite slices that are up to date', async () => {
    const before = (await slicesOf('web'))[0].metadata.resourceVersion;
    // An unrelated change to a selected pod is an event but not a change of the slice.
    await call('PATCH', `${pods}/web-2`, { metadata: { annotations: { note: 'touched' } } });
    await call('POST', services, {
      metadata: { name: 'marker-2' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    });
    await sliceWhen('marker-2', 'the second marker slice', () => true);
    expect((await slicesOf('web'))[0].metadata.resourceVersion).toBe(before);
  });

  it('deletes the slices of a deleted Service', async () => {
    await call('DELETE', `${services}/admin`);
    await waitFor(
      'the admin slice deleted',
      async () => (await slicesOf('admin')).length === 0,
      within,
    );
  });

  it('reconciles what changed while it was stopped, without duplicates', async () => {
    await controller.stop();
    await call('DELETE', `${pods}/web-2`);
    await startPod('web-4', '10.244.5.5');
    await call('DELETE', `${services}/nobody`);
    const stale = (await slicesOf('web'))[0];
    // A slice of ours that should not exist (e.g. left by an older port layout).
    await call('POST', `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, {
      metadata: {
        name: 'web-stale',
        labels: { [SERVICE_NAME_LABEL]: 'web', [MANAGED_BY_LABEL]: MANAGED_BY },
      },
      addressType: 'IPv4',
      endpoints: [],
    });

    controller = createEndpointSliceController({ kubeConfig: kubeConfig(), logger });
    await controller.start();
    const slice = await sliceWhen(
      'web',
      'web-4 only, in one slice',
      (s) => s.endpoints?.length === 1 && !!endpointFor(s, 'web-4'),
    );
    expect(slice.metadata.name).toBe(stale.metadata.name);
    expect(warnings).toEqual([]);
    await waitFor(
      'the nobody slice deleted',
      async () => (await slicesOf('nobody')).length === 0,
      within,
    );
  });
});

describe('desired slices', () => {
  const svc = {
    metadata: { name: 'api', namespace: NS, uid: 'u-1' },
    spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  };
  const pod = (name: string, containerPort: number) => ({
    metadata: { name, namespace: NS, uid: `uid-${name}`, labels: { app: 'api' } },
    spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort }] }] },
    status: { phase: 'Running', podIP: `10.0.0.${containerPort % 250}`, conditions: [] },
  });

  it('groups pods whose named port differs into slices of their own, at most max each', () => {
    const pods = [pod('a', 8080), pod('b', 8080), pod('c', 8080), pod('d', 9090)];
    const slices = desiredSlices(svc as never, pods as never, 2);
    const byPort = [...slices.entries()].map(([name, s]) => ({
      name,
      port: s.ports[0]?.port,
      pods: s.endpoints.map((e) => e.targetRef?.name),
    }));
    expect(byPort).toHaveLength(3);
    expect(byPort.filter((s) => s.port === 8080).flatMap((s) => s.pods)).toEqual(['a', 'b', 'c']);
    expect(byPort.find((s) => s.port === 9090)?.pods).toEqual(['d']);
    for (const { name } of byPort) expect(name).toMatch(/^api-[0-9a-f]{8}(-1)?$/);
  });

  it('leaves out finished pods and pods with only an IPv6 address', () => {
    const done = { ...pod('done', 8080), status: { phase: 'Succeeded', podIP: '10.0.0.1' } };
    const v6 = { ...pod('v6', 8080), status: { phase: 'Running', podIP: 'fd00::1' } };
    const [only] = desiredSlices(svc as never, [done, v6] as never).values();
    expect(only?.endpoints).toEqual([]);
  });
});
