/**
 * @packageDocumentation
 * KubeEdge's edgehub, for now the edge node's certificate bootstrap: the node reuses the
 * certificate it keeps on disk, or joins with a bootstrap token — it downloads the CA from
 * cloudhub's `/ca.crt`, checks it against the token, and has its CSR signed at `/edge.crt`.
 *
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createCertificateServer } from '@ke/cloudhub';
 * import { bootstrapNodeCertificate } from '@ke/edgehub';
 * import { createCertificateAuthority, describeCertificate } from '@ke/pki';
 *
 * // The cloud side: cloudhub's certificate server (KubeEdge's port 10002; here any free port).
 * const ca = await createCertificateAuthority({ commonName: 'my-cluster-ca' });
 * const tokenSecret = 'at least 32 bytes of secret, kept by the cloud';
 * const cloud = createCertificateServer({ ca, tokenSecret, host: '127.0.0.1', port: 0 });
 * await cloud.start();
 * const token = await cloud.createToken(3600);
 *
 * // The edge side: the first start joins with the token and keeps the certificate on disk.
 * const certDir = await mkdtemp(join(tmpdir(), 'edge-1-certs-'));
 * const options = { httpServer: cloud.url, nodeName: 'edge-1', certDir };
 * const joined = await bootstrapNodeCertificate({ ...options, token });
 * equal(joined.source, 'issued');
 * const info = await describeCertificate(joined.certificatePem);
 * console.log('edge-1 is', info.commonName, 'until', info.notAfter.toISOString());
 * equal(info.commonName, 'system:node:edge-1');
 *
 * // A restart reuses it: no token, no network.
 * const restarted = await bootstrapNodeCertificate(options);
 * equal(restarted.source, 'disk');
 * equal(restarted.certificatePem, joined.certificatePem);
 *
 * await cloud.stop();
 * await rm(certDir, { recursive: true, force: true });
 * ```
 */
export {
  type BootstrapOptions,
  bootstrapNodeCertificate,
  CERT_FILES,
  type NodeIdentity,
  needsRenewal,
} from './bootstrap';
export { EdgeHubError, type EdgeHubErrorCode } from './errors';
export {
  createEdgeHub,
  DEFAULT_PROJECT_ID,
  type EdgeHub,
  type EdgeHubEvents,
  type EdgeHubLogger,
  type EdgeHubOptions,
  type TlsIdentity,
} from './hub';
