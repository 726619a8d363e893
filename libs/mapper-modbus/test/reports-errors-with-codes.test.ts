import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createModbusDriver,
  createModbusTestServer,
  type ModbusDriver,
  ModbusError,
  type ModbusTestServer,
} from '../src/index';

let device: ModbusTestServer;
let driver: ModbusDriver;

beforeAll(async () => {
  device = createModbusTestServer({ holding: [1, 2, 3, 4], coils: [false, false] });
  await device.start();
  driver = createModbusDriver();
  await driver.init({ ip: '127.0.0.1', port: device.port, slaveID: 1, timeout: 300 });
});

afterAll(async () => {
  await driver?.stop();
  await device?.stop();
});

afterEach(() => {
  device.failWith(undefined);
  device.setSilent(false);
});

const int = { name: 'level', type: 'int' } as const;

async function failure(promise: Promise<unknown>): Promise<ModbusError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModbusError);
  return error as ModbusError;
}

describe('Modbus exceptions', () => {
  it('an address beyond the device’s table is exception 2, illegal data address', async () => {
    const error = await failure(
      driver.readProperty({ register: 'HoldingRegister', offset: 4 }, int),
    );
    expect(error.code).toBe('KE_MODBUS_EXCEPTION');
    expect(error.exceptionCode).toBe(2);
    expect(error.message).toMatch(/exception 2 \(illegal data address\)/);
    expect(error.message).toMatch(/property level \(HoldingRegister 4, limit 1\)/);
    expect(await driver.deviceState()).toBe('unhealthy');

    // A write across the end of the table is refused as a whole.
    const write = await failure(
      driver.writeProperty({ register: 'HoldingRegister', offset: 3, limit: 2 }, int, '70000'),
    );
    expect(write.exceptionCode).toBe(2);
    expect(device.holding).toEqual([1, 2, 3, 4]);

    expect(await driver.readProperty({ register: 'HoldingRegister', offset: 3 }, int)).toBe('4');
    expect(await driver.deviceState()).toBe('ok');
  });

  it('names other exceptions the device answers with', async () => {
    device.failWith(4);
    const error = await failure(
      driver.readProperty({ register: 'HoldingRegister', offset: 0 }, int),
    );
    expect(error.code).toBe('KE_MODBUS_EXCEPTION');
    expect(error.exceptionCode).toBe(4);
    expect(error.message).toMatch(/slave device failure/);
    device.failWith(6);
    const busy = await failure(
      driver.writeProperty(
        { register: 'CoilRegister', offset: 0 },
        { name: 'on', type: 'boolean' },
        'true',
      ),
    );
    expect(busy.exceptionCode).toBe(6);
    expect(busy.message).toMatch(/slave device busy/);
    expect(await driver.deviceState()).toBe('unhealthy');
  });
});

describe('timeouts', () => {
  it('a device that does not answer is KE_MODBUS_TIMEOUT and unhealthy; it recovers', async () => {
    device.setSilent(true);
    const started = Date.now();
    const error = await failure(
      driver.readProperty({ register: 'HoldingRegister', offset: 0 }, int),
    );
    expect(error.code).toBe('KE_MODBUS_TIMEOUT');
    expect(error.message).toMatch(/within 300 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await driver.deviceState()).toBe('unhealthy');
    device.setSilent(false);
    expect(await driver.readProperty({ register: 'HoldingRegister', offset: 1 }, int)).toBe('2');
    expect(await driver.deviceState()).toBe('ok');
  });

  it('a unit id nobody answers to times out', async () => {
    const other = createModbusDriver();
    try {
      await other.init({ ip: '127.0.0.1', port: device.port, slaveID: 9, timeout: 200 });
      const error = await failure(
        other.readProperty({ register: 'HoldingRegister', offset: 0 }, int),
      );
      expect(error.code).toBe('KE_MODBUS_TIMEOUT');
      expect(error.message).toMatch(/unit 9/);
    } finally {
      await other.stop();
    }
  });
});

