import { describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createCertificateRequest,
  describeCertificate,
  isSignedBy,
  signCertificateRequest,
} from '../src/index';

describe('certificate requests', () => {
  it('signs a node CSR with the subject the signer chooses', async () => {
    const ca = await createCertificateAuthority({ commonName: 'cloud-ca' });
    const request = await createCertificateRequest({ commonName: 'system:node:someone-else' });
    const certificate = await signCertificateRequest(ca, request.certificateRequestPem, {
      commonName: 'system:node:edge-1',
      organizations: ['system:nodes'],
      usage: 'client',
    });
    const info = await describeCertificate(certificate);
    expect(info).toMatchObject({
      commonName: 'system:node:edge-1',
      organizations: ['system:nodes'],
      isCA: false,
    });
    expect(await isSignedBy(certificate, ca)).toBe(true);
  });

  it('refuses garbage and tampered requests with KE_PKI_INVALID_CSR', async () => {
    const ca = await createCertificateAuthority({ commonName: 'cloud-ca' });
    const options = { commonName: 'system:node:a', usage: 'client' as const };
    await expect(signCertificateRequest(ca, 'not a csr', options)).rejects.toMatchObject({
      code: 'KE_PKI_INVALID_CSR',
    });
    const { certificateRequestPem } = await createCertificateRequest({ commonName: 'x' });
    const body = certificateRequestPem.split('\n').slice(1, -2).join('');
    const der = Buffer.from(body, 'base64');
    der[der.length - 5] = (der[der.length - 5]! + 1) % 256; // break the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(signCertificateRequest(ca, tampered, options)).rejects.toMatchObject({
      code: 'KE_PKI_INVALID_CSR',
    });
  });
});

describe('PEM and DER', () => {
  it('converts both ways without loss', async () => {
    const { createCertificateAuthority: makeCa, pemToDer, derToPem } = await import('../src/index');
    const ca = await makeCa({ commonName: 'round-trip' });
    const der = pemToDer(ca.certificatePem);
    const again = derToPem(der, 'CERTIFICATE');
    expect(pemToDer(again)).toEqual(der);
    expect(() => pemToDer('garbage')).toThrow(
      expect.objectContaining({ code: 'KE_PKI_INVALID_PEM' }),
    );
  });
});
