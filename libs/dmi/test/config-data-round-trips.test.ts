import { describe, expect, it } from 'vitest';
import { dmiRoot } from '../src/definition';
import {
  DmiError,
  dmiPackageDefinition,
  type JsonValue,
  packAny,
  packConfigData,
  type RegisterDeviceRequest,
  unpackAny,
  unpackConfigData,
} from '../src/index';

const TYPE = 'type.googleapis.com/google.protobuf.';

/** What a value becomes after the trip through a real RegisterDevice request on the wire. */
function overTheWire(configData: { [key: string]: JsonValue }): { [key: string]: JsonValue } {
  const { RegisterDevice } = dmiPackageDefinition()['v1beta1.DeviceMapperService'] as Record<
    string,
    {
      requestSerialize(value: object): Buffer;
      requestDeserialize(bytes: Buffer): RegisterDeviceRequest;
    }
  >;
  const bytes = RegisterDevice!.requestSerialize({
    device: {
      name: 'd',
      spec: { protocol: { protocolName: 'customized', configData: packConfigData(configData) } },
    },
  });
  return unpackConfigData(
    RegisterDevice!.requestDeserialize(bytes).device?.spec?.protocol?.configData,
  );
}

describe('configData packs into google.protobuf.Any and back', () => {
  it('packs scalars in the wrappers edgecore uses', () => {
    expect(packAny('COM1').typeUrl).toBe(`${TYPE}StringValue`);
    expect(packAny(true).typeUrl).toBe(`${TYPE}BoolValue`);
    expect(packAny(9600).typeUrl).toBe(`${TYPE}Int32Value`);
    expect(packAny(-5).typeUrl).toBe(`${TYPE}Int32Value`);
    expect(packAny(2 ** 40).typeUrl).toBe(`${TYPE}Int64Value`);
    expect(packAny(0.1).typeUrl).toBe(`${TYPE}FloatValue`);
    expect(packAny(Math.PI).typeUrl).toBe(`${TYPE}DoubleValue`);
    // StringValue{value: "COM1"}: field 1, length-delimited.
    expect([...packAny('COM1').value]).toEqual([0x0a, 4, 0x43, 0x4f, 0x4d, 0x31]);
  });

  it('round-trips a flat map', () => {
    const config = {
      serialPort: '/dev/ttyS0',
      baudRate: 9600,
      dataBits: 8,
      parity: 'even',
      stopBits: 1,
      slaveID: 1,
      scale: 0.1,
      ratio: Math.PI,
      big: 2 ** 40,
      negative: -273,
      isSwap: true,
      isRegisterSwap: false,
      empty: '',
    };
    expect(overTheWire(config)).toEqual(config);
  });

  it('round-trips nested objects, arrays and null', () => {
    const config = {
      connection: { host: '10.0.0.7', port: 502, tls: { enabled: false, ca: null } },
      registers: [1, 2, 3, { offset: 4, limit: 2 }, ['a', 'b'], []],
      tags: {},
      none: null,
      unicode: 'température °C',
    };
    expect(overTheWire(config)).toEqual(config);
  });

  it('leaves undefined properties out, as JSON does', () => {
    expect(overTheWire({ a: 1, b: undefined, c: { d: undefined, e: 'x' } } as never)).toEqual({
      a: 1,
      c: { e: 'x' },
    });
  });

  it('reads the float32 edgecore sends as the number it was', () => {
    // edgecore packs a CRD number (a Go float64) as wrapperspb.Float(float32(v)).
    const floatValue = dmiRoot().lookupType('google.protobuf.FloatValue');
    for (const value of [0.1, 9.6, 3.14, 23.5, -40.2, 1e-7]) {
      const any = { typeUrl: `${TYPE}FloatValue`, value: floatValue.encode({ value }).finish() };
      expect(unpackAny(any)).toBe(value);
    }
  });

  it('reads Int64Value beyond 2^53 as a decimal string', () => {
    const int64Value = dmiRoot().lookupType('google.protobuf.Int64Value');
    const any = {
      typeUrl: `${TYPE}Int64Value`,
      value: int64Value.encode(int64Value.fromObject({ value: '9007199254740993' })).finish(),
    };
    expect(unpackAny(any)).toBe('9007199254740993');
  });

  it('unpacks an unset configData, or a bare data map, too', () => {
    expect(unpackConfigData(null)).toEqual({});
    expect(unpackConfigData(undefined)).toEqual({});
    expect(unpackConfigData({ data: {} })).toEqual({});
    expect(unpackConfigData({ threshold: packAny(42), data: packAny('x') })).toEqual({
      threshold: 42,
      data: 'x',
    });
  });

  it('refuses values JSON cannot hold, and Anys of unknown types', () => {
    const refused = [
      () => packConfigData({ when: new Date() as never }),
      () => packAny((() => 1) as never),
    ];
    for (const pack of refused) {
      expect(pack).toThrow(DmiError);
      expect(pack).toThrow(expect.objectContaining({ code: 'KE_DMI_UNSUPPORTED_VALUE' }));
    }
    expect(() =>
      unpackAny({
        typeUrl: 'type.googleapis.com/google.protobuf.Timestamp',
        value: new Uint8Array(),
      }),
    ).toThrow(expect.objectContaining({ code: 'KE_DMI_UNSUPPORTED_VALUE' }));
  });
});
