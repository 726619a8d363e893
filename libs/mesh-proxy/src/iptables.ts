import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { ServiceProxyError } from './errors';
import type { ResolvedServicePort } from './model';

/** The iptables side of the proxy. */
export interface IptablesOptions {
  /** Prefix of every chain the proxy owns (at most 11 characters). Default `KE-MESH`. */
  chainPrefix?: string;
  /** The iptables binary; `<bin>-save` and `<bin>-restore` are used. Default `iptables`. */
  bin?: string;
}

/** A service port and how its rules send traffic on. */
export interface RuleEntry {
  readonly servicePort: ResolvedServicePort;
  readonly mode: 'userspace' | 'kernel';
  /** The userspace listener's port on the proxy's bind address. */
  readonly listenerPort?: number;
}

/** The nat table as the proxy wants it: its chains, in order, with their rules. */
export interface RenderedRules {
  readonly chains: readonly string[];
  /** `-A CHAIN ...` lines. */
  readonly rules: readonly string[];
}

const HOOKS = ['OUTPUT', 'PREROUTING'] as const;
export const MAX_CHAIN_PREFIX = 11;

function chainHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 12).toUpperCase();
}

const quote = (text: string) => `"${text.replace(/["\\]/g, '')}"`;

/** The proxy's chains and rules for these service ports (pure; tested without root). */
export function renderRules(prefix: string, entries: readonly RuleEntry[]): RenderedRules {
  const root = `${prefix}-SERVICES`;
  const chains = [root];
  const rules: string[] = [];
  const perService: string[] = [];
  for (const { servicePort, mode, listenerPort } of entries) {
    const protocol = servicePort.protocol.toLowerCase();
    const match =
      `-d ${servicePort.clusterIP}/32 -p ${protocol} -m ${protocol} --dport ${servicePort.port}` +
      ` -m comment --comment ${quote(servicePort.id)}`;
    if (mode === 'userspace') {
      if (listenerPort === undefined) continue;
      rules.push(`-A ${root} ${match} -j REDIRECT --to-ports ${listenerPort}`);
      continue;
    }
    const serviceChain = `${prefix}-SVC-${chainHash(servicePort.id)}`;
    chains.push(serviceChain);
    rules.push(`-A ${root} ${match} -j ${serviceChain}`);
    const ready = servicePort.endpoints.filter((endpoint) => endpoint.ready);
    const endpointChains = ready.map((endpoint) => ({
      endpoint,
      chain: `${prefix}-SEP-${chainHash(`${servicePort.id}>${endpoint.key}`)}`,
    }));
    const affinitySeconds = Math.ceil(servicePort.affinityTimeoutMs / 1000);
    if (affinitySeconds > 0) {
      for (const { chain } of endpointChains) {
        perService.push(
          `-A ${serviceChain} -m recent --rcheck --seconds ${affinitySeconds} --reap --name ${chain} --mask 255.255.255.255 --rsource -j ${chain}`,
        );
      }
    }
    endpointChains.forEach(({ chain }, index) => {
      const left = endpointChains.length - index;
      perService.push(
        left > 1
          ? `-A ${serviceChain} -m statistic --mode random --probability ${(1 / left).toFixed(11)} -j ${chain}`
          : `-A ${serviceChain} -j ${chain}`,
      );
    });
    for (const { endpoint, chain } of endpointChains) {
      chains.push(chain);
      const remember =
        affinitySeconds > 0
          ? ` -m recent --set --name ${chain} --mask 255.255.255.255 --rsource`
          : '';
      perService.push(
        `-A ${chain} -p ${protocol}${remember} -m ${protocol} -j DNAT --to-destination ${endpoint.ip}:${endpoint.port}`,
      );
    }
  }
  return { chains, rules: [...rules, ...perService] };
}

interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

function run(file: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.on('error', () => {
      // the process exited before reading its input; its exit code tells the story
    });
    child.stdin.end(input ?? '');
  });
}

interface OwnedState {
  /** Chains in the nat table whose names start with the prefix. */
  chains: string[];
  /** `-A OUTPUT ... -j <prefix>-SERVICES` lines, as saved. */
  jumps: string[];
}

