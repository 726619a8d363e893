/**
 * The DNS settings of a pod's sandbox (its resolv.conf), computed as the kubelet's DNS
 * configurer does (`pkg/kubelet/network/dns/dns.go` `GetPodDNS`).
 */
import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';

export interface SandboxDnsOptions {
  /** The cluster DNS servers (the kubelet's `clusterDNS`); empty makes ClusterFirst fall back to Default. */
  clusterDns: string[];
  /** The cluster domain, e.g. `cluster.local`; empty adds no cluster search domains. */
  clusterDomain: string;
  /**
   * The node's resolv.conf (the kubelet's `--resolv-conf`), default `/etc/resolv.conf`.
   * An empty string means none: Default-policy pods get `nameserver 127.0.0.1` and
   * `search .`, as with the kubelet.
   */
  hostResolvConf?: string;
  /** Told when limits drop servers or search domains, or ClusterFirst falls back to Default. */
  onWarning?: (message: string) => void;
}

/** The CRI `DNSConfig` of a sandbox. */
export interface SandboxDnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** The limits of `pkg/apis/core/validation` the kubelet applies to the final config. */
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;
const MAX_DOMAIN_LENGTH = 253;

/**
 * The pod's resolv.conf content by `spec.dnsPolicy`:
 *
 * - `ClusterFirst` (the default): the cluster DNS servers only, searches
 *   `<ns>.svc.<domain> svc.<domain> <domain>` then the host's, option `ndots:5`. A hostNetwork
 *   pod with ClusterFirst gets `Default` instead, and so does every pod when `clusterDns` is empty.
 * - `ClusterFirstWithHostNet`: ClusterFirst, for hostNetwork pods too.
 * - `Default`: the host's resolv.conf (nameservers, last `search` line, options).
 * - `None`: nothing but `spec.dnsConfig`.
 *
 * `spec.dnsConfig` is then merged in (nameservers and searches appended without duplicates,
 * options replaced by name), and the result is cut to 3 nameservers, 32 search domains and
 * 2048 characters of search line, dropping domains longer than 253 characters.
 * Throws when the host's resolv.conf is needed and cannot be read, as the kubelet does.
 */
export function sandboxDnsConfig(pod: V1Pod, options: SandboxDnsOptions): SandboxDnsConfig {
  const resolvConf = options.hostResolvConf ?? '/etc/resolv.conf';
  const hostNetwork = Boolean(pod.spec?.hostNetwork);
  const policy = pod.spec?.dnsPolicy || 'ClusterFirst';
  const warn = options.onWarning ?? (() => {});

  let type: 'none' | 'cluster' | 'host';
  if (policy === 'None') type = 'none';
  else if (policy === 'ClusterFirstWithHostNet') type = 'cluster';
  else if (policy === 'ClusterFirst') type = hostNetwork ? 'host' : 'cluster';
  else if (policy === 'Default') type = 'host';
  else throw new Error(`invalid DNSPolicy=${policy}`);

  let config: SandboxDnsConfig = { servers: [], searches: [], options: [] };
  if (type === 'cluster' && options.clusterDns.length === 0) {
    warn(
      'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.',
    );
    type = 'host';
  }
  if (type === 'cluster') {
    const host = readHostConfig(resolvConf);
    config = {
      servers: [...options.clusterDns],
      searches: clusterSearches(pod, options.clusterDomain, host.searches),
      options: ['ndots:5'],
    };
  } else if (type === 'host') {
    if (resolvConf === '') {
      config = { servers: ['127.0.0.1'], searches: ['.'], options: [] };
    } else {
      config = readHostConfig(resolvConf);
    }
  }

  const podConfig = pod.spec?.dnsConfig;
  if (podConfig) {
    config = {
      servers: unique([...config.servers, ...(podConfig.nameservers ?? [])]),
      searches: unique([...config.searches, ...(podConfig.searches ?? [])]),
      options: mergeOptions(
        config.options,
        (podConfig.options ?? []).map((option) =>
          option.value ? `${option.name}:${option.value}` : (option.name ?? ''),
        ),
      ),
    };
  }
  return fitLimits(config, warn);
}

/** Parses resolv.conf text: nameservers, the last `search` line, options merged by name. */
export function parseResolvConf(text: string): SandboxDnsConfig {
  const servers: string[] = [];
  let searches: string[] = [];
  let options: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith(';')) continue;
    const fields = line.trim().split(/\s+/).filter(Boolean);
    const [keyword, ...values] = fields;
    if (keyword === 'nameserver' && values[0]) servers.push(values[0]);
    if (keyword === 'search') {
      // The same domain with and without the trailing dot counts once.
      searches = values.filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    }
    if (keyword === 'options') options = mergeOptions(options, values);
  }
  return { servers, searches, options };
}

function readHostConfig(path: string): SandboxDnsConfig {
  if (path === '') return { servers: [], searches: [], options: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw Object.assign(
      new Error(
        `could not read the host's resolv.conf ${path}: ${(error as Error).message}; set hostResolvConf to an existing file, or to '' for none`,
      ),
      { code: 'KE_EDGED_DNS_FAILED', cause: error },
    );
  }
  return parseResolvConf(text);
}

function clusterSearches(pod: V1Pod, domain: string, hostSearches: string[]): string[] {
  if (!domain) return hostSearches;
  const namespace = pod.metadata?.namespace || 'default';
  return unique([`${namespace}.svc.${domain}`, `svc.${domain}`, domain, ...hostSearches]);
}

// Options are `name` or `name:value`; a later one with the same name replaces the earlier
// in its place.
function mergeOptions(existing: readonly string[], added: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const option of [...existing, ...added]) {
    if (option) byName.set(option.split(':')[0]!, option);
  }
  return [...byName.values()];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function fitLimits(config: SandboxDnsConfig, warn: (message: string) => void): SandboxDnsConfig {
  let { servers, searches } = config;
  if (servers.length > MAX_DNS_NAMESERVERS) {
    servers = servers.slice(0, MAX_DNS_NAMESERVERS);
    warn(
      `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${servers.join(' ')}`,
    );
  }
  let exceeded = false;
  if (searches.length > MAX_DNS_SEARCH_PATHS) {
    searches = searches.slice(0, MAX_DNS_SEARCH_PATHS);
    exceeded = true;
  }
  // glibc aborts on a search domain longer than 255 characters.
  const fitting = searches.filter((search) => search.length <= MAX_DOMAIN_LENGTH);
  if (fitting.length !== searches.length) exceeded = true;
  searches = fitting;
  const lineLength = searches.join(' ').length;
  if (lineLength > MAX_DNS_SEARCH_LIST_CHARS) {
    let cut = 0;
    let cutLength = 0;
    for (let i = searches.length - 1; i >= 0; i--) {
      cutLength += searches[i]!.length + 1;
      cut++;
      if (lineLength - cutLength <= MAX_DNS_SEARCH_LIST_CHARS) break;
    }
    searches = searches.slice(0, searches.length - cut);
    exceeded = true;
  }
  if (exceeded) {
    warn(
      `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(' ')}`,
    );
  }
  return { servers, searches, options: config.options };
}
