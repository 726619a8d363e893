import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ContainerdTestbed,
  containerdPrerequisites,
  describeWithSystem,
  startContainerdTestbed,
  waitFor,
} from '@ke/testing';
import type { V1ConfigMap, V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CriClient, createCriClient, createEdged, type Edged } from '../src/index';

const NODE = 'edge-ctrd';
let dir: string;
let testbed: ContainerdTestbed;
let cri: CriClient;
const edgeds: Edged[] = [];
const configMaps = new Map<string, V1ConfigMap>([
  [
    'default/site',
    {
      metadata: { name: 'site', namespace: 'default' },
      data: { greeting: 'hello from a configmap\n', 'index.html': '<h1>edge</h1>\n' },
    },
  ],
]);

function startEdged(): Edged {
  const edged = createEdged({
    nodeName: NODE,
    runtime: cri,
    rootDir: join(dir, 'edged'),
    lookup: {
      configMap: async (ns, name) => configMaps.get(`${ns}/${name}`),
      secret: async () => undefined,
    },
    relistPeriodMs: 250,
    crashBackoff: { initialMs: 2_000, maxMs: 8_000 },
    imageBackoff: { initialMs: 2_000, maxMs: 8_000 },
    nodeIP: '127.0.0.1',
  });
  edgeds.push(edged);
  return edged;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-edged-ctrd-'));
  testbed = await startContainerdTestbed();
  cri = createCriClient({ endpoint: testbed.criEndpoint, timeoutMs: 60_000 });
}, 180_000);

