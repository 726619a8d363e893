import { isIPv4 } from 'node:net';

/** `a.b.c.d` → unsigned 32-bit number. The caller has checked `isIPv4`. */
export function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

/** A parsed `a.b.c.d/n`: tests whether an address is inside it. */
export interface Cidr {
  readonly text: string;
  contains(ip: string): boolean;
}

/** Parses an IPv4 CIDR (`198.18.0.0/15`, or a bare address as /32); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, bitsText = '32'] = text.split('/');
  const bits = Number(bitsText);
  if (!address || !isIPv4(address) || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    return undefined;
  }
  // Shifts in JS are 32-bit signed; division keeps the arithmetic unsigned.
  const size = 2 ** (32 - bits);
  const network = Math.floor(ipv4ToNumber(address) / size);
  return {
    text,
    contains: (ip) => isIPv4(ip) && Math.floor(ipv4ToNumber(ip) / size) === network,
  };
}
