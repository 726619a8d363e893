import { describe, expect, it } from 'vitest';
import {
  createBootstrapToken,
  createCertificateAuthority,
  describeCertificate,
  parseBootstrapToken,
  tokenMatchesCa,
  verifyBootstrapToken,
} from '../src/index';

const secret = 'a-cloud-secret-of-at-least-32-bytes!!';

describe('bootstrap tokens', () => {
  it('carry the CA hash and verify until they expire', async () => {
    const ca = await createCertificateAuthority({ commonName: 'cloud-ca' });
    const now = new Date('2026-11-29T10:00:00Z');
    const token = await createBootstrapToken({
      caCertificatePem: ca.certificatePem,
      secret,
      ttlSeconds: 60,
      now,
    });
    const { caHash } = parseBootstrapToken(token);
    expect(caHash).toBe((await describeCertificate(ca.certificatePem)).sha256);
    expect(await tokenMatchesCa(token, ca.certificatePem)).toBe(true);
    const { expiresAt } = await verifyBootstrapToken(token, {
      caCertificatePem: ca.certificatePem,
      secret,
      now,
    });
    expect(expiresAt.toISOString()).toBe('2026-11-29T10:01:00.000Z');
    await expect(
      verifyBootstrapToken(token, {
        caCertificatePem: ca.certificatePem,
        secret,
        now: new Date('2026-11-29T10:02:00Z'),
      }),
    ).rejects.toMatchObject({ code: 'KE_PKI_TOKEN_EXPIRED' });
  });

  it('tells a wrong CA, a wrong secret and a malformed token apart', async () => {
    const ca = await createCertificateAuthority({ commonName: 'cloud-ca' });
    const other = await createCertificateAuthority({ commonName: 'other-ca' });
    const token = await createBootstrapToken({ caCertificatePem: ca.certificatePem, secret });
    expect(await tokenMatchesCa(token, other.certificatePem)).toBe(false);
    await expect(
      verifyBootstrapToken(token, { caCertificatePem: other.certificatePem, secret }),
    ).rejects.toMatchObject({
      code: 'KE_PKI_TOKEN_CA_MISMATCH',
    });
    await expect(
      verifyBootstrapToken(token, {
        caCertificatePem: ca.certificatePem,
        secret: `${secret}-other`,
      }),
    ).rejects.toMatchObject({ code: 'KE_PKI_TOKEN_INVALID' });
    for (const bad of ['', 'abc', `${'0'.repeat(64)}.not-a-jwt`, `${'x'.repeat(64)}.a.b.c`]) {
      expect(() => parseBootstrapToken(bad)).toThrow(
        expect.objectContaining({ code: 'KE_PKI_TOKEN_INVALID' }),
      );
    }
  });

  it('refuses a short secret', async () => {
    const ca = await createCertificateAuthority({ commonName: 'cloud-ca' });
    await expect(
      createBootstrapToken({ caCertificatePem: ca.certificatePem, secret: 'short' }),
    ).rejects.toMatchObject({
      code: 'KE_PKI_INVALID_ARGUMENT',
    });
  });
});
