import type { AccessPlan } from './config';
import { ModbusError } from './errors';

// The conversions of KubeEdge's Modbus mapper (mappers-go `TransferData`): the registers'
// bytes as they came off the wire, the register order reversed when `isRegisterSwap`, the
// two bytes of every register swapped when `isSwap`, then read big-endian; numbers × scale.
// Writing runs the same steps backwards (both swaps are their own inverse).

const FLOAT32_MAX = 3.4028234663852886e38;

function invalidValue(plan: AccessPlan, value: string, why: string): ModbusError {
  return new ModbusError(
    'KE_MODBUS_VALUE_INVALID',
    `cannot write ${JSON.stringify(value)} as ${plan.type} to ${plan.register} ${plan.offset} (limit ${plan.count}): ${why}`,
  );
}

/** Applies the visitor's swaps in place; the same call undoes them. */
export function swapRegisters(
  bytes: Buffer,
  plan: Pick<AccessPlan, 'isSwap' | 'isRegisterSwap'>,
): Buffer {
  if (plan.isRegisterSwap) {
    const words = bytes.length / 2;
    for (let i = 0; i < Math.floor(words / 2); i++) {
      const j = words - 1 - i;
      const a = bytes.readUInt16BE(2 * i);
      bytes.writeUInt16BE(bytes.readUInt16BE(2 * j), 2 * i);
      bytes.writeUInt16BE(a, 2 * j);
    }
  }
  if (plan.isSwap) bytes.swap16();
  return bytes;
}

/** `x × scale`, truncated toward zero as KubeEdge's `int64(data)`, without float noise (0.7 / 0.1). */
function scaledInteger(raw: number, scale: number): string {
  const scaled = Number((raw * scale).toPrecision(15));
  return String(Math.trunc(scaled) || 0);
}

/** The shortest decimal that reads back as the same float32: 1.1f is "1.1", not 1.100000023841858. */
export function formatFloat32(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const target = Math.fround(value);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === target) return String(candidate);
  }
  return String(target);
}

/** Decodes registers (as a buffer of their big-endian bytes) into a twin value. */
export function decodeRegisters(wire: Buffer, plan: AccessPlan): string {
  const bytes = swapRegisters(Buffer.from(wire), plan);
  switch (plan.type) {
    case 'int': {
      if (bytes.length === 8) {
        const raw = bytes.readBigInt64BE(0);
        return plan.scale === 1 ? raw.toString() : scaledInteger(Number(raw), plan.scale);
      }
      const raw = bytes.length === 2 ? bytes.readInt16BE(0) : bytes.readInt32BE(0);
      return plan.scale === 1 ? String(raw) : scaledInteger(raw, plan.scale);
    }
    case 'float':
      return formatFloat32(bytes.readFloatBE(0) * plan.scale);
    case 'double':
      return String(bytes.readDoubleBE(0) * plan.scale);
    case 'boolean':
      return String(bytes.some((byte) => byte !== 0));
    case 'string': {
      const end = bytes.findLastIndex((byte) => byte !== 0) + 1;
      return bytes.subarray(0, end).toString('latin1');
    }
    case 'bytes':
      return bytes.toString('base64');
  }
}

/** Decodes coils or discrete inputs: a boolean is the first, an int the bits with the first lowest. */
export function decodeBits(bits: readonly boolean[], plan: AccessPlan): string {
  if (plan.type === 'boolean') return String(bits[0] === true);
  let raw = 0;
  for (let i = plan.count - 1; i >= 0; i--) raw = raw * 2 + (bits[i] ? 1 : 0);
  return plan.scale === 1 ? String(raw) : scaledInteger(raw, plan.scale);
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's `strconv.ParseBool`, which KubeEdge's mappers use for twin values. */
function parseBoolean(plan: AccessPlan, value: string): boolean {
  if (GO_TRUE.has(value)) return true;
  if (GO_FALSE.has(value)) return false;
  throw invalidValue(plan, value, 'a boolean is true or false (or 1/0, t/f)');
}

function parseDecimal(plan: AccessPlan, value: string): number {
  const lower = value.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (['inf', '+inf', 'infinity', '+infinity'].includes(lower)) return Number.POSITIVE_INFINITY;
  if (['-inf', '-infinity'].includes(lower)) return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value)) {
    throw invalidValue(plan, value, 'not a number');
  }
  return Number(value);
}

