import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  describeCertificate,
  isSignedBy,
  issueCertificate,
  PkiError,
} from '../src/index';

async function mutualTls(
  ca: { certificatePem: string },
  server: { certificatePem: string; privateKeyPem: string },
  client: { certificatePem: string; privateKeyPem: string },
): Promise<{ cn: string; authorized: boolean }> {
  const https = createServer(
    {
      key: server.privateKeyPem,
      cert: server.certificatePem,
      ca: ca.certificatePem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const socket = req.socket as import('node:tls').TLSSocket;
      res.end(
        JSON.stringify({
          cn: socket.getPeerCertificate().subject?.CN ?? '',
          authorized: socket.authorized,
        }),
      );
    },
  );
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  const { port } = https.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      request(
        {
          host: '127.0.0.1',
          port,
          ca: ca.certificatePem,
          key: client.privateKeyPem,
          cert: client.certificatePem,
        },
        (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve(JSON.parse(body)));
        },
      )
        .on('error', reject)
        .end();
    });
  } finally {
    https.close();
  }
}

describe('certificates', () => {
  it('makes a CA whose certificates Node TLS accepts for server and client auth', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test-ca' });
    const server = await issueCertificate(ca, {
      commonName: 'server',
      altNames: ['127.0.0.1', 'localhost'],
      usage: 'server',
    });
    const client = await issueCertificate(ca, {
      commonName: 'system:node:edge-1',
      organizations: ['system:nodes'],
      usage: 'client',
    });
    expect(await mutualTls(ca, server, client)).toEqual({
      cn: 'system:node:edge-1',
      authorized: true,
    });
  });

  it('does not authorise a client certificate from another CA', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test-ca' });
    const other = await createCertificateAuthority({ commonName: 'other-ca' });
    const server = await issueCertificate(ca, {
      commonName: 'server',
      altNames: ['127.0.0.1'],
      usage: 'server',
    });
    const intruder = await issueCertificate(other, { commonName: 'admin', usage: 'client' });
    const result = await mutualTls(ca, server, intruder);
    expect(result.authorized).toBe(false);
  });

  it('describes certificates, including the CA hash', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test-ca', validityDays: 10 });
    const info = await describeCertificate(ca.certificatePem);
    expect(info.isCA).toBe(true);
    expect(info.commonName).toBe('test-ca');
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(info.notAfter.getTime() - Date.now()).toBeGreaterThan(9 * 24 * 3600 * 1000);
    const leaf = await issueCertificate(ca, {
      commonName: 'admin',
      organizations: ['system:masters'],
      usage: 'client',
    });
    const leafInfo = await describeCertificate(leaf.certificatePem);
    expect(leafInfo).toMatchObject({
      commonName: 'admin',
      organizations: ['system:masters'],
      isCA: false,
    });
    expect(await isSignedBy(leaf.certificatePem, ca)).toBe(true);
    const other = await createCertificateAuthority({ commonName: 'other' });
    expect(await isSignedBy(leaf.certificatePem, other)).toBe(false);
  });

  it('rejects garbage with coded errors', async () => {
    await expect(describeCertificate('not a pem')).rejects.toMatchObject({
      code: 'KE_PKI_INVALID_PEM',
    });
    const ca = await createCertificateAuthority({ commonName: 'x' });
    await expect(
      issueCertificate({ ...ca, privateKeyPem: 'nope' }, { commonName: 'a', usage: 'client' }),
    ).rejects.toBeInstanceOf(PkiError);
    await expect(issueCertificate(ca, { commonName: '', usage: 'client' })).rejects.toMatchObject({
      code: 'KE_PKI_INVALID_ARGUMENT',
    });
  });
});
