/**
 * @packageDocumentation
 * Certificates for a KubeEdge cluster: a CA, server and client certificates signed by it, and
 * facts about a certificate (including the SHA-256 hash KubeEdge's bootstrap tokens carry).
 * ECDSA P-256 keys, X.509 through `@peculiar/x509` on Node's WebCrypto.
 *
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { createCertificateAuthority, describeCertificate, issueCertificate } from '@ke/pki';
 *
 * const ca = await createCertificateAuthority({ commonName: 'my-cluster-ca' });
 * const server = await issueCertificate(ca, {
 *   commonName: 'kube-apiserver',
 *   altNames: ['localhost', '127.0.0.1'],
 *   usage: 'server',
 * });
 * const info = await describeCertificate(server.certificatePem);
 * equal(info.commonName, 'kube-apiserver');
 * ```
 */
export { PkiError, type PkiErrorCode } from './errors';
export {
  type CertificateInfo,
  type CertificateRequest,
  type CertificateRequestOptions,
  type CertifiedKey,
  createCertificateAuthority,
  createCertificateRequest,
  derToPem,
  describeCertificate,
  isSignedBy,
  issueCertificate,
  pemToDer,
  signCertificateRequest,
} from './pki';
export {
  createBootstrapToken,
  parseBootstrapToken,
  tokenMatchesCa,
  verifyBootstrapJwt,
  verifyBootstrapToken,
} from './token';
