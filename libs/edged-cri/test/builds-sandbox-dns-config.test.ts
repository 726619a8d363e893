import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResolvConf, sandboxDnsConfig } from '../src/pod/dns';

let dir: string;
let hostResolvConf: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edged-dns-'));
  hostResolvConf = join(dir, 'resolv.conf');
  await writeFile(
    hostResolvConf,
    [
      '# written by the host',
      'nameserver 192.168.1.1',
      '; another comment',
      'nameserver 192.168.1.2',
      'search old.example',
      'search corp.example. lab.example .',
      'options timeout:2 attempts:3',
      'options timeout:1',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pod(spec: Partial<V1PodSpec> = {}): V1Pod {
  return { metadata: { name: 'web', namespace: 'shop' }, spec: { containers: [], ...spec } };
}

const cluster = () => ({
  clusterDns: ['169.254.96.16'],
  clusterDomain: 'cluster.local',
  hostResolvConf,
});

describe('sandboxDnsConfig', () => {
  it('parses resolv.conf: nameservers, the last search line, options merged by name', () => {
    expect(
      parseResolvConf('nameserver 1.1.1.1\nsearch a b.\noptions ndots:2 rotate\noptions ndots:3\n'),
    ).toEqual({ servers: ['1.1.1.1'], searches: ['a', 'b'], options: ['ndots:3', 'rotate'] });
  });

  it('gives ClusterFirst pods the cluster DNS, cluster searches then host searches, ndots:5', () => {
    const expected = {
      servers: ['169.254.96.16'],
      searches: [
        'shop.svc.cluster.local',
        'svc.cluster.local',
        'cluster.local',
        'corp.example',
        'lab.example',
      ],
      options: ['ndots:5'],
    };
    expect(sandboxDnsConfig(pod(), cluster())).toEqual(expected);
    expect(sandboxDnsConfig(pod({ dnsPolicy: 'ClusterFirst' }), cluster())).toEqual(expected);
    expect(
      sandboxDnsConfig(pod({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true }), cluster()),
    ).toEqual(expected);
  });

  it('gives Default pods, and ClusterFirst pods on the host network, the host resolv.conf', () => {
    const host = {
      servers: ['192.168.1.1', '192.168.1.2'],
      searches: ['corp.example', 'lab.example'],
      options: ['timeout:1', 'attempts:3'],
    };
    expect(sandboxDnsConfig(pod({ dnsPolicy: 'Default' }), cluster())).toEqual(host);
    expect(sandboxDnsConfig(pod({ hostNetwork: true }), cluster())).toEqual(host);
  });

  it('falls back to Default when no cluster DNS is configured, with a warning', () => {
    const warnings: string[] = [];
    const config = sandboxDnsConfig(pod(), {
      ...cluster(),
      clusterDns: [],
      onWarning: (message) => warnings.push(message),
    });
    expect(config.servers).toEqual(['192.168.1.1', '192.168.1.2']);
    expect(warnings.join()).toMatch(/Falling back to "Default"/);
  });

  it('uses only spec.dnsConfig for None, and merges it into the others', () => {
    const dnsConfig = {
      nameservers: ['8.8.8.8'],
      searches: ['custom.example', 'cluster.local'],
      options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
    };
    expect(sandboxDnsConfig(pod({ dnsPolicy: 'None', dnsConfig }), cluster())).toEqual({
      servers: ['8.8.8.8'],
      searches: ['custom.example', 'cluster.local'],
      options: ['ndots:2', 'edns0'],
    });
    expect(sandboxDnsConfig(pod({ dnsConfig }), cluster())).toEqual({
      servers: ['169.254.96.16', '8.8.8.8'],
      searches: [
        'shop.svc.cluster.local',
        'svc.cluster.local',
        'cluster.local',
        'corp.example',
        'lab.example',
        'custom.example',
      ],
      options: ['ndots:2', 'edns0'],
    });
  });

  it('cuts nameservers to 3 and search domains to 32 entries and 2048 characters', () => {
    const warnings: string[] = [];
    const many = sandboxDnsConfig(
      pod({
        dnsPolicy: 'None',
        dnsConfig: {
          nameservers: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'],
          searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`),
        },
      }),
      { ...cluster(), onWarning: (message) => warnings.push(message) },
    );
    expect(many.servers).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(many.searches).toHaveLength(32);
    expect(many.searches.at(-1)).toBe('d31.example');
    expect(warnings).toHaveLength(2);

    const long = (i: number) => `${String(i).padStart(2, '0')}${'a'.repeat(97)}.example`; // 107 chars
    const chars = sandboxDnsConfig(
      pod({
        dnsPolicy: 'None',
        dnsConfig: {
          searches: [...Array.from({ length: 25 }, (_, i) => long(i)), `${'x'.repeat(254)}`],
        },
      }),
      cluster(),
    );
    // 19 domains of 107 characters and 18 spaces make 2051 characters; 18 make 1943.
    expect(chars.searches).toHaveLength(18);
    expect(chars.searches.join(' ').length).toBeLessThanOrEqual(2048);
    expect(chars.searches.some((s) => s.startsWith('x'))).toBe(false);
  });

  it('uses localhost when the node has no resolv.conf, and fails on an unreadable one', () => {
    expect(
      sandboxDnsConfig(pod({ dnsPolicy: 'Default' }), { ...cluster(), hostResolvConf: '' }),
    ).toEqual({ servers: ['127.0.0.1'], searches: ['.'], options: [] });
    expect(() =>
      sandboxDnsConfig(pod({ dnsPolicy: 'Default' }), {
        ...cluster(),
        hostResolvConf: join(dir, 'missing.conf'),
      }),
    ).toThrow(expect.objectContaining({ code: 'KE_EDGED_DNS_FAILED' }));
  });
});
