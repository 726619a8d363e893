import { command, describeWithSystem, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDnsServer, createStaticSource, type DnsServer } from '../src/index';
import { answers, type Dnsmasq, dig, digShort, startDnsmasq, status } from './helpers';

const UPSTREAM_TTL = 3;

describeWithSystem(
  'forwards other names to the upstream and caches the answers for their TTL',
  [command('dig', { debianPackage: 'dnsutils' }), command('dnsmasq', { debianPackage: 'dnsmasq' })],
  () => {
    let upstream: Dnsmasq;
    let server: DnsServer;
    let port = 0;

    beforeAll(async () => {
      upstream = await startDnsmasq([
        '--address=/example.test/198.18.0.77',
        '--address=/gone.test/',
        `--local-ttl=${UPSTREAM_TTL}`,
        `--neg-ttl=${UPSTREAM_TTL}`,
      ]);
      server = createDnsServer({
        source: createStaticSource([
          { namespace: 'default', name: 'web', clusterIPs: ['198.18.0.10'] },
        ]),
        port: 0,
        upstream: [`127.0.0.1:${upstream.port}`],
      });
      await server.start();
      port = server.address!.port;
    });
    afterAll(async () => {
      await server?.stop();
      await upstream?.stop();
    });

    it('answers an upstream name, the second time from the cache with the TTL counting down', async () => {
      const first = await dig(port, 'example.test');
      expect(status(first)).toBe('NOERROR');
      expect(answers(first)).toEqual([
        ['example.test.', String(UPSTREAM_TTL), 'IN', 'A', '198.18.0.77'],
      ]);
      await waitFor('dnsmasq to log the query', () => upstream.queriesFor('example.test') === 1);
      expect(server.stats().forwarded).toBe(1);

      const second = await dig(port, 'EXAMPLE.test');
      expect(answers(second)[0]?.[4]).toBe('198.18.0.77');
      expect(answers(second)[0]?.[0]).toBe('EXAMPLE.test.');
      expect(server.stats().cacheHits).toBe(1);

      // A second later the cached TTL is lower; dnsmasq has still been asked once.
      const lower = await waitFor(
        'the cached TTL to count down',
        async () => {
          const ttl = Number(answers(await dig(port, 'example.test'))[0]?.[1]);
          return ttl < UPSTREAM_TTL ? ttl : undefined;
        },
        { timeoutMs: 3000, intervalMs: 200 },
      );
      expect(lower).toBeLessThan(UPSTREAM_TTL);
      expect(upstream.queriesFor('example.test')).toBe(1);

      // Once the TTL has run out, the entry is fetched again.
      await waitFor(
        'the expired entry to be fetched from dnsmasq again',
        async () => {
          expect(await digShort(port, 'example.test')).toEqual(['198.18.0.77']);
          return upstream.queriesFor('example.test') === 2;
        },
        { timeoutMs: (UPSTREAM_TTL + 3) * 1000, intervalMs: 250 },
      );
      expect(answers(await dig(port, 'example.test'))[0]?.[1]).toBe(String(UPSTREAM_TTL));
    }, 20_000);

    it('forwards over TCP too, and passes NXDOMAIN through, not cached without an SOA (RFC 2308)', async () => {
      expect(await digShort(port, '+tcp', 'www.example.test')).toEqual(['198.18.0.77']);
      expect(status(await dig(port, 'nothing.gone.test'))).toBe('NXDOMAIN');
      expect(status(await dig(port, 'nothing.gone.test'))).toBe('NXDOMAIN');
      // dnsmasq's NXDOMAIN for an --address=/domain/ carries no SOA: no TTL to keep it for.
      await waitFor(
        'dnsmasq to log both queries',
        () => upstream.queriesFor('nothing.gone.test') === 2,
      );
    });

    it('keeps answering cluster names itself', async () => {
      expect(await digShort(port, 'web.default.svc.cluster.local')).toEqual(['198.18.0.10']);
      expect(upstream.queriesFor('web.default.svc.cluster.local')).toBe(0);
    });

    it('answers SERVFAIL when no upstream answers in time', async () => {
      const silent = createDnsServer({
        source: createStaticSource(),
        port: 0,
        upstream: ['127.0.0.1:9'], // discard: nothing answers there
        upstreamTimeoutMs: 200,
      });
      await silent.start();
      try {
        expect(status(await dig(silent.address!.port, 'example.test'))).toBe('SERVFAIL');
      } finally {
        await silent.stop();
      }
    });
  },
);
