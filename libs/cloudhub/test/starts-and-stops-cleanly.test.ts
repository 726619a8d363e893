import { createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { describe, expect, it } from 'vitest';
import { CloudHubError, createCertificateServer } from '../src/index';
import { call } from './https-call';

function networkHandles(): number {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => kind === 'TCPServerWrap' || kind === 'TCPSocketWrap' || kind === 'TLSWrap')
    .length;
}

describe('the certificate server lifetime', () => {
  it('starts and stops 20 times, serving each time, and leaves no handles', async () => {
    const ca = await createCertificateAuthority({ commonName: 'lifetime-ca' });
    const server = createCertificateServer({
      ca,
      tokenSecret: 'cloudhub-test-secret-0123456789abcdef',
      port: 0,
    });
    const before = networkHandles();
    for (let round = 0; round < 20; round++) {
      await server.start();
      const answer = await call(`${server.url}/ca.crt`, { ca: ca.certificatePem });
      expect(answer.status).toBe(200);
      await server.stop();
    }
    await waitFor('network handles to close', () => networkHandles() <= before, {
      timeoutMs: 5_000,
    });
    expect(networkHandles()).toBeLessThanOrEqual(before);
  });

  it('refuses a token secret shorter than 32 bytes', async () => {
    const ca = await createCertificateAuthority({ commonName: 'short-secret-ca' });
    expect(() => createCertificateServer({ ca, tokenSecret: 'short' })).toThrow(CloudHubError);
  });

  it('reports a port in use as KE_CLOUDHUB_LISTEN_FAILED', async () => {
    const ca = await createCertificateAuthority({ commonName: 'busy-port-ca' });
    const tokenSecret = 'cloudhub-test-secret-0123456789abcdef';
    const first = createCertificateServer({ ca, tokenSecret, port: 0 });
    await first.start();
    const port = Number(new URL(first.url).port);
    const second = createCertificateServer({ ca, tokenSecret, port });
    await expect(second.start()).rejects.toMatchObject({ code: 'KE_CLOUDHUB_LISTEN_FAILED' });
    await first.stop();
  });
});
