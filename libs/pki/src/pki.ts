import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { PkiError } from './errors';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, both PEM. */
export interface CertifiedKey {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface CertificateRequestOptions {
  /** Subject common name: `kube-apiserver`, `system:node:edge-1`, `admin`. */
  readonly commonName: string;
  /** Subject organisations (Kubernetes reads them as groups, e.g. `system:masters`). */
  readonly organizations?: readonly string[];
  /** Subject alternative names; IP addresses are recognised and typed as such. */
  readonly altNames?: readonly string[];
  /** `server`, `client` or both. */
  readonly usage: 'server' | 'client' | 'server+client';
  /** Validity from now; default 365 days. */
  readonly validityDays?: number;
}

function provider(): void {
  // Idempotent: @peculiar/x509 needs a WebCrypto implementation, Node's is the one.
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // a positive integer
  return bytes.toString('hex');
}

function subject(commonName: string, organizations: readonly string[] = []): string {
  const escapeValue = (v: string) => v.replace(/([,+"\\<>;=])/g, '\\$1');
  return [`CN=${escapeValue(commonName)}`, ...organizations.map((o) => `O=${escapeValue(o)}`)].join(
    ', ',
  );
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  try {
    const [der] = x509.PemConverter.decode(pem);
    if (!der) throw new Error('no PEM block');
    return (await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign'])) as CryptoKey;
  } catch (cause) {
    throw new PkiError('KE_PKI_INVALID_PEM', 'the private key is not a PKCS#8 P-256 key in PEM', {
      cause,
    });
  }
}

function parseCertificate(pem: string, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (cause) {
    throw new PkiError('KE_PKI_INVALID_PEM', `the ${what} is not an X.509 certificate in PEM`, {
      cause,
    });
  }
}

/** The key pair of a P-256 private key (its JWK export carries the public point). */
async function keysOf(privateKeyPem: string): Promise<CryptoKeyPair> {
  const privateKey = await importPrivateKey(privateKeyPem);
  const { d: _d, ...publicJwk } = await webcrypto.subtle.exportKey('jwk', privateKey);
  const publicKey = await webcrypto.subtle.importKey(
    'jwk',
    { ...publicJwk, key_ops: ['verify'] },
    ALGORITHM,
    true,
    ['verify'],
  );
  return { privateKey, publicKey };
}

/**
 * Creates a self-signed CA (ECDSA P-256) for a cluster; default validity 10 years. With
 * `privateKeyPem` (PKCS#8, P-256) the CA uses that key instead of a new one: two CAs made from
 * one key and one common name trust each other's certificates.
 */
export async function createCertificateAuthority(
  options: { commonName: string; validityDays?: number; privateKeyPem?: string } = {
    commonName: 'kubeedge-ts-ca',
  },
): Promise<CertifiedKey> {
  provider();
  const keys = options.privateKeyPem ? await keysOf(options.privateKeyPem) : await generateKeys();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subject(options.commonName),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validityDays ?? 3650) * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign |
          x509.KeyUsageFlags.cRLSign |
          x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificatePem: certificate.toString('pem'),
    privateKeyPem: await privateKeyPem(keys.privateKey),
  };
}

async function issue(
  ca: CertifiedKey,
  publicKey: CryptoKey,
  options: CertificateRequestOptions,
): Promise<string> {
  if (!options.commonName) {
    throw new PkiError('KE_PKI_INVALID_ARGUMENT', 'a certificate needs a common name');
  }
  const caCertificate = parseCertificate(ca.certificatePem, 'CA certificate');
  const caKey = await importPrivateKey(ca.privateKeyPem);
  const usages: string[] = [];
  if (options.usage.includes('server')) usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (options.usage.includes('client')) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.AuthorityKeyIdentifierExtension.create(caCertificate, false),
  ];
  const altNames = options.altNames ?? [];
  if (altNames.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        altNames.map((name) => ({ type: isIP(name) ? 'ip' : 'dns', value: name })),
        false,
      ),
    );
  }
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subject(options.commonName, options.organizations),
    issuer: caCertificate.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validityDays ?? 365) * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey,
    signingKey: caKey,
    extensions,
  });
  return certificate.toString('pem');
}

