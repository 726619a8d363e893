/**
 * @packageDocumentation
 * KubeEdge's OPC UA mapper driver: reads, writes and subscribes to device properties by node ID
 * over OPC UA (node-opcua) with security modes, policies and user names, and a simulated OPC UA
 * server for tests and demos.
 *
 * @example
 * ```js
 * import { EventEmitter, on } from 'node:events';
 * import { mkdtemp, rm } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createOpcuaDriver, createOpcuaTestServer } from '@ke/mapper-opcua';
 *
 * // A simulated boiler: ns=1;s=Temperature (Double), Counter (Int32), Running, Label.
 * const device = createOpcuaTestServer();
 * await device.start();
 *
 * // The client keeps its certificate here; give a lasting folder in production.
 * const pkiDir = await mkdtemp(join(tmpdir(), 'opcua-client-'));
 * const driver = createOpcuaDriver({ pkiDir });
 *
 * // The Device's protocol configData, as KubeEdge's OPC UA mapper takes it.
 * await driver.init({ url: device.url, securityMode: 'None', securityPolicy: 'None', timeout: 5000 });
 *
 * // A property's visitor configData and its type; values travel as twin strings.
 * const temperature = { nodeID: 'ns=1;s=Temperature' };
 * console.log(
 *   'temperature',
 *   await driver.readProperty(temperature, { name: 'temperature', type: 'double' }),
 * );
 *
 * // A desired value from the twin, converted to the node's DataType (Int32) and written.
 * await driver.writeProperty({ nodeID: 'ns=1;s=Counter' }, { name: 'counter', type: 'int' }, '7');
 * console.log('counter on the device', device.get('Counter'));
 *
 * // What the mapper SDK does with a driver that can subscribe: the server pushes changes.
 * const changes = new EventEmitter();
 * const pushed = on(changes, 'value');
 * const unsubscribe = await driver.subscribe(
 *   temperature,
 *   { name: 'temperature', type: 'double' },
 *   (value) => {
 *     changes.emit('value', value);
 *   },
 * );
 * console.log('pushed', (await pushed.next()).value[0]);
 * device.set('Temperature', 24.25);
 * console.log('pushed', (await pushed.next()).value[0]);
 * console.log('state', await driver.deviceState());
 *
 * await unsubscribe();
 * await driver.stop();
 * await device.stop();
 * await rm(pkiDir, { recursive: true, force: true });
 * ```
 */
export {
  formatFloat32,
  formatValue,
  parseValue,
  SCALAR_DATA_TYPES,
  type ScalarDataType,
} from './codec';
export {
  DEFAULT_TIMEOUT_MS,
  type OpcuaProtocolConfig,
  type OpcuaVisitorConfig,
  type ResolvedProtocol,
  resolveProtocol,
  resolveVisitor,
} from './config';
export type { DeviceDriver, DeviceState, PropertyType } from './driver';
export { OpcuaError, type OpcuaErrorCode } from './errors';
export { createOpcuaDriver, type OpcuaDriver, type OpcuaDriverOptions } from './opcua-driver';
export {
  createOpcuaTestServer,
  type OpcuaTestServer,
  type OpcuaTestServerOptions,
  type TestValue,
  type TestVariable,
} from './test-server';