/** An int twin value ÷ scale, rounded to the nearest integer the register can hold. */
function integerToWrite(
  plan: AccessPlan,
  value: string,
  bitsWide: number,
  signed: boolean,
): bigint {
  if (!/^[+-]?\d+$/.test(value)) throw invalidValue(plan, value, 'an int is a whole number');
  let raw: bigint;
  if (plan.scale === 1) {
    raw = BigInt(value);
  } else {
    const scaled = Number((Number(value) / plan.scale).toPrecision(15));
    raw = BigInt(Math.round(scaled));
  }
  const min = signed ? -(1n << BigInt(bitsWide - 1)) : 0n;
  const max = signed ? (1n << BigInt(bitsWide - 1)) - 1n : (1n << BigInt(bitsWide)) - 1n;
  if (raw < min || raw > max) {
    const scaleNote = plan.scale === 1 ? '' : ` after ÷ scale ${plan.scale} it is ${raw}, and`;
    throw invalidValue(
      plan,
      value,
      `out of range:${scaleNote} ${bitsWide} ${signed ? 'signed ' : ''}bits hold ${min} to ${max}`,
    );
  }
  return raw;
}

/** Encodes a twin value into the registers to write (16-bit unsigned words, in address order). */
export function encodeRegisters(value: string, plan: AccessPlan): number[] {
  const bytes = Buffer.alloc(plan.count * 2);
  switch (plan.type) {
    case 'int': {
      const raw = integerToWrite(plan, value, plan.count * 16, true);
      if (plan.count === 1) bytes.writeInt16BE(Number(raw), 0);
      else if (plan.count === 2) bytes.writeInt32BE(Number(raw), 0);
      else bytes.writeBigInt64BE(raw, 0);
      break;
    }
    case 'float': {
      const raw = parseDecimal(plan, value) / plan.scale;
      if (Number.isFinite(raw) && Math.abs(raw) > FLOAT32_MAX) {
        throw invalidValue(plan, value, `beyond a float's range (±${FLOAT32_MAX})`);
      }
      bytes.writeFloatBE(raw, 0);
      break;
    }
    case 'double':
      bytes.writeDoubleBE(parseDecimal(plan, value) / plan.scale, 0);
      break;
    case 'boolean':
      bytes[bytes.length - 1] = parseBoolean(plan, value) ? 1 : 0;
      break;
    case 'string': {
      if (/[^\x20-\x7e\t\r\n]/.test(value)) {
        throw invalidValue(plan, value, 'a string is printable ASCII');
      }
      if (value.length > bytes.length) {
        throw invalidValue(plan, value, `${plan.count} registers hold ${bytes.length} characters`);
      }
      bytes.write(value, 'latin1');
      break;
    }
    case 'bytes': {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) {
        throw invalidValue(plan, value, 'bytes are written as base64');
      }
      const decoded = Buffer.from(value, 'base64');
      if (decoded.length > bytes.length) {
        throw invalidValue(plan, value, `${plan.count} registers hold ${bytes.length} bytes`);
      }
      decoded.copy(bytes);
      break;
    }
  }
  swapRegisters(bytes, plan);
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) words.push(bytes.readUInt16BE(i));
  return words;
}

/** Encodes a twin value into the coils to write (first coil first). */
export function encodeBits(value: string, plan: AccessPlan): boolean[] {
  if (plan.type === 'boolean') return [parseBoolean(plan, value)];
  const raw = integerToWrite(plan, value, plan.count, false);
  const bits: boolean[] = [];
  for (let i = 0; i < plan.count; i++) bits.push(((raw >> BigInt(i)) & 1n) === 1n);
  return bits;
}
