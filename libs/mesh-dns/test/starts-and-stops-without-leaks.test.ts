import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { createDnsServer, createStaticSource, isDnsError, parseResolvConf } from '../src/index';
import { exchangeUdp } from './helpers';

const handles = () => process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap').length;

describe('start and stop', () => {
  it('start and stop 50 times leave no sockets, connections or timers behind', async () => {
    const source = createStaticSource([
      { namespace: 'default', name: 'web', clusterIPs: ['198.18.0.10'] },
    ]);
    const before = handles();
    const query = dnsPacket.encode({
      type: 'query',
      id: 7,
      questions: [{ name: 'web.default.svc.cluster.local', type: 'A' }],
    });
    for (let i = 0; i < 50; i++) {
      const server = createDnsServer({ source, port: 0, upstream: ['127.0.0.1:9'] });
      await server.start();
      if (i % 10 === 0) {
        const reply = await exchangeUdp(server.address!.port, query);
        const answer = dnsPacket.decode(reply!).answers?.[0] as { data?: unknown } | undefined;
        expect(answer?.data).toBe('198.18.0.10');
      }
      source.upsert({ namespace: 'default', name: `svc-${i}`, clusterIPs: ['198.18.0.11'] });
      await server.stop();
      expect(server.address).toBeUndefined();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handles()).toBeLessThanOrEqual(before);
  });

  it('reports a port in use as KE_DNS_LISTEN_FAILED', async () => {
    const source = createStaticSource();
    const first = createDnsServer({ source, port: 0, upstream: [] });
    await first.start();
    try {
      const second = createDnsServer({ source, port: first.address!.port, upstream: [] });
      const error = await second.start().catch((e: unknown) => e);
      expect(isDnsError(error) && error.code).toBe('KE_DNS_LISTEN_FAILED');
    } finally {
      await first.stop();
    }
  });

  it('rejects options that cannot work with KE_DNS_INVALID_OPTIONS', () => {
    const source = createStaticSource();
    const codeOf = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return isDnsError(error) ? error.code : error;
      }
      return undefined;
    };
    expect(codeOf(() => createDnsServer({ source, port: 70_000 }))).toBe('KE_DNS_INVALID_OPTIONS');
    expect(codeOf(() => createDnsServer({ source, clusterDomain: 'bad domain' }))).toBe(
      'KE_DNS_INVALID_OPTIONS',
    );
    expect(codeOf(() => createDnsServer({ source, upstream: ['dns.example.test'] }))).toBe(
      'KE_DNS_INVALID_OPTIONS',
    );
    expect(codeOf(() => createDnsServer({ source, ttl: -1 }))).toBe('KE_DNS_INVALID_OPTIONS');
  });

  it('rejects malformed static records with KE_DNS_INVALID_RECORD', () => {
    const source = createStaticSource();
    expect(() => source.upsert({ namespace: 'default', name: 'Web_1' })).toThrow(
      expect.objectContaining({ code: 'KE_DNS_INVALID_RECORD' }),
    );
    expect(() =>
      source.upsert({ namespace: 'default', name: 'web', clusterIPs: ['10.0.0.300'] }),
    ).toThrow(expect.objectContaining({ code: 'KE_DNS_INVALID_RECORD' }));
    expect([...source.services()]).toEqual([]);
  });
});

describe('resolv.conf', () => {
  it('yields its nameservers in order, IPv6 bracketed, zone index and comments dropped', () => {
    const text = [
      '# generated',
      'search default.svc.cluster.local',
      'nameserver 198.18.0.53',
      'nameserver fe80::1%eth0',
      '  nameserver 198.18.0.54 # second',
      'options ndots:5',
    ].join('\n');
    expect(parseResolvConf(text)).toEqual(['198.18.0.53', '[fe80::1]:53', '198.18.0.54']);
  });

  it('is where the upstream comes from by default', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'mesh-dns-resolv-'));
    try {
      // 127.0.0.1:53 most likely has no resolver here: SERVFAIL after the timeout shows the
      // server forwarded (it would be REFUSED with no upstream at all).
      await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
      const server = createDnsServer({
        source: createStaticSource(),
        port: 0,
        resolvConfPath: join(dir, 'resolv.conf'),
        upstreamTimeoutMs: 200,
      });
      await server.start();
      try {
        const reply = await exchangeUdp(
          server.address!.port,
          dnsPacket.encode({
            type: 'query',
            id: 9,
            questions: [{ name: 'example.test', type: 'A' }],
          }),
          3000,
        );
        expect(reply).toBeDefined();
        expect(server.stats().forwarded).toBe(1);
      } finally {
        await server.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