describe('writes the device cannot take', () => {
  it('input registers and discrete inputs are read-only', async () => {
    for (const register of ['InputRegister', 'DiscreteInputRegister'] as const) {
      const error = await failure(
        driver.writeProperty({ register, offset: 0 }, { name: 'x', type: 'boolean' }, 'true'),
      );
      expect(error.code).toBe('KE_MODBUS_READ_ONLY');
      expect(error.message).toMatch(register);
    }
    expect(await driver.deviceState()).toBe('ok');
  });

  it('values that do not fit the type or the registers', async () => {
    const cases: [Parameters<ModbusDriver['writeProperty']>, RegExp][] = [
      [[{ register: 'HoldingRegister', offset: 0 }, int, '40000'], /-32768 to 32767/],
      [[{ register: 'HoldingRegister', offset: 0 }, int, '1.5'], /whole number/],
      [[{ register: 'HoldingRegister', offset: 0, scale: 0.1 }, int, '4000'], /after ÷ scale/],
      [
        [{ register: 'HoldingRegister', offset: 0 }, { name: 'f', type: 'float' }, 'warm'],
        /not a number/,
      ],
      [
        [{ register: 'HoldingRegister', offset: 0 }, { name: 'b', type: 'boolean' }, 'yes'],
        /true or false/,
      ],
      [
        [
          { register: 'HoldingRegister', offset: 0, limit: 1 },
          { name: 's', type: 'string' },
          'abc',
        ],
        /hold 2 characters/,
      ],
      [
        [{ register: 'HoldingRegister', offset: 0, limit: 1 }, { name: 's', type: 'string' }, 'é'],
        /ASCII/,
      ],
      [[{ register: 'CoilRegister', offset: 0, limit: 2 }, int, '4'], /0 to 3/],
    ];
    for (const [args, message] of cases) {
      const error = await failure(driver.writeProperty(...args));
      expect(error.code, args[2]).toBe('KE_MODBUS_VALUE_INVALID');
      expect(error.message).toMatch(message);
    }
    expect(device.holding).toEqual([1, 2, 3, 4]);
  });
});

describe('configs', () => {
  it('rejects visitors that cannot be read as the property’s type', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ register: 'Holding', offset: 0 }, 'int', /register must be one of CoilRegister/],
      [{ register: 'HoldingRegister' }, 'int', /offset .* is required/],
      [{ register: 'HoldingRegister', offset: -1 }, 'int', /offset must be an integer from 0/],
      [{ register: 'HoldingRegister', offset: 0, limit: 1 }, 'float', /float .* 2 registers/],
      [{ register: 'HoldingRegister', offset: 0, limit: 3 }, 'int', /1 register \(16-bit\)/],
      [{ register: 'HoldingRegister', offset: 0 }, 'string', /needs limit/],
      [{ register: 'HoldingRegister', offset: 65535, limit: 2 }, 'int', /past address 65535/],
      [{ register: 'HoldingRegister', offset: 0, scale: 0 }, 'int', /scale must be/],
      [
        { register: 'HoldingRegister', offset: 0, isSwap: 'yes' },
        'int',
        /isSwap must be true or false/,
      ],
      [{ register: 'CoilRegister', offset: 0 }, 'float', /use type boolean or int/],
      [{ register: 'HoldingRegister', offset: 0 }, 'decimal', /type must be one of/],
    ];
    for (const [visitor, type, message] of cases) {
      const error = await failure(
        driver.readProperty(visitor as never, { name: 'x', type: type as never }),
      );
      expect(error.code, JSON.stringify(visitor)).toBe('KE_MODBUS_CONFIG_INVALID');
      expect(error.message).toMatch(message);
    }
  });

  it('rejects protocol configs it cannot connect with', async () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /must be an object/],
      [{ slaveID: 1 }, /needs ip and port .* or serialPort/],
      [{ ip: '127.0.0.1' }, /port is required/],
      [{ ip: '127.0.0.1', port: 70000 }, /port must be an integer from 1 to 65535/],
      [{ ip: '127.0.0.1', port: 502, slaveID: 300 }, /slaveID must be an integer from 0 to 255/],
      [{ ip: '127.0.0.1', port: 502, timeout: -5 }, /timeout is in milliseconds/],
      [{ ip: 'a', port: 502, serialPort: '/dev/ttyS0' }, /both ip .* and serialPort/],
      [{ serialPort: '/dev/ttyS0', parity: 'mark' }, /parity must be none, even or odd/],
      [{ serialPort: '/dev/ttyS0', stopBits: 3 }, /stopBits must be an integer from 1 to 2/],
      [{ serialPort: '/dev/ttyS0', slaveID: 0 }, /slaveID must be an integer from 1 to 247/],
    ];
    const other = createModbusDriver();
    for (const [config, message] of cases) {
      const error = await failure(other.init(config as never));
      expect(error.code, JSON.stringify(config)).toBe('KE_MODBUS_CONFIG_INVALID');
      expect(error.message).toMatch(message);
    }
    await other.stop();
  });

  it('calls before init() or after stop() are KE_MODBUS_STOPPED', async () => {
    const other = createModbusDriver();
    expect(await other.deviceState()).toBe('unknown');
    const error = await failure(
      other.readProperty({ register: 'HoldingRegister', offset: 0 }, int),
    );
    expect(error.code).toBe('KE_MODBUS_STOPPED');
    await other.init({ ip: '127.0.0.1', port: String(device.port), timeout: 1_000 });
    expect(await other.readProperty({ register: 'HoldingRegister', offset: 2 }, int)).toBe('3');
    await other.stop();
    expect(await other.deviceState()).toBe('unknown');
    const after = await failure(
      other.readProperty({ register: 'HoldingRegister', offset: 0 }, int),
    );
    expect(after.code).toBe('KE_MODBUS_STOPPED');
  });
});
