import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { command, describeWithSystem } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, createMemoryStore, ServiceIPRangeError } from '../../src/index';
import { createNamespace, type Json, request, startServer, type TestServer } from '../http/helpers';

const run = promisify(execFile);

const service = (name: string, spec: object = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
});

const ipOf = (ip: string) => ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);

describe('Service cluster IPs', () => {
  let api: TestServer;
  let ns: string;
  const path = () => `/api/v1/namespaces/${ns}/services`;
  const create = (body: object) => request(api.url, 'POST', path(), { body });

  beforeAll(async () => {
    api = await startServer();
    ns = await createNamespace(api.url);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('allocates a free IP of 10.96.0.0/12 with the defaults Kubernetes fills in', async () => {
    const created = await create(service('web', { ports: [{ name: 'http', port: 80 }] }));
    expect(created.status).toBe(201);
    const spec = created.body.spec;
    const ip = ipOf(spec.clusterIP);
    expect(ip).toBeGreaterThanOrEqual(ipOf('10.96.0.2'));
    expect(ip).toBeLessThan(ipOf('10.112.0.0') - 1);
    expect(spec).toMatchObject({
      type: 'ClusterIP',
      sessionAffinity: 'None',
      clusterIPs: [spec.clusterIP],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80 }],
    });
    const stored = await request(api.url, 'GET', `${path()}/web`);
    expect(stored.body.spec.clusterIP).toBe(spec.clusterIP);
  });

  it('keeps headless and ExternalName Services without an IP', async () => {
    const headless = await create(service('headless', { clusterIP: 'None' }));
    expect(headless.status).toBe(201);
    expect(headless.body.spec).toMatchObject({ clusterIP: 'None', clusterIPs: ['None'] });
    const external = await create({
      metadata: { name: 'external' },
      spec: { type: 'ExternalName', externalName: 'example.com' },
    });
    expect(external.status).toBe(201);
    expect(external.body.spec.clusterIP).toBeUndefined();
    expect(external.body.spec.clusterIPs).toBeUndefined();
  });

  it('gives a requested IP inside the range, once', async () => {
    const first = await create(service('pinned', { clusterIP: '10.96.0.10' }));
    expect(first.status).toBe(201);
    expect(first.body.spec.clusterIPs).toEqual(['10.96.0.10']);

    const taken = await create(service('pinned-again', { clusterIP: '10.96.0.10' }));
    expect(taken.status).toBe(422);
    expect(taken.body.reason).toBe('Invalid');
    expect(taken.body.message).toBe(
      'Service "pinned-again" is invalid: spec.clusterIP: Invalid value: "10.96.0.10": provided IP is already allocated',
    );

    const outside = await create(service('outside', { clusterIP: '192.168.1.1' }));
    expect(outside.status).toBe(422);
    expect(outside.body.message).toBe(
      'Service "outside" is invalid: spec.clusterIP: Invalid value: "192.168.1.1": provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12',
    );
    expect(outside.body.details.causes[0].field).toBe('spec.clusterIP');
  });

  it('refuses IPv6 and dual-stack requests', async () => {
    const v6 = await create(service('v6', { ipFamilies: ['IPv6'] }));
    expect(v6.status).toBe(422);
    expect(v6.body.message).toContain('spec.ipFamilies[0]: Unsupported value: "IPv6"');
    const dual = await create(service('dual', { ipFamilyPolicy: 'RequireDualStack' }));
    expect(dual.status).toBe(422);
  });

  it('never hands the same IP to concurrent creates', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    const results = await Promise.all(names.map((name) => create(service(name))));
    expect(results.map((r) => r.status)).toEqual(names.map(() => 201));
    const ips = results.map((r) => r.body.spec.clusterIP);
    expect(new Set(ips).size).toBe(ips.length);
  });

  it('keeps the IP on updates that leave it out and refuses a changed one', async () => {
    const current = (await request(api.url, 'GET', `${path()}/web`)).body;
    const ip = current.spec.clusterIP;
    // A replace without the allocated fields, as `kubectl replace -f` of the original manifest.
    const replaced = await request(api.url, 'PUT', `${path()}/web`, {
      body: service('web', { ports: [{ name: 'http', port: 8080 }] }),
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.spec).toMatchObject({
      clusterIP: ip,
      clusterIPs: [ip],
      ports: [{ port: 8080, targetPort: 8080, protocol: 'TCP' }],
    });

    const changed = await request(api.url, 'PATCH', `${path()}/web`, {
      body: { spec: { clusterIP: '10.96.0.99', clusterIPs: ['10.96.0.99'] } },
      contentType: 'application/merge-patch+json',
    });
    expect(changed.status).toBe(422);
    expect(changed.body.message).toBe(
      'Service "web" is invalid: spec.clusterIP: Invalid value: "10.96.0.99": field is immutable',
    );
  });

  it('releases the IP when a Service becomes ExternalName and allocates when it stops being one', async () => {
    const created = (await create(service('switch', { clusterIP: '10.96.0.20' }))).body;
    expect(created.spec.clusterIP).toBe('10.96.0.20');
    const external = await request(api.url, 'PATCH', `${path()}/switch`, {
      body: { spec: { type: 'ExternalName', externalName: 'example.com' } },
      contentType: 'application/merge-patch+json',
    });
    expect(external.status).toBe(200);
    expect(external.body.spec.clusterIP).toBeUndefined();
    // The released IP is free for another Service.
    expect((await create(service('reuse', { clusterIP: '10.96.0.20' }))).status).toBe(201);

    const back = await request(api.url, 'PATCH', `${path()}/switch`, {
      body: { spec: { type: 'ClusterIP', externalName: null } },
      contentType: 'application/merge-patch+json',
    });
    expect(back.status).toBe(200);
    expect(back.body.spec.clusterIP).toMatch(/^10\.(9[6-9]|10\d|11[01])\./);
    expect(back.body.spec.clusterIP).not.toBe('10.96.0.20');
  });
});

