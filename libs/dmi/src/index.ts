/**
 * @packageDocumentation
 * KubeEdge's Device Management Interface (DMI v1beta1): the gRPC API between edgecore's device
 * manager and device mappers, over Unix sockets. Servers and clients for both of its services,
 * with typed messages, helpers that pack a protocol's `configData` from a plain object, and the
 * conversion of v1beta1 Device and DeviceModel objects to what a mapper receives.
 *
 * @example
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createDeviceManagerClient, createDeviceManagerServer } from '@ke/dmi';
 * import { createDeviceMapperClient, createDeviceMapperServer } from '@ke/dmi';
 * import { packConfigData, unpackConfigData } from '@ke/dmi';
 *
 * const dir = await mkdtemp(join(tmpdir(), 'dmi-'));
 *
 * // The mapper: serves DeviceMapperService on its own socket and keeps the devices edgecore gives it.
 * const devices = new Map();
 * const mapperServer = createDeviceMapperServer({
 *   socketPath: join(dir, 'modbus.sock'),
 *   handlers: {
 *     registerDevice: async ({ device }) => {
 *       if (!device) throw new Error('no device');
 *       devices.set(device.name, device);
 *       const config = unpackConfigData(device.spec?.protocol?.configData);
 *       console.log('mapper: device', device.name, JSON.stringify(config));
 *       return { deviceName: device.name, deviceNamespace: device.namespace };
 *     },
 *   },
 * });
 * await mapperServer.start();
 *
 * // edgecore's device manager: mappers register with it and report twins and states
 * // (in KubeEdge it listens on /etc/kubeedge/dmi.sock).
 * const mapperSockets = new Map();
 * const manager = createDeviceManagerServer({
 *   socketPath: join(dir, 'dmi.sock'),
 *   handlers: {
 *     mapperRegister: async ({ mapper }) => {
 *       if (!mapper) throw new Error('no mapper');
 *       console.log('edge: mapper', mapper.name, mapper.protocol, mapper.state);
 *       // Devices of this protocol now go to the mapper's socket.
 *       mapperSockets.set(mapper.protocol, mapper.address.toString());
 *       return { modelList: [], deviceList: [] };
 *     },
 *     reportDeviceStatus: async ({ deviceName, reportedDevice }) => {
 *       for (const twin of reportedDevice?.twins ?? []) {
 *         console.log('edge: twin', deviceName, twin.propertyName, twin.reported?.value);
 *       }
 *     },
 *     reportDeviceStates: async ({ deviceName, state }) => {
 *       console.log('edge: state', deviceName, state);
 *     },
 *   },
 * });
 * await manager.start();
 *
 * // The mapper comes online and registers, giving the socket edgecore reaches it on.
 * const edgecore = createDeviceManagerClient({ endpoint: manager.endpoint });
 * await edgecore.mapperRegister({
 *   withData: true,
 *   mapper: {
 *     name: 'modbus-mapper',
 *     version: 'v1.0.0',
 *     apiVersion: 'v1beta1',
 *     protocol: 'modbus',
 *     address: mapperServer.socketPath,
 *     state: 'Ready',
 *   },
 * });
 *
 * // The cloud created a Device: edgecore hands it to the mapper of its protocol.
 * const mapperClient = createDeviceMapperClient({ endpoint: mapperSockets.get('modbus') });
 * const registered = await mapperClient.registerDevice({
 *   name: 'thermometer',
 *   namespace: 'default',
 *   spec: {
 *     deviceModelReference: 'thermometer-model',
 *     protocol: {
 *       protocolName: 'modbus',
 *       configData: packConfigData({ serialPort: '/dev/ttyS0', baudRate: 9600, parity: 'even' }),
 *     },
 *     properties: [{ name: 'temperature', reportCycle: 10000, collectCycle: 5000 }],
 *   },
 * });
 * equal(registered.deviceName, 'thermometer');
 *
 * // The mapper read the device: it reports the twin and the device's state.
 * await edgecore.reportDeviceStatus({
 *   deviceName: 'thermometer',
 *   deviceNamespace: 'default',
 *   reportedDevice: {
 *     twins: [
 *       {
 *         propertyName: 'temperature',
 *         reported: { value: '23.5', metadata: { type: 'float', timestamp: String(Date.now()) } },
 *       },
 *     ],
 *   },
 * });
 * await edgecore.reportDeviceStates({
 *   deviceName: 'thermometer',
 *   deviceNamespace: 'default',
 *   state: 'online',
 * });
 *
 * edgecore.close();
 * mapperClient.close();
 * await manager.stop();
 * await mapperServer.stop();
 * await rm(dir, { recursive: true, force: true });
 * ```
 */

export { DMI_API_PROTO, WELL_KNOWN_TYPES_PROTO } from './api-proto';
export type { DmiCallOptions, DmiClientOptions } from './client';
export { packAny, packConfigData, unpackAny, unpackConfigData } from './config-data';
export { dmiPackageDefinition } from './definition';
export {
  createDeviceManagerClient,
  createDeviceManagerServer,
  DEFAULT_DMI_SOCKET_PATH,
  type DeviceManagerClient,
  type DeviceManagerHandlers,
  type DeviceManagerServerOptions,
} from './device-manager';
export {
  createDeviceMapperClient,
  createDeviceMapperServer,
  type DeviceMapperClient,
  type DeviceMapperHandlers,
  type DeviceMapperServerOptions,
} from './device-mapper';
export { DmiError, type DmiErrorCode } from './errors';
export type {
  DmiCallContext,
  DmiHandler,
  DmiServer,
  DmiServerOptions,
} from './server';
export type * from './types';
export {
  deviceFromV1beta1,
  deviceInputFromV1beta1,
  modelFromV1beta1,
  modelInputFromV1beta1,
  type V1beta1Device,
  type V1beta1DeviceModel,
  type V1beta1DeviceProperty,
} from './v1beta1';
