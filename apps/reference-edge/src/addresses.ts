/** `host:port` → parts (`[::1]:10550` for IPv6). */
export function hostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`${JSON.stringify(address)} is not host:port`);
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port };
}

/** `a, b,,c` → `['a', 'b', 'c']`. */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
