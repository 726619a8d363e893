import { request } from 'node:https';
import { type CertifiedKey, createCertificateAuthority, issueCertificate } from '@ke/pki';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApiServer, createMemoryStore, type Store } from '../../src/index';

let ca: CertifiedKey;
let server: ApiServer;
let store: Store;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'test-ca' });
  const serving = await issueCertificate(ca, {
    commonName: 'kube-apiserver',
    altNames: ['127.0.0.1'],
    usage: 'server',
  });
  store = createMemoryStore();
  server = createApiServer({
    store,
    tls: { key: serving.privateKeyPem, cert: serving.certificatePem, ca: ca.certificatePem },
    auth: { tokens: { 's3cret-token': 'controller' } },
  });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  store.close();
});

function get(
  path: string,
  credentials: { cert?: CertifiedKey; token?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(
      `${server.url}${path}`,
      {
        ca: ca.certificatePem,
        ...(credentials.cert
          ? { cert: credentials.cert.certificatePem, key: credentials.cert.privateKeyPem }
          : {}),
        headers: credentials.token ? { Authorization: `Bearer ${credentials.token}` } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    )
      .on('error', reject)
      .end();
  });
}

describe('authentication', () => {
  it('accepts a client certificate signed by the cluster CA', async () => {
    const admin = await issueCertificate(ca, {
      commonName: 'kubernetes-admin',
      organizations: ['system:masters'],
      usage: 'client',
    });
    const { status, body } = await get('/api/v1/namespaces', { cert: admin });
    expect(status).toBe(200);
    expect(body.kind).toBe('NamespaceList');
  });

  it('refuses a certificate from another CA with 401 Unauthorized', async () => {
    const other = await createCertificateAuthority({ commonName: 'other-ca' });
    const intruder = await issueCertificate(other, {
      commonName: 'kubernetes-admin',
      usage: 'client',
    });
    const { status, body } = await get('/api/v1/namespaces', { cert: intruder });
    expect(status).toBe(401);
    expect(body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('accepts a known bearer token and refuses an unknown one', async () => {
    expect((await get('/api/v1/namespaces', { token: 's3cret-token' })).status).toBe(200);
    expect((await get('/api/v1/namespaces', { token: 'guess' })).status).toBe(401);
  });

  it('refuses requests without credentials unless anonymous access is on', async () => {
    expect((await get('/api/v1/namespaces')).status).toBe(401);
    expect((await get('/version')).status).toBe(401);
  });
});
