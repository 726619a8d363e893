/**
 * The NAT test bed of shared/testbed/README.md for the tunnel benchmark, in namespaces
 * `<prefix>-<random>-<role>` (`@ke/testing`'s `createNatTestbed`): a switch `sw` with a bridge; `pub` 198.18.0.1 (the tunnel server); routers
 * `nat1` 198.18.0.11 and `nat2` 198.18.0.12 (MASQUERADE, and INPUT drops unsolicited inbound
 * packets as home routers do); hosts `h1` 198.19.1.2 behind nat1 and `h2` 198.19.2.2 behind nat2.
 *
 * For the "direct" path the routers also route each other's LAN without NAT (198.19.0.0/16 skips
 * MASQUERADE), so h1 reaches h2's own address over the very same veths and routers the tunnel
 * uses. The tunnel never addresses 198.19.x.x across hosts (agents only learn public endpoints),
 * so this route does not help it.
 */
import { spawnSync } from 'node:child_process';
import { createNatTestbed, type NatRole } from '@ke/testing';

export type Role = NatRole;

export const PUB = '198.18.0.1';
export const H1 = '198.19.1.2';
export const H2 = '198.19.2.2';

export function sh(argv: readonly string[], timeoutMs = 15_000): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (result.status !== 0) {
    throw new Error(
      `${argv.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

export interface Testbed {
  /** The namespaces are `<prefix>-<role>`. */
  readonly prefix: string;
  readonly names: Record<Role, string>;
  /** `argv` with the network namespace of `role` entered (nsenter, not `ip netns exec`). */
  inNetns(role: Role, argv: readonly string[]): string[];
  /**
   * Caps the server's WAN link both ways with TBF (`rate <mbit>mbit burst 64kb latency 50ms`):
   * pub's `wan` (what pub sends) and the switch port `p-pub` (what pub receives). 0 uncaps.
   */
  capServer(mbit: number): void;
  /** The qdiscs on the server's link, for the record. */
  serverQdiscs(): string;
  /** Deletes every namespace this test bed made (idempotent). */
  delete(): void;
}

/** `@ke/testing`'s NAT test bed, plus the routes of the direct path and the server link cap. */
export function createTestbed(prefix: string): Testbed {
  const bed = createNatTestbed({ prefix });
  const names = bed.names;
  const inNetns = (role: Role, argv: readonly string[]) => [
    'nsenter',
    `--net=/run/netns/${names[role]}`,
    ...argv,
  ];
  const exec = (role: Role, argv: readonly string[]) => sh(inNetns(role, argv));
  const ipIn = (role: Role, ...args: string[]) => sh(['ip', '-n', names[role], ...args]);
  /** Deletes the root qdisc of `dev` in `role`; fails quietly when there is none. */
  const removeCap = (role: Role, dev: string) => {
    const argv = inNetns(role, ['tc', 'qdisc', 'del', 'dev', dev, 'root']);
    spawnSync(argv[0]!, argv.slice(1));
  };
  try {
    const routers: [Role, string, string][] = [
      ['nat1', '198.19.2.0/24', '198.18.0.12'],
      ['nat2', '198.19.1.0/24', '198.18.0.11'],
    ];
    for (const [router, otherLan, otherRouter] of routers) {
      // The "direct" path: the other LAN is routed, not NATed.
      ipIn(router, 'route', 'add', otherLan, 'via', otherRouter);
      exec(router, [
        'iptables',
        '-t',
        'nat',
        '-I',
        'POSTROUTING',
        '1',
        '-d',
        '198.19.0.0/16',
        '-j',
        'RETURN',
      ]);
    }
    // pub routes to the LANs too, for the plain TCP relay peer (HAProxy in pub → h2). The tunnel
    // server never addresses them: it only answers agents at their public endpoints.
    ipIn('pub', 'route', 'add', '198.19.1.0/24', 'via', '198.18.0.11');
    ipIn('pub', 'route', 'add', '198.19.2.0/24', 'via', '198.18.0.12');
  } catch (error) {
    bed.delete();
    throw error;
  }
  return {
    prefix: names.pub.slice(0, -'-pub'.length),
    names,
    inNetns,
    capServer(mbit) {
      removeCap('pub', 'wan');
      removeCap('sw', 'p-pub');
      if (mbit <= 0) return;
      const tbf = ['root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '64kb', 'latency', '50ms'];
      exec('pub', ['tc', 'qdisc', 'add', 'dev', 'wan', ...tbf]);
      exec('sw', ['tc', 'qdisc', 'add', 'dev', 'p-pub', ...tbf]);
    },
    serverQdiscs() {
      return [
        `pub wan: ${exec('pub', ['tc', 'qdisc', 'show', 'dev', 'wan']).trim()}`,
        `sw p-pub: ${exec('sw', ['tc', 'qdisc', 'show', 'dev', 'p-pub']).trim()}`,
      ].join('; ');
    },
    delete: () => bed.delete(),
  };
}
