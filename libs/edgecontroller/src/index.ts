/**
 * @packageDocumentation
 * KubeEdge's EdgeController: the API's pods, ConfigMaps, Secrets, Services and Endpoints to
 * edge nodes through cloudhub; their registration, status and leases back to the API.
 *
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { createApiServer, createMemoryStore } from '@ke/apiserver';
 * import { createEdgeController } from '@ke/edgecontroller';
 * import { loadKubeConfig } from '@ke/kube';
 *
 * // Any Kubernetes API works; here an in-memory one.
 * const store = createMemoryStore();
 * const api = createApiServer({ store, port: 0, auth: { anonymous: true } });
 * await api.start();
 * const kubeConfig = loadKubeConfig({
 *   yaml: JSON.stringify({
 *     apiVersion: 'v1',
 *     clusters: [{ name: 'local', cluster: { server: api.url } }],
 *     users: [{ name: 'anonymous', user: {} }],
 *     contexts: [{ name: 'local', context: { cluster: 'local', user: 'anonymous' } }],
 *     'current-context': 'local',
 *   }),
 * });
 *
 * // cloudhub.dispatch in a real cloud; here the messages are collected.
 * const sent = new Map(); // by resource, the latest message
 * const controller = createEdgeController({
 *   kubeConfig,
 *   dispatch: (message) => sent.set(message.route.resource, message),
 * });
 * await controller.start();
 *
 * // An edge node registers through cloudhub, then a pod is bound to it.
 * await controller.handleUpstream('edge-1', {
 *   header: { msg_id: 'reg-1', parent_msg_id: '', timestamp: Date.now(), sync: false },
 *   route: {
 *     source: 'edged',
 *     group: 'resource',
 *     operation: 'insert',
 *     resource: 'node/edge-1/null/node/edge-1',
 *   },
 *   content: { metadata: { name: 'edge-1', labels: { site: 'shop-42' } } },
 * });
 * await fetch(`${api.url}/api/v1/namespaces/default/pods`, {
 *   method: 'POST',
 *   headers: { 'Content-Type': 'application/json' },
 *   body: JSON.stringify({
 *     metadata: { name: 'web' },
 *     spec: { nodeName: 'edge-1', containers: [{ name: 'web', image: 'nginx' }] },
 *   }),
 * });
 * const resource = 'node/edge-1/default/pod/web';
 * for (let i = 0; i < 100 && !sent.has(resource); i++) {
 *   await new Promise((resolve) => setTimeout(resolve, 20));
 * }
 * const pod = sent.get(resource);
 * console.log(pod.route.operation, pod.route.resource, 'resourceVersion', pod.header.resourceversion);
 * equal(pod.content.spec.nodeName, 'edge-1');
 *
 * await controller.stop();
 * await api.stop();
 * store.close();
 * ```
 */
export {
  createEdgeController,
  EDGE_NODE_LABEL,
  type EdgeController,
  type EdgeControllerLogger,
  type EdgeControllerOptions,
} from './edge-controller';
export { referencesOf } from './references';
