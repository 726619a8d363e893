/**
 * @packageDocumentation
 * KubeEdge's DeviceController: Devices and DeviceModels (`devices.kubeedge.io/v1beta1`) to the
 * edge nodes they are bound to, with membership updates, through cloudhub; the twins and states
 * the edges report back to each Device's status.
 *
 * @example
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { crdFor, DeviceModelResource, DeviceResource } from '@ke/apis';
 * import { createApiServer, createMemoryStore } from '@ke/apiserver';
 * import { createDeviceController } from '@ke/devicecontroller';
 * import { loadKubeConfig } from '@ke/kube';
 *
 * // Any Kubernetes API with the Device CRDs works; here an in-memory one.
 * const store = createMemoryStore();
 * const api = createApiServer({ store, port: 0, auth: { anonymous: true } });
 * await api.start();
 * const call = async (method = 'GET', path = '/', body = {}) => {
 *   const response = await fetch(`${api.url}${path}`, {
 *     method,
 *     headers: { 'Content-Type': 'application/json' },
 *     body: method === 'GET' ? undefined : JSON.stringify(body),
 *   });
 *   if (!response.ok) throw new Error(`${method} ${path}: ${await response.text()}`);
 *   return response.json();
 * };
 * for (const resource of [DeviceResource, DeviceModelResource]) {
 *   await call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crdFor(resource));
 * }
 * const until = async (what = '', probe = async () => false) => {
 *   for (let i = 0; i < 200; i++) {
 *     const value = await probe().catch(() => undefined);
 *     if (value) return value;
 *     await new Promise((resolve) => setTimeout(resolve, 25));
 *   }
 *   throw new Error(`timed out waiting for ${what}`);
 * };
 * await until('the Device CRD', async () =>
 *   Boolean(await call('GET', '/apis/devices.kubeedge.io/v1beta1/devices')),
 * );
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
 * // cloudhub.dispatch in a real cloud; here the messages are collected by resource.
 * const sent = new Map();
 * const controller = createDeviceController({
 *   kubeConfig,
 *   dispatch: (message) => sent.set(message.route.resource, message),
 * });
 * await controller.start();
 *
 * // A model and a thermostat bound to edge-1, with a desired setpoint.
 * const devices = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
 * await call('POST', `${devices}/devicemodels`, {
 *   apiVersion: 'devices.kubeedge.io/v1beta1',
 *   kind: 'DeviceModel',
 *   metadata: { name: 'thermostat-model' },
 *   spec: { protocol: 'modbus', properties: [{ name: 'setpoint', type: 'INT' }] },
 * });
 * await call('POST', `${devices}/devices`, {
 *   apiVersion: 'devices.kubeedge.io/v1beta1',
 *   kind: 'Device',
 *   metadata: { name: 'thermostat' },
 *   spec: {
 *     deviceModelRef: { name: 'thermostat-model' },
 *     nodeName: 'edge-1',
 *     properties: [{ name: 'setpoint', desired: { value: '215' } }],
 *   },
 * });
 *
 * // edge-1 gets the model, the device and a membership update.
 * const resources = [
 *   'node/edge-1/default/devicemodel/thermostat-model',
 *   'node/edge-1/default/device/thermostat',
 *   'node/edge-1/membership',
 * ];
 * await until('the messages for edge-1', async () => resources.every((r) => sent.has(r)));
 * for (const resource of resources) {
 *   const { route } = sent.get(resource);
 *   console.log(route.group, route.operation, resource);
 * }
 * equal(sent.get(resources[2]).content.added_devices[0].id, 'default/thermostat');
 *
 * // The edge reports the setpoint it read (cloudhub adds the node prefix to the resource).
 * await controller.handleUpstream('edge-1', {
 *   header: { msg_id: 'twin-1', parent_msg_id: '', timestamp: Date.now(), sync: false },
 *   route: {
 *     source: 'twin',
 *     group: 'twin',
 *     operation: 'update',
 *     resource: 'node/edge-1/device/default/thermostat/twin/edge_updated',
 *   },
 *   content: {
 *     event_id: 'e-1',
 *     timestamp: 1732872000123,
 *     twin: {
 *       setpoint: {
 *         actual: { value: '214', metadata: { timestamp: 1732872000123 } },
 *         expected: { value: '215', metadata: { timestamp: 1732871999000 } },
 *         metadata: { type: 'int' },
 *       },
 *     },
 *   },
 * });
 * const device = await call('GET', `${devices}/devices/thermostat`);
 * const [twin] = device.status.twins;
 * console.log('reported', twin.reported.value, 'observedDesired', twin.observedDesired.value);
 * equal(twin.reported.metadata.timestamp, '1732872000123');
 *
 * await controller.stop();
 * await api.stop();
 * store.close();
 * ```
 */
export {
  createDeviceController,
  type DeviceController,
  type DeviceControllerLogger,
  type DeviceControllerOptions,
} from './device-controller';
export {
  DeviceControllerError,
  DeviceControllerErrorCode,
  isDeviceControllerError,
} from './errors';
export {
  type MembershipDevice,
  type MembershipUpdate,
  membershipMessage,
  mergeTwins,
  objectMessage,
  parseUpstream,
  type ReportedTwin,
  type UpstreamReport,
} from './messages';
