import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createModbusDriver,
  createModbusTestServer,
  type ModbusDriver,
  type ModbusTestServer,
  type ModbusVisitorConfig,
  type PropertyType,
} from '../src/index';

let device: ModbusTestServer;
let driver: ModbusDriver;

beforeAll(async () => {
  device = createModbusTestServer();
  await device.start();
  driver = createModbusDriver();
  await driver.init({ ip: '127.0.0.1', port: device.port, slaveID: 1, timeout: 2_000 });
});

afterAll(async () => {
  await driver?.stop();
  await device?.stop();
});

beforeEach(() => {
  device.holding.fill(0);
  device.input.fill(0);
  device.coils.fill(false);
  device.discrete.fill(false);
});

const read = (visitor: ModbusVisitorConfig, type: PropertyType) =>
  driver.readProperty(visitor, { name: 'p', type });
const write = (visitor: ModbusVisitorConfig, type: PropertyType, value: string) =>
  driver.writeProperty(visitor, { name: 'p', type }, value);

/** The registers a value occupies, big-endian, as a device without any swapping holds it. */
function words(fill: (buffer: Buffer) => void, bytes: number): number[] {
  const buffer = Buffer.alloc(bytes);
  fill(buffer);
  const result: number[] = [];
  for (let i = 0; i < bytes; i += 2) result.push(buffer.readUInt16BE(i));
  return result;
}

describe('holding registers', () => {
  it('reads and writes a signed 16-bit int (FC3, FC6)', async () => {
    device.holding[3] = 215;
    expect(await read({ register: 'HoldingRegister', offset: 3, limit: 1 }, 'int')).toBe('215');
    device.holding[3] = 0xffff;
    expect(await read({ register: 'HoldingRegister', offset: 3 }, 'int')).toBe('-1');
    await write({ register: 'HoldingRegister', offset: 3, limit: 1 }, 'int', '-1234');
    expect(device.holding[3]).toBe(-1234 & 0xffff);
    expect(await read({ register: 'HoldingRegister', offset: 3 }, 'int')).toBe('-1234');
  });

  it('reads and writes 32- and 64-bit ints across registers (FC16)', async () => {
    await write({ register: 'HoldingRegister', offset: 10, limit: 2 }, 'int', '305419896');
    expect(device.holding.slice(10, 12)).toEqual([0x1234, 0x5678]);
    expect(await read({ register: 'HoldingRegister', offset: 10, limit: 2 }, 'int')).toBe(
      '305419896',
    );
    await write({ register: 'HoldingRegister', offset: 20, limit: 4 }, 'int', '-2');
    expect(device.holding.slice(20, 24)).toEqual([0xffff, 0xffff, 0xffff, 0xfffe]);
    expect(await read({ register: 'HoldingRegister', offset: 20, limit: 4 }, 'int')).toBe('-2');
    await write({ register: 'HoldingRegister', offset: 20, limit: 4 }, 'int', '9007199254740993');
    expect(await read({ register: 'HoldingRegister', offset: 20, limit: 4 }, 'int')).toBe(
      '9007199254740993',
    );
  });

  it('reads and writes IEEE 754 floats (2 registers) and doubles (4)', async () => {
    device.holding.splice(0, 2, 0x41bc, 0x0000);
    expect(await read({ register: 'HoldingRegister', offset: 0, limit: 2 }, 'float')).toBe('23.5');
    await write({ register: 'HoldingRegister', offset: 0 }, 'float', '1.1');
    expect(device.holding.slice(0, 2)).toEqual(words((b) => b.writeFloatBE(1.1), 4));
    // The float32 nearest 1.1 is 1.100000023841858: reported as the value that was written.
    expect(await read({ register: 'HoldingRegister', offset: 0 }, 'float')).toBe('1.1');

    await write({ register: 'HoldingRegister', offset: 4, limit: 4 }, 'double', '1234.5678');
    expect(device.holding.slice(4, 8)).toEqual(words((b) => b.writeDoubleBE(1234.5678), 8));
    expect(await read({ register: 'HoldingRegister', offset: 4 }, 'double')).toBe('1234.5678');
  });

  it('reads a register as a boolean (≠ 0) and writes true as 1', async () => {
    expect(await read({ register: 'HoldingRegister', offset: 5 }, 'boolean')).toBe('false');
    device.holding[5] = 7;
    expect(await read({ register: 'HoldingRegister', offset: 5 }, 'boolean')).toBe('true');
    await write({ register: 'HoldingRegister', offset: 6 }, 'boolean', 'true');
    expect(device.holding[6]).toBe(1);
    await write({ register: 'HoldingRegister', offset: 5 }, 'boolean', '0');
    expect(device.holding[5]).toBe(0);
  });

  it('reads registers as ASCII text without trailing NULs and writes it padded', async () => {
    device.holding.splice(0, 3, 0x4142, 0x4300, 0x0000);
    expect(await read({ register: 'HoldingRegister', offset: 0, limit: 3 }, 'string')).toBe('ABC');
    await write({ register: 'HoldingRegister', offset: 0, limit: 3 }, 'string', 'Hi!');
    expect(device.holding.slice(0, 3)).toEqual([0x4869, 0x2100, 0x0000]);
    expect(await read({ register: 'HoldingRegister', offset: 0, limit: 3 }, 'string')).toBe('Hi!');
  });

  it('carries bytes as base64', async () => {
    device.holding.splice(0, 2, 0xdead, 0xbeef);
    const value = await read({ register: 'HoldingRegister', offset: 0, limit: 2 }, 'bytes');
    expect(Buffer.from(value, 'base64')).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    await write({ register: 'HoldingRegister', offset: 0, limit: 2 }, 'bytes', 'AQID');
    expect(device.holding.slice(0, 2)).toEqual([0x0102, 0x0300]);
  });
});

