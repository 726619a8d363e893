import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createServiceProxy,
  createStaticSource,
  type ServiceDefinition,
  type ServiceProxy,
  type Tunnel,
} from '../src/index';

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** Sends `payload`, half-closes, and collects everything until the other side ends. */
function exchange(port: number, payload = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('end', () => {
      socket.end();
      resolve(text);
    });
    socket.on('error', reject);
    socket.end(payload);
  });
}

describe('the userspace path without iptables', () => {
  const servers: Server[] = [];
  let echoPort = 0;
  let namePort = 0;

  beforeAll(async () => {
    // Answers only after the client has half-closed: the FIN must travel through the proxy.
    const echo = createServer({ allowHalfOpen: true }, (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => socket.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    const named = createServer((socket) => {
      socket.write('hello\n');
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('error', () => {});
    });
    servers.push(echo, named);
    echoPort = await listen(echo);
    namePort = await listen(named);
  });

  afterAll(() => {
    for (const server of servers) server.close();
  });

  const web = (extra: Partial<ServiceDefinition> = {}): ServiceDefinition => ({
    name: 'web',
    clusterIP: '198.18.100.1',
    ports: [{ port: 80 }],
    endpoints: [{ ip: '127.0.0.1', port: echoPort }],
    ...extra,
  });

  it('carries a half-close and a large request through', async () => {
    const proxy = createServiceProxy({
      source: createStaticSource([web()]),
      nodeName: 'a',
      iptables: false,
    });
    await proxy.start();
    try {
      const { port } = proxy.listener('default/web', 80)!;
      const big = 'x'.repeat(8 * 1024 * 1024);
      expect(await exchange(port, big)).toBe(`got ${big.length} bytes`);
      expect(await exchange(port)).toBe('got 0 bytes');
      await waitFor('connections to close', () => proxy.stats().active === 0);
    } finally {
      await proxy.stop();
    }
  });

  it('keeps every byte in order both ways when the receiver reads slowly', async () => {
    // 16 MiB of random bytes each way, read in pauses: writes queue up in the proxy, which
    // must neither reuse a buffer a queued write still holds nor lose or reorder a byte.
    const upload = randomBytes(16 * 1024 * 1024);
    const download = randomBytes(16 * 1024 * 1024);
    const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
    const slowReader = (socket: import('node:net').Socket, onEnd: (all: Buffer) => void) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (chunks.length % 8 === 0) {
          socket.pause();
          setTimeout(() => socket.resume(), 2);
        }
      });
      socket.on('end', () => onEnd(Buffer.concat(chunks)));
    };
    let uploaded = '';
    const backend = createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {});
      socket.write(download);
      slowReader(socket, (all) => {
        uploaded = sha(all);
        socket.end();
      });
    });
    servers.push(backend);
    const backendPort = await listen(backend);
    const proxy = createServiceProxy({
      source: createStaticSource([web({ endpoints: [{ ip: '127.0.0.1', port: backendPort }] })]),
      nodeName: 'a',
      iptables: false,
    });
    await proxy.start();
    try {
      const { port } = proxy.listener('default/web', 80)!;
      const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      const downloaded = new Promise<string>((resolve) =>
        slowReader(socket, (all) => resolve(sha(all))),
      );
      socket.end(upload);
      expect(await downloaded).toBe(sha(download));
      expect(uploaded).toBe(sha(upload));
    } finally {
      await proxy.stop();
    }
  });

  it('reaches endpoints on other nodes through the tunnel', async () => {
    const dials: string[] = [];
    const tunnel: Tunnel = {
      async dial(node, ip, port) {
        dials.push(`${node}/${ip}:${port}`);
        const socket = connect({ port: echoPort, host: '127.0.0.1', allowHalfOpen: true });
        await once(socket, 'connect');
        return socket;
      },
    };
    const source = createStaticSource([
      web({ endpoints: [{ ip: '10.9.0.7', port: 8080, nodeName: 'node-b' }] }),
    ]);
    const proxy = createServiceProxy({ source, nodeName: 'node-a', tunnel, iptables: false });
    await proxy.start();
    try {
      expect(proxy.stats().servicePorts[0]).toMatchObject({
        mode: 'userspace',
        endpoints: [{ ip: '10.9.0.7', tunnelNode: 'node-b' }],
      });
      const { port } = proxy.listener('default/web', 80)!;
      expect(await exchange(port, 'hi')).toBe('got 2 bytes');
      expect(dials).toEqual(['node-b/10.9.0.7:8080']);
    } finally {
      await proxy.stop();
    }
  });

  it('closes connections to a removed endpoint after the drain timeout', async () => {
    const source = createStaticSource([web({ endpoints: [{ ip: '127.0.0.1', port: namePort }] })]);
    const proxy = createServiceProxy({
      source,
      nodeName: 'a',
      iptables: false,
      drainTimeoutMs: 300,
    });
    await proxy.start();
    try {
      const { port } = proxy.listener('default/web', 80)!;
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'data');
      socket.on('error', () => {});
      const removedAt = Date.now();
      source.set(web({ endpoints: [{ ip: '127.0.0.1', port: echoPort }] }));
      await proxy.synced();
      socket.write('still here');
      const [echoed] = await once(socket, 'data');
      expect(String(echoed)).toBe('still here'); // draining, not cut
      await once(socket, 'close');
      expect(Date.now() - removedAt).toBeGreaterThanOrEqual(250);
      expect(await exchange(port, 'abc')).toBe('got 3 bytes'); // new ones go to the new endpoint
    } finally {
      await proxy.stop();
    }
  });

  it('refuses connections to a service without ready endpoints', async () => {
    const source = createStaticSource([
      web({ endpoints: [{ ip: '127.0.0.1', port: echoPort, ready: false }] }),
    ]);
    const proxy = createServiceProxy({ source, nodeName: 'a', iptables: false });
    await proxy.start();
    try {
      const { port } = proxy.listener('default/web', 80)!;
      await expect(exchange(port, 'x')).rejects.toThrow(/ECONNRESET|EPIPE/);
    } finally {
      await proxy.stop();
    }
  });

  it('proxies UDP', async () => {
    const backend = createSocket('udp4');
    backend.on('message', (message, from) =>
      backend.send(`pong ${message}`, from.port, from.address),
    );
    backend.bind(0, '127.0.0.1');
    await once(backend, 'listening');
    const source = createStaticSource([
      {
        name: 'dns',
        clusterIP: '198.18.100.5',
        ports: [{ port: 53, protocol: 'UDP' }],
        endpoints: [{ ip: '127.0.0.1', port: backend.address().port }],
      },
    ]);
    const proxy = createServiceProxy({
      source,
      nodeName: 'a',
      iptables: false,
      udpIdleTimeoutMs: 100,
    });
    await proxy.start();
    const client = createSocket('udp4');
    try {
      const { port } = proxy.listener('default/dns', 53, 'UDP')!;
      client.send('one', port, '127.0.0.1');
      const [reply, from] = await once(client, 'message');
      expect(String(reply)).toBe('pong one');
      expect(from.port).toBe(port);
      expect(proxy.stats().active).toBe(1);
      await waitFor('the idle flow to expire', () => proxy.stats().active === 0, {
        timeoutMs: 2000,
      });
    } finally {
      client.close();
      await proxy.stop();
      backend.close();
    }
  });

  it('starts and stops 100 times without leaking handles', async () => {
    const source = createStaticSource([
      web(),
      {
        name: 'dns',
        clusterIP: '198.18.100.5',
        ports: [{ port: 53, protocol: 'UDP' }],
        endpoints: [],
      },
    ]);
    const before = process.getActiveResourcesInfo().length;
    for (let i = 0; i < 100; i++) {
      const proxy: ServiceProxy = createServiceProxy({ source, nodeName: 'a', iptables: false });
      await proxy.start();
      if (i % 25 === 0)
        expect(await exchange(proxy.listener('default/web', 80)!.port, 'x')).toBe('got 1 bytes');
      await proxy.stop();
      await proxy.stop(); // idempotent
    }
    await waitFor(
      'handles to be released',
      () => process.getActiveResourcesInfo().length <= before,
      {
        timeoutMs: 5000,
      },
    );
  });

  it('reports bad options, misuse and iptables failures with codes', async () => {
    const source = createStaticSource([web()]);
    expect(() => createServiceProxy({ source, nodeName: '' })).toThrow(
      expect.objectContaining({ code: 'KE_PROXY_INVALID_OPTIONS' }),
    );
    expect(() =>
      createServiceProxy({ source, nodeName: 'a', reachableCidrs: ['10.0.0.0/40'] }),
    ).toThrow(/reachableCidrs/);
    const proxy = createServiceProxy({ source, nodeName: 'a', iptables: false });
    await proxy.start();
    await expect(proxy.start()).rejects.toMatchObject({ code: 'KE_PROXY_STATE' });
    await proxy.stop();
    const broken = createServiceProxy({
      source,
      nodeName: 'a',
      iptables: { bin: 'ke-no-such-iptables' },
    });
    await expect(broken.start()).rejects.toMatchObject({ code: 'KE_PROXY_IPTABLES_FAILED' });
  });
});
