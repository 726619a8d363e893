import { randomBytes } from 'node:crypto';
import type { Duplex, Readable } from 'node:stream';
import { TunnelError } from './errors';

/** Longest control frame (one JSON line) accepted; a longer one is a protocol violation. */
export const MAX_FRAME_BYTES = 16 * 1024;

/** Datagrams of this package start with these bytes; UDX's own packets start with 0xff. */
const DATAGRAM_MAGIC = Buffer.from('KMT1');

export type Frame = { readonly t: string } & Record<string, unknown>;

function parseFrame(line: string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new TunnelError('KE_TUNNEL_PROTOCOL', 'a control frame is not JSON');
  }
  if (typeof value !== 'object' || value === null || typeof (value as Frame).t !== 'string') {
    throw new TunnelError('KE_TUNNEL_PROTOCOL', 'a control frame has no type');
  }
  return value as Frame;
}

export function encodeFrame(frame: Frame): string {
  return `${JSON.stringify(frame)}\n`;
}

/**
 * Reads newline-delimited JSON frames from `stream` and hands each to `onFrame`. A malformed or
 * oversized frame calls `onError` once and stops reading.
 */
export function readFrames(
  stream: Readable,
  onFrame: (frame: Frame) => void,
  onError: (error: TunnelError) => void,
): void {
  let buffered = '';
  let failed = false;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (failed) return;
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        if (line.length > 0) onFrame(parseFrame(line));
      } catch (error) {
        failed = true;
        onError(
          error instanceof TunnelError
            ? error
            : new TunnelError('KE_TUNNEL_PROTOCOL', String(error), { cause: error }),
        );
        return;
      }
      if (failed || stream.destroyed) return;
      newline = buffered.indexOf('\n');
    }
    if (buffered.length > MAX_FRAME_BYTES) {
      failed = true;
      onError(new TunnelError('KE_TUNNEL_PROTOCOL', 'a control frame is too long'));
    }
  });
}

/**
 * Reads exactly one frame from the start of `stream` without consuming anything after it (the
 * rest is unshifted), so the stream can carry raw bytes afterwards.
 */
export function readOneFrame(stream: Duplex, timeoutMs: number): Promise<Frame> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const finish = (error: Error | undefined, frame?: Frame) => {
      clearTimeout(timer);
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      if (error) reject(error);
      else resolve(frame!);
    };
    const onReadable = () => {
      let chunk: Buffer | null = stream.read() as Buffer | null;
      while (chunk !== null) {
        buffered = Buffer.concat([buffered, chunk]);
        const newline = buffered.indexOf(10);
        if (newline >= 0) {
          const rest = buffered.subarray(newline + 1);
          if (rest.length > 0) stream.unshift(rest);
          try {
            finish(undefined, parseFrame(buffered.subarray(0, newline).toString('utf8')));
          } catch (error) {
            finish(error as Error);
          }
          return;
        }
        if (buffered.length > MAX_FRAME_BYTES) {
          finish(new TunnelError('KE_TUNNEL_PROTOCOL', 'a frame is too long'));
          return;
        }
        chunk = stream.read() as Buffer | null;
      }
    };
    const onEnd = () =>
      finish(new TunnelError('KE_TUNNEL_REFUSED', 'the connection closed before it answered'));
    const onError = (error: Error) => finish(error);
    const timer = setTimeout(
      () => finish(new TunnelError('KE_TUNNEL_TIMEOUT', `no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    onReadable();
  });
}

export function encodeDatagram(frame: Frame): Buffer {
  return Buffer.concat([DATAGRAM_MAGIC, Buffer.from(JSON.stringify(frame))]);
}

/** A datagram of this package, or `undefined` for anything else (never throws). */
export function decodeDatagram(message: Buffer): Frame | undefined {
  if (message.length > 2048 || !message.subarray(0, 4).equals(DATAGRAM_MAGIC)) return undefined;
  try {
    return parseFrame(message.subarray(4).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A string field of a received frame, or `undefined`. */
export function str(frame: Frame, key: string): string | undefined {
  const value = frame[key];
  return typeof value === 'string' && value.length <= 1024 ? value : undefined;
}

/** An integer field of a received frame, or `undefined`. */
export function int(frame: Frame, key: string): number | undefined {
  const value = frame[key];
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/**
 * A relay leg is a plain TCP connection to the server's control port that starts with these
 * bytes and a one-time ticket the server handed out over the TLS control connection; the stream
 * inside is end-to-end TLS between the two agents. (A TLS ClientHello starts with 0x16, so the
 * first byte tells the two apart.)
 */
export const RELAY_HELLO_MAGIC = Buffer.from('KERL');
export const RELAY_TICKET_BYTES = 32;
export const RELAY_HELLO_BYTES = RELAY_HELLO_MAGIC.length + RELAY_TICKET_BYTES;

/** A fresh one-time relay ticket, as the server sends it in control frames (hex). */
export function newRelayTicket(): string {
  return randomBytes(RELAY_TICKET_BYTES).toString('hex');
}

export function encodeRelayHello(ticket: string): Buffer {
  const raw = Buffer.from(ticket, 'hex');
  if (raw.length !== RELAY_TICKET_BYTES) {
    throw new TunnelError('KE_TUNNEL_PROTOCOL', 'a relay ticket is not 32 bytes of hex');
  }
  return Buffer.concat([RELAY_HELLO_MAGIC, raw]);
}

/** The ticket (hex) of a relay hello, or undefined when `hello` is not one. */
export function parseRelayHello(hello: Buffer): string | undefined {
  if (hello.length !== RELAY_HELLO_BYTES) return undefined;
  if (!hello.subarray(0, RELAY_HELLO_MAGIC.length).equals(RELAY_HELLO_MAGIC)) return undefined;
  return hello.subarray(RELAY_HELLO_MAGIC.length).toString('hex');
}
