import { describe, expect, it } from 'vitest';
import { IptablesRules, renderRules } from '../src/iptables';
import { resolveService } from '../src/model';

const context = {
  nodeName: 'n',
  reachableCidrs: [],
  mode: 'auto' as const,
  loadBalancing: 'round-robin' as const,
};

describe('iptables rules', () => {
  it('REDIRECTs a userspace service port to its listener', () => {
    const [servicePort] = resolveService(
      {
        name: 'web',
        clusterIP: '198.18.100.1',
        ports: [{ port: 80 }],
        endpoints: [{ ip: '10.0.0.1' }],
      },
      context,
    );
    const rendered = renderRules('KE-MESH', [
      { servicePort: servicePort!, mode: 'userspace', listenerPort: 40001 },
    ]);
    expect(rendered.chains).toEqual(['KE-MESH-SERVICES']);
    expect(rendered.rules).toEqual([
      '-A KE-MESH-SERVICES -d 198.18.100.1/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web:80/TCP" -j REDIRECT --to-ports 40001',
    ]);
  });

  it('DNATs a kernel service port to its endpoints with falling probabilities, and affinity with recent', () => {
    const [servicePort] = resolveService(
      {
        name: 'dns',
        clusterIP: '198.18.100.5',
        ports: [{ port: 53, protocol: 'UDP', targetPort: 5353 }],
        endpoints: [
          { ip: '10.0.0.1' },
          { ip: '10.0.0.2' },
          { ip: '10.0.0.3' },
          { ip: '10.0.0.4', ready: false },
        ],
        sessionAffinity: 'ClientIP',
        affinityTimeoutSeconds: 30,
      },
      context,
    );
    const { chains, rules } = renderRules('KE-MESH', [
      { servicePort: servicePort!, mode: 'kernel' },
    ]);
    expect(chains).toHaveLength(5); // root, one service chain, three endpoint chains
    for (const chain of chains) expect(chain.length).toBeLessThanOrEqual(28);
    const text = rules.join('\n');
    expect(text).toMatch(/-p udp -m udp --dport 53 .* -j KE-MESH-SVC-/);
    expect(text).toContain('-m statistic --mode random --probability 0.33333333333');
    expect(text).toContain('-m statistic --mode random --probability 0.50000000000');
    expect(text.match(/--rcheck --seconds 30 --reap/g)).toHaveLength(3);
    expect(text).toContain('-j DNAT --to-destination 10.0.0.3:5353');
    expect(text).not.toContain('10.0.0.4');
  });

  it('refuses a chain prefix that would make names too long', () => {
    expect(() => new IptablesRules({ chainPrefix: 'A-VERY-LONG-PREFIX' })).toThrow(
      expect.objectContaining({ code: 'KE_PROXY_INVALID_OPTIONS' }),
    );
  });
});
