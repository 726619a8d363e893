import { command, describeWithSystem, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Edge, readyOf, TestCluster } from './helpers/cluster';

// Edge autonomy (issue #5): what an edge node was sent stays served by its MetaServer while the
// cloud is gone, across a restart of ke-edge; when the cloud is back, changes made since reach
// the node and its status resyncs.

const NODE = 'edge-1';
let cluster: TestCluster;
let edge: Edge;

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
  spec: { nodeName: NODE, containers: [{ name: 'web', image: 'busybox' }] },
};
const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
};
const endpoints = {
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name: 'web', namespace: 'default' },
  subsets: [
    { addresses: [{ ip: '10.0.0.7', nodeName: NODE }], ports: [{ name: 'http', port: 8080 }] },
  ],
};

/** What the checks read of an object served by the MetaServer. */
interface Served {
  metadata: { labels?: Record<string, string> };
  spec?: { nodeName?: string; ports?: object[] };
  subsets?: { addresses?: object[] }[];
  data?: Record<string, string>;
}

/** The object at the edge as JSON, or undefined when it is not there. */
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
  cluster = await TestCluster.create('ke-e2e-autonomy');
  await cluster.startCloud();
  edge = await cluster.startEdge(NODE, { token: await cluster.token() });
  await edge.process.waitForLine(/"msg":"connected to the cloud"/, 60_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stopAll();
});

describeWithSystem('an edge node without its cloud', [command('kubectl')], () => {
  it('serves its pods, services and endpoints after ke-edge restarts, cloud down', async () => {
    for (const manifest of [pod, service, endpoints]) await cluster.apply(manifest);
    await waitFor(
      'the pod, service and endpoints at the edge',
      async () =>
        (await atEdge('pod', 'web')) &&
        (await atEdge('service', 'web')) &&
        (await atEdge('endpoints', 'web')),
      bounded,
    );

    expect(await cluster.cloud!.process.stop('SIGTERM', 30_000)).toBe(0);
    expect(await edge.process.stop('SIGTERM', 30_000)).toBe(0);
    edge = await cluster.startEdge(NODE); // no token: the certificate is on disk
    // It really is on its own: the link to the cloud fails.
    await edge.process.waitForLine(/"msg":"cannot connect to the cloud"/, 30_000);

    const servedPod = await atEdge('pod', 'web');
    expect(servedPod?.metadata.labels).toEqual({ app: 'web' });
    expect(servedPod?.spec?.nodeName).toBe(NODE);
    const servedService = await atEdge('service', 'web');
    expect(servedService?.spec?.ports).toEqual([
      expect.objectContaining({ name: 'http', port: 80, targetPort: 8080 }),
    ]);
    const servedEndpoints = await atEdge('endpoints', 'web');
    expect(servedEndpoints?.subsets?.[0]?.addresses).toEqual([
      expect.objectContaining({ ip: '10.0.0.7', nodeName: NODE }),
    ]);
    const { stdout } = await cluster.atEdge(edge, 'get', 'pods', '-A', '-o', 'name');
    expect(stdout.trim().split('\n')).toEqual(['pod/web']);
  }, 120_000);

  it('receives the changes made once the cloud is back, and turns Ready again', async () => {
    const cloudBack = Date.now();
    await cluster.startCloud();
    // The edge is still backing off, or has just reconnected: change things either way.
    await cluster.apply({ ...pod, metadata: { ...pod.metadata, labels: { app: 'web', v: '2' } } });
    await cluster.kubectl('delete', 'service', 'web', '--wait=false');
    await cluster.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'api-config', namespace: 'default' },
      data: { mode: 'offline-first' },
    });
    await cluster.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'api', namespace: 'default', labels: { app: 'api' } },
      spec: {
        nodeName: NODE,
        containers: [
          { name: 'api', image: 'busybox', envFrom: [{ configMapRef: { name: 'api-config' } }] },
        ],
      },
    });

    await edge.process.waitForLine(/"msg":"connected to the cloud"/, 60_000);
    await waitFor(
      'the new label at the edge',
      async () => (await atEdge('pod', 'web'))?.metadata.labels?.v === '2',
      bounded,
    );
    await waitFor(
      'the service gone from the edge',
      async () => (await atEdge('service', 'web')) === undefined,
      bounded,
    );
    await waitFor('the new pod at the edge', () => atEdge('pod', 'api'), bounded);
    const configMap = await waitFor(
      'its configmap at the edge',
      () => atEdge('configmap', 'api-config'),
      bounded,
    );
    expect(configMap.data).toEqual({ mode: 'offline-first' });
    expect((await atEdge('endpoints', 'web'))?.subsets).toHaveLength(1);

    const ready = await waitFor(
      'edge-1 Ready with a heartbeat from after the cloud came back',
      async () => {
        const condition = await readyOf(cluster, NODE);
        const heartbeat = Date.parse(condition?.lastHeartbeatTime ?? '');
        return condition?.status === 'True' && heartbeat >= cloudBack - 1000 && condition;
      },
      bounded,
    );
    expect(ready.status).toBe('True');
  }, 120_000);
});
