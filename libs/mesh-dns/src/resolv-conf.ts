import { readFileSync } from 'node:fs';

/** The `nameserver` addresses of a resolv.conf text, in order (a zone index is dropped). */
export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!match) continue;
    const address = match[1]!.replace(/%.*$/, '');
    servers.push(address.includes(':') ? `[${address}]:53` : address);
  }
  return servers;
}

/** The nameservers of `/etc/resolv.conf` (or `path`); none when it cannot be read. */
export function readResolvConf(path = '/etc/resolv.conf'): string[] {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}
