import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { createDeviceMapperClient, deviceFromV1beta1, modelFromV1beta1 } from '@ke/dmi';
import { waitFor } from '@ke/testing';
import { Aedes } from 'aedes';
import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  createMapper,
  loadMapperConfig,
  MapperError,
  type PushedValue,
  parseDeviceManifests,
} from '../src/index';
import { FakeDevice, tempDir } from './fixtures';

const MODEL = `
apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata:
  name: thermometer-model
  namespace: plant
spec:
  protocol: fake
  properties:
    - name: temperature
      type: FLOAT
      accessMode: ReadOnly
    - name: setpoint
      type: INT
      accessMode: ReadWrite
`;

function thermometer(mqttPort: number, name = 'thermometer', protocol = 'fake'): string {
  return `
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: ${name}
  namespace: plant
spec:
  deviceModelRef:
    name: thermometer-model
  protocol:
    protocolName: ${protocol}
    configData:
      address: 10.0.0.7
      slaveID: 1
  properties:
    - name: temperature
      collectCycle: 50
      reportCycle: 50
      reportToCloud: true
      visitors:
        protocolName: ${protocol}
        configData:
          register: InputRegister
          offset: 0
      pushMethod:
        mqtt:
          address: mqtt://127.0.0.1:${mqttPort}
          topic: plant/thermometer/temperature
          qos: 1
          retained: false
    - name: setpoint
      collectCycle: 1000
      desired:
        value: "24"
      visitors:
        protocolName: ${protocol}
        configData:
          register: HoldingRegister
          offset: 1
`;
}

function config(extra: string[] = []): string {
  return [
    'common:',
    '  name: fake-mapper',
    '  protocol: fake',
    '  edgecore_sock: /nowhere/dmi.sock',
    '  http_port: 0',
    'dev_init:',
    '  mode: configmap',
    '  configmap: devices.yaml',
    ...extra,
    '',
  ].join('\n');
}

