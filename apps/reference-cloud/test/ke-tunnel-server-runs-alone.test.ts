import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTunnelAgent, preSharedKeyTls, type TunnelAgent } from '@ke/mesh-tunnel';
import { startSource, type TestProcess } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = new URL('../src/tunnel-server-main.ts', import.meta.url);

describe('ke-tunnel-server', () => {
  let dir: string;
  let server: TestProcess | undefined;
  let backend: Server;
  const agents: TunnelAgent[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ke-tunnel-server-'));
    backend = createServer((socket) => socket.end('behind node b'));
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
  });

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await server?.stop('SIGTERM', 15_000).catch(() => server?.stop('SIGKILL'));
    backend?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start without a CA or a pre-shared key, saying which fields', async () => {
    const proc = startSource(main, ['--port', '0', '--address', '127.0.0.1']);
    expect(await proc.exited(30_000)).toBe(2);
    expect(proc.lines.join('\n')).toMatch(/exactly one of dataDir .* and pskFile/);
  });

  it('connects two nodes that hold its pre-shared key', async () => {
    const psk = randomBytes(32).toString('hex');
    const pskFile = join(dir, 'tunnel.psk');
    await writeFile(pskFile, `${psk}\n`, { mode: 0o600 });
    server = startSource(
      main,
      ['--psk-file', pskFile, '--address', '127.0.0.1', '--port', '0', '--log-format', 'json'],
      { env: { KE_LOG_FORMAT: 'json' } },
    );
    const ready = JSON.parse(await server.waitForLine(/tunnel server ready/, 30_000));
    const port = Number(String(ready.tls).split(':').pop());
    const servers = [{ host: '127.0.0.1', controlPort: port, udpPort: port }];
    const backendPort = (backend.address() as AddressInfo).port;
    for (const node of ['a', 'b']) {
      const agent = createTunnelAgent({
        nodeName: node,
        tls: await preSharedKeyTls({ psk, commonName: `system:node:${node}` }),
        servers,
        udpHost: '127.0.0.1',
        allow: (_ip, p) => node === 'b' && p === backendPort,
      });
      agents.push(agent);
      await agent.start();
    }
    const stream = await agents[0]!.dial('b', '127.0.0.1', backendPort);
    let answer = '';
    for await (const chunk of stream) answer += chunk;
    expect(answer).toBe('behind node b');
    expect(await server.stop('SIGTERM', 15_000)).toBe(0);
  });
});
