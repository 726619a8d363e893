import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  command,
  createNatTestbed,
  describeWithSystem,
  type NatRole,
  type NatTestbed,
  networkNamespaces,
  rootUser,
  startSource,
  type TestProcess,
  waitFor,
} from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Edge, TestCluster } from './helpers/cluster';

const run = promisify(execFile);

// The NAT test bed of shared/testbed/README.md: ke-cloud (with the tunnel server) on `pub`
// 198.18.0.1; edge-1 on h1 (198.19.1.2) behind nat1, edge-2 on h2 (198.19.2.2) behind nat2.
// Neither edge can route to the other: a Service whose endpoint is on h2 is reachable from h1
// only through the tunnel.
const CLOUD = '198.18.0.1';
const TUNNEL_PORT = 10004;
const SERVICE_RANGE = '198.18.128.0/20';
const FAR_IP = '198.18.128.20';
const BACKEND = '198.19.2.2';

let testbed: NatTestbed;
let cluster: TestCluster;
const edges: Record<string, Edge> = {};
let backend: TestProcess;

async function inNetns(role: NatRole, argv: string[]): Promise<string> {
  const { stdout } = await run('nsenter', [`--net=/run/netns/${testbed.names[role]}`, ...argv], {
    timeout: 20_000,
  });
  return stdout;
}

const curl = (role: NatRole, url: string) =>
  inNetns(role, ['curl', '-s', '--max-time', '8', url]).catch((error: Error) => `error: ${error}`);

/** The tunnel server's gauges from ke-cloud's /metrics. */
async function tunnelMetrics(): Promise<Record<string, number>> {
  const line = await cluster.cloud!.process.waitForLine(/monitor server listening/);
  const text = await inNetns('pub', ['curl', '-s', '--max-time', '5', JSON.parse(line).metrics]);
  const values: Record<string, number> = {};
  for (const [, name, value] of text.matchAll(/^(ke_tunnel_\w+) (\S+)$/gm)) {
    values[name!] = Number(value);
  }
  return values;
}

const meshArgs = [
  '--modules.edgeMesh.enable',
  'true',
  '--modules.edgeMesh.tunnel.enable',
  'true',
  '--modules.edgeMesh.tunnel.servers',
  `${CLOUD}:${TUNNEL_PORT}`,
];

describeWithSystem(
  'a Service whose endpoint is on another NATed node is reachable by ClusterIP through the tunnel',
  [rootUser(), networkNamespaces(), command('iptables'), command('kubectl'), command('curl')],
  () => {
    beforeAll(async () => {
      testbed = createNatTestbed({ prefix: 'ke-e2e-tun' });
      backend = startSource(
        new URL('./helpers/http-backends.ts', import.meta.url),
        [`${BACKEND}:8080:served-by-edge-2`],
        { netns: testbed.names.h2 },
      );
      await backend.waitForLine(/^ready$/, 30_000);
      cluster = await TestCluster.create('ke-e2e-tun', {
        netns: testbed.names.pub,
        cloudAddress: CLOUD,
      });
      await cluster.startCloud({
        args: [
          '--embeddedAPIServer.serviceClusterIPRange',
          SERVICE_RANGE,
          '--modules.cloudHub.advertiseAddress',
          CLOUD,
          '--modules.tunnelServer.enable',
          'true',
          '--modules.tunnelServer.port',
          String(TUNNEL_PORT),
        ],
      });
      await cluster.cloud!.process.waitForLine(/tunnel server ready/, 30_000);
      for (const [node, role] of [
        ['edge-1', 'h1'],
        ['edge-2', 'h2'],
      ] as const) {
        edges[node] = await cluster.startEdge(node, {
          token: await cluster.token(),
          args: meshArgs,
          netns: testbed.names[role],
        });
        await edges[node]!.process.waitForLine(/tunnel agent registered/, 60_000);
      }

      await cluster.apply({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'far', namespace: 'default' },
        spec: {
          clusterIP: FAR_IP,
          ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
        },
      });
      await cluster.apply({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: 'far-manual',
          namespace: 'default',
          labels: { 'kubernetes.io/service-name': 'far' },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: [{ addresses: [BACKEND], conditions: { ready: true }, nodeName: 'edge-2' }],
      });
      for (const edge of Object.values(edges)) {
        await waitFor(
          `the slice at ${edge.node}`,
          async () =>
            (await cluster.atEdge(edge, 'get', 'endpointslices', '-o', 'name')).stdout.includes(
              'far-manual',
            ),
          { timeoutMs: 30_000, intervalMs: 200 },
        );
      }
    }, 300_000);

    afterAll(async () => {
      await cluster?.stopAll();
      await backend?.stop().catch(() => backend.stop('SIGKILL'));
      testbed?.delete();
    }, 90_000);

    it('cannot reach the endpoint on h2 from h1 without the tunnel', async () => {
      // The routers have no route between the two private networks.
      expect(await curl('h1', `http://${BACKEND}:8080/`)).toMatch(/^error/);
    });

    it('reaches it by ClusterIP from edge-1, over and over', async () => {
      await waitFor(
        'the first answer through the tunnel',
        async () => (await curl('h1', `http://${FAR_IP}/`)) === 'served-by-edge-2',
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      for (let i = 0; i < 20; i++) {
        expect(await curl('h1', `http://${FAR_IP}/`)).toBe('served-by-edge-2');
      }
    });

    it('takes the peer-to-peer path: the tunnel server relayed no byte', async () => {
      const relay = await tunnelMetrics();
      expect(relay.ke_tunnel_agents_registered).toBe(2);
      expect(relay.ke_tunnel_punches_coordinated).toBeGreaterThanOrEqual(1);
      expect(relay.ke_tunnel_relay_bytes).toBe(0);
    });

    it('reaches it by name through the mesh DNS of edge-1', async () => {
      const answer = await inNetns('h1', [
        'dig',
        '@127.0.0.1',
        '+short',
        'far.default.svc.cluster.local',
      ]);
      expect(answer.trim()).toBe(FAR_IP);
    });

    it('falls back to the relay behind symmetric NATs, and every request still succeeds', async () => {
      testbed.makeSymmetric();
      // New UDP sockets get the new NAT behaviour: restart both edges (their certificates stay).
      for (const [node, role] of [
        ['edge-1', 'h1'],
        ['edge-2', 'h2'],
      ] as const) {
        expect(await edges[node]!.process.stop('SIGTERM', 20_000)).toBe(0);
        edges[node] = await cluster.startEdge(node, { args: meshArgs, netns: testbed.names[role] });
        await edges[node]!.process.waitForLine(/tunnel agent registered/, 60_000);
      }
      const before = (await tunnelMetrics()).ke_tunnel_relay_bytes ?? 0;
      await waitFor(
        'an answer through the relay',
        async () => (await curl('h1', `http://${FAR_IP}/`)) === 'served-by-edge-2',
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      for (let i = 0; i < 20; i++) {
        expect(await curl('h1', `http://${FAR_IP}/`)).toBe('served-by-edge-2');
      }
      expect((await tunnelMetrics()).ke_tunnel_relay_bytes).toBeGreaterThan(before);
    }, 120_000);
  },
);
