import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  command,
  describeWithSystem,
  freePort,
  startSource,
  type TestProcess,
  waitFor,
} from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

const run = promisify(execFile);
const cloudMain = new URL('../apps/reference-cloud/src/main.ts', import.meta.url);
const edgeMain = new URL('../apps/reference-edge/src/main.ts', import.meta.url);
const env = { KE_LOG_FORMAT: 'json' };

let dir: string;
let kubeconfig: string;
const metaServers: Record<string, string> = {};
const edges: Record<string, TestProcess> = {};
const started: TestProcess[] = [];

const kubectl = (...args: string[]) =>
  run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], {
    timeout: 30_000,
  });
const atEdge = (node: string, ...args: string[]) =>
  run('kubectl', ['--server', metaServers[node]!, '--cache-dir', join(dir, 'cache'), ...args], {
    timeout: 30_000,
  });
const names = async (node: string, kind: string) =>
  (await atEdge(node, 'get', kind, '-o', 'name')).stdout.trim().split('\n').filter(Boolean);

async function apply(manifest: object) {
  const file = join(dir, `manifest-${Date.now()}-${Math.random()}.json`);
  await writeFile(file, JSON.stringify(manifest));
  await kubectl('apply', '-f', file);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-e2e-meta-'));
  const ports = { websocket: await freePort(), https: await freePort() };
  const cloud = startSource(
    cloudMain,
    [
      '--data-dir',
      join(dir, 'cloud'),
      '--embeddedAPIServer.port',
      '0',
      '--commonConfig.monitorServer.bindAddress',
      '127.0.0.1:0',
      '--modules.cloudHub.websocket.address',
      '127.0.0.1',
      '--modules.cloudHub.websocket.port',
      String(ports.websocket),
      '--modules.cloudHub.https.address',
      '127.0.0.1',
      '--modules.cloudHub.https.port',
      String(ports.https),
      '--modules.edgeController.nodeMonitorGracePeriod',
      '3',
    ],
    { env },
  );
  started.push(cloud);
  kubeconfig = JSON.parse(await cloud.waitForLine(/embedded API server ready/, 60_000)).kubeconfig;
  await cloud.waitForLine(/ke-cloud running/, 60_000);
  const token = startSource(cloudMain, ['token', 'create', '--data-dir', join(dir, 'cloud')]);
  expect(await token.exited()).toBe(0);
  for (const node of ['edge-1', 'edge-2']) {
    const edge = startSource(
      edgeMain,
      [
        '--data-dir',
        join(dir, node),
        '--node-name',
        node,
        '--token',
        token.lines.join('').trim(),
        '--modules.edgeHub.websocket.server',
        `127.0.0.1:${ports.websocket}`,
        '--modules.edgeHub.httpServer',
        `https://127.0.0.1:${ports.https}`,
        '--modules.eventBus.mqttServerInternal',
        'tcp://127.0.0.1:0',
        '--modules.metaManager.metaServer.server',
        '127.0.0.1:0',
        '--modules.edged.nodeStatusUpdateFrequency',
        '1',
        '--modules.edged.nodeLabels',
        `site=${node}`,
      ],
      { env },
    );
    started.push(edge);
    edges[node] = edge;
    metaServers[node] = JSON.parse(
      await edge.waitForLine(/metadata store ready/, 60_000),
    ).metaServer;
    await edge.waitForLine(/"msg":"connected to the cloud"/, 60_000);
  }
}, 180_000);

