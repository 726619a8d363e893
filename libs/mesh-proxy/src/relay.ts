import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Bytes a socket may hold queued for writing before `pipe` pauses its source. Used by the `pipe`
 * fallback: Node reads 64 KiB at a time, and with the default 16 KiB every read would pause and
 * resume the other side.
 */
export const PIPE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Node's `onread` reads a socket into one buffer of the caller's instead of allocating a new
 * 64 KiB buffer per read; on a proxy that moves gigabits that allocation (and the garbage
 * collection it causes) is most of the cost. `onread` is public for sockets one creates, but not
 * for sockets a server accepts, so it is attached to those through the same fields `new
 * Socket({ onread })` sets. Found by probing once; when this Node does not have them, every
 * socket falls back to `pipe`.
 */
const userBuffer = (() => {
  const options = { onread: { buffer: Buffer.alloc(1), callback: () => true } };
  const probe = new Socket(options as ConstructorParameters<typeof Socket>[0]);
  const named = (name: string) =>
    Object.getOwnPropertySymbols(probe).find((symbol) => symbol.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  probe.destroy();
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
})();

type HandleWithUserBuffer = { useUserBuffer?: (buffer: Buffer) => void };

function canUseUserBuffer(socket: Duplex): socket is Socket {
  const handle = (socket as unknown as { _handle?: HandleWithUserBuffer })._handle;
  return (
    userBuffer !== undefined &&
    socket instanceof Socket &&
    typeof handle?.useUserBuffer === 'function' &&
    (socket as unknown as Record<symbol, unknown>)[userBuffer.buffer] == null
  );
}

/**
 * Moves bytes `from` → `to` until `from` ends, then ends `to` (half-close travels through).
 * Reads into one reused buffer while writes complete at once (the common case on a proxy); a
 * write left queued keeps its bytes, so reading moves to another buffer, and `to`'s high-water
 * mark pauses reading until it drains. Buffers held by queued writes are reused once `to` has
 * written everything, so a bulk transfer does not allocate (and collect) 64 KiB per queued
 * write. Otherwise, and for streams that are not sockets (a tunnel), it is `pipe`.
 */
export function relay(from: Duplex, to: Duplex): void {
  if (!canUseUserBuffer(from) || !userBuffer) {
    from.pipe(to);
    return;
  }
  let buffer: Buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  /** Buffers whose bytes sit in `to`'s queue; free again once it is empty. */
  const queued: Buffer[] = [];
  const free: Buffer[] = [];
  const handle = (from as unknown as { _handle: Required<HandleWithUserBuffer> })._handle;
  const fields = from as unknown as Record<symbol, unknown>;
  let paused = false;
  const drained = () => {
    if (!paused) return;
    paused = false;
    from.resume();
  };
  const onRead = (bytes: number, data: Buffer): boolean => {
    // No write callback: most writes complete at once, and a callback per write costs more
    // than the rare case it helps. A write that did not complete still holds `data`, so the
    // next reads go into another buffer; the stream's own backpressure pauses reading.
    if (queued.length > 0 && to.writableLength === 0) free.push(...queued.splice(0));
    to.write(data.subarray(0, bytes));
    if (to.writableLength > 0) {
      queued.push(buffer);
      buffer = free.pop() ?? Buffer.allocUnsafe(READ_BUFFER_BYTES);
      fields[userBuffer.buffer] = buffer;
      handle.useUserBuffer(buffer);
      if (to.writableNeedDrain) {
        paused = true;
        to.once('drain', drained);
        return false;
      }
    }
    return true;
  };
  // Bytes that arrived before the switch (a server that speaks first) are in the stream's buffer.
  for (let chunk = from.read(); chunk !== null; chunk = from.read()) to.write(chunk);
  fields[userBuffer.buffer] = buffer;
  fields[userBuffer.callback] = onRead;
  fields[userBuffer.generator] = null;
  handle.useUserBuffer(buffer);
  from.once('end', () => to.end());
  from.resume();
}
