import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  command,
  createTestNamespace,
  describeWithSystem,
  networkNamespaces,
  rootUser,
  startSource,
  type TestNamespace,
  type TestProcess,
  waitFor,
} from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Edge, TestCluster } from './helpers/cluster';

const run = promisify(execFile);

// Everything — ke-cloud, ke-edge, the backends and the clients — runs in one network namespace
// this test makes and deletes: backends on 198.18.1.x, ClusterIPs in 198.18.128.0/20 (routed
// over its loopback). ke-edge's mesh installs its nat rules there, never on the host.
const BACKENDS = { a: '198.18.1.1', b: '198.18.1.2' };
const SERVICE_RANGE = '198.18.128.0/20';
const WEB_IP = '198.18.128.10';
const API_IP = '198.18.128.11';
const NODE = 'edge-1';

let netns: TestNamespace;
let cluster: TestCluster;
let edge: Edge;
let backends: TestProcess;
let rulesBefore: string;

/** A command in the test's namespace (kubectl, dig and curl run there like a pod would). */
async function inNetns(argv: string[]): Promise<string> {
  const { stdout } = await run('nsenter', [`--net=/run/netns/${netns.name}`, ...argv], {
    timeout: 20_000,
  });
  return stdout;
}

const dig = async (name: string, type = 'A', ...extra: string[]) =>
  (await inNetns(['dig', '@127.0.0.1', '+short', '+tries=1', '+time=2', ...extra, name, type]))
    .trim()
    .split('\n')
    .filter(Boolean)
    .sort();

/** One HTTP request per call, on a new connection; the backend's name or `error`. */
const get = (url: string) => inNetns(['curl', '-s', '--max-time', '3', url]).catch(() => 'error');

async function spread(url: string, count: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const answer = await get(url);
    seen[answer] = (seen[answer] ?? 0) + 1;
  }
  return seen;
}

const slice = (service: string, ips: string[], extra: Record<string, unknown> = {}) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name: `${service}-manual`,
    namespace: 'default',
    labels: { 'kubernetes.io/service-name': service },
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((ip, i) => ({
    addresses: [ip],
    conditions: { ready: true },
    nodeName: NODE,
    ...extra,
    ...('hostname' in extra ? { hostname: `${service}-${i}` } : {}),
  })),
});

const service = (name: string, clusterIP: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default', annotations },
  spec: { clusterIP, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
});

