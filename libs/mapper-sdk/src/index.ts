/**
 * @packageDocumentation
 * The runtime of a KubeEdge device mapper (like KubeEdge's mapper-framework): serves DMI's
 * DeviceMapperService, registers with edgecore, runs one protocol driver per device, collects and
 * reports twins and states, writes desired values, pushes values over MQTT and HTTP and serves
 * the mapper REST API.
 *
 * @example
 * ```js
 * import { once, EventEmitter } from 'node:events';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createDeviceManagerServer, packConfigData } from '@ke/dmi';
 * import { createMapper } from '@ke/mapper-sdk';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'mapper-'));
 *
 * // edgecore's device manager (in KubeEdge it listens on /etc/kubeedge/dmi.sock): it answers the
 * // mapper's registration with the devices of its protocol, and receives twins and states.
 * const edgeEvents = new EventEmitter();
 * const edge = createDeviceManagerServer({
 *   socketPath: join(dir, 'dmi.sock'),
 *   handlers: {
 *     mapperRegister: async ({ mapper }) => {
 *       console.log('edge: mapper', mapper?.name, mapper?.protocol, mapper?.state);
 *       return {
 *         modelList: [
 *           {
 *             name: 'thermometer-model',
 *             namespace: 'default',
 *             spec: {
 *               properties: [
 *                 { name: 'temperature', type: 'float', accessMode: 'ReadOnly' },
 *                 { name: 'setpoint', type: 'int', accessMode: 'ReadWrite' },
 *               ],
 *             },
 *           },
 *         ],
 *         deviceList: [
 *           {
 *             name: 'thermometer',
 *             namespace: 'default',
 *             spec: {
 *               deviceModelReference: 'thermometer-model',
 *               protocol: {
 *                 protocolName: 'modbus',
 *                 configData: packConfigData({ host: '10.0.0.7', port: 502 }),
 *               },
 *               properties: [
 *                 { name: 'temperature', collectCycle: 100, reportCycle: 200, reportToCloud: true },
 *                 { name: 'setpoint', collectCycle: 1000, desired: { value: '21', metadata: {} } },
 *               ],
 *             },
 *           },
 *         ],
 *       };
 *     },
 *     reportDeviceStatus: async (request) => {
 *       edgeEvents.emit('status', request);
 *     },
 *     reportDeviceStates: async ({ deviceName, state }) => {
 *       console.log('edge: state', deviceName, state);
 *     },
 *   },
 * });
 * await edge.start();
 *
 * // The mapper: the SDK runs one driver per device; the driver only speaks the protocol.
 * const mapper = createMapper({
 *   name: 'modbus-mapper',
 *   protocol: 'modbus',
 *   dmi: { edgeEndpoint: edge.endpoint, socketPath: join(dir, 'modbus.sock') },
 *   createDriver: () => ({
 *     async init(protocol) {
 *       console.log('driver: connect', JSON.stringify(protocol));
 *     },
 *     async readProperty(visitor, property) {
 *       return property.name === 'temperature' ? '23.5' : '21';
 *     },
 *     async writeProperty(visitor, property, value) {
 *       console.log('driver: write', property.name, value);
 *     },
 *     async deviceState() {
 *       return 'ok';
 *     },
 *     async stop() {},
 *   }),
 * });
 * await mapper.start();
 *
 * // The temperature is read every 100 ms and reported to edgecore every 200 ms.
 * const [status] = await once(edgeEvents, 'status');
 * for (const twin of status.reportedDevice.twins) {
 *   console.log('edge: twin', status.deviceName, twin.propertyName, twin.reported.value);
 * }
 *
 * await mapper.stop();
 * await edge.stop();
 * await rm(dir, { recursive: true, force: true });
 * ```
 */

export {
  DEFAULT_EDGECORE_SOCK,
  loadMapperConfig,
  type MapperConfig,
  type ParseMapperConfigOptions,
  parseMapperConfig,
} from './config';
export type { DeviceSnapshot, PropertySnapshot, PropertyValue } from './device';
export { type ParseDeviceManifestsOptions, parseDeviceManifests } from './device-file';
export type { DeviceDriver, DeviceState, PropertyType, SubscribeOptions } from './driver';
export { MapperError, type MapperErrorCode } from './errors';
export { REST_API_VERSION } from './http-api';
export type { MapperLogger } from './logger';
export {
  createMapper,
  MAPPER_API_VERSION,
  type Mapper,
  type MapperEvents,
  type MapperOptions,
  type MapperStats,
  type StandaloneDevices,
} from './mapper';
export type { PushedValue } from './push';
