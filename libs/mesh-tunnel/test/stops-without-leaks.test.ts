import { describe, expect, it } from 'vitest';
import { createTunnelAgent, createTunnelServer, isTunnelError } from '../src/index';
import { createTestPki, roundTrip, startEchoServer } from './fixtures/cluster';

type WithHandles = { _getActiveHandles(): unknown[] };
const handles = () =>
  (process as unknown as WithHandles)
    ._getActiveHandles()
    .map((handle) => (handle as object).constructor.name)
    .sort();

describe('stop()', () => {
  it('leaves no sockets or timers behind, after p2p and relayed streams', async () => {
    const pki = await createTestPki();
    const tls = { p: await pki.node('p'), q: await pki.node('q') };
    const echo = await startEchoServer();
    const baseline = handles();
    for (let round = 0; round < 3; round++) {
      const server = createTunnelServer({
        tls: pki.server,
        host: '127.0.0.1',
        controlPort: 0,
        udpPort: 0,
      });
      await server.start();
      const servers = [server.addresses];
      const p = createTunnelAgent({
        nodeName: 'p',
        tls: tls.p,
        servers,
        udpHost: '127.0.0.1',
        punch: round !== 1,
      });
      const q = createTunnelAgent({
        nodeName: 'q',
        tls: tls.q,
        servers,
        udpHost: '127.0.0.1',
        allow: () => true,
      });
      await p.start();
      await q.start();
      const done = await p.dial('q', '127.0.0.1', echo.port);
      expect((await roundTrip(done, `round ${round}`)).toString()).toBe(`round ${round}`);
      // One stream left open: stop() must close it too.
      const open = await p.dial('q', '127.0.0.1', echo.port);
      open.on('error', () => {});
      await q.stop();
      await p.stop();
      await server.stop();
      const error = await p.dial('q', '127.0.0.1', echo.port).catch((e: unknown) => e);
      expect(isTunnelError(error, 'KE_TUNNEL_STATE')).toBe(true);
    }
    let now = handles();
    for (let i = 0; i < 50 && now.length > baseline.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      now = handles();
    }
    expect(now).toEqual(baseline);
    echo.server.close();
  });
});
