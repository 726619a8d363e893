// The hot path of the server reads queries and writes responses by hand: a query is parsed
// into one reused object and a response is one buffer assembled from precomputed pieces.
// `dns-packet` encodes the records once, when the zone is built (see zone.ts).

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
} as const;

export const CLASS = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_CD = 0x0010;

/** Parse outcome: answer it, or drop it silently (too short to answer, or not a query). */
export const DROP = -1;
export const OK = 0;

/** The UDP payload size this server advertises and sends at most to EDNS clients. */
export const SERVER_UDP_SIZE = 1232;
/** Without EDNS, a UDP response is at most 512 bytes (RFC 1035). */
export const CLASSIC_UDP_SIZE = 512;
/** An OPT record with no options: root name, type 41, class = UDP size, TTL 0, rdlength 0. */
export const OPT_LENGTH = 11;

/**
 * A parsed query. One instance is reused for every query, so its fields are valid only until
 * the next `parse` call (the server copies what it keeps across an `await`).
 */
export class Query {
  id = 0;
  flags = 0;
  /** Lower-cased, no trailing dot, `''` for the root. */
  qname = '';
  /** False when a label holds a dot or a non-printable byte: the name is never in the zone. */
  plainName = true;
  qtype = 0;
  qclass = 0;
  /** Offset just after the question (0 when the question could not be read). */
  questionEnd = 0;
  /** The client's EDNS UDP size (at least 512), or 0 when the query has no OPT record. */
  ednsSize = 0;
  private readonly scratch = Buffer.alloc(256);

  /** Returns {@link DROP}, {@link OK}, or an RCODE to answer with. */
  parse(msg: Buffer): number {
    this.questionEnd = 0;
    this.ednsSize = 0;
    this.qname = '';
    if (msg.length < 12) return DROP;
    this.id = msg.readUInt16BE(0);
    this.flags = msg.readUInt16BE(2);
    if (this.flags & FLAG_QR) return DROP; // a response: answering it could start a loop
    const opcode = (this.flags >> 11) & 0xf;
    if (opcode !== 0) return RCODE.NOTIMP;
    if (msg.readUInt16BE(4) !== 1) return RCODE.FORMERR;

    // The question's name: labels only (a compression pointer cannot point anywhere useful).
    const scratch = this.scratch;
    let offset = 12;
    let length = 0;
    let plain = true;
    for (;;) {
      if (offset >= msg.length) return RCODE.FORMERR;
      const labelLength = msg[offset]!;
      offset++;
      if (labelLength === 0) break;
      if (labelLength > 63) return RCODE.FORMERR;
      if (offset + labelLength > msg.length) return RCODE.FORMERR;
      if (length + labelLength + 1 > 254) return RCODE.FORMERR;
      if (length > 0) scratch[length++] = 0x2e;
      for (let i = 0; i < labelLength; i++) {
        let byte = msg[offset + i]!;
        if (byte >= 0x41 && byte <= 0x5a) byte |= 0x20;
        else if (byte === 0x2e || byte < 0x21 || byte > 0x7e) plain = false;
        scratch[length++] = byte;
      }
      offset += labelLength;
    }
    if (offset + 4 > msg.length) return RCODE.FORMERR;
    this.qname = length === 0 ? '' : scratch.toString('latin1', 0, length);
    this.plainName = plain;
    this.qtype = msg.readUInt16BE(offset);
    this.qclass = msg.readUInt16BE(offset + 2);
    offset += 4;
    this.questionEnd = offset;

    // Answer and authority records are unusual in a query but legal; skip them. The
    // additional section may carry the client's OPT record.
    const skipped = msg.readUInt16BE(6) + msg.readUInt16BE(8);
    const additional = msg.readUInt16BE(10);
    let seenOpt = false;
    for (let i = 0; i < skipped + additional; i++) {
      const nameStart = offset;
      offset = skipName(msg, offset);
      if (offset < 0 || offset + 10 > msg.length) return RCODE.FORMERR;
      const type = msg.readUInt16BE(offset);
      const rdlength = msg.readUInt16BE(offset + 8);
      if (i >= skipped && type === TYPE.OPT) {
        // One OPT, owned by the root (RFC 6891 6.1.1).
        if (seenOpt || msg[nameStart] !== 0) return RCODE.FORMERR;
        seenOpt = true;
        this.ednsSize = Math.max(CLASSIC_UDP_SIZE, msg.readUInt16BE(offset + 2));
      }
      offset += 10 + rdlength;
      if (offset > msg.length) return RCODE.FORMERR;
    }
    return OK;
  }
}

