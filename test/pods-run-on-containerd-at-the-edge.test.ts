import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ContainerdTestbed,
  command,
  containerdPrerequisites,
  describeWithSystem,
  startContainerdTestbed,
  startSource,
  type TestProcess,
  waitFor,
} from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

const cloudMain = new URL('../apps/reference-cloud/src/main.ts', import.meta.url);
const edgeMain = new URL('../apps/reference-edge/src/main.ts', import.meta.url);
const env = { KE_LOG_FORMAT: 'json' };
const NODE = 'edge-ctrd-1';

let dir: string;
let testbed: ContainerdTestbed;
let kubeconfig: string;
let edge: TestProcess;
const started: TestProcess[] = [];

/** kubectl inside the test's network namespace, where ke-cloud listens. */
async function kubectl(...args: string[]): Promise<string> {
  const result = await testbed.exec(
    ['kubectl', '--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
    { timeoutMs: 30_000 },
  );
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

// ke-cloud and ke-edge run inside the containerd test bed's network namespace: the pods' bridge
// network (198.18.0.0/15) exists only there, and the edge's HTTP probes must reach pod IPs.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-e2e-ctrd-'));
  testbed = await startContainerdTestbed();
  const ports = { websocket: '20000', https: '20002' };
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
      ports.websocket,
      '--modules.cloudHub.https.address',
      '127.0.0.1',
      '--modules.cloudHub.https.port',
      ports.https,
    ],
    { env, netns: testbed.netns },
  );
  started.push(cloud);
  kubeconfig = JSON.parse(await cloud.waitForLine(/embedded API server ready/, 60_000)).kubeconfig;
  await cloud.waitForLine(/ke-cloud running/, 60_000);
  const token = startSource(cloudMain, ['token', 'create', '--data-dir', join(dir, 'cloud')]);
  expect(await token.exited()).toBe(0);
  edge = startSource(
    edgeMain,
    [
      '--data-dir',
      join(dir, 'edge'),
      '--node-name',
      NODE,
      '--token',
      token.lines.join('').trim(),
      '--cri-endpoint',
      testbed.criEndpoint,
      '--modules.edgeHub.websocket.server',
      `127.0.0.1:${ports.websocket}`,
      '--modules.edgeHub.httpServer',
      `https://127.0.0.1:${ports.https}`,
      '--modules.eventBus.mqttServerInternal',
      'tcp://127.0.0.1:0',
      '--modules.metaManager.metaServer.server',
      '127.0.0.1:0',
      '--modules.edged.nodeStatusUpdateFrequency',
      '2',
    ],
    { env, netns: testbed.netns },
  );
  started.push(edge);
  await edge.waitForLine(/"msg":"edged running"/, 60_000);
  await edge.waitForLine(/"msg":"connected to the cloud"/, 60_000);
}, 240_000);

afterAll(async () => {
  for (const proc of started.reverse()) await proc.stop('SIGTERM', 20_000).catch(() => undefined);
  await testbed?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

describeWithSystem(
  'a pod created in the cloud runs on containerd at the edge',
  [...containerdPrerequisites(), command('kubectl')],
  () => {
    it('reports the node Ready with containerd as its runtime', async () => {
      const runtime = await waitFor(
        'the node with its runtime version',
        async () => {
          const out = await kubectl(
            'get',
            'node',
            NODE,
            '-o',
            'jsonpath={.status.nodeInfo.containerRuntimeVersion} {.status.conditions[?(@.type=="Ready")].status}',
          ).catch(() => '');
          return out.endsWith(' True') ? out : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(runtime).toMatch(/^containerd:\/\/\S+ True$/);
    });

    it('kubectl create → Running and Ready in the cloud with the edge pod IP; HTTP answers', async () => {
      const manifest = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          nodeName: NODE,
          terminationGracePeriodSeconds: 3,
          containers: [
            {
              name: 'httpd',
              image: testbed.images.busybox,
              command: [
                'sh',
                '-c',
                'echo served-from-the-edge > /tmp/index.html; exec httpd -f -p 8080 -h /tmp',
              ],
              ports: [{ containerPort: 8080, name: 'http' }],
              readinessProbe: { httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 1 },
            },
          ],
        },
      };
      const file = join(dir, 'web.json');
      await writeFile(file, JSON.stringify(manifest));
      await kubectl('create', '-f', file);
      const wide = await waitFor(
        'the pod Running and 1/1 Ready',
        async () => {
          const out = await kubectl('get', 'pod', 'web', '-o', 'wide', '--no-headers');
          return /\s1\/1\s+Running\s/.test(out) ? out : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      const podIP = JSON.parse(await kubectl('get', 'pod', 'web', '-o', 'json')).status
        .podIP as string;
      const subnet = testbed.podSubnet.split('.').slice(0, 3).join('.');
      expect(podIP.startsWith(`${subnet}.`)).toBe(true);
      expect(wide).toContain(podIP);
      expect(wide).toContain(NODE);
      const page = await testbed.exec([
        'busybox',
        'wget',
        '-qO-',
        `http://${podIP}:8080/index.html`,
      ]);
      expect(page.stdout).toBe('served-from-the-edge\n');
    }, 150_000);

    it('kubectl delete → the edge stops the container and removes the sandbox', async () => {
      await kubectl('delete', 'pod', 'web', '--wait=false');
      await edge.waitForLine(/"msg":"pod stopped and removed"/, 30_000);
      const left = await testbed.ctr(['-n', 'k8s.io', 'containers', 'list', '-q']);
      expect(left.stdout.trim()).toBe('');
    }, 60_000);
  },
);
