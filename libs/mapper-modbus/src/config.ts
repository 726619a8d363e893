import type { PropertyType } from './driver';
import { ModbusError } from './errors';

/** Modbus TCP: KubeEdge's Modbus protocol `configData` for a device on the network. */
export interface ModbusTcpConfig {
  /** Host name or address of the device (or of its Modbus TCP gateway). */
  ip: string;
  /** TCP port; Modbus TCP's is 502. A numeric string is accepted, as older Device YAMLs have it. */
  port: number | string;
  /** Unit identifier (0–255); default 1. */
  slaveID?: number;
  /** How long to wait for a connection or an answer, in ms; default 5000 (KubeEdge's mapper). */
  timeout?: number;
}

/** Modbus RTU: KubeEdge's Modbus protocol `configData` for a device on a serial line. */
export interface ModbusRtuConfig {
  /** The serial device, e.g. `/dev/ttyUSB0` or `/dev/ttyS0`. */
  serialPort: string;
  /** Default 9600. */
  baudRate?: number;
  /** 5–8, default 8. */
  dataBits?: number;
  /** Default `none`. */
  parity?: 'none' | 'even' | 'odd';
  /** 1 or 2, default 1. */
  stopBits?: number;
  /** Slave address (1–247); default 1. */
  slaveID?: number;
  /** How long to wait for an answer, in ms; default 5000 (KubeEdge's mapper). */
  timeout?: number;
}

export type ModbusProtocolConfig = ModbusTcpConfig | ModbusRtuConfig;

/** Modbus's four tables, by the names KubeEdge's visitor uses. */
export type ModbusRegisterType =
  | 'CoilRegister'
  | 'DiscreteInputRegister'
  | 'HoldingRegister'
  | 'InputRegister';

/** KubeEdge's Modbus visitor `configData`: where a property lives and how to decode it. */
export interface ModbusVisitorConfig {
  /** The table: coils and holding registers are writable, the other two read-only. */
  register: ModbusRegisterType;
  /** Address of the first coil or register, 0-based (the PDU address; mbpoll's `-r` is this + 1). */
  offset: number;
  /** How many coils or registers; 0 or absent: the type's width (int 1, float 2, double 4). */
  limit?: number;
  /** Read: the decoded number × scale; write: the value ÷ scale. Default 1. */
  scale?: number;
  /** Swap the two bytes of every register. */
  isSwap?: boolean;
  /** Reverse the order of the registers (word swap). */
  isRegisterSwap?: boolean;
}

/** A validated protocol config with its defaults filled in. */
export type ResolvedProtocol =
  | {
      kind: 'tcp';
      host: string;
      port: number;
      slaveID: number;
      timeoutMs: number;
    }
  | {
      kind: 'rtu';
      path: string;
      baudRate: number;
      dataBits: 5 | 6 | 7 | 8;
      parity: 'none' | 'even' | 'odd';
      stopBits: 1 | 2;
      slaveID: number;
      timeoutMs: number;
    };

/** How one property is read or written: the request and the decoding, validated. */
export interface AccessPlan {
  register: ModbusRegisterType;
  /** Coils and discrete inputs hold bits; the other two 16-bit registers. */
  bits: boolean;
  offset: number;
  /** Number of coils or registers. */
  count: number;
  type: PropertyType;
  scale: number;
  isSwap: boolean;
  isRegisterSwap: boolean;
}

export const DEFAULT_TIMEOUT_MS = 5_000;

const REGISTER_TYPES: readonly ModbusRegisterType[] = [
  'CoilRegister',
  'DiscreteInputRegister',
  'HoldingRegister',
  'InputRegister',
];
const PROPERTY_TYPES: readonly PropertyType[] = [
  'int',
  'float',
  'double',
  'boolean',
  'string',
  'bytes',
];

/** Modbus limits per request (Modbus Application Protocol v1.1b, 6.1–6.4). */
const MAX_READ_REGISTERS = 125;
const MAX_READ_BITS = 2000;

