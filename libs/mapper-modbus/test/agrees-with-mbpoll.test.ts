import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { command, describeWithSystem } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createModbusDriver,
  createModbusTestServer,
  type ModbusDriver,
  type ModbusTestServer,
} from '../src/index';

// mbpoll (Debian package `mbpoll`) is an independent Modbus master written in C on libmodbus.
// Its references are 1-based (`-r 1` is PDU address 0); 32-bit types are low word first
// unless `-B` (big-endian word order) is given.

const run = promisify(execFile);

describeWithSystem(
  'the driver and mbpoll see the same registers',
  [command('mbpoll', { debianPackage: 'mbpoll' })],
  () => {
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

    /** `mbpoll -t <table> -r <offset + 1>`, once; the values it printed. */
    async function mbpoll(
      table: string,
      offset: number,
      options: string[] = [],
      values: string[] = [],
    ) {
      const args = ['-m', 'tcp', '-a', '1', '-r', String(offset + 1), '-t', table];
      args.push('-p', String(device.port), '-1', '-o', '2', ...options, '127.0.0.1');
      if (values.length) args.push('--', ...values);
      const { stdout } = await run('mbpoll', args, { timeout: 10_000 });
      return [...stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => m[2]);
    }

    it('reads what the driver wrote to holding registers (16-bit, 32-bit, float)', async () => {
      const at = (offset: number, limit = 1, isRegisterSwap = false) =>
        ({ register: 'HoldingRegister', offset, limit, isRegisterSwap }) as const;
      await driver.writeProperty(at(10), { name: 'a', type: 'int' }, '1234');
      expect(await mbpoll('4', 10)).toEqual(['1234']);
      await driver.writeProperty(at(11), { name: 'b', type: 'int' }, '-2');
      expect(await mbpoll('4', 11)).toEqual([String(-2 & 0xffff)]);

      await driver.writeProperty(at(20, 2), { name: 'c', type: 'int' }, '-123456789');
      expect(await mbpoll('4:int', 20, ['-B'])).toEqual(['-123456789']);

      // Big-endian word order is the driver's default; isRegisterSwap is mbpoll's default.
      await driver.writeProperty(at(30, 2), { name: 'd', type: 'float' }, '23.5');
      expect(await mbpoll('4:float', 30, ['-B'])).toEqual(['23.5']);
      await driver.writeProperty(at(40, 2, true), { name: 'e', type: 'float' }, '-1.25');
      expect(await mbpoll('4:float', 40)).toEqual(['-1.25']);
    });

    it('reads what mbpoll wrote', async () => {
      await mbpoll('4', 50, [], ['4321']);
      expect(
        await driver.readProperty(
          { register: 'HoldingRegister', offset: 50 },
          { name: 'a', type: 'int' },
        ),
      ).toBe('4321');
      await mbpoll('4:int', 52, ['-B'], ['-70000']);
      expect(
        await driver.readProperty(
          { register: 'HoldingRegister', offset: 52, limit: 2 },
          { name: 'b', type: 'int' },
        ),
      ).toBe('-70000');
      await mbpoll('4:float', 54, [], ['0.75']);
      expect(
        await driver.readProperty(
          { register: 'HoldingRegister', offset: 54, limit: 2, isRegisterSwap: true },
          { name: 'c', type: 'float' },
        ),
      ).toBe('0.75');
    });

    it('agrees on coils', async () => {
      await mbpoll('0', 5, [], ['1']);
      expect(
        await driver.readProperty(
          { register: 'CoilRegister', offset: 5 },
          { name: 'on', type: 'boolean' },
        ),
      ).toBe('true');
      await driver.writeProperty(
        { register: 'CoilRegister', offset: 6, limit: 3 },
        { name: 'bits', type: 'int' },
        '5',
      );
      expect(await mbpoll('0', 6, ['-c', '3'])).toEqual(['1', '0', '1']);
    });
  },
);
