import { command, describeWithSystem } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDnsServer, createStaticSource, type DnsServer } from '../src/index';
import { answers, dig, digShort, flags, status } from './helpers';

// A large headless service: 150 A records do not fit in 1232 bytes, so UDP answers carry TC.
const manyEndpoints = Array.from({ length: 150 }, (_, i) => ({
  addresses: [`198.18.${1 + (i >> 8)}.${i & 0xff}`],
}));

const source = createStaticSource([
  {
    namespace: 'default',
    name: 'web',
    clusterIPs: ['198.18.0.10'],
    ports: [
      { name: 'http', port: 80, protocol: 'TCP' },
      { name: 'metrics', port: 9090, protocol: 'TCP' },
    ],
  },
  {
    namespace: 'default',
    name: 'dual',
    clusterIPs: ['198.18.0.11', 'fd00:10:96::11'],
    ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
  },
  {
    namespace: 'db',
    name: 'postgres',
    ports: [{ name: 'pg', port: 5432 }],
    endpoints: [
      { addresses: ['198.18.10.1'], hostname: 'postgres-0' },
      { addresses: ['198.18.10.2'], hostname: 'postgres-1' },
      { addresses: ['198.18.10.3'] },
      { addresses: ['198.18.10.4'], hostname: 'postgres-3', ready: false },
    ],
  },
  { namespace: 'default', name: 'big', endpoints: manyEndpoints, ports: [{ port: 80 }] },
  { namespace: 'default', name: 'docs', externalName: 'docs.example.test' },
]);

describeWithSystem(
  'answers cluster names to dig',
  [command('dig', { debianPackage: 'dnsutils' })],
  () => {
    let server: DnsServer;
    let port = 0;

    beforeAll(async () => {
      server = createDnsServer({ source, port: 0, upstream: [] });
      await server.start();
      port = server.address!.port;
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('returns the ClusterIP of a service, authoritatively, over UDP and TCP', async () => {
      const out = await dig(port, 'web.default.svc.cluster.local');
      expect(status(out)).toBe('NOERROR');
      expect(flags(out)).toContain('aa');
      expect(answers(out)).toEqual([
        ['web.default.svc.cluster.local.', '5', 'IN', 'A', '198.18.0.10'],
      ]);
      expect(await digShort(port, '+tcp', 'web.default.svc.cluster.local')).toEqual([
        '198.18.0.10',
      ]);
    });

    it('matches names case-insensitively and echoes the case asked', async () => {
      const out = await dig(port, 'Web.DEFAULT.svc.Cluster.Local');
      expect(answers(out)[0]?.[0]).toBe('Web.DEFAULT.svc.Cluster.Local.');
      expect(answers(out)[0]?.[4]).toBe('198.18.0.10');
    });

    it('returns AAAA for an IPv6 ClusterIP, and NODATA for a v4-only service', async () => {
      expect(await digShort(port, 'dual.default.svc.cluster.local', 'AAAA')).toEqual([
        'fd00:10:96::11',
      ]);
      const v4only = await dig(port, 'web.default.svc.cluster.local', 'AAAA');
      expect(status(v4only)).toBe('NOERROR');
      expect(answers(v4only)).toEqual([]);
      expect(v4only).toMatch(/AUTHORITY SECTION:\ncluster\.local\.\s+5\s+IN\s+SOA/);
    });

    it('tells NXDOMAIN for an unknown service from NODATA for an existing name', async () => {
      const unknown = await dig(port, 'nothing.default.svc.cluster.local');
      expect(status(unknown)).toBe('NXDOMAIN');
      expect(flags(unknown)).toContain('aa');
      expect(status(await dig(port, 'web.default.svc.cluster.local', 'TXT'))).toBe('NOERROR');
      expect(status(await dig(port, 'web.default.svc.cluster.local', 'MX'))).toBe('NOERROR');
      // Parents of existing names exist too (empty non-terminals).
      expect(status(await dig(port, 'default.svc.cluster.local'))).toBe('NOERROR');
      expect(status(await dig(port, 'nowhere.svc.cluster.local'))).toBe('NXDOMAIN');
    });

    it('answers a headless service with its ready endpoints and each pod hostname', async () => {
      expect(await digShort(port, 'postgres.db.svc.cluster.local')).toEqual([
        '198.18.10.1',
        '198.18.10.2',
        '198.18.10.3',
      ]);
      expect(await digShort(port, 'postgres-1.postgres.db.svc.cluster.local')).toEqual([
        '198.18.10.2',
      ]);
      // No hostname: CoreDNS's dashed-address name.
      expect(await digShort(port, '198-18-10-3.postgres.db.svc.cluster.local')).toEqual([
        '198.18.10.3',
      ]);
      // Not ready: not published.
      expect(status(await dig(port, 'postgres-3.postgres.db.svc.cluster.local'))).toBe('NXDOMAIN');
    });

    it('answers SRV for named ports of ClusterIP and headless services', async () => {
      expect(await digShort(port, '_http._tcp.web.default.svc.cluster.local', 'SRV')).toEqual([
        '0 100 80 web.default.svc.cluster.local.',
      ]);
      expect(await digShort(port, '_dns._udp.dual.default.svc.cluster.local', 'SRV')).toEqual([
        '0 100 53 dual.default.svc.cluster.local.',
      ]);
      expect(await digShort(port, '_pg._tcp.postgres.db.svc.cluster.local', 'SRV')).toEqual([
        '0 100 5432 198-18-10-3.postgres.db.svc.cluster.local.',
        '0 100 5432 postgres-0.postgres.db.svc.cluster.local.',
        '0 100 5432 postgres-1.postgres.db.svc.cluster.local.',
      ]);
      // A port name that does not exist, or the wrong protocol: no such name.
      expect(status(await dig(port, '_http._udp.web.default.svc.cluster.local', 'SRV'))).toBe(
        'NXDOMAIN',
      );
    });

    it('answers PTR for ClusterIPs (v4 and v6) and pod IPs', async () => {
      expect(await digShort(port, '-x', '198.18.0.10')).toEqual(['web.default.svc.cluster.local.']);
      expect(await digShort(port, '-x', 'fd00:10:96::11')).toEqual([
        'dual.default.svc.cluster.local.',
      ]);
      expect(await digShort(port, '-x', '198.18.10.1')).toEqual([
        'postgres-0.postgres.db.svc.cluster.local.',
      ]);
    });

    it('answers an ExternalName service with a CNAME', async () => {
      expect(await digShort(port, 'docs.default.svc.cluster.local')).toEqual([
        'docs.example.test.',
      ]);
    });

    it('sets TC over UDP for a large headless service, and dig retries over TCP', async () => {
      const udpOnly = await dig(port, '+notcp', '+ignore', 'big.default.svc.cluster.local');
      expect(flags(udpOnly)).toContain('tc');
      expect(answers(udpOnly)).toEqual([]);
      // Without +ignore dig sees TC and asks again over TCP, getting every record.
      const retried = await dig(port, 'big.default.svc.cluster.local');
      expect(retried).toMatch(/Truncated, retrying in TCP mode/);
      expect(flags(retried)).not.toContain('tc');
      expect(answers(retried)).toHaveLength(150);
      // Without EDNS the limit is 512 bytes: fewer records still fit... but not 150.
      expect(
        flags(await dig(port, '+noedns', '+ignore', 'big.default.svc.cluster.local')),
      ).toContain('tc');
      expect(server.stats().truncated).toBeGreaterThanOrEqual(2);
    });

    it('refuses names outside the cluster when it has no upstream', async () => {
      expect(status(await dig(port, 'example.test'))).toBe('REFUSED');
    });
  },
);