/** Applies and removes the proxy's nat rules atomically with iptables-save / iptables-restore. */
export class IptablesRules {
  readonly prefix: string;
  readonly #save: string;
  readonly #restore: string;

  constructor(options: IptablesOptions = {}) {
    this.prefix = options.chainPrefix ?? 'KE-MESH';
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(this.prefix) || this.prefix.length > MAX_CHAIN_PREFIX) {
      throw new ServiceProxyError(
        'KE_PROXY_INVALID_OPTIONS',
        `iptables.chainPrefix "${this.prefix}" must be 1 to ${MAX_CHAIN_PREFIX} letters, digits, '-' or '_' (chain names are limited to 28 characters)`,
      );
    }
    const bin = options.bin ?? 'iptables';
    this.#save = `${bin}-save`;
    this.#restore = `${bin}-restore`;
  }

  /** Makes the nat table hold exactly `rendered` in the proxy's chains (stale chains removed). */
  async sync(rendered: RenderedRules): Promise<void> {
    const owned = await this.#owned();
    const root = `${this.prefix}-SERVICES`;
    const wanted = new Set(rendered.chains);
    const stale = owned.chains.filter((chain) => !wanted.has(chain));
    const lines = ['*nat', ...rendered.chains.map((chain) => `:${chain} - [0:0]`)];
    lines.push(...stale.map((chain) => `:${chain} - [0:0]`));
    // Within one restore (atomic): drop every jump of ours, then put one first in each hook.
    lines.push(...owned.jumps.map((line) => line.replace(/^-A /, '-D ')));
    for (const hook of HOOKS) lines.push(`-I ${hook} 1 -j ${root}`);
    lines.push(...rendered.rules);
    lines.push(...stale.map((chain) => `-X ${chain}`), 'COMMIT', '');
    await this.#apply(lines.join('\n'));
  }

  /** Removes every jump and chain with the proxy's prefix (also those a crashed run left). */
  async cleanup(): Promise<boolean> {
    const owned = await this.#owned();
    if (owned.chains.length === 0 && owned.jumps.length === 0) return false;
    const lines = [
      '*nat',
      ...owned.jumps.map((line) => line.replace(/^-A /, '-D ')),
      ...owned.chains.map((chain) => `:${chain} - [0:0]`),
      ...owned.chains.map((chain) => `-X ${chain}`),
      'COMMIT',
      '',
    ];
    await this.#apply(lines.join('\n'));
    return true;
  }

  async #owned(): Promise<OwnedState> {
    const result = await this.#run(this.#save, ['-t', 'nat']);
    const chains: string[] = [];
    const jumps: string[] = [];
    const ours = `${this.prefix}-`;
    for (const line of result.stdout.split('\n')) {
      if (line.startsWith(':')) {
        const chain = line.slice(1).split(' ')[0] ?? '';
        if (chain.startsWith(ours)) chains.push(chain);
      } else if (/^-A (OUTPUT|PREROUTING) /.test(line)) {
        const target = / -j (\S+)/.exec(line)?.[1];
        if (target?.startsWith(ours)) jumps.push(line);
      }
    }
    return { chains, jumps };
  }

  async #apply(input: string): Promise<void> {
    await this.#run(this.#restore, ['--noflush'], input);
  }

  async #run(file: string, args: readonly string[], input?: string): Promise<RunResult> {
    let result: RunResult;
    try {
      result = await run(file, args, input);
    } catch (error) {
      throw new ServiceProxyError(
        'KE_PROXY_IPTABLES_FAILED',
        `could not run ${file}: ${(error as Error).message}; install iptables or pass iptables: false`,
        { cause: error },
      );
    }
    if (result.code !== 0) {
      throw new ServiceProxyError(
        'KE_PROXY_IPTABLES_FAILED',
        `${file} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim()}${
          process.getuid?.() === 0 ? '' : ' (iptables needs root; or pass iptables: false)'
        }${input ? `\ninput:\n${input}` : ''}`,
      );
    }
    return result;
  }
}
