import type { CertifiedKey } from '@ke/pki';
import {
  createCertificateAuthority,
  createCertificateRequest,
  derToPem,
  describeCertificate,
  isSignedBy,
  pemToDer,
} from '@ke/pki';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CertificateServer, createCertificateServer } from '../src/index';
import { bearer, call } from './https-call';

const tokenSecret = 'cloudhub-test-secret-0123456789abcdef';
let ca: CertifiedKey;
let server: CertificateServer;
let token: string;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'cloudhub-test-ca' });
  server = createCertificateServer({ ca, tokenSecret, port: 0 });
  await server.start();
  token = await server.createToken(600);
});

afterAll(async () => {
  await server?.stop();
});

async function csrDer(commonName: string): Promise<Uint8Array> {
  const csr = await createCertificateRequest({ commonName, organizations: ['system:masters'] });
  return pemToDer(csr.certificateRequestPem);
}

describe('the certificate server', () => {
  it('listens on the real port it was given by the system', () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
  });

  it('serves the CA as DER over TLS made with a certificate from that CA', async () => {
    const answer = await call(`${server.url}/ca.crt`, { ca: ca.certificatePem });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('application/octet-stream');
    expect(answer.body.equals(Buffer.from(pemToDer(ca.certificatePem)))).toBe(true);
    const info = await describeCertificate(derToPem(answer.body, 'CERTIFICATE'));
    expect(info.commonName).toBe('cloudhub-test-ca');
    expect(info.isCA).toBe(true);
  });

  it('signs a CSR as system:node:<NodeName> whatever subject the CSR asks for', async () => {
    const answer = await call(`${server.url}/edge.crt`, {
      ca: ca.certificatePem,
      headers: { Authorization: bearer(token), NodeName: 'edge-1' },
      body: await csrDer('admin'),
    });
    expect(answer.status, answer.body.toString()).toBe(200);
    expect(answer.contentType).toBe('application/octet-stream');
    const pem = derToPem(answer.body, 'CERTIFICATE');
    const info = await describeCertificate(pem);
    expect(info.commonName).toBe('system:node:edge-1');
    expect(info.organizations).toEqual(['system:nodes']);
    expect(info.isCA).toBe(false);
    expect(await isSignedBy(pem, ca)).toBe(true);
  });

  it('accepts POST for /edge.crt too', async () => {
    const answer = await call(`${server.url}/edge.crt`, {
      ca: ca.certificatePem,
      method: 'POST',
      headers: { Authorization: bearer(token), NodeName: 'edge-2.example.com' },
      body: await csrDer('edge-2'),
    });
    expect(answer.status, answer.body.toString()).toBe(200);
    const info = await describeCertificate(derToPem(answer.body, 'CERTIFICATE'));
    expect(info.commonName).toBe('system:node:edge-2.example.com');
  });

  it('answers 404 for other paths', async () => {
    const answer = await call(`${server.url}/other`, { ca: ca.certificatePem });
    expect(answer.status).toBe(404);
  });
});