describe('a mapper runs the devices of a file, without edgecore', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function dir() {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    return dir;
  }

  async function broker() {
    const aedes = await Aedes.createBroker();
    const tcp = createTcpServer(aedes.handle);
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    });
    return (tcp.address() as AddressInfo).port;
  }

  /** `config.yaml` and `devices.yaml` in a fresh folder; resolves with the config's path. */
  async function files(devices: string, extra: string[] = []): Promise<string> {
    const folder = await dir();
    await writeFile(join(folder, 'devices.yaml'), devices);
    await writeFile(join(folder, 'config.yaml'), config(extra));
    return join(folder, 'config.yaml');
  }

  async function failure(devices: string, extra: string[] = []): Promise<MapperError> {
    const error = await loadMapperConfig(await files(devices, extra)).catch((e: unknown) => e);
    if (error instanceof MapperError) return error;
    throw new Error(`expected a MapperError, got ${String(error)}`);
  }

  it('writes desired values, collects, pushes over MQTT and serves the REST API', async () => {
    const mqttPort = await broker();
    const subscriber = connect(`mqtt://127.0.0.1:${mqttPort}`);
    cleanups.push(() => subscriber.endAsync(true));
    const messages: PushedValue[] = [];
    subscriber.on('message', (_topic, payload) => {
      messages.push(JSON.parse(payload.toString()) as PushedValue);
    });
    await waitFor('subscriber connected', () => subscriber.connected);
    await subscriber.subscribeAsync('plant/#');

    // Three documents; the second device speaks another protocol and is left to its mapper.
    const file = await files(
      [MODEL, thermometer(mqttPort), thermometer(mqttPort, 'other', 'modbus')].join('\n---\n'),
    );
    const options = await loadMapperConfig(file);
    // Never edgecore: no endpoint, and no DMI socket since the file gives none.
    expect(options.dmi).toEqual({});
    expect(options.devices?.devices.map((d) => d.name)).toEqual(['thermometer']);

    const fake = new FakeDevice();
    const states: string[] = [];
    const mapper = createMapper({ ...options, createDriver: fake.driver });
    mapper.on('state', ({ state }) => states.push(state));
    cleanups.push(() => mapper.stop());
    await mapper.start();

    expect(mapper.standalone).toBe(true);
    expect(mapper.socketPath).toBeUndefined();
    expect(mapper.registered).toBe(false);
    expect(mapper.devices()).toMatchObject([
      { name: 'thermometer', namespace: 'plant', model: 'thermometer-model' },
    ]);
    expect(fake.inits).toEqual([{ address: '10.0.0.7', slaveID: 1 }]);

    await waitFor('the desired setpoint written', () =>
      fake.writes.some((w) => w.property === 'setpoint' && w.value === '24'),
    );
    expect(fake.writes.find((w) => w.property === 'setpoint')?.visitor).toEqual({
      register: 'HoldingRegister',
      offset: 1,
    });

    fake.values.set('temperature', '22.5');
    await waitFor('the value published', () => messages.some((m) => m.value === '22.5'));
    expect(messages.find((m) => m.value === '22.5')).toMatchObject({
      deviceName: 'thermometer',
      deviceNamespace: 'plant',
      propertyName: 'temperature',
      type: 'float',
    });

    const read = await waitFor('the REST API answers', async () => {
      const response = await fetch(
        `http://127.0.0.1:${mapper.httpPort}/api/v1/device/plant/thermometer/temperature`,
      );
      return response.status === 200 && ((await response.json()) as Record<string, unknown>);
    });
    expect(read).toMatchObject({ deviceName: 'thermometer', value: '22.5', type: 'float' });

    // States are events, not reports: nothing was sent anywhere.
    await waitFor('the state event', () => states.includes('ok'));
    expect(mapper.stats()).toMatchObject({ registrations: 0, statusReports: 0, stateReports: 0 });
    expect(mapper.stats().pushes).toBeGreaterThan(0);
  });

  it('reads a kind: List, and serves DMI when the config gives a socket', async () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [MODEL, thermometer(1)].map((text) => parseYaml(text) as unknown),
    };
    const file = await files(JSON.stringify(list), ['grpc_server:', '  socket_path: fake.sock']);
    const options = await loadMapperConfig(file);
    expect(options.dmi.edgeEndpoint).toBeUndefined();

    const fake = new FakeDevice();
    const mapper = createMapper({ ...options, createDriver: fake.driver, http: false });
    cleanups.push(() => mapper.stop());
    await mapper.start();
    expect(existsSync(mapper.socketPath!)).toBe(true);
    const client = createDeviceMapperClient({ endpoint: `unix://${mapper.socketPath}` });
    cleanups.push(() => client.close());
    const device = await client.getDevice('thermometer', 'plant');
    expect(device.spec?.properties.map((p) => p.name)).toEqual(['temperature', 'setpoint']);
  });

  it('refuses bad device files with codes naming the key', async () => {
    const missingModel = await failure(thermometer(1));
    expect(missingModel).toMatchObject({
      code: 'KE_MAPPER_CONFIG_DEVICES',
      key: 'dev_init.configmap',
    });
    expect(missingModel.message).toMatch(
      /devices\.yaml: Device plant\/thermometer refers to DeviceModel plant\/thermometer-model, which the file does not have$/,
    );

    expect(await failure('kind: ConfigMap\napiVersion: v1\n')).toMatchObject({
      code: 'KE_MAPPER_CONFIG_DEVICES',
      message: expect.stringContaining('document 1 is not a Device or DeviceModel'),
    });
    expect(await failure(MODEL.replace('v1beta1', 'v1alpha2'))).toMatchObject({
      code: 'KE_MAPPER_CONFIG_DEVICES',
      message: expect.stringContaining('use devices.kubeedge.io/v1beta1'),
    });
    expect(
      await failure(
        `${MODEL}---\n${thermometer(1).replace('collectCycle: 50', 'collectCycle: 5s')}`,
      ),
    ).toMatchObject({
      code: 'KE_MAPPER_CONFIG_DEVICES',
      message: expect.stringContaining('spec.properties[0].collectCycle must be an integer'),
    });
    expect(await failure('kind: [Device\n')).toMatchObject({
      code: 'KE_MAPPER_CONFIG_YAML',
      key: 'dev_init.configmap',
    });
    for (const error of [missingModel, await failure('kind: [Device\n')]) {
      expect(error.message.split('\n')).toHaveLength(1);
    }
  });

  it('refuses a bad dev_init with codes naming the key', async () => {
    const folder = await dir();
    const file = join(folder, 'config.yaml');
    const load = async (text: string) => {
      await writeFile(file, text);
      return loadMapperConfig(file).catch((e: unknown) => e);
    };
    expect(await load(config())).toMatchObject({
      code: 'KE_MAPPER_CONFIG_READ',
      key: 'dev_init.configmap',
    });
    expect(await load(config().replace('mode: configmap', 'mode: file'))).toMatchObject({
      code: 'KE_MAPPER_CONFIG_INVALID',
      key: 'dev_init.mode',
    });
    expect(await load(config().replace('  configmap: devices.yaml\n', ''))).toMatchObject({
      code: 'KE_MAPPER_CONFIG_MISSING',
      key: 'dev_init.configmap',
    });
    // mode: register (the default) is edgecore's devices: the file is not read.
    const register = await load(
      `${config().replace('mode: configmap', 'mode: register')}grpc_server:\n  socket_path: m.sock\n`,
    );
    expect(register).toMatchObject({ dmi: { edgeEndpoint: 'unix:///nowhere/dmi.sock' } });
    expect(register).not.toHaveProperty('devices');
  });

  it('refuses standalone options it cannot run', () => {
    const model = modelFromV1beta1({ metadata: { name: 'm' }, spec: {} });
    const device = deviceFromV1beta1({
      metadata: { name: 'd' },
      spec: { deviceModelRef: { name: 'm' } },
    });
    const options = { name: 'x', protocol: 'fake', createDriver: new FakeDevice().driver };
    const invalid = (run: () => unknown) =>
      expect(run).toThrow(expect.objectContaining({ code: 'KE_MAPPER_INVALID_OPTIONS' }));
    invalid(() =>
      createMapper({
        ...options,
        devices: { devices: [device], models: [model] },
        dmi: { edgeEndpoint: 'unix:///nowhere/dmi.sock' },
      }),
    );
    invalid(() => createMapper({ ...options, devices: { devices: [device], models: [] } }));
    invalid(() => createMapper({ ...options, dmi: {} }));
    invalid(() => createMapper(options));
    const mapper = createMapper({ ...options, devices: { devices: [device], models: [model] } });
    expect(mapper.standalone).toBe(true);
  });

  it('parses manifests given as text', () => {
    const { devices, models } = parseDeviceManifests(`${MODEL}---\n${thermometer(1)}`, {
      protocol: 'fake',
    });
    expect(models.map((m) => m.spec?.properties.map((p) => p.type))).toEqual([['float', 'int']]);
    expect(devices[0]?.spec?.properties[0]?.pushMethod?.mqtt?.topic).toBe(
      'plant/thermometer/temperature',
    );
  });
});
