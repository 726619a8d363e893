/**
 * The far end of every measured path, run in h2 as its own process (a service next to the agent,
 * as in a real node). Usage: sink.ts <host> <echo port> <sink port>. Prints `ready`.
 *
 * - echo port: echoes every byte (ping-pong RTT, and the "stream usable" check of a new path);
 * - sink port: counts the bytes it receives; when the client half-closes it answers one JSON line
 *   `{"bytes":…,"ms":…}` (bytes received, first to last byte as seen here) and ends. Throughput
 *   is counted where the bytes arrive, not where they are written.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';

const [host = '0.0.0.0', echoPort = '7070', sinkPort = '7071'] = process.argv.slice(2);

const echo = createServer({ allowHalfOpen: true }, (socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});

const sink = createServer({ allowHalfOpen: true }, (socket) => {
  let bytes = 0;
  let first = 0n;
  let last = 0n;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    last = process.hrtime.bigint();
    if (bytes === 0) first = last;
    bytes += chunk.length;
  });
  socket.on('end', () => {
    socket.end(`${JSON.stringify({ bytes, ms: Number(last - first) / 1e6 })}\n`);
  });
});

echo.listen(Number(echoPort), host);
sink.listen(Number(sinkPort), host);
await Promise.all([once(echo, 'listening'), once(sink, 'listening')]);
console.log('ready');
process.once('SIGTERM', () => process.exit(0));
