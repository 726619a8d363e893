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
 * Reads into one reused buffer when it can; the buffer is read into again only once the last
 * write left it (written at once, or — after a pause — flushed), which is also the backpressure.
 * Otherwise, and for streams that are not sockets (a tunnel), it is `pipe`.
 */
export function relay(from: Duplex, to: Duplex): void {
  if (!canUseUserBuffer(from) || !userBuffer) {
    from.pipe(to);
    return;
  }
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  let waiting = false;
  const flushed = (error?: Error | null) => {
    if (!waiting || error) return;
    waiting = false;
    from.resume();
  };
  const onRead = (bytes: number, data: Buffer): boolean => {
    to.write(data.subarray(0, bytes), flushed);
    if (to.writableLength === 0) return true;
    // Not all written yet: the buffer is still in use; stop reading until the write is done.
    waiting = true;
    return false;
  };
  // Bytes that arrived before the switch (a server that speaks first) are in the stream's buffer.
  for (let chunk = from.read(); chunk !== null; chunk = from.read()) to.write(chunk);
  const fields = from as unknown as Record<symbol, unknown>;
  fields[userBuffer.buffer] = buffer;
  fields[userBuffer.callback] = onRead;
  fields[userBuffer.generator] = null;
  (from as unknown as { _handle: Required<HandleWithUserBuffer> })._handle.useUserBuffer(buffer);
  from.once('end', () => to.end());
  from.resume();
}
