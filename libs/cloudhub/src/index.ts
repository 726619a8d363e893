/**
 * @packageDocumentation
 * KubeEdge's CloudHub: the certificate server (10002) that gives edge nodes their identity,
 * the WebSocket hub (10000) they connect to over mutual TLS, and reliable delivery of object
 * changes to them, with delivery progress kept in ObjectSync objects.
 *
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { once } from 'node:events';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createMessage } from '@ke/beehive';
 * import { createCertificateServer, createCloudHub } from '@ke/cloudhub';
 * import { createMemoryObjectSyncStore } from '@ke/cloudhub';
 * import { bootstrapNodeCertificate, createEdgeHub } from '@ke/edgehub';
 * import { createCertificateAuthority } from '@ke/pki';
 *
 * // The cloud: the certificate server and the hub, under one CA. `createKubeObjectSyncStore(kc)`
 * // keeps delivery progress in ObjectSync objects of a cluster instead of memory.
 * const ca = await createCertificateAuthority({ commonName: 'my-edge-ca' });
 * const tokenSecret = 'at least 32 bytes of secret, kept by the cloud';
 * const certificates = createCertificateServer({ ca, tokenSecret, port: 0 });
 * const objectSyncs = createMemoryObjectSyncStore();
 * const hub = createCloudHub({ ca, port: 0, objectSyncs });
 * await certificates.start();
 * await hub.start();
 * hub.on('connected', ({ node }) => console.log(node, 'connected'));
 *
 * // An edge node joins with a token and stores what it gets before it ACKs.
 * const certDir = await mkdtemp(join(tmpdir(), 'edge-1-'));
 * const token = await certificates.createToken(3600);
 * const join1 = { httpServer: certificates.url, nodeName: 'edge-1', token, certDir };
 * const store = new Map();
 * const edge = createEdgeHub({
 *   server: hub.url,
 *   nodeName: 'edge-1',
 *   identity: () => bootstrapNodeCertificate(join1),
 *   handler: (message) => {
 *     store.set(message.route.resource, message.content);
 *   },
 * });
 * const connected = once(hub, 'connected');
 * await edge.start();
 * await connected;
 *
 * // A pod for edge-1: the cloud names the node in the resource, the edge sees it without.
 * const pod = {
 *   apiVersion: 'v1',
 *   kind: 'Pod',
 *   metadata: { name: 'nginx', namespace: 'default', uid: 'b5f1c3d2-0001', resourceVersion: '42' },
 * };
 * equal(
 *   hub.dispatch(
 *     createMessage({
 *       source: 'edgecontroller',
 *       group: 'resource',
 *       operation: 'insert',
 *       resource: 'node/edge-1/default/pod/nginx',
 *       resourceVersion: '42',
 *       content: pod,
 *     }),
 *   ),
 *   'queued',
 * );
 * for (let i = 0; i < 100 && hub.queueDepth('edge-1') > 0; i++) {
 *   await new Promise((resolve) => setTimeout(resolve, 20)); // until the ACK
 * }
 * equal(store.get('default/pod/nginx').metadata.resourceVersion, '42');
 * equal(objectSyncs.records()[0].resourceVersion, '42'); // ObjectSync edge-1.b5f1c3d2-0001
 * console.log('delivered and recorded:', objectSyncs.records());
 *
 * await edge.stop();
 * await hub.stop();
 * await certificates.stop();
 * await rm(certDir, { recursive: true, force: true });
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
