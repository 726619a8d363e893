/**
 * @packageDocumentation
 * KubeEdge's cloudhub, for now its HTTPS certificate server (KubeEdge's port 10002): it hands
 * out the cluster CA at `/ca.crt` and signs edge nodes' CSRs at `/edge.crt` for holders of a
 * bootstrap token, as `system:node:<NodeName>` in `system:nodes`.
 *
 * ```js
 * import { equal, ok } from 'node:assert/strict';
 * import { request } from 'node:https';
 * import { createCertificateServer } from '@ke/cloudhub';
 * import { createCertificateAuthority, createCertificateRequest } from '@ke/pki';
 * import { derToPem, describeCertificate, pemToDer } from '@ke/pki';
 *
 * const ca = await createCertificateAuthority({ commonName: 'my-cluster-ca' });
 * const tokenSecret = 'at least 32 bytes of secret, kept by the cloud';
 * const server = createCertificateServer({ ca, tokenSecret, host: '127.0.0.1', port: 0 });
 * await server.start();
 * const token = await server.createToken(3600); // what `keadm join --token` is given
 *
 * // What an edge node does: its CSR as DER, the JWT part of the token, its node name.
 * const csr = await createCertificateRequest({ commonName: 'asks-for-anything' });
 * const body = pemToDer(csr.certificateRequestPem);
 * const headers = {
 *   Authorization: `Bearer ${token.slice(token.indexOf('.') + 1)}`,
 *   NodeName: 'edge-1',
 *   'Content-Length': body.length,
 * };
 * let der = Buffer.alloc(0);
 * const status = await new Promise((resolve, reject) => {
 *   const url = `${server.url}/edge.crt`;
 *   const req = request(url, { method: 'GET', headers, ca: ca.certificatePem }, (res) => {
 *     res.on('data', (chunk) => {
 *       der = Buffer.concat([der, chunk]);
 *     });
 *     res.on('end', () => resolve(res.statusCode));
 *   });
 *   req.on('error', reject);
 *   req.end(body);
 * });
 * equal(status, 200);
 * const issued = await describeCertificate(derToPem(der, 'CERTIFICATE'));
 * console.log('issued to', issued.commonName, issued.organizations);
 * equal(issued.commonName, 'system:node:edge-1'); // the server decides, not the CSR
 * ok(issued.organizations.includes('system:nodes'));
 * await server.stop();
 * ```
 */
export {
  type CertificateServer,
  type CertificateServerOptions,
  createCertificateServer,
  isValidNodeName,
} from './certificate-server';
export { CloudHubError, type CloudHubErrorCode } from './errors';
export {
  type CloudHub,
  type CloudHubEvents,
  type CloudHubOptions,
  createCloudHub,
  type DispatchResult,
  type NodeConnection,
  type RejectReason,
} from './hub';
export type { CloudHubLogger } from './logger';
export {
  createKubeObjectSyncStore,
  createMemoryObjectSyncStore,
  type DeliveredObject,
  type ObjectSyncStore,
  objectSyncName,
  parseObjectSyncName,
} from './object-sync';
export { compareResourceVersions } from './resource-version';
