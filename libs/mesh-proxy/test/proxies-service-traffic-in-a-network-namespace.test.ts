import {
  command,
  createTestNamespace,
  describeWithSystem,
  networkNamespaces,
  rootUser,
  type TestNamespace,
} from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ProxyStats, ServiceDefinition } from '../src/index';
import { type Driver, startDriver } from './fixtures/netns';

// Backends on 198.18.1.x, clients on 198.18.2.x, ClusterIPs in 198.18.100.0/24 — all on the
// loopback of a namespace this test makes and deletes; the host's iptables are never touched.
const BACKENDS = ['198.18.1.1', '198.18.1.2', '198.18.1.3'];
const DEAD = '198.18.1.9'; // an address with nothing listening: connects are refused
const CLIENTS = ['198.18.2.1', '198.18.2.2', '198.18.2.3', '198.18.2.4'];
const NAMES: Record<string, string> = { '198.18.1.1': 'a', '198.18.1.2': 'b', '198.18.1.3': 'c' };

const tcpEndpoints = (ips = BACKENDS) => ips.map((ip) => ({ ip, port: 8080 }));
const service = (
  name: string,
  clusterIP: string,
  extra: Partial<ServiceDefinition> = {},
): ServiceDefinition => ({
  name,
  clusterIP,
  ports: [{ name: 'http', port: 80 }],
  endpoints: tcpEndpoints(),
  ...extra,
});

const SERVICES: ServiceDefinition[] = [
  service('round-robin', '198.18.100.1'),
  service('random', '198.18.100.2', { loadBalancing: 'random' }),
  service('hash', '198.18.100.3', { loadBalancing: 'source-hash' }),
  service('affinity', '198.18.100.4', { sessionAffinity: 'ClientIP', affinityTimeoutSeconds: 60 }),
  {
    name: 'dns',
    clusterIP: '198.18.100.5',
    ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }],
    endpoints: BACKENDS.slice(0, 2).map((ip) => ({ ip })),
  },
  service('with-dead', '198.18.100.6', { endpoints: tcpEndpoints([DEAD, BACKENDS[0]!]) }),
  service('kernel', '198.18.100.7', { mode: 'kernel' }),
  service('kernel-affinity', '198.18.100.8', { mode: 'kernel', sessionAffinity: 'ClientIP' }),
  {
    name: 'dns-kernel',
    clusterIP: '198.18.100.9',
    ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }],
    endpoints: BACKENDS.slice(0, 2).map((ip) => ({ ip })),
    mode: 'kernel',
  },
];

const count = (answers: readonly string[]) => {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[answer] = (counts[answer] ?? 0) + 1;
  return counts;
};
const portStats = (stats: ProxyStats, name: string) =>
  stats.servicePorts.find((port) => port.name === name)!;