describeWithSystem(
  'a Service applied with kubectl in the cloud resolves and connects at the edge through EdgeMesh',
  [
    rootUser(),
    networkNamespaces(),
    command('iptables'),
    command('kubectl'),
    command('dig'),
    command('curl'),
  ],
  () => {
    beforeAll(async () => {
      netns = createTestNamespace({
        prefix: 'ke-e2e-mesh',
        addresses: Object.values(BACKENDS),
        routes: [SERVICE_RANGE],
      });
      // A rule of someone else's in the nat table: the mesh must leave it alone, in place.
      netns.exec(['iptables', '-t', 'nat', '-A', 'OUTPUT', '-d', '198.18.9.9/32', '-j', 'RETURN']);
      rulesBefore = netns.iptablesSave();
      backends = startSource(
        new URL('./helpers/http-backends.ts', import.meta.url),
        Object.entries(BACKENDS).map(([name, ip]) => `${ip}:8080:${name}`),
        { netns: netns.name },
      );
      await backends.waitForLine(/^ready$/, 30_000);
      cluster = await TestCluster.create('ke-e2e-mesh', { netns: netns.name });
      await cluster.startCloud({
        args: ['--embeddedAPIServer.serviceClusterIPRange', SERVICE_RANGE],
      });
      edge = await cluster.startEdge(NODE, {
        token: await cluster.token(),
        args: [
          '--modules.edgeMesh.enable',
          'true',
          '--modules.edgeMesh.dns.upstream',
          '127.0.0.1:1',
        ],
      });
      await edge.process.waitForLine(/EdgeMesh ready/, 60_000);

      // `web` through the userspace proxy (round robin, exact spread), `api` on the kernel path
      // (auto mode: its endpoints are on this node), `db` headless.
      await cluster.apply(service('web', WEB_IP, { 'mesh.kubeedge.io/proxy-mode': 'userspace' }));
      await cluster.apply(slice('web', Object.values(BACKENDS)));
      await cluster.apply(service('api', API_IP));
      await cluster.apply(slice('api', Object.values(BACKENDS)));
      await cluster.apply(service('db', 'None'));
      await cluster.apply(slice('db', Object.values(BACKENDS), { hostname: true }));
      await waitFor(
        'the endpoint slices at the edge',
        async () =>
          (await cluster.atEdge(edge, 'get', 'endpointslices', '-o', 'name')).stdout.split('\n')
            .length > 3,
        { timeoutMs: 30_000 },
      );
    }, 240_000);

    afterAll(async () => {
      await cluster?.stopAll();
      await backends?.stop().catch(() => backends.stop('SIGKILL'));
      netns?.delete();
    }, 60_000);

    it('answers the ClusterIP for web.default.svc.cluster.local, over UDP and TCP', async () => {
      await waitFor(
        'the A record of web',
        async () => (await dig('web.default.svc.cluster.local'))[0] === WEB_IP,
      );
      expect(await dig('web.default.svc.cluster.local', 'A', '+tcp')).toEqual([WEB_IP]);
      expect(await dig('_http._tcp.web.default.svc.cluster.local', 'SRV')).toEqual([
        '0 100 80 web.default.svc.cluster.local.',
      ]);
      expect(await dig('db.default.svc.cluster.local')).toEqual(Object.values(BACKENDS).sort());
      expect(await dig('db-1.db.default.svc.cluster.local')).toEqual([BACKENDS.b]);
      const nothing = await inNetns([
        'dig',
        '@127.0.0.1',
        '+tries=1',
        'nothing.default.svc.cluster.local',
      ]);
      expect(nothing).toMatch(/status: NXDOMAIN/);
    });

    it('sends connections to web:80 to its backends, round robin', async () => {
      await waitFor(
        'the proxy to serve web',
        async () => (await get(`http://${WEB_IP}/`)) !== 'error',
        { timeoutMs: 10_000 },
      );
      expect(await spread(`http://${WEB_IP}/`, 10)).toEqual({ a: 5, b: 5 });
      // By name, as an application would: curl resolves through the mesh DNS.
      const byName = await inNetns([
        'curl',
        '-s',
        '--max-time',
        '3',
        '--dns-servers',
        '127.0.0.1',
        'http://web.default.svc.cluster.local/',
      ]).catch(() => undefined);
      // curl built without c-ares cannot pick a DNS server; then resolve with dig and connect.
      if (byName !== undefined) expect(['a', 'b']).toContain(byName);
    });

    it('sends connections to api:80 straight to the backends by DNAT (kernel path)', async () => {
      const seen = await spread(`http://${API_IP}/`, 30);
      expect(Object.keys(seen).sort()).toEqual(['a', 'b']);
      const rules = netns.iptablesSave();
      expect(rules).toMatch(new RegExp(`-d ${API_IP}/32 .*-j KE-MESH`));
      expect(rules).toMatch(/-j DNAT --to-destination 198\.18\.1\.1:8080/);
    });

    it('moves new connections away from an endpoint removed in the cloud', async () => {
      const started = Date.now();
      await cluster.apply(slice('web', [BACKENDS.a]));
      await waitFor(
        'web to send everything to a',
        async () => (await spread(`http://${WEB_IP}/`, 4)).a === 4,
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      console.log(`endpoint removal applied at the edge after ${Date.now() - started} ms`);
      expect(await spread(`http://${WEB_IP}/`, 6)).toEqual({ a: 6 });
    });

    it('answers a selector Service with the IPs of its pods, from the cloud’s EndpointSlices', async () => {
      // A pod on the edge's simulated runtime (its IP is never dialled) and a headless Service
      // selecting it: ke-cloud's EndpointSlice controller turns the pod IP the edge reported into
      // a slice, which comes back to the edge and into its DNS.
      await cluster.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'hello-0', namespace: 'default', labels: { app: 'hello' } },
        spec: {
          nodeName: NODE,
          hostname: 'hello-0',
          subdomain: 'hello', // with the hostname: the DNS name hello-0.hello.default.svc...
          containers: [
            { name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] },
          ],
        },
      });
      await cluster.apply({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'hello', namespace: 'default' },
        spec: {
          clusterIP: 'None',
          selector: { app: 'hello' },
          ports: [{ name: 'http', port: 80, targetPort: 'http' }],
        },
      });
      const podIP = await waitFor(
        'the pod IP in the cloud',
        async () =>
          JSON.parse((await cluster.kubectl('get', 'pod', 'hello-0', '-o', 'json')).stdout).status
            ?.podIP as string | undefined,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      await waitFor(
        'the pod IP in the mesh DNS',
        async () => (await dig('hello.default.svc.cluster.local')).includes(podIP),
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(await dig('hello-0.hello.default.svc.cluster.local')).toEqual([podIP]);
      expect(await dig('_http._tcp.hello.default.svc.cluster.local', 'SRV')).toEqual([
        '0 100 8080 hello-0.hello.default.svc.cluster.local.',
      ]);
    });

    it('keeps answering and proxying while the cloud is away', async () => {
      await cluster.cloud!.process.stop('SIGTERM', 20_000);
      expect(await dig('web.default.svc.cluster.local')).toEqual([WEB_IP]);
      expect(await get(`http://${WEB_IP}/`)).toBe('a');
    });

    it('leaves the nat table as it found it when ke-edge stops', async () => {
      expect(netns.iptablesSave()).not.toEqual(rulesBefore);
      expect(await edge.process.stop('SIGTERM', 20_000)).toBe(0);
      expect(netns.iptablesSave()).toEqual(rulesBefore);
    });
  },
);
