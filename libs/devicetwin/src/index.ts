/**
 * @packageDocumentation
 * KubeEdge's DeviceTwin: devices bound to this edge node and their twins in SQLite, KubeEdge's
 * MQTT topics for applications (embedded aedes broker or an external one), the DMI server mappers
 * register on, and reported values and states sent to the cloud at most once per report cycle.
 *
 * @example
 * ```js
 * import { EventEmitter, once } from 'node:events';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createMessage, createRouter } from '@ke/beehive';
 * import { createDeviceTwin } from '@ke/devicetwin';
 * import { connectAsync } from 'mqtt';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'devicetwin-'));
 * const router = createRouter();
 *
 * // In ke-edge this is edgehub: what the twin sends to the cloud.
 * const cloud = new EventEmitter();
 * router.register({
 *   name: 'edgehub',
 *   group: 'hub',
 *   handler: async (message) => {
 *     cloud.emit('message', message);
 *   },
 * });
 *
 * const twin = createDeviceTwin({
 *   nodeName: 'edge-1',
 *   databasePath: join(dir, 'edgecore.db'),
 *   router,
 *   mqtt: { embedded: { host: '127.0.0.1', port: 0 } }, // KubeEdge's default is 1883
 *   dmi: { socketPath: join(dir, 'dmi.sock') }, // where mappers register
 * });
 * await twin.start();
 *
 * // An application on the node: it follows desired values and reports readings over MQTT.
 * const app = await connectAsync(twin.mqttUrl ?? 'mqtt://127.0.0.1:1883');
 * const topic = '$hw/events/device/default/thermostat/twin/update';
 * await app.subscribeAsync(`${topic}/delta`);
 * const delta = new Promise((resolve) => {
 *   app.once('message', (_topic, payload) => resolve(JSON.parse(payload.toString()).delta));
 * });
 *
 * // The cloud binds a device to this node; edgehub hands the message to the twin and waits.
 * const device = {
 *   apiVersion: 'devices.kubeedge.io/v1beta1',
 *   kind: 'Device',
 *   metadata: { name: 'thermostat', namespace: 'default' },
 *   spec: {
 *     deviceModelRef: { name: 'thermostat-model' },
 *     nodeName: 'edge-1',
 *     protocol: { protocolName: 'modbus', configData: { ip: '10.0.0.7', port: 502 } },
 *     properties: [{ name: 'setpoint', reportCycle: 1000, desired: { value: '21' } }],
 *   },
 * };
 * const ack = await router.sendSync(
 *   'twin',
 *   createMessage({
 *     source: 'devicecontroller',
 *     group: 'resource',
 *     operation: 'insert',
 *     resource: 'default/device/thermostat',
 *     content: device,
 *     resourceVersion: '1',
 *   }),
 * );
 * console.log('cloud message:', ack.content);
 * console.log('delta:', JSON.stringify(await delta));
 *
 * // The device reaches the desired value; the app reports it, and the twin tells the cloud.
 * const reported = once(cloud, 'message');
 * await app.publishAsync(topic, JSON.stringify({ twin: { setpoint: { actual: { value: '21' } } } }));
 * const [report] = await reported;
 * console.log('to the cloud:', report.route.resource);
 * console.log('reported:', report.content.twin.setpoint.actual.value);
 *
 * await app.endAsync();
 * await twin.stop();
 * await router.stop();
 * await rm(dir, { recursive: true, force: true });
 * ```
 */
export {
  createDeviceTwin,
  DEVICE_STATES,
  type DeviceTwin,
  type DeviceTwinEvents,
  type DeviceTwinLogger,
  type DeviceTwinOptions,
  type DeviceView,
  type MapperView,
} from './device-twin';
export { DeviceTwinError, type DeviceTwinErrorCode, RESULT_CODE } from './errors';
export type { MqttOptions } from './mqtt-bus';
export type { DeviceModelObject, DeviceObject, DevicePropertyObject } from './store';
export type { MsgTwin, Twins, TwinUpdate, TwinValue, TwinVersion } from './twin';
