import { skipName, TYPE } from './wire';

/** An upstream response kept for its TTL, ready to be copied to a client. */
export interface CachedResponse {
  /** The response without its OPT record (the client's EDNS decides whether to add one). */
  readonly message: Buffer;
  /** Where each record's TTL sits in `message`, and the TTL it had when stored. */
  readonly ttlOffsets: readonly number[];
  readonly ttls: readonly number[];
  readonly storedAt: number;
  readonly expiresAt: number;
}

export interface ScannedResponse {
  /** The response with the OPT record and anything after it removed. */
  message: Buffer;
  ttlOffsets: number[];
  ttls: number[];
  /** The shortest TTL of the records (SOA: the smaller of its TTL and its minimum), or -1. */
  minTtl: number;
  rcode: number;
  truncated: boolean;
}

/**
 * Walks an upstream response: finds each record's TTL and the OPT record. Returns undefined
 * when the message is malformed.
 */
export function scanResponse(message: Buffer): ScannedResponse | undefined {
  if (message.length < 12) return undefined;
  const flags = message.readUInt16BE(2);
  const questions = message.readUInt16BE(4);
  const answers = message.readUInt16BE(6);
  const authorities = message.readUInt16BE(8);
  const additionals = message.readUInt16BE(10);
  let offset = 12;
  for (let i = 0; i < questions; i++) {
    offset = skipName(message, offset);
    if (offset < 0 || offset + 4 > message.length) return undefined;
    offset += 4;
  }
  const ttlOffsets: number[] = [];
  const ttls: number[] = [];
  let minTtl = -1;
  let end = message.length;
  let keptAdditionals = additionals;
  const total = answers + authorities + additionals;
  for (let i = 0; i < total; i++) {
    const recordStart = offset;
    offset = skipName(message, offset);
    if (offset < 0 || offset + 10 > message.length) return undefined;
    const type = message.readUInt16BE(offset);
    const rdlength = message.readUInt16BE(offset + 8);
    const rdata = offset + 10;
    if (rdata + rdlength > message.length) return undefined;
    if (type === TYPE.OPT && i >= answers + authorities) {
      // Cut the OPT record and whatever follows it (additional records are optional).
      end = recordStart;
      keptAdditionals = i - answers - authorities;
      break;
    }
    let ttl = message.readUInt32BE(offset + 4);
    if (ttl > 0x7fffffff) ttl = 0; // RFC 2181 8: the top bit set means zero
    if (type === TYPE.SOA && i >= answers && i < answers + authorities) {
      // Negative answers live as long as the SOA's minimum, if shorter (RFC 2308 5).
      let at = skipName(message, rdata);
      if (at >= 0) at = skipName(message, at);
      if (at >= 0 && at + 20 <= rdata + rdlength) {
        ttl = Math.min(ttl, message.readUInt32BE(at + 16));
      }
    }
    ttlOffsets.push(offset + 4);
    ttls.push(ttl);
    minTtl = minTtl < 0 ? ttl : Math.min(minTtl, ttl);
    offset = rdata + rdlength;
  }
  let stored = message;
  if (end < message.length || keptAdditionals !== additionals) {
    stored = Buffer.from(message.subarray(0, end));
    stored.writeUInt16BE(keptAdditionals, 10);
  }
  return {
    message: stored,
    ttlOffsets,
    ttls,
    minTtl,
    rcode: flags & 0xf,
    truncated: (flags & 0x0200) !== 0,
  };
}

/** A bounded map of responses by question; the least recently stored goes first when full. */
export class ResponseCache {
  private readonly entries = new Map<string, CachedResponse>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxTtl: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** A live entry, or undefined (an expired one is removed). */
  get(key: string): CachedResponse | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Keeps `scanned` for its shortest TTL (capped); responses without records are not kept. */
  set(key: string, scanned: ScannedResponse): CachedResponse | undefined {
    if (this.maxEntries <= 0 || scanned.minTtl <= 0 || scanned.truncated) return undefined;
    const storedAt = this.now();
    const lifetime = Math.min(scanned.minTtl, this.maxTtl);
    const entry: CachedResponse = {
      message: scanned.message,
      ttlOffsets: scanned.ttlOffsets,
      ttls: scanned.ttls,
      storedAt,
      expiresAt: storedAt + lifetime * 1000,
    };
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return entry;
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * A copy of `entry` for one client: its ID and question bytes, RD as it asked, and each TTL
 * counted down by the whole seconds the entry has been stored.
 */
export function responseFromCache(
  entry: CachedResponse,
  query: Buffer,
  queryId: number,
  queryFlags: number,
  questionEnd: number,
  now: number,
  extra: number,
): Buffer {
  const out = Buffer.allocUnsafe(entry.message.length + extra);
  entry.message.copy(out);
  out.writeUInt16BE(queryId, 0);
  out[2] = (out[2]! & ~0x01) | ((queryFlags >> 8) & 0x01);
  // Same name, so same length; the client may compare the case it sent (DNS 0x20).
  if (questionEnd > 12 && entry.message.length >= questionEnd) query.copy(out, 12, 12, questionEnd);
  const elapsed = Math.floor((now - entry.storedAt) / 1000);
  for (let i = 0; i < entry.ttlOffsets.length; i++) {
    out.writeUInt32BE(Math.max(0, entry.ttls[i]! - elapsed), entry.ttlOffsets[i]!);
  }
  return out;
}