describe('byte and word order, as KubeEdge’s isSwap and isRegisterSwap', () => {
  // 23.5f is 0x41BC0000; 305419896 is 0x12345678.
  const cases = [
    { isSwap: false, isRegisterSwap: false, float: [0x41bc, 0x0000], int: [0x1234, 0x5678] },
    { isSwap: false, isRegisterSwap: true, float: [0x0000, 0x41bc], int: [0x5678, 0x1234] },
    { isSwap: true, isRegisterSwap: false, float: [0xbc41, 0x0000], int: [0x3412, 0x7856] },
    { isSwap: true, isRegisterSwap: true, float: [0x0000, 0xbc41], int: [0x7856, 0x3412] },
  ];
  for (const { isSwap, isRegisterSwap, float, int } of cases) {
    it(`isSwap ${isSwap}, isRegisterSwap ${isRegisterSwap}`, async () => {
      const at = (offset: number): ModbusVisitorConfig => ({
        register: 'HoldingRegister',
        offset,
        limit: 2,
        isSwap,
        isRegisterSwap,
      });
      device.holding.splice(0, 2, ...float);
      expect(await read(at(0), 'float')).toBe('23.5');
      device.holding.splice(2, 2, ...int);
      expect(await read(at(2), 'int')).toBe('305419896');

      await write(at(10), 'float', '23.5');
      expect(device.holding.slice(10, 12)).toEqual(float);
      await write(at(12), 'int', '305419896');
      expect(device.holding.slice(12, 14)).toEqual(int);
    });
  }

  it('reverses all four registers of a double and swaps bytes in strings', async () => {
    const plain = words((b) => b.writeDoubleBE(-0.125), 8);
    device.holding.splice(0, 4, ...[...plain].reverse());
    expect(
      await read(
        { register: 'HoldingRegister', offset: 0, limit: 4, isRegisterSwap: true },
        'double',
      ),
    ).toBe('-0.125');
    device.holding.splice(4, 2, 0x4241, 0x0043);
    expect(
      await read({ register: 'HoldingRegister', offset: 4, limit: 2, isSwap: true }, 'string'),
    ).toBe('ABC');
  });
});

