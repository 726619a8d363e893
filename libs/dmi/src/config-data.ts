import { dmiRoot } from './definition';
import { DmiError } from './errors';
import type { Any, CustomizedValue, DmiInput, JsonValue } from './types';

// KubeEdge carries a protocol's and a visitor's `configData` as `map<string, google.protobuf.Any>`.
// edgecore (`dtcommon.ConvertDevice`) packs each value of the CRD's free-form map in a wrapper:
// string → StringValue, int → Int32Value, int64 → Int64Value, float → FloatValue, bool →
// BoolValue, and refuses anything else. Here the same wrappers are used for scalars, and nested
// objects and arrays, which edgecore cannot send, go as the well-known Struct and ListValue.

const TYPE_URL_PREFIX = 'type.googleapis.com/google.protobuf.';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

interface ValueMessage {
  kind?: string;
  nullValue?: string | number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage;
  listValue?: { values?: ValueMessage[] };
}

interface StructMessage {
  fields?: Record<string, ValueMessage>;
}

function encode(typeName: string, object: object): Buffer {
  const type = dmiRoot().lookupType(`google.protobuf.${typeName}`);
  return Buffer.from(type.encode(type.fromObject(object)).finish());
}

function decode<T>(typeName: string, bytes: Uint8Array): T {
  const type = dmiRoot().lookupType(`google.protobuf.${typeName}`);
  return type.toObject(type.decode(bytes), {
    longs: String,
    enums: String,
    oneofs: true,
    defaults: true,
  }) as T;
}

function wrap(typeName: string, object: object): Any {
  return { typeUrl: `${TYPE_URL_PREFIX}${typeName}`, value: encode(typeName, object) };
}

/**
 * The shortest decimal that reads back as this float32, as Go prints a float32: a FloatValue of
 * 0.1 holds 0.100000001490116..., which is read as 0.1 again.
 */
function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

function unsupported(what: string): DmiError {
  return new DmiError(
    'KE_DMI_UNSUPPORTED_VALUE',
    `${what} cannot be carried in configData; use strings, numbers, booleans, null, ` +
      'arrays and plain objects.',
  );
}

function toValueMessage(value: unknown, path: string): ValueMessage {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'number':
      return { numberValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'object':
      if (Array.isArray(value)) {
        return {
          listValue: { values: value.map((item, i) => toValueMessage(item, `${path}[${i}]`)) },
        };
      }
      return { structValue: toStructMessage(value as Record<string, unknown>, path) };
    default:
      throw unsupported(`${path} (a ${typeof value})`);
  }
}

function toStructMessage(object: Record<string, unknown>, path: string): StructMessage {
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    throw unsupported(`${path} (a ${prototype?.constructor?.name ?? 'non-plain object'})`);
  }
  const fields: Record<string, ValueMessage> = {};
  for (const [key, item] of Object.entries(object)) {
    // As JSON.stringify does: an undefined property is no property.
    if (item === undefined) continue;
    fields[key] = toValueMessage(item, `${path}.${key}`);
  }
  return { fields };
}

function fromValueMessage(value: ValueMessage): JsonValue {
  switch (value.kind) {
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return value.boolValue ?? false;
    case 'structValue':
      return fromStructMessage(value.structValue ?? {});
    case 'listValue':
      return (value.listValue?.values ?? []).map(fromValueMessage);
    default:
      return null;
  }
}

function fromStructMessage(struct: StructMessage): { [key: string]: JsonValue } {
  const object: { [key: string]: JsonValue } = {};
  for (const [key, item] of Object.entries(struct.fields ?? {}))
    object[key] = fromValueMessage(item);
  return object;
}

/** An int64 wrapper's value: a number when it is exact, else its decimal string. */
function int64Value(decimal: string): number | string {
  const value = Number(decimal);
  return Number.isSafeInteger(value) ? value : decimal;
}

/**
 * One value as a `google.protobuf.Any`, as edgecore packs `configData`: a string in a
 * StringValue, a boolean in a BoolValue, an integer in an Int32Value (an Int64Value beyond
 * 32 bits), a fraction in a FloatValue when a float32 keeps it (0.5, 9.6, 3.14), else in a
 * DoubleValue; `null`, arrays and objects in the well-known Value, ListValue and Struct.
 */