afterAll(async () => {
  for (const edged of edgeds) await edged.stop();
  cri?.close();
  await testbed?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

const web = (): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', uid: 'uid-web-1' },
  spec: {
    nodeName: NODE,
    terminationGracePeriodSeconds: 5,
    volumes: [{ name: 'site', configMap: { name: 'site' } }],
    containers: [
      {
        name: 'httpd',
        image: testbed.images.busybox,
        command: ['httpd', '-f', '-p', '8080', '-h', '/www'],
        ports: [{ containerPort: 8080 }],
        volumeMounts: [{ name: 'site', mountPath: '/www', readOnly: true }],
        readinessProbe: {
          exec: { command: ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/index.html'] },
          periodSeconds: 1,
        },
      },
    ],
  },
});

async function until(edged: Edged, name: string, what: string, test: (s: V1PodStatus) => boolean) {
  return waitFor(
    what,
    () => {
      const status = edged.podStatus('default', name);
      return status && test(status) ? status : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

describeWithSystem('edged on a real containerd', containerdPrerequisites(), () => {
  let podIP = '';
  let containerId = '';

  it('runs busybox httpd: Running with a pod IP, Ready, answering HTTP with the configmap', async () => {
    const edged = startEdged();
    await edged.start();
    expect(edged.nodeStatus().nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    edged.setPods([web()]);
    const status = await until(
      edged,
      'web',
      'web Ready',
      (s) => s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
    );
    expect(status.phase).toBe('Running');
    podIP = status.podIP ?? '';
    expect(podIP.startsWith(testbed.podSubnet.split('.').slice(0, 3).join('.'))).toBe(true);
    containerId = status.containerStatuses?.[0]?.containerID?.replace('containerd://', '') ?? '';
    const page = await testbed.exec(['busybox', 'wget', '-qO-', `http://${podIP}:8080/greeting`]);
    expect(page.stdout).toBe('hello from a configmap\n');
    expect(status.containerStatuses?.[0]?.imageID).toMatch(/sha256:/);
  }, 120_000);

  it('restarts the container when its process is killed: restartCount 1', async () => {
    const edged = edgeds[0]!;
    const killed = await testbed.ctr([
      '-n',
      'k8s.io',
      'tasks',
      'kill',
      '-s',
      'SIGKILL',
      containerId,
    ]);
    expect(killed.code).toBe(0);
    const status = await until(
      edged,
      'web',
      'restarted',
      (s) => s.containerStatuses?.[0]?.restartCount === 1 && s.containerStatuses[0].ready === true,
    );
    expect(status.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
    expect(status.podIP).toBe(podIP);
    containerId = status.containerStatuses?.[0]?.containerID?.replace('containerd://', '') ?? '';
  }, 90_000);

  it('adopts the running container after an edged restart instead of restarting it', async () => {
    await edgeds[0]!.stop();
    const edged = startEdged();
    await edged.start();
    edged.setPods([web()]);
    const status = await until(
      edged,
      'web',
      'adopted and Ready',
      (s) => s.containerStatuses?.[0]?.ready === true,
    );
    expect(status.containerStatuses?.[0]?.containerID).toBe(`containerd://${containerId}`);
    expect(status.containerStatuses?.[0]?.restartCount).toBe(1);
    expect(status.podIP).toBe(podIP);
  }, 90_000);

  it('reports ErrImagePull then ImagePullBackOff, and CrashLoopBackOff for a bad command', async () => {
    const edged = edgeds.at(-1)!;
    const seen: string[] = [];
    edged.on('podStatus', ({ pod, status }) => {
      if (pod.metadata?.name === 'noimage') {
        seen.push(status.containerStatuses?.[0]?.state?.waiting?.reason ?? '');
      }
    });
    const base = web();
    edged.upsertPod({
      ...base,
      metadata: { name: 'noimage', namespace: 'default', uid: 'uid-noimage' },
      spec: {
        nodeName: NODE,
        containers: [{ name: 'c', image: `${testbed.registry}/library/absent:1.0` }],
      },
    });
    edged.upsertPod({
      ...base,
      metadata: { name: 'badcmd', namespace: 'default', uid: 'uid-badcmd' },
      spec: {
        nodeName: NODE,
        containers: [{ name: 'c', image: testbed.images.busybox, command: ['/no/such/binary'] }],
      },
    });
    await until(
      edged,
      'noimage',
      'ImagePullBackOff',
      (s) => s.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff',
    );
    expect(seen).toContain('ErrImagePull');
    const crashing = await until(
      edged,
      'badcmd',
      'CrashLoopBackOff',
      (s) => s.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff',
    );
    expect(crashing.containerStatuses?.[0]?.restartCount).toBeGreaterThanOrEqual(1);
    edged.deletePod('default', 'noimage');
    edged.deletePod('default', 'badcmd');
  }, 120_000);

  it('turns the node NotReady while containerd is down, and recovers with the pod still running', async () => {
    const edged = edgeds.at(-1)!;
    const ready = () => edged.nodeStatus().conditions?.find((c) => c.type === 'Ready');
    expect(ready()?.status).toBe('True');
    await testbed.stopContainerd();
    try {
      await waitFor('NotReady', () => ready()?.status === 'False', { timeoutMs: 30_000 });
      expect(ready()?.message).toMatch(/container runtime is down/);
      // The pod keeps serving: its shim outlives containerd.
      const page = await testbed.exec(['busybox', 'wget', '-qO-', `http://${podIP}:8080/greeting`]);
      expect(page.stdout).toBe('hello from a configmap\n');
    } finally {
      await testbed.startContainerd();
    }
    await waitFor('Ready again', () => ready()?.status === 'True', { timeoutMs: 30_000 });
    const status = await until(
      edged,
      'web',
      'still Ready, not restarted',
      (s) => s.containerStatuses?.[0]?.ready === true,
    );
    expect(status.containerStatuses?.[0]?.containerID).toBe(`containerd://${containerId}`);
  }, 120_000);

  it('removes the sandbox of a deleted pod within its grace period', async () => {
    const edged = edgeds.at(-1)!;
    const removed = new Promise((resolve) =>
      edged.on('podRemoved', (pod) => pod.name === 'web' && resolve(pod)),
    );
    const started = Date.now();
    edged.deletePod('default', 'web');
    await removed;
    expect(Date.now() - started).toBeLessThan(5_000 + 3_000);
    const sandboxes = await cri.listPodSandbox({
      labelSelector: { 'io.kubernetes.pod.uid': 'uid-web-1' },
    });
    expect(sandboxes).toEqual([]);
  }, 60_000);
});
