import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Something a test needs from the machine: a command, root, a kernel feature. */
export interface SystemPrerequisite {
  /** Short name shown in skip and failure messages, e.g. `kubectl`. */
  readonly name: string;
  /** How to get it, e.g. `apt-get install -y mosquitto` or `bash scripts/install-system-deps.sh`. */
  readonly install: string;
  /** Returns `undefined` when present, otherwise why it is missing. */
  check(): string | undefined;
}

/** What to do with a test that has prerequisites. */
export type SystemDecision =
  | { readonly action: 'run' }
  | { readonly action: 'skip' | 'fail'; readonly message: string };

const INSTALL_ALL = 'bash scripts/install-system-deps.sh';

function findOnPath(file: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, file);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * A command on PATH. `debianPackage` names the package that provides it, for the message.
 */
export function command(
  name: string,
  options: { debianPackage?: string; install?: string } = {},
): SystemPrerequisite {
  const install =
    options.install ??
    (options.debianPackage ? `apt-get install -y ${options.debianPackage}` : INSTALL_ALL);
  return {
    name,
    install,
    check: () => (findOnPath(name) ? undefined : `command '${name}' is not on PATH`),
  };
}

/** The test runs as root (network namespaces, iptables, containerd). */
export function rootUser(): SystemPrerequisite {
  return {
    name: 'root',
    install: 'run the tests as root (sudo -E npm test)',
    check: () =>
      process.getuid?.() === 0 ? undefined : `running as uid ${process.getuid?.() ?? '?'}`,
  };
}

/** Network namespaces can be created and removed (root and iproute2). */
export function networkNamespaces(): SystemPrerequisite {
  const ip = command('ip', { debianPackage: 'iproute2' });
  return {
    name: 'network namespaces',
    install: `${ip.install}, and run as root`,
    check: () => {
      const missing = rootUser().check() ?? ip.check();
      if (missing) return missing;
      const probe = `ke-probe-${process.pid}`;
      const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
      if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
      spawnSync('ip', ['netns', 'delete', probe]);
      return undefined;
    },
  };
}

/**
 * Decides whether tests with these prerequisites run, are skipped, or fail.
 * With `KE_REQUIRE_SYSTEM=1` (CI sets it) a missing prerequisite fails instead of skipping,
 * so a machine without the package cannot pass by skipping.
 */
export function decideSystem(
  prerequisites: readonly SystemPrerequisite[],
  env: NodeJS.ProcessEnv = process.env,
): SystemDecision {
  const missing = prerequisites
    .map((p) => ({ p, why: p.check() }))
    .filter((m): m is { p: SystemPrerequisite; why: string } => m.why !== undefined);
  if (missing.length === 0) return { action: 'run' };
  const details = missing.map(({ p, why }) => `${p.name} (${why}; install: ${p.install})`);
  const required = env.KE_REQUIRE_SYSTEM === '1' || env.KE_REQUIRE_SYSTEM === 'true';
  return {
    action: required ? 'fail' : 'skip',
    message: `missing system prerequisite: ${details.join('; ')}${
      required ? ' — KE_REQUIRE_SYSTEM=1 makes this a failure' : ''
    }`,
  };
}
