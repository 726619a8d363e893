import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDeviceManagerServer,
  type DmiServer,
  type MapperRegisterRequest,
  packConfigData,
  type ReportDeviceStatusRequest,
} from '@ke/dmi';
import { createModbusTestServer, type ModbusTestServer } from '@ke/mapper-modbus';
import { startSource, type TestProcess, waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = new URL('../src/modbus.ts', import.meta.url);

describe('ke-mapper-modbus', () => {
  let dir: string;
  let device: ModbusTestServer;
  let edge: DmiServer;
  const registrations: MapperRegisterRequest[] = [];
  const statuses: ReportDeviceStatusRequest[] = [];
  const running: TestProcess[] = [];

  const mapperCommand = (args: string[]) => {
    const child = startSource(cli, args, { env: { KE_LOG_FORMAT: 'json' } });
    running.push(child);
    return child;
  };
  const reported = (property: string) =>
    statuses.flatMap((s) =>
      (s.reportedDevice?.twins ?? [])
        .filter((t) => t.propertyName === property)
        .map((t) => t.reported?.value),
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ke-mapper-modbus-'));
    // A thermostat: holding register 0 holds its setpoint.
    device = createModbusTestServer({ host: '127.0.0.1', holding: [215] });
    await device.start();
    // edgecore's device manager: hands the mapper one Modbus device and records its reports.
    edge = createDeviceManagerServer({
      socketPath: join(dir, 'dmi.sock'),
      handlers: {
        mapperRegister: async (request) => {
          registrations.push(request);
          return {
            modelList: [
              {
                name: 'thermostat-model',
                namespace: 'default',
                spec: { properties: [{ name: 'setpoint', type: 'int' }] },
              },
            ],
            deviceList: [
              {
                name: 'thermostat',
                namespace: 'default',
                spec: {
                  deviceModelReference: 'thermostat-model',
                  protocol: {
                    protocolName: 'modbus',
                    configData: packConfigData({ ip: '127.0.0.1', port: device.port, slaveID: 1 }),
                  },
                  properties: [
                    {
                      name: 'setpoint',
                      collectCycle: 50,
                      reportCycle: 100,
                      reportToCloud: true,
                      visitors: {
                        protocolName: 'modbus',
                        configData: packConfigData({
                          register: 'HoldingRegister',
                          offset: 0,
                          limit: 1,
                        }),
                      },
                    },
                  ],
                },
              },
            ],
          };
        },
        reportDeviceStatus: async (request) => {
          statuses.push(request);
        },
        reportDeviceStates: async () => {},
      },
    });
    await edge.start();
  });

  afterAll(async () => {
    await Promise.all(running.map((child) => child.stop('SIGKILL').catch(() => undefined)));
    await edge?.stop();
    await device?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers, reports the register through DMI, and stops on SIGTERM', async () => {
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'grpc_server:',
        '  socket_path: modbus.sock',
        'common:',
        '  name: modbus-mapper',
        '  version: v1.0.0',
        '  api_version: v1.0.0',
        '  protocol: modbus',
        '  address: 127.0.0.1',
        '  edgecore_sock: dmi.sock',
        '',
      ].join('\n'),
    );
    const mapper = mapperCommand(['--config', config]);

    await mapper.waitForLine(/"msg":"registered with edgecore"/);
    const registered = registrations.at(-1)?.mapper;
    expect(registered).toMatchObject({ name: 'modbus-mapper', protocol: 'modbus', state: 'ok' });
    // The mapper's address is its DMI socket, where edgecore reaches it.
    expect(Buffer.from(registered!.address).toString()).toBe(join(dir, 'modbus.sock'));
    await waitFor('the setpoint reported', () => reported('setpoint').includes('215'));
    device.holding[0] = 230;
    await waitFor('the new setpoint reported', () => reported('setpoint').includes('230'));
    expect(existsSync(join(dir, 'modbus.sock'))).toBe(true);

    expect(await mapper.stop('SIGTERM')).toBe(0);
    expect(await readAll(mapper)).toContain('"msg":"stopped cleanly"');
    expect(existsSync(join(dir, 'modbus.sock'))).toBe(false);
  });

  it('exits 2 with the code of a bad config key on one line of stderr', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(config, 'grpc_server:\n  socket_path: bad.sock\ncommon:\n  protocol: modbus\n');
    const mapper = mapperCommand(['--config', config]);

    expect(await mapper.exited()).toBe(2);
    const stderr = await readAll(mapper);
    expect(stderr).toMatch(
      /^ke-mapper-modbus: KE_MAPPER_CONFIG_MISSING: .*common\.name is missing/,
    );
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(dir, 'bad.sock'))).toBe(false);
  });

  it('exits 2 without --config, and prints its help and version', async () => {
    // Three at once: each start compiles the sources with tsx, which takes seconds.
    const [bare, help, version] = [[], ['--help'], ['--version']].map(mapperCommand);
    expect(await Promise.all([bare!.exited(), help!.exited(), version!.exited()])).toEqual([
      2, 0, 0,
    ]);
    expect(await readAll(bare!)).toMatch(/--config <file> is required/);
    expect(await readAll(help!)).toMatch(/ke-mapper-modbus --config <file>/);
    expect((await readAll(version!)).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

/** Every line the process printed, once its streams have closed. */
async function readAll(child: TestProcess): Promise<string> {
  if (!child.child.stdout!.closed || !child.child.stderr!.closed) {
    await new Promise<void>((resolve) => child.child.once('close', () => resolve()));
  }
  return child.lines.join('\n');
}
