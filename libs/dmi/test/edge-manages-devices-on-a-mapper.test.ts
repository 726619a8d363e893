import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDeviceMapperClient,
  createDeviceMapperServer,
  type Device,
  type DeviceMapperClient,
  type DeviceModel,
  DmiError,
  type DmiServer,
  packConfigData,
  unpackConfigData,
} from '../src/index';

/** A mapper's device list, as mapper-framework keeps it, keyed by namespace/name. */
function createMapper(socketPath: string) {
  const devices = new Map<string, Device>();
  const models = new Map<string, DeviceModel>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;
  const server = createDeviceMapperServer({
    socketPath,
    handlers: {
      registerDevice: ({ device }) => {
        if (!device) throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'no device in the request');
        devices.set(key(device.namespace, device.name), device);
        return { deviceName: device.name, deviceNamespace: device.namespace };
      },
      updateDevice: ({ device }) => {
        if (!device) throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'no device in the request');
        if (!devices.has(key(device.namespace, device.name))) {
          throw new DmiError('KE_DMI_NOT_FOUND', `device ${device.name} is not registered`);
        }
        devices.set(key(device.namespace, device.name), device);
      },
      removeDevice: ({ deviceName, deviceNamespace }) => {
        devices.delete(key(deviceNamespace, deviceName));
      },
      createDeviceModel: async ({ model }) => {
        if (!model) throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'no model in the request');
        models.set(key(model.namespace, model.name), model);
        return { deviceModelName: model.name, deviceModelNamespace: model.namespace };
      },
      updateDeviceModel: ({ model }) => {
        if (model) models.set(key(model.namespace, model.name), model);
      },
      removeDeviceModel: ({ modelName, modelNamespace }) => {
        models.delete(key(modelNamespace, modelName));
      },
      getDevice: async ({ deviceName, deviceNamespace }) => {
        const device = devices.get(key(deviceNamespace, deviceName));
        if (!device) {
          throw Object.assign(new Error(`device ${deviceNamespace}/${deviceName} not found`), {
            grpcCode: 5,
          });
        }
        // With its current twins, as a mapper answers.
        return {
          device: {
            ...device,
            status: {
              twins: [{ propertyName: 'temperature', reported: { value: '21.5', metadata: {} } }],
            },
          },
        };
      },
    },
  });
  return { server, devices, models };
}

