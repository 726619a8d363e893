import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { createCertificateAuthority, issueCertificate } from '@ke/pki';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTunnelAgent,
  createTunnelServer,
  isTunnelError,
  type TlsMaterial,
  type TunnelAgent,
  type TunnelServer,
} from '../src/index';
import {
  createTestPki,
  memoryLogger,
  roundTrip,
  startEchoServer,
  type TestPki,
} from './fixtures/cluster';

/** Resolves with what the server wrote before closing the connection. */
async function answerTo(socket: TLSSocket, payload: string | Buffer): Promise<string> {
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', () => {});
  socket.once('secureConnect', () => socket.write(payload));
  await new Promise((resolve) => socket.once('close', resolve));
  return text;
}

describe('who may use the tunnel server', () => {
  let pki: TestPki;
  let server: TunnelServer;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  const agents: TunnelAgent[] = [];
  const logger = memoryLogger();

  const startAgent = async (nodeName: string, tls: TlsMaterial) => {
    const agent = createTunnelAgent({
      nodeName,
      tls,
      servers: [server.addresses],
      udpHost: '127.0.0.1',
      allow: (_ip, port) => port === echo.port,
      logger,
    });
    agents.push(agent);
    await agent.start();
    return agent;
  };
  const rawClient = (tls: Partial<TlsMaterial>) =>
    connect({
      host: '127.0.0.1',
      port: server.addresses.controlPort,
      key: tls.key,
      cert: tls.cert,
      ca: pki.ca.certificatePem,
    });

  beforeAll(async () => {
    pki = await createTestPki();
    echo = await startEchoServer();
    server = createTunnelServer({
      tls: pki.server,
      host: '127.0.0.1',
      controlPort: 0,
      udpPort: 0,
      relayAcceptTimeoutMs: 2000,
      logger,
    });
    await server.start();
  });

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await server?.stop();
    echo?.server.close();
  });

  it('refuses a node that registers under another name than its certificate', async () => {
    const error = await startAgent('b', await pki.node('a')).catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_AUTH')).toBe(true);
    expect((error as Error).message).toContain('system:node:a');
    expect(server.stats().agents.b).toBeUndefined();
  });

  it('refuses a certificate from another CA', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'someone-else' });
    const foreign = await issueCertificate(otherCa, {
      commonName: 'system:node:a',
      usage: 'server+client',
    });
    const error = await startAgent('a', {
      key: foreign.privateKeyPem,
      cert: foreign.certificatePem,
      ca: pki.ca.certificatePem,
    }).catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_AUTH')).toBe(true);
    expect(server.stats().agents.a).toBeUndefined();
  });

  it('refuses a connection without a certificate', async () => {
    const before = server.stats().rejectedConnections;
    const answer = await answerTo(rawClient({}), '{"t":"register","node":"a"}\n');
    expect(answer).toBe('');
    expect(server.stats().rejectedConnections).toBeGreaterThan(before);
  });

  it('refuses a certificate of the CA that is not a node certificate', async () => {
    const admin = await issueCertificate(pki.ca, { commonName: 'admin', usage: 'client' });
    const answer = await answerTo(
      rawClient({ key: admin.privateKeyPem, cert: admin.certificatePem }),
      '{"t":"register","node":"admin"}\n',
    );
    expect(answer).toBe('');
  });

  it('closes a connection that sends malformed frames and keeps serving the others', async () => {
    const good = await startAgent('good', await pki.node('good'));
    const peer = await startAgent('peer', await pki.node('peer'));
    const mallory = await pki.node('mallory');
    const before = server.stats().rejectedConnections;
    for (const garbage of ['not json\n', '{"no":"type"}\n', 'x'.repeat(20_000)]) {
      const answer = await answerTo(rawClient(mallory), garbage);
      expect(answer).toBe('');
    }
    // Registered first, then garbage on the control connection.
    const answer = await answerTo(
      rawClient(mallory),
      '{"t":"register","node":"mallory"}\n{"t":"connect"}\n',
    );
    expect(answer).toContain('"registered"');
    expect(server.stats().rejectedConnections).toBe(before + 4);
    expect(logger.lines.some((line) => line.level === 'warn')).toBe(true);
    const stream = await good.dial('peer', '127.0.0.1', echo.port);
    expect((await roundTrip(stream, 'still serving')).toString()).toBe('still serving');
    expect(peer.stats().accepted.ok).toBe(1);
  });

  /** A control connection registered by hand, and the frames the server sends on it. */
  const registerByHand = async (node: string) => {
    const socket = rawClient(await pki.node(node));
    const frames: Array<Record<string, unknown>> = [];
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        frames.push(JSON.parse(buffered.slice(0, newline)));
        buffered = buffered.slice(newline + 1);
      }
    });
    socket.on('error', () => {});
    await once(socket, 'secureConnect');
    socket.write(`${JSON.stringify({ t: 'register', node })}\n`);
    const next = async (type: string) => {
      for (let i = 0; i < 200; i++) {
        const frame = frames.find((f) => f.t === type);
        if (frame) return frame;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no ${type} frame`);
    };
    await next('registered');
    return { socket, next };
  };

  /** What a plain TCP connection to the control port hears after sending `bytes`. */
  const relayLeg = async (bytes: Buffer, splitAt = bytes.length) => {
    const leg = tcpConnect({
      host: '127.0.0.1',
      port: server.addresses.controlPort,
      noDelay: true,
    });
    leg.on('error', () => {});
    await once(leg, 'connect');
    leg.write(bytes.subarray(0, splitAt));
    if (splitAt < bytes.length) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      leg.write(bytes.subarray(splitAt));
    }
    let received = 0;
    leg.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    return { leg, received: () => received, closed: once(leg, 'close') };
  };
  const hello = (ticket: string) =>
    Buffer.concat([Buffer.from('KERL'), Buffer.from(ticket, 'hex')]);

  it('takes a relay connection only with an unused ticket it handed out, and closes other bytes', async () => {
    await startAgent('acceptor', await pki.node('acceptor'));
    const mallory = await registerByHand('mallory2');
    const before = server.stats().rejectedConnections;
    // Made-up tickets and bytes that are neither TLS nor a relay hello are closed at once.
    for (const bytes of [
      hello(randomBytes(32).toString('hex')),
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    ]) {
      const { closed } = await relayLeg(bytes);
      await closed;
    }
    expect(server.stats().rejectedConnections).toBe(before + 2);
    // A real ticket, asked for over the control connection, pairs with the acceptor's leg.
    mallory.socket.write(`${JSON.stringify({ t: 'relay', id: 7, peer: 'acceptor' })}\n`);
    const answer = await mallory.next('relay');
    expect(answer).toMatchObject({ t: 'relay', id: 7 });
    const ticket = answer.ticket as string;
    expect(ticket).toMatch(/^[0-9a-f]{64}$/);
    // In two pieces (the server reads the hello as it comes).
    const first = await relayLeg(hello(ticket), 2);
    for (let i = 0; i < 200 && server.stats().relay.streamsOpen === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(server.stats().relay.streamsOpen).toBe(1);
    // The same ticket again: refused.
    const again = await relayLeg(hello(ticket));
    await again.closed;
    expect(server.stats().rejectedConnections).toBe(before + 3);
    first.leg.destroy();
    mallory.socket.destroy();
  });

  it('tells the dialer KE_TUNNEL_TIMEOUT when the peer never takes a relayed stream', async () => {
    const sleepy = await registerByHand('sleepy');
    const dialer = await startAgent('dialer', await pki.node('dialer'));
    const started = Date.now();
    const error = await dialer.dial('sleepy', '127.0.0.1', echo.port).catch((e: unknown) => e);
    expect(isTunnelError(error, 'KE_TUNNEL_TIMEOUT')).toBe(true);
    expect((error as Error).message).toContain('did not take the stream');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(await sleepy.next('incoming')).toMatchObject({ from: 'dialer' });
    sleepy.socket.destroy();
  });
});
