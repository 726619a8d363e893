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
});