describe('a small service range', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await startServer({ serviceClusterIPRange: '10.0.0.0/29' });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('skips the network address and .1 and says when the range is full', async () => {
    const path = '/api/v1/namespaces/default/services';
    const ips: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await request(api.url, 'POST', path, { body: service(`s${i}`) });
      expect(created.status).toBe(201);
      ips.push(created.body.spec.clusterIP);
    }
    expect(ips.sort()).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    const full = await request(api.url, 'POST', path, { body: service('one-too-many') });
    expect(full.status).toBe(500);
    expect(full.body.reason).toBe('InternalError');
    expect(full.body.message).toBe(
      'Internal error occurred: failed to allocate a serviceIP: range is full',
    );
    // .1 can still be asked for by name, as the kubernetes Service does.
    const kubernetes = await request(api.url, 'POST', path, {
      body: service('kubernetes', { clusterIP: '10.0.0.1' }),
    });
    expect(kubernetes.status).toBe(201);
    // Deleting one frees its address.
    await request(api.url, 'DELETE', `${path}/s0`);
    const again = await request(api.url, 'POST', path, { body: service('again') });
    expect(again.status).toBe(201);
  });

  it('refuses a range that is not an IPv4 CIDR', () => {
    for (const range of ['10.0.0.0', 'fd00::/108', '10.0.0.0/30', 'x/12']) {
      expect(() =>
        createApiServer({ store: createMemoryStore(), serviceClusterIPRange: range }),
      ).toThrow(ServiceIPRangeError);
    }
  });

  it('stores cluster IPs as sent when allocation is off', async () => {
    const mirror = await startServer({ serviceClusterIPRange: null });
    try {
      const created = await request(mirror.url, 'POST', '/api/v1/namespaces/default/services', {
        body: service('mirrored', { clusterIP: '198.18.0.10' }),
      });
      expect(created.status).toBe(201);
      expect(created.body.spec.clusterIP).toBe('198.18.0.10');
      const bare = await request(mirror.url, 'POST', '/api/v1/namespaces/default/services', {
        body: service('bare'),
      });
      expect(bare.body.spec.clusterIP).toBeUndefined();
      expect(bare.body.spec.type).toBe('ClusterIP');
    } finally {
      await mirror.stop();
    }
  });
});

describeWithSystem('kubectl and Service cluster IPs', [command('kubectl')], () => {
  let api: TestServer;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    api = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'ke-apiserver-svc-'));
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: api.url } }],
        users: [{ name: 'anonymous', user: {} }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'anonymous' } }],
        'current-context': 'test',
      }),
    );
  });
  afterAll(async () => {
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const kubectl = (...args: string[]) =>
    run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], {
      env: { ...process.env, HOME: dir },
      timeout: 30_000,
    });

  it('shows the allocated CLUSTER-IP of `kubectl create service clusterip`', async () => {
    // kubectl's generator sends the Service as protobuf.
    const created = await kubectl('create', 'service', 'clusterip', 'web', '--tcp=80:8080');
    expect(created.stdout).toContain('service/web created');
    const { stdout } = await kubectl('get', 'svc', 'web');
    const [header, row] = stdout.trim().split('\n');
    expect(header).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+/);
    expect(row).toMatch(/^web\s+ClusterIP\s+10\.(9[6-9]|10\d|11[01])\.\d+\.\d+\s+/);
    const svc: Json = JSON.parse((await kubectl('get', 'svc', 'web', '-o', 'json')).stdout);
    expect(svc.spec.ports).toEqual([
      { name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080 },
    ]);
    expect(svc.spec.selector).toEqual({ app: 'web' });
  });

  it('lists EndpointSlices with kubectl’s columns', async () => {
    const file = join(dir, 'slice.json');
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((ip) => ({
          addresses: [ip],
        })),
      }),
    );
    await kubectl('apply', '-f', file);
    const { stdout } = await kubectl('get', 'endpointslices');
    const [header, row] = stdout.trim().split('\n');
    expect(header).toMatch(/^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$/);
    expect(row).toMatch(
      /^web-abc\s+IPv4\s+8080\s+10\.0\.0\.1,10\.0\.0\.2,10\.0\.0\.3 \+ 1 more\.\.\.\s+\d+s$/,
    );
  });
});
