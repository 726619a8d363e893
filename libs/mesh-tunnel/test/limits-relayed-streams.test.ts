import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTunnelAgent,
  createTunnelServer,
  isTunnelError,
  type TunnelAgent,
  type TunnelServer,
} from '../src/index';
import { createTestPki, roundTrip, sha256, startEchoServer } from './fixtures/cluster';

describe('per-agent relay limits', () => {
  let server: TunnelServer;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  const agents: TunnelAgent[] = [];
  let dialer: TunnelAgent;
  const RATE = 128 * 1024;

  beforeAll(async () => {
    const pki = await createTestPki();
    echo = await startEchoServer();
    server = createTunnelServer({
      tls: pki.server,
      host: '127.0.0.1',
      controlPort: 0,
      udpPort: 0,
      limits: { streamsPerAgent: 2, bytesPerSecondPerAgent: RATE },
    });
    await server.start();
    for (const nodeName of ['x', 'y']) {
      const agent = createTunnelAgent({
        nodeName,
        tls: await pki.node(nodeName),
        servers: [server.addresses],
        udpHost: '127.0.0.1',
        punch: false,
        allow: (_ip, port) => port === echo.port,
      });
      agents.push(agent);
      await agent.start();
    }
    dialer = agents[0]!;
  });

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await server?.stop();
    echo?.server.close();
  });

  it('refuses a relayed stream over the per-agent limit with KE_TUNNEL_LIMIT', async () => {
    const held: Duplex[] = [];
    held.push(await dialer.dial('y', '127.0.0.1', echo.port));
    held.push(await dialer.dial('y', '127.0.0.1', echo.port));
    const error = await dialer.dial('y', '127.0.0.1', echo.port).catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_LIMIT')).toBe(true);
    expect(server.stats().agents.x?.refusedByLimit).toBe(1);
    // Closing one makes room again.
    expect((await roundTrip(held.pop()!, 'one')).toString()).toBe('one');
    for (let i = 0; i < 50 && server.stats().relay.streamsOpen > 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const again = await dialer.dial('y', '127.0.0.1', echo.port);
    expect((await roundTrip(again, 'two')).toString()).toBe('two');
    expect((await roundTrip(held.pop()!, 'three')).toString()).toBe('three');
  });

  it('holds an agent to its bytes per second', async () => {
    const payload = randomBytes(3 * RATE);
    const started = Date.now();
    const stream = await dialer.dial('y', '127.0.0.1', echo.port);
    const echoed = await roundTrip(stream, payload);
    const tookMs = Date.now() - started;
    expect(sha256(echoed)).toBe(sha256(payload));
    // One second of burst, then RATE per second: at least ~2 s for 3 × RATE (each direction
    // counts against the agent that sends it).
    expect(tookMs).toBeGreaterThan(1500);
  });
});
