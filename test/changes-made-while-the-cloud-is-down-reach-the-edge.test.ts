import { command, describeWithSystem, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Edge, readyOf, TestCluster } from './helpers/cluster';

// Edge autonomy (issue #5) with the API server outliving the cloud core, as with a real
// cluster: ke-cloud (cloudhub and the controllers) is stopped, the API keeps taking changes,
// and when ke-cloud is back every change made meanwhile reaches the node, deletions included.

const NODE = 'edge-1';
let cluster: TestCluster;
let edge: Edge;

interface Served {
  metadata: { labels?: Record<string, string> };
  data?: Record<string, string>;
  subsets?: { addresses?: { ip: string }[] }[];
}

const configMap = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});
const pod = (name: string, config: string, labels: Record<string, string> = { app: name }) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels },
  spec: {
    nodeName: NODE,
    containers: [{ name, image: 'busybox', envFrom: [{ configMapRef: { name: config } }] }],
  },
});
const endpoints = (ip: string) => ({
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name: 'web', namespace: 'default' },
  subsets: [{ addresses: [{ ip }], ports: [{ name: 'http', port: 8080 }] }],
});

async function atEdge(kind: string, name: string): Promise<Served | undefined> {
  const { stdout } = await cluster.atEdge(
    edge,
    'get',
    kind,
    name,
    '--ignore-not-found',
    '-o',
    'json',
  );
  return stdout.trim() ? JSON.parse(stdout) : undefined;
}

const bounded = { timeoutMs: 30_000, intervalMs: 300 };

beforeAll(async () => {
  cluster = await TestCluster.create('ke-e2e-meanwhile');
  const api = await cluster.startApiServer();
  await cluster.startCloud({ kubeconfig: api.kubeconfig });
  edge = await cluster.startEdge(NODE, { token: await cluster.token() });
  await edge.process.waitForLine(/"msg":"connected to the cloud"/, 60_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stopAll();
});

describeWithSystem('changes made while ke-cloud is down', [command('kubectl')], () => {
  it('reach the edge when ke-cloud is back, deletions included', async () => {
    for (const manifest of [
      configMap('web-config', { greeting: 'hello' }),
      pod('web', 'web-config'),
      configMap('batch-config', { every: '1h' }),
      pod('batch', 'batch-config'),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      },
      endpoints('10.0.0.7'),
    ]) {
      await cluster.apply(manifest);
    }
    await waitFor(
      'everything at the edge',
      async () =>
        (await atEdge('pod', 'batch')) &&
        (await atEdge('configmap', 'batch-config')) &&
        (await atEdge('configmap', 'web-config')) &&
        (await atEdge('service', 'web')) &&
        (await atEdge('endpoints', 'web')),
      bounded,
    );

    expect(await cluster.cloud!.process.stop('SIGTERM', 30_000)).toBe(0);
    await edge.process.waitForLine(/"msg":"disconnected from the cloud"/, 10_000);
    await cluster.apply(pod('web', 'web-config', { app: 'web', v: '2' }));
    await cluster.apply(configMap('web-config', { greeting: 'hello again' }));
    await cluster.apply(endpoints('10.0.0.8'));
    await cluster.kubectl('delete', 'service', 'web', '--wait=false');
    // Its configmap stays in the API, but no pod of the node uses it any more.
    await cluster.kubectl('delete', 'pod', 'batch', '--wait=false');
    await cluster.apply(configMap('api-config', { mode: 'offline-first' }));
    await cluster.apply(pod('api', 'api-config'));
    // The edge still serves what it had.
    expect((await atEdge('service', 'web')) && (await atEdge('pod', 'batch'))).toBeTruthy();

    const cloudBack = Date.now();
    await cluster.startCloud({ kubeconfig: cluster.apiServer!.kubeconfig });
    await edge.process.waitForLine(/"msg":"connected to the cloud"/, 60_000);
    await waitFor(
      'every change at the edge',
      async () => {
        const [web, webConfig, endpointsNow, service, batch, batchConfig, api, apiConfig] =
          await Promise.all([
            atEdge('pod', 'web'),
            atEdge('configmap', 'web-config'),
            atEdge('endpoints', 'web'),
            atEdge('service', 'web'),
            atEdge('pod', 'batch'),
            atEdge('configmap', 'batch-config'),
            atEdge('pod', 'api'),
            atEdge('configmap', 'api-config'),
          ]);
        return (
          web?.metadata.labels?.v === '2' &&
          webConfig?.data?.greeting === 'hello again' &&
          endpointsNow?.subsets?.[0]?.addresses?.[0]?.ip === '10.0.0.8' &&
          service === undefined &&
          batch === undefined &&
          batchConfig === undefined &&
          api !== undefined &&
          apiConfig?.data?.mode === 'offline-first'
        );
      },
      bounded,
    );

    await waitFor(
      'edge-1 Ready with a heartbeat from after ke-cloud came back',
      async () => {
        const ready = await readyOf(cluster, NODE);
        const heartbeat = Date.parse(ready?.lastHeartbeatTime ?? '');
        return ready?.status === 'True' && heartbeat >= cloudBack - 1000;
      },
      bounded,
    );
  }, 120_000);
});
