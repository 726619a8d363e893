import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig } from '@ke/kube';
import { startSource, waitFor } from '@ke/testing';
import { CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FREE_PORT_FLAGS } from './free-ports';

const main = new URL('../src/main.ts', import.meta.url);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-cloud-svc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('allocates cluster IPs from the configured range and keeps EndpointSlices', async () => {
  const proc = startSource(
    main,
    [
      '--data-dir',
      dir,
      ...FREE_PORT_FLAGS,
      '--embeddedAPIServer.serviceClusterIPRange',
      '10.123.0.0/16',
    ],
    { env: { KE_LOG_FORMAT: 'json' } },
  );
  try {
    const ready = JSON.parse(await proc.waitForLine(/embedded API server ready/, 60_000));
    await proc.waitForLine(/ke-cloud running/);
    const kubeConfig = loadKubeConfig({ file: ready.kubeconfig });
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);

    const service = await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    expect(service.spec?.clusterIP).toMatch(/^10\.123\.\d+\.\d+$/);

    const pod = await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'web-1', labels: { app: 'web' } },
        spec: { nodeName: 'edge-1', containers: [{ name: 'web', image: 'nginx' }] },
      },
    });
    await core.replaceNamespacedPodStatus({
      namespace: 'default',
      name: 'web-1',
      body: {
        ...pod,
        status: {
          phase: 'Running',
          podIP: '10.244.0.8',
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      },
    });
    const slice = await waitFor('the EndpointSlice of web with web-1', async () => {
      const list = await discovery.listNamespacedEndpointSlice({
        namespace: 'default',
        labelSelector: 'kubernetes.io/service-name=web',
      });
      const [first] = list.items;
      return first?.endpoints?.length === 1 ? first : undefined;
    });
    expect(slice.endpoints[0]?.addresses).toEqual(['10.244.0.8']);
    expect(slice.ports).toEqual([{ name: '', port: 8080, protocol: 'TCP' }]);
  } finally {
    expect(await proc.stop('SIGTERM')).toBe(0);
  }
}, 120_000);
