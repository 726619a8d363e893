import { isIPv4, isIPv6 } from 'node:net';

/** `10.0.0.7` → `7.0.0.10.in-addr.arpa`; `fd00::1` → nibbles under `ip6.arpa`. */
export function reverseName(ip: string): string | undefined {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (isIPv6(ip)) {
    const hex = expandIPv6(ip);
    return hex ? `${hex.split('').reverse().join('.')}.ip6.arpa` : undefined;
  }
  return undefined;
}

/** The 32 hex digits of an IPv6 address (an embedded IPv4 tail included). */
export function expandIPv6(ip: string): string | undefined {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const parts = v4[1]!.split('.').map(Number);
    const tail = `${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
    text = text.slice(0, -v4[1]!.length) + tail;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  if (missing < 0 || (rest === undefined && missing !== 0)) return undefined;
  const groups = [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  return groups.map((group) => group.padStart(4, '0')).join('');
}

/** The label CoreDNS gives an endpoint without a hostname: `10-0-0-7`, `fd00--1`. */
export function dashedAddress(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SERVICE_LABEL = /^[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9])?$/;

/** A lower-case DNS name (labels of letters, digits, `-`, `_`), without a trailing dot. */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => SERVICE_LABEL.test(label));
}

/** A DNS-1123 label, as Kubernetes requires of namespaces, service names and hostnames. */
export function isLabel(label: string): boolean {
  return LABEL.test(label);
}

/** `Cluster.Local.` → `cluster.local`. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, '');
}
