import { describe, expect, it } from 'vitest';
import { Balancer } from '../src/balancer';
import { HealthTracker } from '../src/health';
import { parseCidr } from '../src/ipv4';
import { effectiveMode, type ResolvedServicePort, resolveService } from '../src/model';
import type { ServiceDefinition } from '../src/types';

const context = {
  nodeName: 'node-a',
  reachableCidrs: [],
  mode: 'auto' as const,
  loadBalancing: 'round-robin' as const,
};

function port(extra: Partial<ServiceDefinition> = {}, ips = ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
  return resolveService(
    {
      name: 'web',
      clusterIP: '198.18.100.1',
      ports: [{ port: 80, targetPort: 8080 }],
      endpoints: ips.map((ip) => ({ ip })),
      ...extra,
    },
    context,
  )[0]!;
}

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const picks = (
  balancer: Balancer,
  servicePort: ResolvedServicePort,
  n: number,
  client = '198.18.2.1',
) => Array.from({ length: n }, () => balancer.pick(servicePort, client)?.ip);

describe('endpoint choice', () => {
  it('goes round robin, exactly, and skips endpoints that are backing off', () => {
    const time = clock();
    const health = new HealthTracker({ initialMs: 1000 }, time.now);
    const balancer = new Balancer(health, time.now);
    const servicePort = port();
    expect(picks(balancer, servicePort, 6)).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
    ]);
    health.failed('10.0.0.2:8080');
    expect(picks(balancer, servicePort, 4)).toEqual([
      '10.0.0.1',
      '10.0.0.3',
      '10.0.0.1',
      '10.0.0.3',
    ]);
    time.advance(1001);
    expect(picks(balancer, servicePort, 3)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('does not pick an endpoint twice for one connection, and gives up when all were tried', () => {
    const balancer = new Balancer(new HealthTracker());
    const servicePort = port();
    const tried = new Set<string>();
    for (let i = 0; i < 3; i++) tried.add(balancer.pick(servicePort, '1.1.1.1', tried)!.key);
    expect(tried.size).toBe(3);
    expect(balancer.pick(servicePort, '1.1.1.1', tried)).toBeUndefined();
  });

  it('tries a backing-off endpoint rather than none', () => {
    const health = new HealthTracker();
    const balancer = new Balancer(health);
    const servicePort = port({}, ['10.0.0.1']);
    health.failed('10.0.0.1:8080');
    expect(balancer.pick(servicePort, '1.1.1.1')?.ip).toBe('10.0.0.1');
  });

  it('never picks a not-ready endpoint', () => {
    const balancer = new Balancer(new HealthTracker());
    const servicePort = port({ endpoints: [{ ip: '10.0.0.1', ready: false }, { ip: '10.0.0.2' }] });
    expect(new Set(picks(balancer, servicePort, 5))).toEqual(new Set(['10.0.0.2']));
  });

  it('picks at random, uniformly', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const balancer = new Balancer(new HealthTracker(), Date.now, random);
    const counts: Record<string, number> = {};
    for (const ip of picks(balancer, port({ loadBalancing: 'random' }), 3000))
      counts[ip!] = (counts[ip!] ?? 0) + 1;
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(850);
  });

  it('hashes the source IP consistently: removing one endpoint moves only its clients', () => {
    const balancer = new Balancer(new HealthTracker());
    const all = port({ loadBalancing: 'source-hash' });
    const clients = Array.from({ length: 300 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
    const before = new Map(clients.map((c) => [c, balancer.pick(all, c)!.ip]));
    for (const c of clients) expect(balancer.pick(all, c)!.ip).toBe(before.get(c));
    const shares = new Set(before.values());
    expect(shares.size).toBe(3);
    const fewer = port({ loadBalancing: 'source-hash' }, ['10.0.0.1', '10.0.0.3']);
    for (const c of clients) {
      const now = balancer.pick(fewer, c)!.ip;
      if (before.get(c) !== '10.0.0.2') expect(now).toBe(before.get(c));
      else expect(now).not.toBe('10.0.0.2');
    }
  });

  it('keeps ClientIP affinity until the timeout, then picks anew', () => {
    const time = clock();
    const balancer = new Balancer(new HealthTracker(), time.now);
    const servicePort = port({ sessionAffinity: 'ClientIP', affinityTimeoutSeconds: 10 });
    const first = balancer.pick(servicePort, '198.18.2.1')!.ip;
    for (let i = 0; i < 5; i++) {
      time.advance(9000); // each use renews it
      expect(balancer.pick(servicePort, '198.18.2.1')!.ip).toBe(first);
    }
    expect(balancer.pick(servicePort, '198.18.2.2')!.ip).not.toBe(first); // others: round robin
    time.advance(10_001);
    expect(balancer.pick(servicePort, '198.18.2.1')!.ip).not.toBe(first);
  });

  it('leaves an affine endpoint that failed', () => {
    const health = new HealthTracker();
    const balancer = new Balancer(health);
    const servicePort = port({ sessionAffinity: 'ClientIP' });
    const first = balancer.pick(servicePort, '198.18.2.1')!;
    health.failed(first.key);
    const second = balancer.pick(servicePort, '198.18.2.1')!;
    expect(second.key).not.toBe(first.key);
    expect(balancer.pick(servicePort, '198.18.2.1')!.key).toBe(second.key);
  });

  it('backs off longer after each failure, up to the maximum', () => {
    const time = clock(0);
    const health = new HealthTracker({ initialMs: 100, maxMs: 350 }, time.now);
    expect([1, 2, 3, 4].map(() => health.failed('x'))).toEqual([100, 200, 350, 350]);
    health.succeeded('x');
    expect(health.failed('x')).toBe(100);
  });
});

describe('which path a service port takes', () => {
  it('is the kernel in auto mode only when every ready endpoint is directly reachable', () => {
    const local = port();
    expect(effectiveMode(local, true)).toBe('kernel');
    expect(effectiveMode(local, false)).toBe('userspace');
    expect(effectiveMode(port({ loadBalancing: 'source-hash' }), true)).toBe('userspace');
    expect(effectiveMode(port({ mode: 'userspace' }), true)).toBe('userspace');
    expect(effectiveMode(port({ endpoints: [] }), true)).toBe('userspace');
    const remote = resolveService(
      {
        name: 'r',
        clusterIP: '198.18.100.2',
        ports: [{ port: 80 }],
        endpoints: [{ ip: '10.1.0.5', nodeName: 'node-b' }],
      },
      context,
    )[0]!;
    expect(remote.endpoints[0]?.tunnelNode).toBe('node-b');
    expect(effectiveMode(remote, true)).toBe('userspace');
    const routed = resolveService(
      {
        name: 'r',
        clusterIP: '198.18.100.2',
        ports: [{ port: 80 }],
        endpoints: [{ ip: '10.1.0.5', nodeName: 'node-b' }],
      },
      { ...context, reachableCidrs: [parseCidr('10.1.0.0/16')!] },
    )[0]!;
    expect(routed.endpoints[0]?.tunnelNode).toBeUndefined();
    expect(effectiveMode(routed, true)).toBe('kernel');
  });

  it('rejects malformed services with a code', () => {
    expect(() =>
      resolveService({ name: 'x', clusterIP: 'nope', ports: [], endpoints: [] }, context),
    ).toThrow(expect.objectContaining({ code: 'KE_PROXY_INVALID_SERVICE' }));
    expect(() =>
      resolveService(
        { name: 'x', clusterIP: '1.2.3.4', ports: [{ port: 70000 }], endpoints: [] },
        context,
      ),
    ).toThrow(/port 70000/);
  });
});
