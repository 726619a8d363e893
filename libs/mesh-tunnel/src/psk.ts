import { createECDH, createPrivateKey, hkdfSync } from 'node:crypto';
import { createCertificateAuthority, issueCertificate } from '@ke/pki';
import { TunnelError } from './errors';
import type { TlsMaterial } from './types';

/** The order of P-256: a private scalar must be in [1, n - 1]. */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const CA_NAME = 'ke-mesh-tunnel-psk-ca';

/** The P-256 key every holder of `psk` derives alike (HKDF-SHA256), as PKCS#8 PEM. */
function caKeyFromPsk(psk: Buffer): string {
  for (let counter = 0; counter < 16; counter++) {
    const d = Buffer.from(hkdfSync('sha256', psk, 'ke-mesh-tunnel', `psk-ca-key/${counter}`, 32));
    const scalar = BigInt(`0x${d.toString('hex')}`);
    if (scalar === 0n || scalar >= P256_ORDER) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    const point = ecdh.getPublicKey(); // 0x04 || x || y
    const key = createPrivateKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        d: d.toString('base64url'),
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33, 65).toString('base64url'),
      },
      format: 'jwk',
    });
    return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
  // 16 scalars in a row outside [1, n-1] has a probability below 2^-500.
  throw new TunnelError(
    'KE_TUNNEL_INVALID_OPTIONS',
    'could not derive a key from the pre-shared key',
  );
}

export interface PreSharedKeyTlsOptions {
  /** The secret every server and agent of this tunnel holds: at least 16 bytes (32 random bytes recommended). */
  readonly psk: string | Uint8Array;
  /** `system:node:<name>` for an agent (its `nodeName`), any name for a server. */
  readonly commonName: string;
  /** For a server: the addresses and names agents reach it by. */
  readonly altNames?: readonly string[];
}

/**
 * TLS material for a tunnel without a cluster CA (standalone embedding): a CA whose key is
 * derived from the pre-shared key — the same on every holder — and a certificate for
 * `commonName` that this process issues itself from it. Servers and agents then authenticate
 * each other exactly as with cluster certificates; anyone holding the key can join as any node
 * name, which is what a shared secret means.
 */
export async function preSharedKeyTls(options: PreSharedKeyTlsOptions): Promise<TlsMaterial> {
  const psk = Buffer.from(options.psk);
  if (psk.length < 16) {
    throw new TunnelError(
      'KE_TUNNEL_INVALID_OPTIONS',
      `the pre-shared key has ${psk.length} bytes; use at least 16 (32 random bytes recommended)`,
    );
  }
  const ca = await createCertificateAuthority({
    commonName: CA_NAME,
    privateKeyPem: caKeyFromPsk(psk),
  });
  const own = await issueCertificate(ca, {
    commonName: options.commonName,
    usage: 'server+client',
    ...(options.altNames?.length ? { altNames: [...options.altNames] } : {}),
  });
  return { key: own.privateKeyPem, cert: own.certificatePem, ca: ca.certificatePem };
}
