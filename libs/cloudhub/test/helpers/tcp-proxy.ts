import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay between an edge and the hub that a test can cut: `sever()` resets both sides of
 * every relayed connection, which both ends see as a dropped connection (ECONNRESET), not as a
 * polite close. `retarget()` points new connections at another port (a restarted hub).
 */
export interface SeverableProxy {
  /** `wss://127.0.0.1:<port>`: what the edge is told the hub is. */
  readonly url: string;
  /** Relayed connections open now. */
  readonly connections: number;
  /** Resets every relayed connection; returns how many there were. */
  sever(): number;
  /** New connections go to `port` from now on. */
  retarget(port: number): void;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

export async function startSeverableProxy(targetPort: number): Promise<SeverableProxy> {
  let target = targetPort;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const sever = () => {
    const count = pairs.size;
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      for (const socket of pair) {
        if (socket.connecting || socket.destroyed) socket.destroy();
        else socket.resetAndDestroy();
      }
    }
    return count;
  };
  return {
    url: `wss://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    sever,
    retarget(next) {
      target = next;
    },
    async close() {
      sever();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
