import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

/** A network namespace of the test's own, with addresses on its loopback. */
export interface TestNamespace {
  readonly name: string;
  /** Runs a command inside the namespace; throws on a non-zero exit. */
  exec(argv: readonly string[], input?: string): string;
  /** `iptables-save` without comments and counters: comparable before and after. */
  iptablesSave(): string;
  delete(): void;
}

function sh(argv: readonly string[], input?: string): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input, timeout: 15_000 });
  if (result.status !== 0) {
    throw new Error(`${argv.join(' ')} failed (${result.status}): ${result.stderr}`);
  }
  return result.stdout;
}

/**
 * Creates `<prefix>-<random>`: lo up with `addresses` (/32 each; keep them in 198.18.0.0/15)
 * and `routes` (CIDRs) over lo, so a ClusterIP in one is routable and nat OUTPUT rules see it.
 * Delete it in `afterAll`, also when the test fails.
 */
export function createTestNamespace(
  options: { prefix?: string; addresses?: readonly string[]; routes?: readonly string[] } = {},
): TestNamespace {
  const name = `${options.prefix ?? 'ke-test'}-${randomBytes(4).toString('hex')}`;
  sh(['ip', 'netns', 'add', name]);
  const exec = (argv: readonly string[], input?: string) =>
    sh(['ip', 'netns', 'exec', name, ...argv], input);
  const api: TestNamespace = {
    name,
    exec,
    iptablesSave: () =>
      exec(['iptables-save'])
        .split('\n')
        .filter((line) => !line.startsWith('#'))
        .map((line) => line.replace(/\[\d+:\d+\]/, '[0:0]'))
        .join('\n'),
    delete() {
      if (existsSync(`/run/netns/${name}`)) spawnSync('ip', ['netns', 'delete', name]);
    },
  };
  try {
    sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    for (const address of options.addresses ?? [])
      sh(['ip', '-n', name, 'addr', 'add', `${address}/32`, 'dev', 'lo']);
    for (const route of options.routes ?? [])
      sh(['ip', '-n', name, 'route', 'add', route, 'dev', 'lo']);
  } catch (error) {
    api.delete();
    throw error;
  }
  return api;
}
