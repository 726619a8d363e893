import { freePort, waitFor } from '@ke/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createModbusDriver,
  createModbusTestServer,
  type ModbusDriver,
  ModbusError,
  type ModbusTestServer,
} from '../src/index';

const devices: ModbusTestServer[] = [];
const drivers: ModbusDriver[] = [];

afterEach(async () => {
  for (const driver of drivers.splice(0)) await driver.stop();
  for (const device of devices.splice(0)) await device.stop();
});

async function startDevice(holding = [11, 22, 33, 44]): Promise<ModbusTestServer> {
  const device = createModbusTestServer({ holding });
  devices.push(device);
  await device.start();
  return device;
}

function newDriver(): ModbusDriver {
  const driver = createModbusDriver({ reconnectBackoff: { initialMs: 100, maxMs: 400 } });
  drivers.push(driver);
  return driver;
}

const level = { name: 'level', type: 'int' } as const;
const at = (offset: number) => ({ register: 'HoldingRegister', offset }) as const;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return error instanceof ModbusError ? error.code : `not a ModbusError: ${String(error)}`;
}

describe('a device that goes away and comes back', () => {
  it('is disconnected while it is down and ok again after a reconnect', async () => {
    const device = await startDevice();
    const driver = newDriver();
    await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 1_000 });
    expect(await driver.readProperty(at(1), level)).toBe('22');

    await device.stop();
    expect(await codeOf(driver.readProperty(at(1), level))).toBe('KE_MODBUS_DISCONNECTED');
    expect(await driver.deviceState()).toBe('disconnected');
    // The next attempt fails too (refused), then waits out its back-off.
    expect(await codeOf(driver.readProperty(at(1), level))).toBe('KE_MODBUS_DISCONNECTED');
    const error = await driver.readProperty(at(1), level).catch((e: ModbusError) => e);
    expect((error as ModbusError).message).toMatch(/ECONNREFUSED; next attempt in \d+ ms/);
    expect(await driver.deviceState()).toBe('disconnected');

    device.holding[1] = 23;
    await device.start();
    const value = await waitFor('a read after the device restarted', () =>
      driver.readProperty(at(1), level),
    );
    expect(value).toBe('23');
    expect(await driver.deviceState()).toBe('ok');
  });

  it('notices a connection closed while idle', async () => {
    const device = await startDevice();
    const driver = newDriver();
    await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 1_000 });
    expect(await driver.deviceState()).toBe('ok');
    await device.stop();
    await waitFor('the driver to see the close', async () =>
      (await driver.deviceState()) === 'disconnected' ? true : undefined,
    );
    await device.start();
    expect(await driver.readProperty(at(0), level)).toBe('11');
    expect(await driver.deviceState()).toBe('ok');
  });

  it('init() fails with KE_MODBUS_DISCONNECTED when nothing listens, and retries later', async () => {
    const port = await freePort();
    const driver = newDriver();
    const error = await driver.init({ ip: '127.0.0.1', port, timeout: 1_000 }).catch((e) => e);
    expect(error).toBeInstanceOf(ModbusError);
    expect((error as ModbusError).code).toBe('KE_MODBUS_DISCONNECTED');
    expect((error as ModbusError).message).toMatch(`127.0.0.1:${port}`);
    expect(await driver.deviceState()).toBe('disconnected');

    const device = createModbusTestServer({ port, holding: [5] });
    devices.push(device);
    await device.start();
    expect(
      await waitFor('a read once the device is up', () => driver.readProperty(at(0), level)),
    ).toBe('5');
  });
});

describe('one request at a time', () => {
  it('serializes concurrent calls on the connection', async () => {
    const device = await startDevice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    device.setDelay(10);
    const driver = newDriver();
    await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 2_000 });
    const values = await Promise.all(
      device.holding.map((_, offset) => driver.readProperty(at(offset), level)),
    );
    expect(values).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(device.stats().peakConcurrent).toBe(1);
  });

  it('queues many calls without listener warnings', async () => {
    const device = await startDevice();
    const driver = newDriver();
    await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 2_000 });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const values = await Promise.all(
        Array.from({ length: 60 }, (_, i) => driver.readProperty(at(i % 4), level)),
      );
      expect(new Set(values)).toEqual(new Set(['11', '22', '33', '44']));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('a request its caller abandoned does not hand its answer to the next one', async () => {
    const device = await startDevice([100, 200]);
    device.setDelay(150);
    const driver = newDriver();
    await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 2_000 });
    const abandoned = driver.readProperty(at(0), level, { signal: AbortSignal.timeout(20) });
    const next = driver.readProperty(at(1), level);
    await expect(abandoned).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(await next).toBe('200');
    expect(device.stats().peakConcurrent).toBe(1);
    expect(await driver.deviceState()).toBe('ok');
  });

  it('an aborted signal rejects at once without touching the device', async () => {
    const device = await startDevice();
    const driver = newDriver();
    await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 1_000 });
    const calls = device.stats().calls;
    const controller = new AbortController();
    controller.abort(new Error('mapper shutting down'));
    await expect(driver.readProperty(at(0), level, { signal: controller.signal })).rejects.toThrow(
      'mapper shutting down',
    );
    expect(device.stats().calls).toBe(calls);
  });
});

describe('lifecycle', () => {
  it('stop() closes the connection; init() and stop() can repeat', async () => {
    const device = await startDevice();
    const driver = newDriver();
    for (let i = 0; i < 25; i++) {
      await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 1_000 });
      expect(await driver.readProperty(at(i % 4), level)).toBe(String(device.holding[i % 4]));
      await driver.stop();
    }
    await waitFor('the device to see every connection closed', () =>
      device.stats().connections === 0 ? true : undefined,
    );
  });

  it('stop() ends a request in flight with KE_MODBUS_STOPPED', async () => {
    const device = await startDevice();
    device.setSilent(true);
    const driver = newDriver();
    await driver.init({ ip: '127.0.0.1', port: device.port, timeout: 5_000 });
    const pending = codeOf(driver.readProperty(at(0), level));
    const queued = codeOf(driver.readProperty(at(1), level));
    await waitFor('the request to reach the device', () => device.stats().connections === 1);
    const started = Date.now();
    await driver.stop();
    expect(await pending).toBe('KE_MODBUS_STOPPED');
    expect(await queued).toBe('KE_MODBUS_STOPPED');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
