import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { command, describeWithSystem } from '@ke/testing';
import { type IServiceVector, ServerSerial } from 'modbus-serial';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createModbusDriver, type ModbusDriver, ModbusError } from '../src/index';

// No serial hardware here: two pseudo-terminals joined by a relay stand in for the cable,
// modbus-serial's ServerSerial is the slave on one end and the driver the master on the other.

const relayScript = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pty-pair.py');

describeWithSystem('Modbus RTU over a pseudo-terminal pair', [command('python3')], () => {
  let relay: ChildProcess;
  let masterEnd = '';
  let slave: ServerSerial;
  let driver: ModbusDriver;
  const holding = [7, 8, 9, 10];

  beforeAll(async () => {
    relay = spawn('python3', [relayScript], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: relay.stdout! }), 'line', {
      signal: AbortSignal.timeout(10_000),
    })) as [string];
    const [a, b] = line.trim().split(' ');
    masterEnd = a!;
    const vector: IServiceVector = {
      getHoldingRegister: (address: number) => {
        if (address >= holding.length)
          throw Object.assign(new Error('range'), { modbusErrorCode: 2 });
        return holding[address]!;
      },
      setRegister: (address: number, value: number) => {
        holding[address] = value;
      },
    };
    await new Promise<void>((resolve, reject) => {
      slave = new ServerSerial(vector, {
        path: b!,
        baudRate: 19200,
        parity: 'even',
        unitID: 3,
        openCallback: (error: Error | null) => (error ? reject(error) : resolve()),
      });
      slave.on('error', () => {});
    });
    driver = createModbusDriver();
  });

  afterAll(async () => {
    await driver?.stop();
    if (slave) await new Promise((resolve) => slave.close(resolve));
    relay?.stdin?.end();
    if (relay && relay.exitCode === null) await once(relay, 'exit');
  });

  it('reads, writes and gets exceptions as over TCP', async () => {
    await driver.init({
      serialPort: masterEnd,
      baudRate: 19200,
      dataBits: 8,
      parity: 'even',
      stopBits: 1,
      slaveID: 3,
      timeout: 1_000,
    });
    const at = (offset: number, limit = 1) =>
      ({ register: 'HoldingRegister', offset, limit }) as const;
    expect(await driver.readProperty(at(1), { name: 'a', type: 'int' })).toBe('8');
    await driver.writeProperty(at(2), { name: 'b', type: 'int' }, '-5');
    expect(holding[2]).toBe(-5 & 0xffff);
    expect(await driver.readProperty(at(0, 2), { name: 'c', type: 'int' })).toBe(
      String(7 * 65536 + 8),
    );
    const error = await driver.readProperty(at(4), { name: 'd', type: 'int' }).catch((e) => e);
    expect(error).toBeInstanceOf(ModbusError);
    expect((error as ModbusError).exceptionCode).toBe(2);
    expect(await driver.deviceState()).toBe('unhealthy');
    expect(await driver.readProperty(at(3), { name: 'e', type: 'int' })).toBe('10');
    expect(await driver.deviceState()).toBe('ok');
  });

  it('a slave address nobody answers to times out', async () => {
    // A serial port is opened by one client at a time: the same driver is re-initialised.
    await driver.init({
      serialPort: masterEnd,
      baudRate: 19200,
      parity: 'even',
      slaveID: 4,
      timeout: 300,
    });
    const error = await driver
      .readProperty({ register: 'HoldingRegister', offset: 0 }, { name: 'a', type: 'int' })
      .catch((e) => e);
    expect((error as ModbusError).code).toBe('KE_MODBUS_TIMEOUT');
    expect(await driver.deviceState()).toBe('unhealthy');
  });

  it('a serial port that does not exist is KE_MODBUS_DISCONNECTED', async () => {
    const other = createModbusDriver();
    const error = await other
      .init({ serialPort: '/dev/ke-no-such-tty', slaveID: 1 })
      .catch((e) => e);
    expect((error as ModbusError).code).toBe('KE_MODBUS_DISCONNECTED');
    expect((error as ModbusError).message).toMatch('/dev/ke-no-such-tty');
    expect(await other.deviceState()).toBe('disconnected');
    await other.stop();
  });
});