describe('the edge manages devices and models on a mapper', () => {
  let dir = '';
  let mapper: ReturnType<typeof createMapper>;
  let server: DmiServer;
  let edge: DeviceMapperClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dmi-'));
    mapper = createMapper(join(dir, 'modbus.sock'));
    server = mapper.server;
    await server.start();
    edge = createDeviceMapperClient({ endpoint: server.socketPath });
  });

  afterAll(async () => {
    edge?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const thermometer = {
    name: 'thermometer',
    namespace: 'default',
    spec: {
      deviceModelReference: 'thermometer-model',
      protocol: {
        protocolName: 'modbus',
        configData: packConfigData({ serialPort: '/dev/ttyS0', baudRate: 9600, parity: 'even' }),
      },
      properties: [
        {
          name: 'temperature',
          desired: { value: '20', metadata: { type: 'float' } },
          visitors: {
            protocolName: 'modbus',
            configData: packConfigData({
              register: 'HoldingRegister',
              offset: 2,
              limit: 1,
              scale: 0.1,
            }),
          },
          reportCycle: 10000,
          collectCycle: 5000,
          reportToCloud: true,
          pushMethod: {
            mqtt: {
              address: 'tcp://127.0.0.1:1883',
              topic: 'temperature',
              qos: 1,
              retained: false,
            },
            dbMethod: {
              influxdb2: {
                influxdb2ClientConfig: {
                  url: 'http://127.0.0.1:8086',
                  org: 'edge',
                  bucket: 'sensors',
                },
                influxdb2DataConfig: {
                  measurement: 'stat',
                  tag: { unit: 'celsius' },
                  fieldKey: 'temp',
                },
              },
            },
          },
        },
      ],
      methods: [
        { name: 'reset', description: 'sets the setpoint back', propertyNames: ['temperature'] },
      ],
    },
  };

  it('creates a device model', async () => {
    const created = await edge.createDeviceModel({
      name: 'thermometer-model',
      namespace: 'default',
      spec: {
        properties: [
          {
            name: 'temperature',
            type: 'float',
            accessMode: 'ReadWrite',
            minimum: '-40',
            maximum: '85',
            unit: 'celsius',
          },
        ],
      },
    });
    expect(created).toEqual({
      deviceModelName: 'thermometer-model',
      deviceModelNamespace: 'default',
    });
    expect(mapper.models.get('default/thermometer-model')?.spec?.properties[0]).toEqual({
      name: 'temperature',
      description: '',
      type: 'float',
      accessMode: 'ReadWrite',
      minimum: '-40',
      maximum: '85',
      unit: 'celsius',
    });
  });

  it('registers a device with its protocol, visitors and push method', async () => {
    const registered = await edge.registerDevice(thermometer);
    expect(registered).toEqual({ deviceName: 'thermometer', deviceNamespace: 'default' });

    const device = mapper.devices.get('default/thermometer');
    expect(device?.spec?.deviceModelReference).toBe('thermometer-model');
    expect(unpackConfigData(device?.spec?.protocol?.configData)).toEqual({
      serialPort: '/dev/ttyS0',
      baudRate: 9600,
      parity: 'even',
    });
    const [property] = device?.spec?.properties ?? [];
    expect(property?.visitors?.protocolName).toBe('modbus');
    expect(unpackConfigData(property?.visitors?.configData)).toEqual({
      register: 'HoldingRegister',
      offset: 2,
      limit: 1,
      scale: 0.1,
    });
    expect(property).toMatchObject({
      reportCycle: '10000',
      collectCycle: '5000',
      reportToCloud: true,
    });
    expect(property?.pushMethod?.mqtt).toEqual({
      address: 'tcp://127.0.0.1:1883',
      topic: 'temperature',
      qos: 1,
      retained: false,
    });
    expect(property?.pushMethod?.http).toBeNull();
    expect(property?.pushMethod?.dbMethod?.influxdb2?.influxdb2DataConfig?.tag).toEqual({
      unit: 'celsius',
    });
    expect(device?.spec?.methods).toEqual([
      { name: 'reset', description: 'sets the setpoint back', propertyNames: ['temperature'] },
    ]);
  });

  it('gets the device with its twins', async () => {
    const device = await edge.getDevice('thermometer', 'default');
    expect(device.name).toBe('thermometer');
    expect(device.status?.twins[0]?.reported?.value).toBe('21.5');
    expect(unpackConfigData(device.spec?.protocol?.configData).baudRate).toBe(9600);
  });

  it('updates the device', async () => {
    await edge.updateDevice({
      ...thermometer,
      spec: {
        ...thermometer.spec,
        protocol: {
          protocolName: 'modbus',
          configData: packConfigData({ serialPort: '/dev/ttyS1' }),
        },
      },
    });
    const device = await edge.getDevice('thermometer', 'default');
    expect(unpackConfigData(device.spec?.protocol?.configData)).toEqual({
      serialPort: '/dev/ttyS1',
    });
  });

  it('updates and removes the device model', async () => {
    await edge.updateDeviceModel({
      name: 'thermometer-model',
      namespace: 'default',
      spec: { properties: [] },
    });
    expect(mapper.models.get('default/thermometer-model')?.spec?.properties).toEqual([]);
    await edge.removeDeviceModel('thermometer-model', 'default');
    expect(mapper.models.has('default/thermometer-model')).toBe(false);
  });

  it('removes the device; getting it then is NOT_FOUND', async () => {
    await edge.removeDevice('thermometer', 'default');
    expect(mapper.devices.size).toBe(0);
    const error = await edge.getDevice('thermometer', 'default').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DmiError);
    expect(error).toMatchObject({
      code: 'KE_DMI_NOT_FOUND',
      grpcCode: 5,
      details: 'device default/thermometer not found',
      method: 'DeviceMapperService/GetDevice',
    });
  });

  it('answers NOT_FOUND when updating a device it does not have', async () => {
    await expect(edge.updateDevice({ name: 'ghost', namespace: 'default' })).rejects.toMatchObject({
      code: 'KE_DMI_NOT_FOUND',
      details: 'device ghost is not registered',
      method: 'DeviceMapperService/UpdateDevice',
    });
  });
});
