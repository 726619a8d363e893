import type { Duplex } from 'node:stream';
import type { TokenBucket } from './token-bucket';

/**
 * Bytes `to` may hold queued before `from` pauses. A socket's own high-water mark is 16 KiB,
 * less than one read (64 KiB), so pausing at `write() === false` would stop and start the copy
 * on every chunk; this lets a few reads queue while the kernel takes the writes.
 */
const PIPE_BUFFER_BYTES = 1024 * 1024;

/**
 * Copies `from` into `to`, counting bytes and pausing `from` while `to` holds more than
 * {@link PIPE_BUFFER_BYTES} or `bucket` is empty. Returns a function that cancels a pending pause
 * timer.
 */
export function meteredPipe(
  from: Duplex,
  to: Duplex,
  onBytes: (count: number) => void,
  bucket?: TokenBucket,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  from.on('data', (chunk: Buffer) => {
    onBytes(chunk.length);
    const wait = bucket?.take(chunk.length) ?? 0;
    const flowing = to.write(chunk) || to.writableLength < PIPE_BUFFER_BYTES;
    if (flowing && wait === 0) return;
    from.pause();
    let pending = 0;
    const resume = () => {
      pending -= 1;
      if (pending === 0 && !from.destroyed) from.resume();
    };
    if (!flowing) {
      pending += 1;
      to.once('drain', resume);
    }
    if (wait > 0) {
      pending += 1;
      timer = setTimeout(() => {
        timer = undefined;
        resume();
      }, wait);
    }
  });
  from.on('end', () => to.end());
  return () => {
    if (timer) clearTimeout(timer);
  };
}

/**
 * Joins two connections both ways, honouring half-close; when one closes the other is ended, and
 * when one fails the other is destroyed. `onClosed` runs once, after both have closed.
 */
export function joinStreams(
  a: Duplex,
  b: Duplex,
  meter: {
    onBytes(from: 'a' | 'b', count: number): void;
    bucketA?: TokenBucket;
    bucketB?: TokenBucket;
  },
  onClosed: () => void,
): void {
  const cancelA = meteredPipe(a, b, (n) => meter.onBytes('a', n), meter.bucketA);
  const cancelB = meteredPipe(b, a, (n) => meter.onBytes('b', n), meter.bucketB);
  let closed = 0;
  const onClose = (self: Duplex, other: Duplex) => () => {
    if (self.readableEnded && self.writableFinished) other.end();
    else other.destroy();
    closed += 1;
    if (closed === 2) {
      cancelA();
      cancelB();
      onClosed();
    }
  };
  a.on('error', () => a.destroy());
  b.on('error', () => b.destroy());
  a.once('close', onClose(a, b));
  b.once('close', onClose(b, a));
}
