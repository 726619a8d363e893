import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModbusTestServer, type ModbusTestServer } from '@ke/mapper-modbus';
import { freePort, startSource, type TestProcess, waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = new URL('../src/modbus.ts', import.meta.url);

describe('ke-mapper-modbus with dev_init.mode: configmap', () => {
  let dir: string;
  let device: ModbusTestServer;
  let mapper: TestProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ke-mapper-modbus-file-'));
    // A thermostat: holding register 0 holds its setpoint.
    device = createModbusTestServer({ host: '127.0.0.1', holding: [215] });
    await device.start();
  });

  afterAll(async () => {
    await mapper?.stop('SIGKILL').catch(() => undefined);
    await device?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the Modbus device of the file, serves its register on the REST API, stops on SIGTERM', async () => {
    const httpPort = await freePort();
    await writeFile(
      join(dir, 'devices.yaml'),
      `apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata:
  name: thermostat-model
  namespace: default
spec:
  protocol: modbus
  properties:
    - name: setpoint
      type: INT
      accessMode: ReadWrite
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: thermostat
  namespace: default
spec:
  deviceModelRef:
    name: thermostat-model
  protocol:
    protocolName: modbus
    configData:
      ip: 127.0.0.1
      port: ${device.port}
      slaveID: 1
  properties:
    - name: setpoint
      collectCycle: 50
      reportCycle: 100
      visitors:
        protocolName: modbus
        configData:
          register: HoldingRegister
          offset: 0
          limit: 1
`,
    );
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'common:',
        '  name: modbus-mapper',
        '  protocol: modbus',
        '  address: 127.0.0.1',
        `  http_port: ${httpPort}`,
        'dev_init:',
        '  mode: configmap',
        '  configmap: devices.yaml',
        '',
      ].join('\n'),
    );
    mapper = startSource(cli, ['--config', config], { env: { KE_LOG_FORMAT: 'json' } });

    const url = `http://127.0.0.1:${httpPort}/api/v1/device/default/thermostat/setpoint`;
    const read = async () => {
      const response = await fetch(url).catch(() => undefined);
      return response?.status === 200 && ((await response.json()) as Record<string, unknown>);
    };
    expect(
      await waitFor('the register on the REST API', read, { timeoutMs: 20_000 }),
    ).toMatchObject({
      deviceName: 'thermostat',
      propertyName: 'setpoint',
      value: '215',
      type: 'int',
    });
    device.holding[0] = 230;
    await waitFor('the new register value', async () => {
      const value = await read();
      return value && value.value === '230';
    });
    expect(mapper.lines.join('\n')).toContain('"msg":"running devices standalone"');

    expect(await mapper.stop('SIGTERM')).toBe(0);
  });
});