describe('scale: value × scale on read, ÷ scale on write', () => {
  it('truncates scaled ints toward zero, as KubeEdge’s int64(value × scale)', async () => {
    device.holding[0] = 235;
    expect(await read({ register: 'HoldingRegister', offset: 0, scale: 0.1 }, 'int')).toBe('23');
    device.holding[0] = 70;
    // 70 × 0.1 is 7.000000000000001 in binary floating point, 7 here.
    expect(await read({ register: 'HoldingRegister', offset: 0, scale: 0.1 }, 'int')).toBe('7');
    device.holding[0] = -7 & 0xffff;
    expect(await read({ register: 'HoldingRegister', offset: 0, scale: 10 }, 'int')).toBe('-70');
    await write({ register: 'HoldingRegister', offset: 0, scale: 0.1 }, 'int', '23');
    expect(device.holding[0]).toBe(230);
    await write({ register: 'HoldingRegister', offset: 0, scale: 10 }, 'int', '-70');
    expect(device.holding[0]).toBe(-7 & 0xffff);
  });

  it('scales floats and doubles', async () => {
    device.holding.splice(0, 2, ...words((b) => b.writeFloatBE(235), 4));
    expect(await read({ register: 'HoldingRegister', offset: 0, scale: 0.1 }, 'float')).toBe(
      '23.5',
    );
    await write({ register: 'HoldingRegister', offset: 0, scale: 0.1 }, 'float', '21.5');
    expect(device.holding.slice(0, 2)).toEqual(words((b) => b.writeFloatBE(215), 4));

    await write({ register: 'HoldingRegister', offset: 4, scale: 10 }, 'double', '12.5');
    expect(device.holding.slice(4, 8)).toEqual(words((b) => b.writeDoubleBE(1.25), 8));
    expect(await read({ register: 'HoldingRegister', offset: 4, scale: 10 }, 'double')).toBe(
      '12.5',
    );
  });
});

describe('coils (FC1, FC5, FC15) and discrete inputs (FC2)', () => {
  it('reads and writes a coil as a boolean', async () => {
    device.coils[7] = true;
    expect(await read({ register: 'CoilRegister', offset: 7, limit: 1 }, 'boolean')).toBe('true');
    await write({ register: 'CoilRegister', offset: 7 }, 'boolean', 'false');
    expect(device.coils[7]).toBe(false);
    await write({ register: 'CoilRegister', offset: 8 }, 'boolean', 'true');
    expect(device.coils[8]).toBe(true);
  });

  it('reads consecutive coils as an int, the first coil the lowest bit, and writes them', async () => {
    device.coils.splice(0, 4, true, false, true, true);
    expect(await read({ register: 'CoilRegister', offset: 0, limit: 4 }, 'int')).toBe('13');
    await write({ register: 'CoilRegister', offset: 0, limit: 4 }, 'int', '6');
    expect(device.coils.slice(0, 4)).toEqual([false, true, true, false]);
  });

  it('reads discrete inputs', async () => {
    device.discrete[2] = true;
    expect(await read({ register: 'DiscreteInputRegister', offset: 2 }, 'boolean')).toBe('true');
    expect(await read({ register: 'DiscreteInputRegister', offset: 3 }, 'boolean')).toBe('false');
  });
});

describe('input registers (FC4)', () => {
  it('reads every type from input registers', async () => {
    device.input.splice(0, 4, 0xfffe, 0x41bc, 0x0000, 0x4f4b);
    expect(await read({ register: 'InputRegister', offset: 0 }, 'int')).toBe('-2');
    expect(await read({ register: 'InputRegister', offset: 1, limit: 2 }, 'float')).toBe('23.5');
    expect(await read({ register: 'InputRegister', offset: 3, limit: 1 }, 'string')).toBe('OK');
    expect(await driver.deviceState()).toBe('ok');
  });
});
