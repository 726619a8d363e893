import { Duplex } from 'node:stream';
import type UDX from 'udx-native';

/**
 * A Node `Duplex` over a UDX stream (a streamx duplex), so node:tls can run on it: TLS needs
 * `cork`, write callbacks and Node's half-close, which streamx does not have.
 */
export function udxDuplex(stream: UDX.Stream): Duplex {
  let readEnded = false;
  let writeFinished = false;
  stream.once('finish', () => {
    writeFinished = true;
  });
  const duplex = new Duplex({
    allowHalfOpen: true,
    read() {
      stream.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (stream.write(chunk)) callback();
      else stream.once('drain', () => callback());
    },
    final(callback) {
      if (writeFinished) return callback();
      const done = () => {
        stream.off('finish', done);
        stream.off('close', done);
        callback();
      };
      stream.once('finish', done);
      stream.once('close', done);
      stream.end();
    },
    destroy(error, callback) {
      // After a clean close both ways UDX closes the stream itself once the peer acked
      // everything; destroying it here would reset data still in flight.
      if (error || !readEnded || !writeFinished) {
        if (!stream.destroyed) stream.destroy();
      }
      callback(error);
    },
  });
  stream.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) stream.pause();
  });
  stream.on('end', () => {
    readEnded = true;
    duplex.push(null);
  });
  stream.on('error', (error: Error) => duplex.destroy(error));
  stream.on('close', () => {
    if (duplex.destroyed) return;
    if (readEnded) duplex.destroy();
    else duplex.destroy(Object.assign(new Error('the UDX stream closed'), { code: 'ECONNRESET' }));
  });
  return duplex;
}