export function packAny(value: JsonValue, path = 'value'): Any {
  if (value === null) return wrap('Value', { nullValue: 'NULL_VALUE' });
  switch (typeof value) {
    case 'string':
      return wrap('StringValue', { value });
    case 'boolean':
      return wrap('BoolValue', { value });
    case 'number':
      if (Number.isInteger(value)) {
        if (value >= INT32_MIN && value <= INT32_MAX) return wrap('Int32Value', { value });
        if (Number.isSafeInteger(value)) return wrap('Int64Value', { value: String(value) });
      } else if (shortestFloat32(Math.fround(value)) === value) {
        return wrap('FloatValue', { value });
      }
      return wrap('DoubleValue', { value });
    case 'object':
      if (Array.isArray(value)) {
        return wrap('ListValue', toValueMessage(value, path).listValue ?? {});
      }
      return wrap('Struct', toStructMessage(value as Record<string, unknown>, path));
    default:
      throw unsupported(`${path} (a ${typeof value})`);
  }
}

/**
 * The value a `google.protobuf.Any` holds: the scalar wrappers (a FloatValue is read as the
 * shortest decimal of its float32, an int64 beyond 2^53 as a decimal string, BytesValue as
 * base64), Struct, ListValue and Value. Other types throw `KE_DMI_UNSUPPORTED_VALUE`.
 */
export function unpackAny(any: DmiInput<Any>, path = 'value'): JsonValue {
  const typeUrl = any.typeUrl ?? '';
  const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const bytes = any.value ?? new Uint8Array();
  switch (typeName) {
    case 'google.protobuf.StringValue':
      return decode<{ value: string }>('StringValue', bytes).value;
    case 'google.protobuf.BoolValue':
      return decode<{ value: boolean }>('BoolValue', bytes).value;
    case 'google.protobuf.Int32Value':
      return decode<{ value: number }>('Int32Value', bytes).value;
    case 'google.protobuf.UInt32Value':
      return decode<{ value: number }>('UInt32Value', bytes).value;
    case 'google.protobuf.Int64Value':
      return int64Value(decode<{ value: string }>('Int64Value', bytes).value);
    case 'google.protobuf.UInt64Value':
      return int64Value(decode<{ value: string }>('UInt64Value', bytes).value);
    case 'google.protobuf.FloatValue':
      return shortestFloat32(decode<{ value: number }>('FloatValue', bytes).value);
    case 'google.protobuf.DoubleValue':
      return decode<{ value: number }>('DoubleValue', bytes).value;
    case 'google.protobuf.BytesValue':
      return Buffer.from(decode<{ value: Uint8Array }>('BytesValue', bytes).value).toString(
        'base64',
      );
    case 'google.protobuf.Struct':
      return fromStructMessage(decode<StructMessage>('Struct', bytes));
    case 'google.protobuf.ListValue':
      return (decode<{ values: ValueMessage[] }>('ListValue', bytes).values ?? []).map(
        fromValueMessage,
      );
    case 'google.protobuf.Value':
      return fromValueMessage(decode<ValueMessage>('Value', bytes));
    default:
      throw unsupported(`${path} (a google.protobuf.Any of type '${typeUrl}')`);
  }
}

/**
 * A plain object as a `CustomizedValue`, for `ProtocolConfig.configData` and
 * `VisitorConfig.configData`: `{ data: { key: Any } }`, each value packed by `packAny`.
 */
export function packConfigData(data: { [key: string]: JsonValue | undefined }): CustomizedValue {
  const packed: Record<string, Any> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue;
    packed[key] = packAny(value, `configData.${key}`);
  }
  return { data: packed };
}

/**
 * A `CustomizedValue` (or the `data` map of one, as `AnomalyDetection.data` is) as a plain
 * object; `null` or `undefined` (configData not set) gives `{}`.
 */
export function unpackConfigData(
  value: DmiInput<CustomizedValue> | DmiInput<Record<string, Any>> | null | undefined,
): { [key: string]: JsonValue } {
  if (!value) return {};
  const data = isCustomizedValue(value) ? (value.data ?? {}) : value;
  const object: { [key: string]: JsonValue } = {};
  for (const [key, any] of Object.entries(data as Record<string, DmiInput<Any> | undefined>)) {
    if (any) object[key] = unpackAny(any, `configData.${key}`);
  }
  return object;
}

function isCustomizedValue(value: object): value is DmiInput<CustomizedValue> {
  const data = (value as { data?: unknown }).data;
  // A CustomizedValue's `data` is a map of Anys; an Any itself has a `typeUrl`.
  return (
    typeof data === 'object' &&
    data !== null &&
    typeof (data as { typeUrl?: unknown }).typeUrl !== 'string'
  );
}