/** The offset after the (possibly compressed) name at `offset`, or -1 when it is malformed. */
export function skipName(msg: Buffer, offset: number): number {
  for (let labels = 0; labels < 128; labels++) {
    if (offset >= msg.length) return -1;
    const length = msg[offset]!;
    if (length === 0) return offset + 1;
    if ((length & 0xc0) === 0xc0) return offset + 2 <= msg.length ? offset + 2 : -1;
    if (length & 0xc0) return -1;
    offset += 1 + length;
  }
  return -1;
}

/** Response flags for a query's flags: QR, the opcode, RD and CD copied, RA set. */
export function responseFlags(
  queryFlags: number,
  rcode: number,
  authoritative: boolean,
  truncated = false,
): number {
  return (
    FLAG_QR |
    (queryFlags & (0x7800 | FLAG_RD | FLAG_CD)) |
    FLAG_RA |
    (authoritative ? FLAG_AA : 0) |
    (truncated ? FLAG_TC : 0) |
    (rcode & 0xf)
  );
}

/** Writes an OPT record with no options at `offset` (our UDP size; extended RCODE 0). */
export function writeOpt(buf: Buffer, offset: number): number {
  buf[offset] = 0;
  buf.writeUInt16BE(TYPE.OPT, offset + 1);
  buf.writeUInt16BE(SERVER_UDP_SIZE, offset + 3);
  buf.writeUInt32BE(0, offset + 5);
  buf.writeUInt16BE(0, offset + 9);
  return offset + OPT_LENGTH;
}

/**
 * A response: header, the query's own question bytes (so the client sees its name exactly as
 * it sent it), answer and authority bytes, and an OPT record when the client sent one. When it
 * would exceed `maxSize`, the records are left out and TC is set, so the client retries over TCP.
 */
export function buildResponse(
  query: Buffer,
  q: Query,
  rcode: number,
  authoritative: boolean,
  answers: Buffer | undefined,
  answerCount: number,
  authority: Buffer | undefined,
  authorityCount: number,
  maxSize: number,
): Buffer {
  const questionLength = q.questionEnd > 12 ? q.questionEnd - 12 : 0;
  const optLength = q.ednsSize > 0 ? OPT_LENGTH : 0;
  const base = 12 + questionLength + optLength;
  let size = base + (answers ? answers.length : 0) + (authority ? authority.length : 0);
  let truncated = false;
  if (size > maxSize) {
    truncated = true;
    size = base;
    answerCount = 0;
    authorityCount = 0;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(responseFlags(q.flags, rcode, authoritative, truncated), 2);
  out.writeUInt16BE(questionLength > 0 ? 1 : 0, 4);
  out.writeUInt16BE(answerCount, 6);
  out.writeUInt16BE(authorityCount, 8);
  out.writeUInt16BE(optLength > 0 ? 1 : 0, 10);
  let offset = 12;
  if (questionLength > 0) offset += query.copy(out, offset, 12, q.questionEnd);
  if (!truncated) {
    if (answers) offset += answers.copy(out, offset);
    if (authority) offset += authority.copy(out, offset);
  }
  if (optLength > 0) writeOpt(out, offset);
  return out;
}

/** A response with no records: an error, or a refusal. */
export function errorResponse(query: Buffer, q: Query, rcode: number): Buffer {
  return buildResponse(query, q, rcode, false, undefined, 0, undefined, 0, 65535);
}

/** The largest response a client accepts over UDP. */
export function udpLimit(q: Query): number {
  if (q.ednsSize === 0) return CLASSIC_UDP_SIZE;
  return Math.min(q.ednsSize, 4096);
}
