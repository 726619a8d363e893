/**
 * @packageDocumentation
 * KubeEdge's Modbus mapper driver: reads and writes device properties over Modbus TCP or
 * RTU with the visitor settings of a v1beta1 Device (register, offset, limit, scale,
 * isSwap, isRegisterSwap), and a simulated Modbus TCP device for tests and demos.
 *
 * @example
 * ```js
 * import { equal } from 'node:assert/strict';
 * import { createModbusDriver, createModbusTestServer } from '@ke/mapper-modbus';
 *
 * // A simulated thermostat: holding register 0 is its setpoint, 2–3 a float temperature.
 * const device = createModbusTestServer({ holding: [215, 0, 0x41bc, 0x0000] });
 * await device.start();
 *
 * // The Device's protocol configData, as KubeEdge's Modbus mapper takes it.
 * const driver = createModbusDriver();
 * await driver.init({ ip: '127.0.0.1', port: device.port, slaveID: 1, timeout: 2000 });
 *
 * // A property's visitor configData and its type.
 * const setpoint = () =>
 *   driver.readProperty(
 *     { register: 'HoldingRegister', offset: 0, limit: 1 },
 *     { name: 'setpoint', type: 'int' },
 *   );
 * console.log('setpoint', await setpoint());
 *
 * // A desired value from the twin, written with FC6 and read back.
 * await driver.writeProperty(
 *   { register: 'HoldingRegister', offset: 0, limit: 1 },
 *   { name: 'setpoint', type: 'int' },
 *   '230',
 * );
 * equal(device.holding[0], 230);
 * console.log('setpoint', await setpoint());
 *
 * const temperature = await driver.readProperty(
 *   { register: 'HoldingRegister', offset: 2, limit: 2 },
 *   { name: 'temperature', type: 'float' },
 * );
 * console.log('temperature', temperature);
 * console.log('state', await driver.deviceState());
 *
 * await driver.stop();
 * await device.stop();
 * ```
 */

export { decodeBits, decodeRegisters, encodeBits, encodeRegisters, formatFloat32 } from './codec';
export {
  type AccessPlan,
  DEFAULT_TIMEOUT_MS,
  type ModbusProtocolConfig,
  type ModbusRegisterType,
  type ModbusRtuConfig,
  type ModbusTcpConfig,
  type ModbusVisitorConfig,
  type ResolvedProtocol,
  resolveAccess,
  resolveProtocol,
} from './config';
export type { DeviceDriver, DeviceState, PropertyType } from './driver';
export { exceptionName, MODBUS_EXCEPTIONS, ModbusError, type ModbusErrorCode } from './errors';
export { createModbusDriver, type ModbusDriver, type ModbusDriverOptions } from './modbus-driver';
export {
  createModbusTestServer,
  type ModbusTestServer,
  type ModbusTestServerOptions,
} from './test-server';
