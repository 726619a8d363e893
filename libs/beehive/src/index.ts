/**
 * @packageDocumentation
 * KubeEdge's Message model with a byte-compatible JSON codec, resource strings
 * (`node/<node>/<ns>/<type>/<name>` and `<ns>/<type>/<name>`), KubeEdge's constants, and an
 * in-process module router with request/response (`sendSync`) and bounded queues.
 *
 * ```js
 * import { deepEqual, equal } from 'node:assert/strict';
 * import { createMessage, createResponse, createRouter, Group, ModuleName } from '@ke/beehive';
 * import { decodeMessage, encodeMessage, Operation, tryDecodeMessage } from '@ke/beehive';
 * import { buildCloudResource, cloudToEdgeResource, parseEdgeResource } from '@ke/beehive';
 * import { ResourceType } from '@ke/beehive';
 *
 * const router = createRouter();
 *
 * // A metamanager-like module that answers configmap queries.
 * router.register({
 *   name: ModuleName.MetaManager,
 *   group: Group.Meta,
 *   handler: (request) => {
 *     if (request.route.operation !== Operation.Query) return;
 *     const content = { kind: 'ConfigMap', data: { mode: 'edge' } };
 *     router.sendResponse(createResponse(request, { source: ModuleName.MetaManager, content }));
 *   },
 * });
 *
 * // Ask it and wait for the answer; the response is matched by parent_msg_id.
 * const query = createMessage({
 *   source: ModuleName.Edged,
 *   group: Group.Resource,
 *   operation: Operation.Query,
 *   resource: 'default/configmap/app-config',
 *   content: null,
 * });
 * const response = await router.sendSync(ModuleName.MetaManager, query, { timeoutMs: 5000 });
 * console.log('response:', response.route.operation, JSON.stringify(response.content));
 * equal(response.route.operation, 'response');
 * equal(response.header.parent_msg_id, query.header.msg_id);
 * deepEqual(response.content, { kind: 'ConfigMap', data: { mode: 'edge' } });
 *
 * // Decode a message as it arrives over the wire, and encode it back unchanged.
 * const wire =
 *   '{"header":{"msg_id":"4d2b9a5e-6f1c-4f43-9d6e-1f6f3d9c2a10","parent_msg_id":"","timestamp":1732872000123,"resourceversion":"5821","sync":false},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/pod/nginx-edge-1"},"content":{"kind":"Pod","metadata":{"name":"nginx-edge-1","namespace":"default"}}}';
 * const message = decodeMessage(wire);
 * console.log('decoded:', message.route.operation, message.route.resource);
 * equal(message.header.resourceversion, '5821');
 * equal(encodeMessage(message), wire);
 *
 * // Untrusted input is rejected with a typed error that names the field.
 * const bad = tryDecodeMessage('{"header":{"msg_id":"m1","timestamp":"soon"},"route":{}}');
 * console.log('rejected:', bad.ok ? 'no' : `${bad.error.code} at ${bad.error.path}`);
 * equal(bad.ok, false);
 * equal(bad.ok ? '' : bad.error.path, 'header.timestamp');
 *
 * // Resource strings: the cloud form names the node; cloudhub strips it before sending down.
 * const cloud = buildCloudResource({
 *   node: 'edge-node-1',
 *   namespace: 'default',
 *   type: ResourceType.Pod,
 *   name: 'nginx-edge-1',
 * });
 * console.log('resource:', cloud, '->', cloudToEdgeResource(cloud));
 * equal(cloud, 'node/edge-node-1/default/pod/nginx-edge-1');
 * equal(cloudToEdgeResource(cloud), message.route.resource);
 * deepEqual(parseEdgeResource('null/nodestatus/edge-node-1'), {
 *   namespace: null,
 *   type: 'nodestatus',
 *   name: 'edge-node-1',
 * });
 *
 * await router.stop();
 * equal(router.pendingRequests, 0);
 * console.log('router stopped');
 * ```
 */
export {
  type CodecOptions,
  DEFAULT_MAX_MESSAGE_BYTES,
  type DecodeResult,
  decodeMessage,
  encodeMessage,
  tryDecodeMessage,
} from './codec';
export {
  ACK_CONTENT,
  Group,
  KEEPALIVE_CONTENT,
  kindOfResourceType,
  ModuleName,
  NODE_CONNECTION_RESOURCE,
  Operation,
  ResourceType,
  resourceTypeOfKind,
} from './constants';
export { BeehiveError, BeehiveErrorCode, type BeehiveErrorDetails, isBeehiveError } from './errors';
export {
  type CreateMessageOptions,
  type CreateResponseOptions,
  createAck,
  createKeepalive,
  createMessage,
  createResponse,
  isResponseTo,
  type Message,
  type MessageHeader,
  type MessageRoute,
} from './message';
export {
  buildCloudResource,
  buildEdgeResource,
  type CloudResourceParts,
  cloudResourceNode,
  cloudToEdgeResource,
  edgeToCloudResource,
  parseCloudResource,
  parseEdgeResource,
  type ResourceParts,
  splitCloudResource,
} from './resource';
export { compareResourceVersions, isNewerResourceVersion } from './resource-version';
export {
  createRouter,
  type HandlerContext,
  type Logger,
  type MessageHandler,
  type ModuleHandle,
  type ModuleInfo,
  type ReceiveOptions,
  type RegisterOptions,
  type Router,
  type RouterOptions,
  type SendOptions,
  type SendSyncOptions,
} from './router';