function invalid(message: string): ModbusError {
  return new ModbusError('KE_MODBUS_CONFIG_INVALID', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integerIn(
  config: Record<string, unknown>,
  field: string,
  min: number,
  max: number,
  fallback: number,
  what: string,
): number {
  const raw = config[field];
  if (raw === undefined || raw === null) return fallback;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${what}: ${field} must be an integer from ${min} to ${max}, got ${String(raw)}`);
  }
  return value;
}

function timeoutOf(config: Record<string, unknown>, what: string): number {
  const raw = config.timeout;
  if (raw === undefined || raw === null || raw === 0) return DEFAULT_TIMEOUT_MS;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 1 || raw > 600_000) {
    throw invalid(`${what}: timeout is in milliseconds, from 1 to 600000; got ${String(raw)}`);
  }
  return raw;
}

/** Validates KubeEdge's Modbus protocol `configData` (TCP or RTU) and fills in defaults. */
export function resolveProtocol(config: unknown): ResolvedProtocol {
  if (!isObject(config)) {
    throw invalid(
      'Modbus protocol config must be an object: { ip, port, slaveID } for Modbus TCP or { serialPort, baudRate, dataBits, parity, stopBits, slaveID } for Modbus RTU',
    );
  }
  const hasIp = config.ip !== undefined && config.ip !== '';
  const hasSerial = config.serialPort !== undefined && config.serialPort !== '';
  if (hasIp && hasSerial) {
    throw invalid(
      'Modbus protocol config has both ip (Modbus TCP) and serialPort (Modbus RTU): keep only the one the device uses',
    );
  }
  if (hasIp) {
    const what = 'Modbus TCP config';
    if (typeof config.ip !== 'string' || config.ip.trim() === '') {
      throw invalid(`${what}: ip must be a host name or address, got ${String(config.ip)}`);
    }
    if (config.port === undefined || config.port === null || config.port === '') {
      throw invalid(`${what}: port is required (Modbus TCP's is 502)`);
    }
    return {
      kind: 'tcp',
      host: config.ip.trim(),
      port: integerIn(config, 'port', 1, 65_535, 502, what),
      slaveID: integerIn(config, 'slaveID', 0, 255, 1, what),
      timeoutMs: timeoutOf(config, what),
    };
  }
  if (hasSerial) {
    const what = 'Modbus RTU config';
    if (typeof config.serialPort !== 'string') {
      throw invalid(`${what}: serialPort must be a device path such as /dev/ttyUSB0`);
    }
    const parity = config.parity ?? 'none';
    if (typeof parity !== 'string' || !['none', 'even', 'odd'].includes(parity.toLowerCase())) {
      throw invalid(`${what}: parity must be none, even or odd, got ${String(parity)}`);
    }
    const stopBits = integerIn(config, 'stopBits', 1, 2, 1, what) as 1 | 2;
    return {
      kind: 'rtu',
      path: config.serialPort,
      baudRate: integerIn(config, 'baudRate', 50, 4_000_000, 9600, what),
      dataBits: integerIn(config, 'dataBits', 5, 8, 8, what) as 5 | 6 | 7 | 8,
      parity: parity.toLowerCase() as 'none' | 'even' | 'odd',
      stopBits,
      // 0 is RTU's broadcast address: nothing answers it, so reads could never succeed.
      slaveID: integerIn(config, 'slaveID', 1, 247, 1, what),
      timeoutMs: timeoutOf(config, what),
    };
  }
  throw invalid('Modbus protocol config needs ip and port (Modbus TCP) or serialPort (Modbus RTU)');
}

/** The default and allowed counts of registers (or coils) for each type. */
function countFor(bits: boolean, type: PropertyType, limit: number, where: string): number {
  if (bits) {
    if (type === 'boolean') {
      if (limit > 1) throw invalid(`${where}: a boolean is one coil or input, so limit must be 1`);
      return 1;
    }
    if (type === 'int') {
      const count = limit || 1;
      if (count > 32) throw invalid(`${where}: an int read from bits takes at most 32 of them`);
      return count;
    }
    throw invalid(`${where}: coils and discrete inputs hold bits: use type boolean or int`);
  }
  switch (type) {
    case 'int': {
      const count = limit || 1;
      if (![1, 2, 4].includes(count)) {
        throw invalid(
          `${where}: an int is 1 register (16-bit), 2 (32-bit) or 4 (64-bit); limit is ${count}`,
        );
      }
      return count;
    }
    case 'float':
      if (limit && limit !== 2) {
        throw invalid(
          `${where}: a float is IEEE 754 single precision in 2 registers; limit is ${limit}`,
        );
      }
      return 2;
    case 'double':
      if (limit && limit !== 4) {
        throw invalid(
          `${where}: a double is IEEE 754 double precision in 4 registers; limit is ${limit}`,
        );
      }
      return 4;
    case 'boolean':
      return limit || 1;
    case 'string':
    case 'bytes':
      if (!limit) {
        throw invalid(`${where}: a ${type} needs limit, its length in registers (2 bytes each)`);
      }
      return limit;
  }
}

/** Validates a visitor for a property of `type` and works out the request it needs. */
export function resolveAccess(
  config: unknown,
  type: PropertyType,
  propertyName: string,
): AccessPlan {
  const where = `property ${propertyName}`;
  if (!PROPERTY_TYPES.includes(type)) {
    throw invalid(
      `${where}: type must be one of ${PROPERTY_TYPES.join(', ')}, got ${String(type)}`,
    );
  }
  if (!isObject(config)) {
    throw invalid(
      `${where}: the Modbus visitor must be an object { register, offset, limit, ... }`,
    );
  }
  const register = config.register as ModbusRegisterType;
  if (!REGISTER_TYPES.includes(register)) {
    throw invalid(
      `${where}: register must be one of ${REGISTER_TYPES.join(', ')}, got ${String(config.register)}`,
    );
  }
  const bits = register === 'CoilRegister' || register === 'DiscreteInputRegister';
  const offset = integerIn(config, 'offset', 0, 65_535, Number.NaN, where);
  if (Number.isNaN(offset)) throw invalid(`${where}: offset (the 0-based address) is required`);
  const limit = integerIn(config, 'limit', 0, 65_535, 0, where);
  const count = countFor(bits, type, limit, where);
  const max = bits ? MAX_READ_BITS : MAX_READ_REGISTERS;
  if (count > max) {
    throw invalid(
      `${where}: one Modbus request reads at most ${max} ${bits ? 'bits' : 'registers'}`,
    );
  }
  if (offset + count > 65_536) {
    throw invalid(`${where}: offset ${offset} + limit ${count} runs past address 65535`);
  }
  const scale = config.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0) {
    throw invalid(
      `${where}: scale must be a finite number other than 0, got ${String(config.scale)}`,
    );
  }
  for (const flag of ['isSwap', 'isRegisterSwap'] as const) {
    if (config[flag] !== undefined && typeof config[flag] !== 'boolean') {
      throw invalid(`${where}: ${flag} must be true or false, got ${String(config[flag])}`);
    }
  }
  return {
    register,
    bits,
    offset,
    count,
    type,
    scale,
    isSwap: config.isSwap === true,
    isRegisterSwap: config.isRegisterSwap === true,
  };
}