afterAll(async () => {
  for (const proc of started.reverse()) await proc.stop('SIGTERM', 20_000).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describeWithSystem('the metadata path, ke-cloud to two ke-edge nodes', [command('kubectl')], () => {
  it('registers both nodes Ready, with the labels from their config', async () => {
    await waitFor(
      'two Ready nodes',
      async () => {
        const { stdout } = await kubectl('get', 'nodes', '-o', 'json');
        const nodes = JSON.parse(stdout).items as {
          metadata: { name: string; labels: Record<string, string> };
          status?: { conditions?: { type: string; status: string }[] };
        }[];
        const ready = nodes.filter((n) =>
          n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === 2 && nodes;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const { stdout } = await kubectl('get', 'nodes', '-l', 'site=edge-1', '-o', 'name');
    expect(stdout.trim()).toBe('node/edge-1');
  });

  it('sends a pod and its configmap to edge-1 only; update and delete follow', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'web-config', namespace: 'default' },
      data: { greeting: 'hello' },
    });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
      spec: {
        nodeName: 'edge-1',
        containers: [
          { name: 'web', image: 'busybox', envFrom: [{ configMapRef: { name: 'web-config' } }] },
        ],
      },
    };
    await apply(pod);
    await waitFor(
      'the pod at edge-1',
      async () => (await names('edge-1', 'pods')).includes('pod/web'),
      {
        timeoutMs: 30_000,
        intervalMs: 300,
      },
    );
    await waitFor(
      'the configmap at edge-1',
      async () => (await names('edge-1', 'configmaps')).includes('configmap/web-config'),
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(await names('edge-2', 'pods')).toEqual([]);
    expect(await names('edge-2', 'configmaps')).not.toContain('configmap/web-config');

    // edge-1 runs it (on its simulated runtime): the cloud sees it Running with its pod IP.
    const running = await waitFor(
      'the pod Running in the cloud',
      async () => {
        const { stdout } = await kubectl('get', 'pod', 'web', '-o', 'json');
        const status = JSON.parse(stdout).status as {
          phase?: string;
          podIP?: string;
          containerStatuses?: { containerID?: string }[];
        };
        return status.phase === 'Running' && status.podIP ? status : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(running.containerStatuses?.[0]?.containerID).toMatch(/^simulated:\/\//);
    const { stdout: nodeInfo } = await kubectl(
      'get',
      'node',
      'edge-1',
      '-o',
      'jsonpath={.status.nodeInfo.containerRuntimeVersion}',
    );
    expect(nodeInfo).toMatch(/^simulated:\/\//);
    // kubelet's events for it, from edge-1's edged, in the cloud.
    await waitFor(
      'a Started event for the pod in the cloud',
      async () => {
        const { stdout } = await kubectl('get', 'events', '-o', 'json');
        const items = JSON.parse(stdout).items as {
          reason?: string;
          involvedObject?: { name?: string };
          source?: { host?: string };
        }[];
        return items.some(
          (e) =>
            e.reason === 'Started' &&
            e.involvedObject?.name === 'web' &&
            e.source?.host === 'edge-1',
        );
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );

    await apply({ ...pod, metadata: { ...pod.metadata, labels: { app: 'web', tier: 'front' } } });
    await waitFor(
      'the label at edge-1',
      async () => {
        const { stdout } = await atEdge(
          'edge-1',
          'get',
          'pod',
          'web',
          '-o',
          'jsonpath={.metadata.labels.tier}',
        );
        return stdout === 'front';
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );

    await kubectl('delete', 'pod', 'web', '--wait=false');
    await waitFor(
      'the pod gone from edge-1',
      async () => (await names('edge-1', 'pods')).length === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 300,
      },
    );
    // No pod uses the configmap any more: it leaves edge-1 too.
    await waitFor(
      'the configmap gone from edge-1',
      async () => !(await names('edge-1', 'configmaps')).includes('configmap/web-config'),
      { timeoutMs: 30_000, intervalMs: 300 },
    );
  });

  it('brings events written at an edge to the cloud, but not those about another node', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'evented', namespace: 'default' },
      spec: { nodeName: 'edge-1', containers: [{ name: 'c', image: 'busybox' }] },
    });
    await waitFor(
      'the pod at edge-1',
      async () => (await names('edge-1', 'pods')).includes('pod/evented'),
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    const event = (node: string, name: string, involvedObject: object, count = 1) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: 'default' },
      involvedObject,
      reason: 'Pulled',
      message: `seen ${count} time(s)`,
      type: 'Normal',
      count,
      source: { component: 'edged', host: node },
      firstTimestamp: '2026-11-29T10:00:00Z',
      lastTimestamp: '2026-11-29T10:00:00Z',
    });
    const atEdgeApply = async (node: string, manifest: object) => {
      const file = join(dir, `event-${Date.now()}-${Math.random()}.json`);
      await writeFile(file, JSON.stringify(manifest));
      await atEdge(node, 'apply', '-f', file);
    };
    const podRef = { kind: 'Pod', namespace: 'default', name: 'evented', apiVersion: 'v1' };
    const cloudEvent = async (name: string) => {
      const { stdout } = await kubectl('get', 'events', '-o', 'json');
      const items = JSON.parse(stdout).items as {
        metadata: { name: string };
        count?: number;
        source?: { host?: string };
      }[];
      return items.find((item) => item.metadata.name === name);
    };

    await atEdgeApply('edge-1', event('edge-1', 'evented.pulled', podRef));
    const created = await waitFor('the event in the cloud', () => cloudEvent('evented.pulled'), {
      timeoutMs: 30_000,
      intervalMs: 300,
    });
    expect(created.source?.host).toBe('edge-1');

    await atEdgeApply('edge-1', event('edge-1', 'evented.pulled', podRef, 2));
    await waitFor(
      'the count to follow',
      async () => (await cloudEvent('evented.pulled'))?.count === 2,
      { timeoutMs: 30_000, intervalMs: 300 },
    );

    // edge-2 reports about edge-1's pod and about edge-1: refused. About itself: accepted.
    await atEdgeApply('edge-2', event('edge-2', 'forged.pod', podRef));
    await atEdgeApply(
      'edge-2',
      event('edge-2', 'forged.node', { kind: 'Node', name: 'edge-1', apiVersion: 'v1' }),
    );
    await atEdgeApply(
      'edge-2',
      event('edge-2', 'edge-2.own', { kind: 'Node', name: 'edge-2', apiVersion: 'v1' }),
    );
    await waitFor('edge-2 own event in the cloud', () => cloudEvent('edge-2.own'), {
      timeoutMs: 30_000,
      intervalMs: 300,
    });
    expect(await cloudEvent('forged.pod')).toBeUndefined();
    expect(await cloudEvent('forged.node')).toBeUndefined();
  });

  it('turns a stopped edge Unknown within the grace period', async () => {
    expect(await edges['edge-2']!.stop('SIGTERM', 20_000)).toBe(0);
    await waitFor(
      'edge-2 Unknown',
      async () => {
        const { stdout } = await kubectl(
          'get',
          'node',
          'edge-2',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        );
        return stdout === 'Unknown';
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const { stdout } = await kubectl(
      'get',
      'node',
      'edge-1',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    );
    expect(stdout).toBe('True');
  });
});
