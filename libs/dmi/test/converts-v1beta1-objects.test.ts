import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createDeviceManagerClient,
  createDeviceManagerServer,
  type DmiError,
  deviceFromV1beta1,
  modelFromV1beta1,
  unpackConfigData,
  type V1beta1Device,
} from '../src/index';

const thermometer: V1beta1Device = {
  metadata: { name: 'thermometer', namespace: 'plant' },
  spec: {
    deviceModelRef: { name: 'thermometer-model' },
    protocol: {
      protocolName: 'modbus',
      configData: { ip: '10.0.0.7', port: 502, options: { retries: 3, tags: ['a', 'b'] } },
    },
    properties: [
      {
        name: 'temperature',
        collectCycle: 500,
        reportCycle: 1000,
        reportToCloud: true,
        desired: { value: '21', metadata: { type: 'int' } },
        visitors: {
          protocolName: 'modbus',
          configData: { register: 'HoldingRegister', offset: 2 },
        },
        pushMethod: {
          http: { hostName: '10.0.0.9', port: 8080, requestPath: '/values', timeout: 500 },
          mqtt: { address: 'mqtt://10.0.0.9:1883', topic: 'plant/t', qos: 1, retained: true },
        },
      },
    ],
  },
};

describe('v1beta1 objects convert to DMI messages as a mapper receives them', () => {
  it('packs configData, nested objects included', () => {
    const device = deviceFromV1beta1(thermometer);
    expect(unpackConfigData(device.spec?.protocol?.configData)).toEqual({
      ip: '10.0.0.7',
      port: 502,
      options: { retries: 3, tags: ['a', 'b'] },
    });
    const property = device.spec?.properties[0];
    expect(property?.visitors?.protocolName).toBe('modbus');
    expect(unpackConfigData(property?.visitors?.configData)).toEqual({
      register: 'HoldingRegister',
      offset: 2,
    });
  });

  it('maps the push method (hostName → hostname) and fills every field, int64 as strings', () => {
    const device = deviceFromV1beta1(thermometer);
    expect(device).toMatchObject({
      name: 'thermometer',
      namespace: 'plant',
      status: null,
      spec: { deviceModelReference: 'thermometer-model', methods: [] },
    });
    const property = device.spec!.properties[0]!;
    expect(property).toMatchObject({
      name: 'temperature',
      collectCycle: '500',
      reportCycle: '1000',
      reportToCloud: true,
      desired: { value: '21', metadata: { type: 'int' } },
    });
    expect(property.pushMethod).toEqual({
      http: { hostname: '10.0.0.9', port: '8080', requestpath: '/values', timeout: '500' },
      mqtt: { address: 'mqtt://10.0.0.9:1883', topic: 'plant/t', qos: 1, retained: true },
      otel: null,
      dbMethod: null,
      anomalyDetection: null,
    });
  });

  it('fills defaults: namespace, cycles, unset messages', () => {
    const device = deviceFromV1beta1({
      metadata: { name: 'bare' },
      spec: { properties: [{ name: 'p' }] },
    });
    expect(device.namespace).toBe('default');
    expect(device.spec?.deviceModelReference).toBe('');
    expect(device.spec?.protocol).toMatchObject({ protocolName: '' });
    expect(device.spec?.properties[0]).toMatchObject({
      name: 'p',
      collectCycle: '0',
      reportCycle: '0',
      reportToCloud: false,
      desired: null,
      pushMethod: null,
    });
  });

  it('lower-cases model property types and fills their defaults', () => {
    const model = modelFromV1beta1({
      metadata: { name: 'thermometer-model', namespace: 'plant' },
      spec: {
        properties: [
          { name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly', unit: '°C' },
          { name: 'label' },
        ],
      },
    });
    expect(model).toEqual({
      name: 'thermometer-model',
      namespace: 'plant',
      spec: {
        commands: [],
        properties: [
          {
            name: 'temperature',
            description: '',
            type: 'float',
            accessMode: 'ReadOnly',
            minimum: '',
            maximum: '',
            unit: '°C',
          },
          {
            name: 'label',
            description: '',
            type: 'string',
            accessMode: 'ReadWrite',
            minimum: '',
            maximum: '',
            unit: '',
          },
        ],
      },
    });
  });

  it('refuses a cycle that is not an integer and a configData value it cannot pack', () => {
    const bad = (reportCycle: unknown) =>
      deviceFromV1beta1({
        metadata: { name: 'bad' },
        spec: { properties: [{ name: 'p', reportCycle: reportCycle as number }] },
      });
    expect(() => bad('10s')).toThrow(
      expect.objectContaining({
        code: 'KE_DMI_INVALID_ARGUMENT',
        message: expect.stringContaining('spec.properties[0].reportCycle'),
      }) as DmiError,
    );
    expect(() =>
      deviceFromV1beta1({
        metadata: { name: 'bad' },
        spec: { protocol: { configData: { when: new Date(0) } } },
      }),
    ).toThrow(expect.objectContaining({ code: 'KE_DMI_UNSUPPORTED_VALUE' }) as DmiError);
  });

  describe('equals what a MapperRegister response carries', () => {
    let dir: string | undefined;
    let server: ReturnType<typeof createDeviceManagerServer> | undefined;
    afterAll(async () => {
      await server?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('round-trips through gRPC unchanged', async () => {
      dir = await mkdtemp(join(tmpdir(), 'dmi-v1beta1-'));
      server = createDeviceManagerServer({
        socketPath: join(dir, 'dmi.sock'),
        handlers: {
          mapperRegister: async () => ({
            deviceList: [deviceFromV1beta1(thermometer)],
            modelList: [modelFromV1beta1({ metadata: { name: 'm' }, spec: {} })],
          }),
        },
      });
      await server.start();
      const client = createDeviceManagerClient({ endpoint: server.endpoint });
      try {
        const response = await client.mapperRegister({ withData: true });
        expect(response.deviceList).toEqual([deviceFromV1beta1(thermometer)]);
        expect(response.modelList).toEqual([
          modelFromV1beta1({ metadata: { name: 'm' }, spec: {} }),
        ]);
      } finally {
        client.close();
      }
    });
  });
});
