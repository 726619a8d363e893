import { OpcuaError } from './errors';

/** The OPC UA built-in DataTypes this driver converts to and from twin strings. */
export type ScalarDataType =
  | 'Boolean'
  | 'SByte'
  | 'Byte'
  | 'Int16'
  | 'UInt16'
  | 'Int32'
  | 'UInt32'
  | 'Int64'
  | 'UInt64'
  | 'Float'
  | 'Double'
  | 'String'
  | 'DateTime'
  | 'ByteString';

export const SCALAR_DATA_TYPES: readonly ScalarDataType[] = [
  'Boolean',
  'SByte',
  'Byte',
  'Int16',
  'UInt16',
  'Int32',
  'UInt32',
  'Int64',
  'UInt64',
  'Float',
  'Double',
  'String',
  'DateTime',
  'ByteString',
];

/** Integer DataTypes and their ranges. */
const INTEGER_RANGES: Partial<Record<ScalarDataType, readonly [bigint, bigint]>> = {
  SByte: [-128n, 127n],
  Byte: [0n, 255n],
  Int16: [-32768n, 32767n],
  UInt16: [0n, 65535n],
  Int32: [-2147483648n, 2147483647n],
  UInt32: [0n, 4294967295n],
  Int64: [-(2n ** 63n), 2n ** 63n - 1n],
  UInt64: [0n, 2n ** 64n - 1n],
};

const FLOAT_MAX = 3.4028234663852886e38;

/** node-opcua carries 64-bit integers as `[high, low]` unsigned 32-bit words. */
function toWords(value: bigint): [number, number] {
  const unsigned = BigInt.asUintN(64, value);
  return [Number(unsigned >> 32n), Number(unsigned & 0xffffffffn)];
}

function fromWords(words: unknown, signed: boolean): bigint {
  if (typeof words === 'number' || typeof words === 'bigint') return BigInt(words);
  const [high, low] = words as [number, number];
  const unsigned = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  return signed ? BigInt.asIntN(64, unsigned) : unsigned;
}

/** The shortest decimal that reads back as the same single-precision float: 1.1, not 1.100000023841858. */
export function formatFloat32(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const single = Math.fround(value);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(single.toPrecision(digits));
    if (Math.fround(candidate) === single) return String(candidate);
  }
  return String(single);
}

function formatScalar(raw: unknown, dataType: ScalarDataType | undefined): string {
  if (raw === null || raw === undefined) return '';
  switch (dataType) {
    case 'Int64':
      return fromWords(raw, true).toString();
    case 'UInt64':
      return fromWords(raw, false).toString();
    case 'Float':
      return formatFloat32(Number(raw));
    case 'Boolean':
      return raw ? 'true' : 'false';
    case 'DateTime':
      return raw instanceof Date ? raw.toISOString() : String(raw);
    case 'ByteString':
      return Buffer.isBuffer(raw) ? raw.toString('base64') : String(raw);
    default:
      if (Buffer.isBuffer(raw)) return raw.toString('base64');
      if (raw instanceof Date) return raw.toISOString();
      if (typeof raw === 'object') return JSON.stringify(raw);
      return String(raw);
  }
}

/**
 * A value read from OPC UA as KubeEdge twins carry it: `"23.5"`, `"true"`, `"42"`; 64-bit
 * integers exactly, floats as their shortest decimal, byte strings in base64, dates in ISO
 * 8601, arrays as a JSON array of those strings.
 */
export function formatValue(raw: unknown, dataType: ScalarDataType | undefined): string {
  if (Array.isArray(raw) && dataType !== 'Int64' && dataType !== 'UInt64') {
    return JSON.stringify(raw.map((item) => formatScalar(item, dataType)));
  }
  if (ArrayBuffer.isView(raw) && !Buffer.isBuffer(raw)) {
    return JSON.stringify(
      Array.from(raw as unknown as ArrayLike<number>, (item) => formatScalar(item, dataType)),
    );
  }
  return formatScalar(raw, dataType);
}

function invalid(text: string, dataType: ScalarDataType, why: string): OpcuaError {
  return new OpcuaError(
    'KE_OPCUA_VALUE_INVALID',
    `cannot write ${JSON.stringify(text)} to a ${dataType} node: ${why}`,
  );
}

/** The node-opcua value of a twin string for a node of `dataType`; throws `KE_OPCUA_VALUE_INVALID`. */
export function parseValue(text: string, dataType: ScalarDataType): unknown {
  const trimmed = text.trim();
  const range = INTEGER_RANGES[dataType];
  if (range) {
    if (!/^[+-]?\d+$/.test(trimmed)) throw invalid(text, dataType, 'not an integer');
    const value = BigInt(trimmed);
    if (value < range[0] || value > range[1]) {
      throw invalid(text, dataType, `out of range ${range[0]}..${range[1]}`);
    }
    return dataType === 'Int64' || dataType === 'UInt64' ? toWords(value) : Number(value);
  }
  switch (dataType) {
    case 'Float':
    case 'Double': {
      const value = trimmed === '' ? Number.NaN : Number(trimmed);
      if (!Number.isFinite(value)) throw invalid(text, dataType, 'not a finite number');
      if (dataType === 'Float' && Math.abs(value) > FLOAT_MAX) {
        throw invalid(text, dataType, 'beyond the range of a single-precision float');
      }
      return value;
    }
    case 'Boolean': {
      const lower = trimmed.toLowerCase();
      if (['true', 't', '1'].includes(lower)) return true;
      if (['false', 'f', '0'].includes(lower)) return false;
      throw invalid(text, dataType, 'not true or false (nor 1/0, t/f)');
    }
    case 'String':
      return text;
    case 'DateTime': {
      const value = new Date(trimmed);
      if (Number.isNaN(value.getTime())) throw invalid(text, dataType, 'not an ISO 8601 date');
      return value;
    }
    case 'ByteString':
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)) throw invalid(text, dataType, 'not base64');
      return Buffer.from(trimmed, 'base64');
    default:
      throw invalid(text, dataType, 'this DataType is not supported');
  }
}

/** A test value as node-opcua stores it (the test server's side). */
export function toOpcuaValue(value: number | bigint | boolean | string, dataType: ScalarDataType) {
  if (dataType === 'Int64' || dataType === 'UInt64') return toWords(BigInt(value));
  return parseValue(String(value), dataType);
}

/** A node-opcua value as a plain test value (the test server's side). */
export function fromOpcuaValue(
  raw: unknown,
  dataType: ScalarDataType,
): number | bigint | boolean | string {
  if (dataType === 'Int64') return fromWords(raw, true);
  if (dataType === 'UInt64') return fromWords(raw, false);
  if (dataType === 'Float') return Number(formatFloat32(Number(raw)));
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'string') return raw;
  return formatValue(raw, dataType);
}
