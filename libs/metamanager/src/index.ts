/**
 * @packageDocumentation
 * KubeEdge's MetaManager: the edge node's metadata store, fed by the cloud through edgehub,
 * answering local queries (and the cloud's, when it lacks an object) and telling local modules.
 *
 * ```js
 * import { deepEqual, equal } from 'node:assert/strict';
 * import { createMemoryStore } from '@ke/apiserver';
 * import { createMessage, createRouter } from '@ke/beehive';
 * import { createMetaManager } from '@ke/metamanager';
 *
 * // createSqliteStore({ path: 'edgecore.db' }) on a real node.
 * const store = createMemoryStore();
 * const router = createRouter();
 * const meta = createMetaManager({ store, router });
 * await meta.start();
 *
 * // What edgehub hands over from the cloud: version 12, then a late version 11.
 * const [newer, older] = [
 *   ['nginx:1.27', '12'],
 *   ['nginx:1.25', '11'],
 * ].map(([image, resourceVersion]) =>
 *   createMessage({
 *     source: 'edgecontroller',
 *     group: 'resource',
 *     operation: 'update',
 *     resource: 'default/pod/web',
 *     resourceVersion,
 *     content: {
 *       kind: 'Pod',
 *       metadata: { name: 'web', namespace: 'default' },
 *       spec: { containers: [{ name: 'web', image }] },
 *     },
 *   }),
 * );
 * // The reply comes once the change is stored: then edgehub ACKs it to the cloud.
 * const reply = await router.sendSync('metamanager', newer);
 * equal(reply.content, 'OK');
 *
 * // The older version is acknowledged but does not replace the newer one.
 * equal(meta.apply(older), 'stale');
 * const stored = await meta.get('default/pod/web');
 * console.log('stored', JSON.stringify(stored.spec));
 * deepEqual(stored.spec, { containers: [{ name: 'web', image: 'nginx:1.27' }] });
 *
 * await meta.stop();
 * await router.stop();
 * store.close();
 * ```
 */
export { MetaManagerError, type MetaManagerErrorCode } from './errors';
export {
  type ApplyResult,
  CLOUD_RESOURCE_VERSION_ANNOTATION,
  createMetaManager,
  type MetaManager,
  type MetaManagerLogger,
  type MetaManagerOptions,
} from './meta-manager';
export { createMetaServer, type MetaServerOptions } from './meta-server';
export { RESOURCE_TYPES, type ResourceTypeInfo, typeOfStorage } from './resource-types';
