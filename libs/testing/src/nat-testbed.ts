import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

function sh(argv: readonly string[]): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 15_000 });
  if (result.status !== 0) {
    throw new Error(`${argv.join(' ')} failed (${result.status}): ${result.stderr}`);
  }
  return result.stdout;
}

export type NatRole = 'sw' | 'pub' | 'nat1' | 'nat2' | 'h1' | 'h2';

/**
 * The NAT test bed of shared/testbed/README.md, in namespaces `<prefix>-<random>-<role>`: a switch
 * `sw` with a bridge; `pub` 198.18.0.1; routers `nat1` 198.18.0.11 and `nat2` 198.18.0.12
 * (MASQUERADE, and INPUT drops unsolicited inbound packets as home routers do); hosts `h1`
 * 198.19.1.2 behind nat1 and `h2` 198.19.2.2 behind nat2.
 */
export interface NatTestbed {
  readonly names: Record<NatRole, string>;
  exec(role: NatRole, argv: readonly string[]): string;
  /** Symmetric NAT on both routers (`MASQUERADE --random-fully`): punching must fail. */
  makeSymmetric(): void;
  delete(): void;
}

export function createNatTestbed(options: { prefix?: string } = {}): NatTestbed {
  const prefix = `${options.prefix ?? 'ke-nat'}-${randomBytes(3).toString('hex')}`;
  const roles: NatRole[] = ['sw', 'pub', 'nat1', 'nat2', 'h1', 'h2'];
  const names = Object.fromEntries(roles.map((role) => [role, `${prefix}-${role}`])) as Record<
    NatRole,
    string
  >;
  const exec = (role: NatRole, argv: readonly string[]) =>
    sh(['ip', 'netns', 'exec', names[role], ...argv]);
  const ipIn = (role: NatRole, ...args: string[]) => sh(['ip', '-n', names[role], ...args]);
  const testbed: NatTestbed = {
    names,
    exec,
    makeSymmetric() {
      for (const router of ['nat1', 'nat2'] as const) {
        exec(router, [
          'iptables',
          '-t',
          'nat',
          '-R',
          'POSTROUTING',
          '1',
          '-o',
          'wan',
          '-j',
          'MASQUERADE',
          '--random-fully',
        ]);
      }
    },
    delete() {
      for (const name of Object.values(names)) {
        if (existsSync(`/run/netns/${name}`)) spawnSync('ip', ['netns', 'delete', name]);
      }
    },
  };
  try {
    for (const role of roles) sh(['ip', 'netns', 'add', names[role]]);
    for (const role of roles) ipIn(role, 'link', 'set', 'lo', 'up');
    ipIn('sw', 'link', 'add', 'br0', 'type', 'bridge');
    ipIn('sw', 'link', 'set', 'br0', 'up');
    // The switch ports: one veth per namespace on the 198.18.0.0/24 segment, named `wan` there.
    const wan: [NatRole, string][] = [
      ['pub', '198.18.0.1'],
      ['nat1', '198.18.0.11'],
      ['nat2', '198.18.0.12'],
    ];
    for (const [role, address] of wan) {
      ipIn(
        'sw',
        'link',
        'add',
        `p-${role}`,
        'type',
        'veth',
        'peer',
        'name',
        'wan',
        'netns',
        names[role],
      );
      ipIn('sw', 'link', 'set', `p-${role}`, 'master', 'br0', 'up');
      ipIn(role, 'addr', 'add', `${address}/24`, 'dev', 'wan');
      ipIn(role, 'link', 'set', 'wan', 'up');
    }
    const lans: [NatRole, NatRole, string][] = [
      ['nat1', 'h1', '198.19.1'],
      ['nat2', 'h2', '198.19.2'],
    ];
    for (const [router, host, net] of lans) {
      ipIn(
        router,
        'link',
        'add',
        'lan',
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        names[host],
      );
      ipIn(router, 'addr', 'add', `${net}.1/24`, 'dev', 'lan');
      ipIn(router, 'link', 'set', 'lan', 'up');
      ipIn(host, 'addr', 'add', `${net}.2/24`, 'dev', 'eth0');
      ipIn(host, 'link', 'set', 'eth0', 'up');
      ipIn(host, 'route', 'add', 'default', 'via', `${net}.1`);
      exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      exec(router, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE']);
      exec(router, [
        'iptables',
        '-A',
        'INPUT',
        '-i',
        'wan',
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '-j',
        'DROP',
      ]);
    }
  } catch (error) {
    testbed.delete();
    throw error;
  }
  return testbed;
}