/** Creates a key pair and a certificate for it signed by `ca`. */
export async function issueCertificate(
  ca: CertifiedKey,
  options: CertificateRequestOptions,
): Promise<CertifiedKey> {
  provider();
  const keys = await generateKeys();
  const certificatePem = await issue(ca, keys.publicKey, options);
  return { certificatePem, privateKeyPem: await privateKeyPem(keys.privateKey) };
}

/** A private key and a PKCS#10 certificate request for its public key, both PEM. */
export interface CertificateRequest {
  readonly certificateRequestPem: string;
  readonly privateKeyPem: string;
}

/** Creates a key pair and a CSR for it, as an edge node does before asking the cloud to sign. */
export async function createCertificateRequest(options: {
  commonName: string;
  organizations?: readonly string[];
}): Promise<CertificateRequest> {
  provider();
  const keys = await generateKeys();
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject(options.commonName, options.organizations),
    keys,
    signingAlgorithm: ALGORITHM,
  });
  return {
    certificateRequestPem: request.toString('pem'),
    privateKeyPem: await privateKeyPem(keys.privateKey),
  };
}

/**
 * Signs the public key of a CSR with `ca`. The subject is the signer's decision (`options`), not
 * the requester's: a node asking as `system:node:a` cannot obtain a certificate for `b`. The
 * CSR's own signature must verify (proof that the requester holds the private key).
 */
export async function signCertificateRequest(
  ca: CertifiedKey,
  certificateRequestPem: string,
  options: CertificateRequestOptions,
): Promise<string> {
  provider();
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(certificateRequestPem);
  } catch (cause) {
    throw new PkiError(
      'KE_PKI_INVALID_CSR',
      'the certificate request is not a PKCS#10 CSR in PEM',
      {
        cause,
      },
    );
  }
  if (!(await request.verify())) {
    throw new PkiError(
      'KE_PKI_INVALID_CSR',
      'the certificate request is not signed by its own key',
    );
  }
  const publicKey = await request.publicKey
    .export(ALGORITHM, ['verify'])
    .catch((cause: unknown) => {
      throw new PkiError(
        'KE_PKI_INVALID_CSR',
        'the certificate request key is not an ECDSA P-256 key',
        {
          cause,
        },
      );
    });
  return issue(ca, publicKey, options);
}

/** Facts about a certificate, for checks and logs. */
export interface CertificateInfo {
  readonly commonName: string;
  readonly organizations: string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCA: boolean;
  /** SHA-256 of the DER encoding, lower-case hex (KubeEdge's CA hash in bootstrap tokens). */
  readonly sha256: string;
}

export async function describeCertificate(pem: string): Promise<CertificateInfo> {
  provider();
  const certificate = parseCertificate(pem, 'certificate');
  const name = certificate.subjectName;
  const basic = certificate.getExtension(x509.BasicConstraintsExtension);
  const digest = await webcrypto.subtle.digest('SHA-256', certificate.rawData);
  return {
    commonName: name.getField('CN')[0] ?? '',
    organizations: name.getField('O'),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    isCA: basic?.ca ?? false,
    sha256: Buffer.from(digest).toString('hex'),
  };
}

/** Whether `pem` was signed by `ca` (signature only; dates are the caller's to check). */
export async function isSignedBy(
  pem: string,
  ca: Pick<CertifiedKey, 'certificatePem'>,
): Promise<boolean> {
  provider();
  const certificate = parseCertificate(pem, 'certificate');
  const authority = parseCertificate(ca.certificatePem, 'CA certificate');
  return certificate.verify({ publicKey: authority.publicKey, signatureOnly: true });
}

/** The DER bytes of the first PEM block (KubeEdge sends certificates and CSRs as DER). */
export function pemToDer(pem: string): Uint8Array {
  try {
    const [der] = x509.PemConverter.decode(pem);
    if (!der) throw new Error('no PEM block');
    return new Uint8Array(der);
  } catch (cause) {
    throw new PkiError('KE_PKI_INVALID_PEM', 'the text is not PEM', { cause });
  }
}

/** PEM text for DER bytes, e.g. `derToPem(bytes, 'CERTIFICATE')`. */
export function derToPem(der: Uint8Array, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST'): string {
  return x509.PemConverter.encode(Buffer.from(der), label);
}
