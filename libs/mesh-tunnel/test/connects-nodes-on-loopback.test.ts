import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTunnelAgent,
  createTunnelServer,
  isTunnelError,
  type TunnelAgent,
  type TunnelServer,
} from '../src/index';
import {
  createTestPki,
  memoryLogger,
  roundTrip,
  sha256,
  startEchoServer,
  type TestPki,
} from './fixtures/cluster';

// No NAT on loopback: the punch always succeeds, so `relayOnly` (punch: false) forces the relay.
describe('agents on loopback', () => {
  let pki: TestPki;
  let server: TunnelServer;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let deadPort = 0;
  const agents: TunnelAgent[] = [];
  let a: TunnelAgent;
  let b: TunnelAgent;
  let relayOnly: TunnelAgent;
  const logger = memoryLogger();

  const agent = async (nodeName: string, extra: { punch?: boolean } = {}) => {
    const created = createTunnelAgent({
      nodeName,
      tls: await pki.node(nodeName),
      servers: [server.addresses],
      udpHost: '127.0.0.1',
      allow: (ip, port) => ip === '127.0.0.1' && (port === echo.port || port === deadPort),
      logger,
      ...extra,
    });
    agents.push(created);
    await created.start();
    return created;
  };

  const waitForEndpoint = async (node: string) => {
    for (let i = 0; i < 100 && !server.stats().agents[node]?.endpoint; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  beforeAll(async () => {
    pki = await createTestPki();
    echo = await startEchoServer();
    const dead = createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    deadPort = (dead.address() as AddressInfo).port;
    dead.close();
    server = createTunnelServer({
      tls: pki.server,
      host: '127.0.0.1',
      controlPort: 0,
      udpPort: 0,
      logger,
    });
    await server.start();
    a = await agent('a');
    b = await agent('b');
    relayOnly = await agent('c', { punch: false });
    await Promise.all(['a', 'b', 'c'].map(waitForEndpoint));
  });

  afterAll(async () => {
    for (const each of agents) await each.stop();
    await server?.stop();
    echo?.server.close();
  });

  it('registers every agent and learns its UDP endpoint', () => {
    const stats = server.stats();
    expect(Object.keys(stats.agents).sort()).toEqual(['a', 'b', 'c']);
    expect(stats.agents.a?.endpoint?.host).toBe('127.0.0.1');
    expect(a.stats().registered).toBe(true);
    expect(a.stats().publicEndpoint?.port).toBe(stats.agents.a?.endpoint?.port);
  });

  it('carries 5 MB intact over a punched peer-to-peer path, relaying nothing', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const stream = await a.dial('b', '127.0.0.1', echo.port);
    const echoed = await roundTrip(stream, payload);
    expect(echoed.length).toBe(payload.length);
    expect(sha256(echoed)).toBe(sha256(payload));
    const peer = a.stats().peers.b!;
    expect(peer.path).toBe('p2p');
    expect(peer.streams.p2p).toBe(1);
    expect(peer.punch).toMatchObject({ attempts: 1, succeeded: 1, failed: 0 });
    expect(server.stats().relay.bytes).toBe(0);
    expect(server.stats().punchesCoordinated).toBe(1);
  });

  it('reuses the live peer-to-peer path for many concurrent streams', async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const stream = await a.dial('b', '127.0.0.1', echo.port);
        return (await roundTrip(stream, `stream ${i}`)).toString();
      }),
    );
    expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => `stream ${i}`));
    expect(a.stats().peers.b?.streams.p2p).toBe(41);
    expect(a.stats().peers.b?.punch.attempts).toBe(1);
    expect(a.stats().peers.b?.rttMs).toBeGreaterThanOrEqual(0);
    expect(server.stats().relay.bytes).toBe(0);
  });

  it('carries 5 MB intact through the relay, which sees only ciphertext', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const before = server.stats().relay;
    const stream = await relayOnly.dial('b', '127.0.0.1', echo.port);
    const echoed = await roundTrip(stream, payload);
    expect(sha256(echoed)).toBe(sha256(payload));
    const after = server.stats().relay;
    expect(after.streamsTotal).toBe(before.streamsTotal + 1);
    // Both directions, plus TLS record overhead.
    expect(after.bytes - before.bytes).toBeGreaterThan(2 * payload.length);
    expect(relayOnly.stats().peers.b?.path).toBe('relay');
    expect(relayOnly.stats().peers.b?.streams.relay).toBe(1);
  });

  it('refuses a destination the peer does not allow, on both paths', async () => {
    for (const dialer of [a, relayOnly]) {
      const error = await dialer.dial('b', '127.0.0.1', 9).catch((e: unknown) => e);
      expect(isTunnelError(error, 'KE_TUNNEL_NOT_ALLOWED')).toBe(true);
    }
    expect(b.stats().accepted.notAllowed).toBe(2);
  });

  it('reports an allowed destination that does not answer as KE_TUNNEL_DIAL_FAILED', async () => {
    for (const dialer of [a, relayOnly]) {
      const error = await dialer.dial('b', '127.0.0.1', deadPort).catch((e: unknown) => e);
      expect(isTunnelError(error, 'KE_TUNNEL_DIAL_FAILED')).toBe(true);
    }
  });

  it('reports a node the server does not know as KE_TUNNEL_UNKNOWN_PEER', async () => {
    const error = await a.dial('nobody', '127.0.0.1', echo.port).catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_UNKNOWN_PEER')).toBe(true);
  });

  it('gives up on an aborted dial with KE_TUNNEL_ABORTED', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await relayOnly
      .dial('b', '127.0.0.1', echo.port, controller.signal)
      .catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_ABORTED')).toBe(true);
  });

  it('keeps dialing when the peer restarts: the dead path falls back, new streams succeed', async () => {
    const failedBefore = a.stats().peers.b!.streams.failed;
    const oldB = agents.splice(agents.indexOf(b), 1)[0]!;
    await oldB.stop();
    b = await agent('b');
    await waitForEndpoint('b');
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const stream = await a.dial('b', '127.0.0.1', echo.port);
      answers.push((await roundTrip(stream, `again ${i}`)).toString());
    }
    expect(answers).toEqual(Array.from({ length: 5 }, (_, i) => `again ${i}`));
    expect(a.stats().peers.b?.streams.failed).toBe(failedBefore);
    expect(logger.lines.some((line) => line.message.startsWith('peer-to-peer path down'))).toBe(
      true,
    );
  });
});