describeWithSystem(
  'the proxy in a network namespace',
  [rootUser(), networkNamespaces(), command('iptables', { debianPackage: 'iptables' })],
  () => {
    let netns: TestNamespace;
    let driver: Driver | undefined;
    let baseline = '';

    beforeAll(async () => {
      netns = createTestNamespace({
        prefix: 'ke-mp',
        addresses: [...BACKENDS, DEAD, ...CLIENTS],
        routes: ['198.18.100.0/24'],
      });
      // Rules of someone else in the same table: they must survive, untouched and in order.
      netns.exec([
        'iptables',
        '-t',
        'nat',
        '-A',
        'OUTPUT',
        '-d',
        '198.19.255.1/32',
        '-j',
        'RETURN',
      ]);
      netns.exec([
        'iptables',
        '-t',
        'nat',
        '-A',
        'PREROUTING',
        '-d',
        '198.19.255.2/32',
        '-j',
        'RETURN',
      ]);
      baseline = netns.iptablesSave();
      driver = await startDriver(netns.name);
      await driver.call('backends', {
        servers: [
          ...BACKENDS.map((ip) => ({ name: NAMES[ip], ip, port: 8080 })),
          ...BACKENDS.map((ip) => ({ name: NAMES[ip], ip, port: 5353, protocol: 'UDP' })),
        ],
      });
      await driver.call('start', { services: SERVICES, options: { mode: 'userspace' } });
    });

    afterAll(async () => {
      await driver?.close();
      netns?.delete();
    });

    it('installs its rules in its own chains, beside the rules already there', () => {
      const rules = netns.iptablesSave();
      expect(rules).toContain('-A OUTPUT -j KE-MESH-SERVICES');
      expect(rules).toContain('-A OUTPUT -d 198.19.255.1/32 -j RETURN');
      expect(rules).toMatch(
        /-A KE-MESH-SERVICES -d 198\.18\.100\.1\/32 -p tcp .* -j REDIRECT --to-ports \d+/,
      );
      expect(rules).toMatch(/-A KE-MESH-SERVICES -d 198\.18\.100\.7\/32 -p tcp .* -j KE-MESH-SVC-/);
      expect(rules).toMatch(/-j DNAT --to-destination 198\.18\.1\.1:8080/);
    });

    it('spreads connections to a ClusterIP round robin, exactly', async () => {
      const answers = await driver!.call<string[]>('connect', {
        host: '198.18.100.1',
        port: 80,
        count: 9,
      });
      expect(count(answers)).toEqual({ a: 3, b: 3, c: 3 });
      // In turn: the same endpoint never twice in a row.
      for (let i = 1; i < answers.length; i++) expect(answers[i]).not.toBe(answers[i - 1]);
    });

    it('spreads connections at random, roughly evenly', async () => {
      const answers = await driver!.call<string[]>('connect', {
        host: '198.18.100.2',
        port: 80,
        count: 240,
      });
      const counts = count(answers);
      expect(Object.keys(counts).sort()).toEqual(['a', 'b', 'c']);
      for (const n of Object.values(counts)) expect(n).toBeGreaterThan(40); // 80 expected
    });

    it('keeps each source IP on one endpoint with source-hash', async () => {
      const seen = new Set<string>();
      for (const localAddress of CLIENTS) {
        const answers = await driver!.call<string[]>('connect', {
          host: '198.18.100.3',
          port: 80,
          count: 5,
          localAddress,
        });
        expect(new Set(answers).size, `${localAddress}: ${answers}`).toBe(1);
        expect(answers[0]).toMatch(/^[abc]$/);
        seen.add(answers[0]!);
      }
      // The same again later: the hash is stable.
      const again = await driver!.call<string[]>('connect', {
        host: '198.18.100.3',
        port: 80,
        count: 3,
        localAddress: CLIENTS[0],
      });
      const first = await driver!.call<string[]>('connect', {
        host: '198.18.100.3',
        port: 80,
        count: 1,
        localAddress: CLIENTS[0],
      });
      expect(new Set([...again, ...first]).size).toBe(1);
    });

    it('keeps a client on its endpoint with sessionAffinity ClientIP', async () => {
      const byClient: string[] = [];
      for (const localAddress of CLIENTS) {
        const answers = await driver!.call<string[]>('connect', {
          host: '198.18.100.4',
          port: 80,
          count: 6,
          localAddress,
        });
        expect(new Set(answers).size, `${localAddress}: ${answers}`).toBe(1);
        byClient.push(answers[0]!);
      }
      // Without affinity these clients would have been spread round robin: new clients still are.
      expect(new Set(byClient).size).toBeGreaterThan(1);
    });

    it('skips an endpoint whose connect fails and retries the connection on another', async () => {
      const answers = await driver!.call<string[]>('connect', {
        host: '198.18.100.6',
        port: 80,
        count: 6,
      });
      expect(answers).toEqual(['a', 'a', 'a', 'a', 'a', 'a']);
      const stats = await driver!.call<ProxyStats>('stats');
      const withDead = portStats(stats, 'with-dead');
      expect(withDead.failedDials).toBe(1); // then it backs off instead of trying again
      expect(withDead.endpoints.find((e) => e.ip === DEAD)?.healthy).toBe(false);
    });

    it('proxies UDP, replies coming back from the ClusterIP', async () => {
      const answers = await driver!.call<string[]>('udp', {
        host: '198.18.100.5',
        port: 53,
        count: 4,
      });
      expect(answers).toHaveLength(4);
      for (const [i, answer] of answers.entries()) {
        expect(answer).toMatch(new RegExp(`^[ab]:ping${i} from 198\\.18\\.100\\.5:53$`));
      }
      // Each query came from a new client port: a new flow, round robin.
      expect(new Set(answers.map((a) => a[0])).size).toBe(2);
    });

    it('sends kernel-mode services straight to the endpoints: the process sees no connection', async () => {
      const before = await driver!.call<ProxyStats>('stats');
      const answers = await driver!.call<string[]>('connect', {
        host: '198.18.100.7',
        port: 80,
        count: 60,
      });
      expect(Object.keys(count(answers)).sort()).toEqual(['a', 'b', 'c']);
      const after = await driver!.call<ProxyStats>('stats');
      const kernel = portStats(after, 'kernel');
      expect(kernel.mode).toBe('kernel');
      expect(kernel.listener).toBeUndefined();
      expect(kernel.accepted).toBe(0);
      expect(after.accepted).toBe(before.accepted); // no userspace connection at all
    });

    it('DNATs UDP in kernel mode, replies coming back from the ClusterIP', async () => {
      const before = await driver!.call<ProxyStats>('stats');
      const answers = await driver!.call<string[]>('udp', {
        host: '198.18.100.9',
        port: 53,
        count: 20,
      });
      for (const [i, answer] of answers.entries()) {
        expect(answer).toMatch(new RegExp(`^[ab]:ping${i} from 198\\.18\\.100\\.9:53$`));
      }
      expect(new Set(answers.map((a) => a[0])).size).toBe(2); // 20 flows, random: both endpoints
      const after = await driver!.call<ProxyStats>('stats');
      expect(portStats(after, 'dns-kernel').mode).toBe('kernel');
      expect(after.accepted).toBe(before.accepted);
    });

    it('keeps ClientIP affinity in kernel mode too (-m recent)', async () => {
      for (const localAddress of CLIENTS.slice(0, 3)) {
        const answers = await driver!.call<string[]>('connect', {
          host: '198.18.100.8',
          port: 80,
          count: 8,
          localAddress,
        });
        expect(new Set(answers).size, `${localAddress}: ${answers}`).toBe(1);
      }
    });

    it('moves new connections off a removed endpoint at once, and drains the open ones', async () => {
      const held = await driver!.call<{ id: number; first: string }>('hold', {
        host: '198.18.100.1',
        port: 80,
      });
      const withoutHeld = BACKENDS.filter((ip) => NAMES[ip] !== held.first);
      const next = SERVICES.map((s) =>
        s.name === 'round-robin' || s.name === 'kernel'
          ? { ...s, endpoints: tcpEndpoints(withoutHeld) }
          : s,
      );
      const result = await driver!.call<{ tookMs: number }>('services', { services: next });
      expect(result.tookMs).toBeLessThan(1000);
      const userspace = await driver!.call<string[]>('connect', {
        host: '198.18.100.1',
        port: 80,
        count: 12,
      });
      expect(userspace).not.toContain(held.first);
      expect(userspace.every((answer) => /^[abc]$/.test(answer))).toBe(true);
      const kernel = await driver!.call<string[]>('connect', {
        host: '198.18.100.7',
        port: 80,
        count: 30,
      });
      expect(kernel).not.toContain(held.first);
      // The connection opened before the removal still works (graceful drain).
      expect(await driver!.call('holdPing', { id: held.id })).toMatchObject({ alive: true });
      await driver!.call('holdClose', { id: held.id });
      await driver!.call('services', { services: SERVICES });
    });

    it('leaves iptables-save exactly as before once stopped', async () => {
      await driver!.call('stop');
      expect(netns.iptablesSave()).toBe(baseline);
      // And started again from clean, it works as before.
      await driver!.call('start', { services: SERVICES, options: { mode: 'userspace' } });
      expect(
        await driver!.call('connect', { host: '198.18.100.1', port: 80, count: 3 }),
      ).toHaveLength(3);
      await driver!.call('stop');
      expect(netns.iptablesSave()).toBe(baseline);
    });

    it('cleans up the rules a killed proxy left behind when it starts again', async () => {
      const crashed = await startDriver(netns.name);
      await crashed.call('start', { services: SERVICES, options: { mode: 'auto' } });
      const left = netns.iptablesSave();
      const staleChains = [...left.matchAll(/^:(KE-MESH-\S+)/gm)].map((m) => m[1]!);
      expect(staleChains.length).toBeGreaterThan(3);
      expect(await crashed.process.stop('SIGKILL')).toBe('SIGKILL');
      await crashed.close();
      expect(netns.iptablesSave()).toBe(left); // nobody removed them

      // The next run serves one service only: every chain of the killed run is gone.
      await driver!.call('start', { services: [SERVICES[0]], options: { mode: 'auto' } });
      const now = netns.iptablesSave();
      expect(now.match(/-j KE-MESH-SERVICES/g)).toHaveLength(2); // one jump in OUTPUT, one in PREROUTING
      const chains = [...now.matchAll(/^:(KE-MESH-\S+)/gm)].map((m) => m[1]!);
      expect(chains.length).toBeLessThan(staleChains.length);
      const staleEndpointChain = staleChains.find((c) => c.includes('-SEP-'));
      expect(staleEndpointChain).toBeDefined();
      expect(chains).not.toContain(staleEndpointChain);
      expect(
        await driver!.call('connect', { host: '198.18.100.1', port: 80, count: 3 }),
      ).toHaveLength(3);
      await driver!.call('stop');
      expect(netns.iptablesSave()).toBe(baseline);
    });
  },
);
