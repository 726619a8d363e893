import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { type ApiServer, createApiServer, createMemoryStore } from '@ke/apiserver';
import { loadKubeConfig } from '@ke/kube';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKubeSource,
  createServiceProxy,
  type ServiceProxy,
  toServiceDefinition,
} from '../src/index';

async function backend(name: string): Promise<Server> {
  const server = createServer((socket) => socket.end(`${name}\n`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    connect(port, '127.0.0.1')
      .setEncoding('utf8')
      .on('data', (chunk: string) => {
        text += chunk;
      })
      .on('end', () => resolve(text.trim()))
      .on('error', reject);
  });
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

describe('services and EndpointSlices from the embedded API server', () => {
  let api: ApiServer;
  let proxy: ServiceProxy;
  const backends: Server[] = [];

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, await response.clone().text()).toBeLessThan(300);
  };
  const put = async (path: string, body: unknown) => {
    const response = await fetch(`${api.url}${path}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, await response.clone().text()).toBeLessThan(300);
  };
  const slice = (ports: number[], resourceVersion?: string) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'web-abcde',
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': 'web' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    addressType: 'IPv4',
    // Both backends are on 127.0.0.1: a change of endpoint is a change of port.
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true }, nodeName: 'node-a' }],
    ports: [{ name: 'http', port: ports[0], protocol: 'TCP' }],
  });

  beforeAll(async () => {
    api = createApiServer({
      store: createMemoryStore(),
      port: 0,
      auth: { anonymous: true },
      serviceClusterIPRange: '198.18.100.0/24',
    });
    await api.start();
    backends.push(await backend('first'), await backend('second'));
    await post('/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'web',
        namespace: 'default',
        annotations: { 'mesh.kubeedge.io/proxy-mode': 'userspace' },
      },
      spec: {
        clusterIP: '198.18.100.20',
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      },
    });
    await post(
      '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices',
      slice([portOf(backends[0]!)]),
    );
    const kubeConfig = loadKubeConfig({
      yaml: JSON.stringify({
        apiVersion: 'v1',
        clusters: [{ name: 'local', cluster: { server: api.url } }],
        users: [{ name: 'anonymous', user: {} }],
        contexts: [{ name: 'local', context: { cluster: 'local', user: 'anonymous' } }],
        'current-context': 'local',
      }),
    });
    proxy = createServiceProxy({
      source: createKubeSource({ kubeConfig }),
      nodeName: 'node-a',
      iptables: false,
    });
    await proxy.start();
  });

  afterAll(async () => {
    await proxy?.stop();
    for (const server of backends) server.close();
    await api?.stop();
  });

  it('serves a Service with the endpoints of its EndpointSlice', async () => {
    const stats = proxy.stats();
    expect(stats.servicePorts).toHaveLength(1);
    expect(stats.servicePorts[0]).toMatchObject({
      id: 'default/web:80/TCP',
      clusterIP: '198.18.100.20',
      mode: 'userspace',
      endpoints: [{ ip: '127.0.0.1', port: portOf(backends[0]!), ready: true }],
    });
    const listener = proxy.listener('default/web', 80)!;
    expect(await ask(listener.port)).toBe('first');
  });

  it('follows a changed EndpointSlice through the watch', async () => {
    const current = (await (
      await fetch(`${api.url}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-abcde`)
    ).json()) as { metadata: { resourceVersion: string } };
    await put(
      '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-abcde',
      slice([portOf(backends[1]!)], current.metadata.resourceVersion),
    );
    const listener = proxy.listener('default/web', 80)!;
    await waitFor('the new endpoint', async () => (await ask(listener.port)) === 'second', {
      timeoutMs: 5000,
    });
  });

  it('drops a deleted Service', async () => {
    await fetch(`${api.url}/api/v1/namespaces/default/services/web`, { method: 'DELETE' });
    await waitFor('the service to go', () => proxy.stats().servicePorts.length === 0, {
      timeoutMs: 5000,
    });
    expect(proxy.listener('default/web', 80)).toBeUndefined();
  });
});

describe('a Service and its slices as the proxy sees them', () => {
  it('takes ports by name, readiness, nodes, affinity and annotations', () => {
    const definition = toServiceDefinition(
      {
        metadata: {
          name: 'api',
          namespace: 'shop',
          annotations: {
            'mesh.kubeedge.io/proxy-mode': 'kernel',
            'mesh.kubeedge.io/load-balancing': 'random',
          },
        },
        spec: {
          clusterIP: '198.18.100.30',
          ports: [{ name: 'grpc', port: 9000, protocol: 'TCP' }],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        },
      },
      [
        {
          addressType: 'IPv4',
          endpoints: [
            { addresses: ['10.0.0.1'], nodeName: 'n1', conditions: { ready: true } },
            { addresses: ['10.0.0.2'], nodeName: 'n2', conditions: { ready: false } },
            { addresses: ['10.0.0.3'], conditions: { ready: true, terminating: true } },
          ],
          ports: [{ name: 'grpc', port: 9443 }],
          metadata: {},
        },
        { addressType: 'IPv6', endpoints: [{ addresses: ['fd00::1'] }], metadata: {} },
      ],
    );
    expect(definition).toMatchObject({
      namespace: 'shop',
      name: 'api',
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 60,
      mode: 'kernel',
      loadBalancing: 'random',
      endpoints: [
        { ip: '10.0.0.1', nodeName: 'n1', ports: { grpc: 9443 }, ready: true },
        { ip: '10.0.0.2', nodeName: 'n2', ready: false },
        { ip: '10.0.0.3', ready: false },
      ],
    });
    expect(toServiceDefinition({ spec: { clusterIP: 'None' } }, [])).toBeUndefined();
  });
});
