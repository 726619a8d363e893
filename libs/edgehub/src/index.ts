/**
 * @packageDocumentation
 * KubeEdge's EdgeHub: the edge node's identity (token → CSR → certificate on disk, renewed with
 * the current certificate) and its link to cloudhub (WebSocket over mutual TLS, heartbeat,
 * reconnect with back-off, ACK after the handler persisted, upstream kept while offline).
 *
 * ```js
 * import { deepEqual, equal } from 'node:assert/strict';
 * import { once } from 'node:events';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createMessage } from '@ke/beehive';
 * import { createCertificateServer, createCloudHub } from '@ke/cloudhub';
 * import { bootstrapNodeCertificate, createEdgeHub } from '@ke/edgehub';
 * import { createCertificateAuthority, describeCertificate } from '@ke/pki';
 *
 * // The cloud side: cloudhub's certificate server and hub (KubeEdge's 10002 and 10000).
 * const ca = await createCertificateAuthority({ commonName: 'my-edge-ca' });
 * const tokenSecret = 'at least 32 bytes of secret, kept by the cloud';
 * const certificates = createCertificateServer({ ca, tokenSecret, port: 0 });
 * const hub = createCloudHub({ ca, port: 0 });
 * await certificates.start();
 * await hub.start();
 * const token = await certificates.createToken(3600);
 *
 * // The first start joins with the token and keeps the certificate on disk.
 * const certDir = await mkdtemp(join(tmpdir(), 'edge-1-certs-'));
 * const options = { httpServer: certificates.url, nodeName: 'edge-1', certDir };
 * const joined = await bootstrapNodeCertificate({ ...options, token });
 * equal(joined.source, 'issued');
 * equal((await describeCertificate(joined.certificatePem)).commonName, 'system:node:edge-1');
 * // A restart reuses it: no token, no network.
 * equal((await bootstrapNodeCertificate(options)).source, 'disk');
 *
 * // Status reported while the cloud is not connected yet is kept; only the latest goes.
 * const edge = createEdgeHub({
 *   server: hub.url,
 *   nodeName: 'edge-1',
 *   identity: () => bootstrapNodeCertificate(options), // renews the certificate when due
 *   handler: async (message) => {
 *     console.log('persist', message.route.operation, message.route.resource);
 *   },
 * });
 * const [notReady, ready] = ['False', 'True'].map((status) =>
 *   createMessage({
 *     source: 'edged',
 *     group: 'resource',
 *     operation: 'update',
 *     resource: 'null/nodestatus/edge-1',
 *     content: { status: { conditions: [{ type: 'Ready', status }] } },
 *   }),
 * );
 * equal(edge.send(notReady), 'buffered');
 * equal(edge.send(ready), 'buffered');
 * equal(edge.buffered, 1);
 *
 * const received = once(hub, 'message');
 * await edge.start();
 * const [{ message }] = await received;
 * console.log('the cloud got', message.route.resource, JSON.stringify(message.content));
 * equal(message.route.resource, 'node/edge-1/null/nodestatus/edge-1');
 * deepEqual(message.content, ready.content);
 *
 * await edge.stop();
 * await hub.stop();
 * await certificates.stop();
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
