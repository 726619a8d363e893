import { createApiServer, createMemoryStore } from '@ke/apiserver';
import { loadKubeConfig } from '@ke/kube';
import { command, describeWithSystem, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDnsServer, createKubeServiceSource, type DnsServer, isDnsError } from '../src/index';
import { dig, digShort, status } from './helpers';

type Api = ReturnType<typeof createApiServer>;

function kubeConfigFor(url: string) {
  return loadKubeConfig({
    yaml: JSON.stringify({
      apiVersion: 'v1',
      clusters: [{ name: 'local', cluster: { server: url } }],
      users: [{ name: 'anonymous', user: {} }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'anonymous' } }],
      'current-context': 'local',
    }),
  });
}

async function request(api: Api, method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

const within = { timeoutMs: 1000, intervalMs: 50 };

describeWithSystem(
  'follows the services and endpoint slices of an API server',
  [command('dig', { debianPackage: 'dnsutils' })],
  () => {
    const store = createMemoryStore();
    const api = createApiServer({
      store,
      port: 0,
      auth: { anonymous: true },
      // The test moves a ClusterIP, which a real API refuses; the DNS must follow it anyway.
      serviceClusterIPRange: null,
    });
    let server: DnsServer;
    let port = 0;

    beforeAll(async () => {
      await api.start();
      await request(api, 'POST', '/api/v1/namespaces/default/services', {
        metadata: { name: 'web' },
        spec: {
          clusterIP: '198.18.0.10',
          clusterIPs: ['198.18.0.10'],
          ports: [{ name: 'http', port: 80 }],
        },
      });
      server = createDnsServer({
        source: createKubeServiceSource({ kubeConfig: kubeConfigFor(api.url) }),
        port: 0,
        upstream: [],
      });
      await server.start();
      port = server.address!.port;
    });
    afterAll(async () => {
      await server?.stop();
      await api.stop();
      store.close();
    });

    it('answers what was listed at start', async () => {
      expect(await digShort(port, 'web.default.svc.cluster.local')).toEqual(['198.18.0.10']);
      expect(server.stats().services).toBe(1);
    });

    it('applies a created, updated and deleted service within a second', async () => {
      await request(api, 'POST', '/api/v1/namespaces/default/services', {
        metadata: { name: 'api' },
        spec: { clusterIP: '198.18.0.20', clusterIPs: ['198.18.0.20'], ports: [{ port: 443 }] },
      });
      await waitFor(
        'the new service in dig answers',
        async () => (await digShort(port, 'api.default.svc.cluster.local'))[0] === '198.18.0.20',
        within,
      );

      await request(api, 'PUT', '/api/v1/namespaces/default/services/api', {
        metadata: { name: 'api', namespace: 'default' },
        spec: {
          clusterIP: '198.18.0.21',
          clusterIPs: ['198.18.0.21'],
          ports: [{ name: 'https', port: 443 }],
        },
      });
      await waitFor(
        'the updated ClusterIP in dig answers',
        async () => (await digShort(port, 'api.default.svc.cluster.local'))[0] === '198.18.0.21',
        within,
      );
      expect(await digShort(port, '_https._tcp.api.default.svc.cluster.local', 'SRV')).toEqual([
        '0 100 443 api.default.svc.cluster.local.',
      ]);

      await request(api, 'DELETE', '/api/v1/namespaces/default/services/api');
      await waitFor(
        'NXDOMAIN for the deleted service',
        async () => status(await dig(port, 'api.default.svc.cluster.local')) === 'NXDOMAIN',
        within,
      );
    });

    it('answers a headless service from its EndpointSlices as they change', async () => {
      await request(api, 'POST', '/api/v1/namespaces', { metadata: { name: 'db' } });
      await request(api, 'POST', '/api/v1/namespaces/db/services', {
        metadata: { name: 'postgres', namespace: 'db' },
        spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] },
      });
      await request(api, 'POST', '/apis/discovery.k8s.io/v1/namespaces/db/endpointslices', {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: 'postgres-abc',
          namespace: 'db',
          labels: { 'kubernetes.io/service-name': 'postgres' },
        },
        addressType: 'IPv4',
        endpoints: [
          { addresses: ['198.18.10.1'], hostname: 'postgres-0', conditions: { ready: true } },
          { addresses: ['198.18.10.2'], hostname: 'postgres-1', conditions: { ready: false } },
        ],
        ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
      });
      await waitFor(
        'the ready endpoint in dig answers',
        async () =>
          (await digShort(port, 'postgres.db.svc.cluster.local')).join() === '198.18.10.1',
        within,
      );
      expect(await digShort(port, 'postgres-0.postgres.db.svc.cluster.local')).toEqual([
        '198.18.10.1',
      ]);
      expect(await digShort(port, '_pg._tcp.postgres.db.svc.cluster.local', 'SRV')).toEqual([
        '0 100 5432 postgres-0.postgres.db.svc.cluster.local.',
      ]);

      // The second pod becomes ready.
      await request(
        api,
        'PUT',
        '/apis/discovery.k8s.io/v1/namespaces/db/endpointslices/postgres-abc',
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name: 'postgres-abc',
            namespace: 'db',
            labels: { 'kubernetes.io/service-name': 'postgres' },
          },
          addressType: 'IPv4',
          endpoints: [
            { addresses: ['198.18.10.1'], hostname: 'postgres-0', conditions: { ready: true } },
            { addresses: ['198.18.10.2'], hostname: 'postgres-1', conditions: { ready: true } },
          ],
          ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
        },
      );
      await waitFor(
        'both endpoints in dig answers',
        async () =>
          (await digShort(port, 'postgres.db.svc.cluster.local')).join() ===
          '198.18.10.1,198.18.10.2',
        within,
      );
      expect(await digShort(port, '-x', '198.18.10.2')).toEqual([
        'postgres-1.postgres.db.svc.cluster.local.',
      ]);
    });

    it('fails start with KE_DNS_SOURCE_FAILED when the API server cannot be reached', async () => {
      const unreachable = createDnsServer({
        source: createKubeServiceSource({
          kubeConfig: kubeConfigFor('http://127.0.0.1:9'),
          syncTimeoutMs: 500,
          logger: {},
        }),
        port: 0,
        upstream: [],
      });
      const error = await unreachable.start().catch((e: unknown) => e);
      expect(isDnsError(error) && error.code).toBe('KE_DNS_SOURCE_FAILED');
      expect(unreachable.address).toBeUndefined();
    });
  },
);
