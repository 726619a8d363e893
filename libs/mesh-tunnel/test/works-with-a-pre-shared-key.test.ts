import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTunnelAgent,
  createTunnelServer,
  isTunnelError,
  preSharedKeyTls,
  type TunnelAgent,
  type TunnelServer,
} from '../src/index';
import { roundTrip, sha256, startEchoServer } from './fixtures/cluster';

// Standalone embedding: no cluster CA, one secret shared by the server and the agents.
describe('a tunnel on a pre-shared key', () => {
  const psk = randomBytes(32);
  let server: TunnelServer;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  const agents: TunnelAgent[] = [];

  const startAgent = async (nodeName: string, key = psk, punch = true) => {
    const agent = createTunnelAgent({
      nodeName,
      punch,
      tls: await preSharedKeyTls({ psk: key, commonName: `system:node:${nodeName}` }),
      servers: [server.addresses],
      udpHost: '127.0.0.1',
      allow: (_ip, port) => port === echo.port,
    });
    agents.push(agent);
    await agent.start();
    return agent;
  };

  beforeAll(async () => {
    echo = await startEchoServer();
    server = createTunnelServer({
      tls: await preSharedKeyTls({ psk, commonName: 'tunnel', altNames: ['127.0.0.1'] }),
      host: '127.0.0.1',
      controlPort: 0,
      udpPort: 0,
    });
    await server.start();
  });

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await server?.stop();
    echo?.server.close();
  });

  it('connects two agents peer to peer, each with a certificate it issued itself', async () => {
    const a = await startAgent('psk-a');
    await startAgent('psk-b');
    const payload = randomBytes(512 * 1024);
    const stream = await a.dial('psk-b', '127.0.0.1', echo.port);
    expect(sha256(await roundTrip(stream, payload))).toBe(sha256(payload));
    expect(a.stats().peers['psk-b']?.path).toBe('p2p');
  });

  it('relays a stream between agents that cannot punch, end-to-end encrypted', async () => {
    await startAgent('psk-d');
    const relayed = await startAgent('psk-e', psk, false);
    const before = server.stats().relay.bytes;
    const payload = randomBytes(512 * 1024);
    const stream = await relayed.dial('psk-d', '127.0.0.1', echo.port);
    expect(sha256(await roundTrip(stream, payload))).toBe(sha256(payload));
    expect(relayed.stats().peers['psk-d']?.path).toBe('relay');
    // Both directions through the server, TLS records included.
    expect(server.stats().relay.bytes - before).toBeGreaterThan(2 * payload.length);
  });

  it('refuses an agent holding another key', async () => {
    const error = await startAgent('psk-c', randomBytes(32)).catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_AUTH')).toBe(true);
  });

  it('refuses a key shorter than 16 bytes', async () => {
    const error = await preSharedKeyTls({ psk: 'short', commonName: 'x' }).catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_INVALID_OPTIONS')).toBe(true);
  });
});
