import type { CertifiedKey } from '@ke/pki';
import {
  createBootstrapToken,
  createCertificateAuthority,
  createCertificateRequest,
  derToPem,
  describeCertificate,
  issueCertificate,
  pemToDer,
} from '@ke/pki';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CertificateServer, createCertificateServer } from '../src/index';
import { bearer, call } from './https-call';

const tokenSecret = 'cloudhub-test-secret-0123456789abcdef';
let ca: CertifiedKey;
let server: CertificateServer;
let token: string;
let csr: Uint8Array;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'cloudhub-refusals-ca' });
  server = createCertificateServer({ ca, tokenSecret, port: 0, maxBodyBytes: 65536 });
  await server.start();
  token = await server.createToken(600);
  const request = await createCertificateRequest({ commonName: 'system:node:edge-1' });
  csr = pemToDer(request.certificateRequestPem);
});

afterAll(async () => {
  await server?.stop();
});

function edgeCrt(headers: Record<string, string>, body: Uint8Array = csr) {
  return call(`${server.url}/edge.crt`, { ca: ca.certificatePem, headers, body });
}

describe('the certificate server refuses', () => {
  it('a request without a token with 401', async () => {
    const answer = await edgeCrt({ NodeName: 'edge-1' });
    expect(answer.status).toBe(401);
    expect(answer.contentType).toMatch(/^text\/plain/);
    expect(answer.body.toString()).toMatch(/missing token/);
  });

  it('a token signed with another secret with 401 naming it invalid', async () => {
    const other = await createBootstrapToken({
      caCertificatePem: ca.certificatePem,
      secret: 'another-secret-0123456789abcdefghijkl',
    });
    const answer = await edgeCrt({ Authorization: bearer(other), NodeName: 'edge-1' });
    expect(answer.status).toBe(401);
    expect(answer.body.toString()).toMatch(/^invalid token/);
  });

  it('a garbage bearer value with 401 naming it invalid', async () => {
    const answer = await edgeCrt({ Authorization: 'Bearer not-a-jwt', NodeName: 'edge-1' });
    expect(answer.status).toBe(401);
    expect(answer.body.toString()).toMatch(/^invalid token/);
  });

  it('an expired token with 401 naming it expired', async () => {
    const expired = await createBootstrapToken({
      caCertificatePem: ca.certificatePem,
      secret: tokenSecret,
      ttlSeconds: 60,
      now: new Date(Date.now() - 3600_000),
    });
    const answer = await edgeCrt({ Authorization: bearer(expired), NodeName: 'edge-1' });
    expect(answer.status).toBe(401);
    expect(answer.body.toString()).toMatch(/^token expired/);
  });

  it('a request without NodeName with 400', async () => {
    const answer = await edgeCrt({ Authorization: bearer(token) });
    expect(answer.status).toBe(400);
    expect(answer.body.toString()).toMatch(/missing NodeName/);
  });

  it('a NodeName that is not a DNS-1123 subdomain with 400', async () => {
    for (const name of ['Edge_1', '-edge', 'edge..1', 'a'.repeat(254)]) {
      const answer = await edgeCrt({ Authorization: bearer(token), NodeName: name });
      expect(answer.status, name).toBe(400);
      expect(answer.body.toString()).toMatch(/invalid NodeName/);
    }
  });

  it('a body that is not a CSR with 400', async () => {
    const answer = await edgeCrt(
      { Authorization: bearer(token), NodeName: 'edge-1' },
      new TextEncoder().encode('this is not DER'),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.toString()).toMatch(/bad certificate request/);
  });

  it('a CSR whose signature does not verify with 400', async () => {
    const tampered = Uint8Array.from(csr);
    tampered[tampered.length - 5]! ^= 0xff; // inside the signature
    const answer = await edgeCrt({ Authorization: bearer(token), NodeName: 'edge-1' }, tampered);
    expect(answer.status).toBe(400);
    expect(answer.body.toString()).toMatch(/bad certificate request/);
  });

  it('an empty body with 400', async () => {
    const answer = await edgeCrt(
      { Authorization: bearer(token), NodeName: 'edge-1' },
      new Uint8Array(0),
    );
    expect(answer.status).toBe(400);
  });

  it('a body over 64 KiB with 413', async () => {
    const answer = await edgeCrt(
      { Authorization: bearer(token), NodeName: 'edge-1' },
      new Uint8Array(65537),
    );
    expect(answer.status).toBe(413);
    expect(answer.body.toString()).toMatch(/over 65536 bytes/);
  });

  it('nothing more: it still signs a good request afterwards', async () => {
    const answer = await edgeCrt({ Authorization: bearer(token), NodeName: 'edge-1' });
    expect(answer.status, answer.body.toString()).toBe(200);
    const ca2 = await call(`${server.url}/ca.crt`, { ca: ca.certificatePem });
    expect(ca2.status).toBe(200);
  });
});

describe('a token made with a short lifetime', () => {
  it('is refused as expired once its lifetime is over', async () => {
    const shortLived = await server.createToken(1);
    const headers = { Authorization: bearer(shortLived), NodeName: 'edge-1' };
    const deadline = Date.now() + 5_000;
    let answer = await edgeCrt(headers);
    // Bounded wait on the server's own verdict: JWT times have a one-second resolution.
    while (answer.status === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await edgeCrt(headers);
    }
    expect(answer.status).toBe(401);
    expect(answer.body.toString()).toMatch(/^token expired/);
  });
});

describe('a node renewing with its current certificate', () => {
  it('gets a new one without a token', async () => {
    const current = await issueCertificate(ca, {
      commonName: 'system:node:edge-2',
      usage: 'client',
    });
    const answer = await call(`${server.url}/edge.crt`, {
      ca: ca.certificatePem,
      client: current,
      headers: { NodeName: 'edge-2' },
      body: csr,
    });
    expect(answer.status, answer.body.toString()).toBe(200);
    const issued = await describeCertificate(derToPem(answer.body, 'CERTIFICATE'));
    expect(issued.commonName).toBe('system:node:edge-2');
  });

  it("is refused 403 asking for another node's name", async () => {
    const current = await issueCertificate(ca, {
      commonName: 'system:node:edge-2',
      usage: 'client',
    });
    const answer = await call(`${server.url}/edge.crt`, {
      ca: ca.certificatePem,
      client: current,
      headers: { NodeName: 'edge-3' },
      body: csr,
    });
    expect(answer.status).toBe(403);
    expect(answer.body.toString()).toMatch(/renews only its own/);
  });

  it('is refused 401 with a certificate from another CA and no token', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'another-cluster' });
    const foreign = await issueCertificate(otherCa, {
      commonName: 'system:node:edge-2',
      usage: 'client',
    });
    const answer = await call(`${server.url}/edge.crt`, {
      ca: ca.certificatePem,
      client: foreign,
      headers: { NodeName: 'edge-2' },
      body: csr,
    });
    expect(answer.status).toBe(401);
  });
});
