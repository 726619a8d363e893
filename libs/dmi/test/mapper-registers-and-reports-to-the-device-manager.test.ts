import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDeviceManagerClient,
  createDeviceManagerServer,
  type DeviceManagerClient,
  type DmiServer,
  type MapperRegisterRequest,
  packConfigData,
  type ReportDeviceStatesRequest,
  type ReportDeviceStatusRequest,
  unpackConfigData,
} from '../src/index';

describe('a mapper registers with the device manager and reports to it', () => {
  let dir = '';
  let manager: DmiServer;
  let mapper: DeviceManagerClient;
  const registrations: MapperRegisterRequest[] = [];
  const statuses: ReportDeviceStatusRequest[] = [];
  const states: ReportDeviceStatesRequest[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dmi-'));
    manager = createDeviceManagerServer({
      socketPath: join(dir, 'dmi.sock'),
      handlers: {
        // As edgecore does: the devices and models of the mapper's protocol, when asked.
        mapperRegister: async (request) => {
          registrations.push(request);
          if (!request.withData) return {};
          return {
            modelList: [
              {
                name: 'thermometer-model',
                namespace: 'default',
                spec: {
                  properties: [{ name: 'temperature', type: 'float', accessMode: 'ReadOnly' }],
                },
              },
            ],
            deviceList: [
              {
                name: 'thermometer',
                namespace: 'default',
                spec: {
                  deviceModelReference: 'thermometer-model',
                  protocol: {
                    protocolName: request.mapper?.protocol,
                    configData: packConfigData({ port: '/dev/ttyS0', slaveID: 1 }),
                  },
                  properties: [{ name: 'temperature', reportCycle: '10000', collectCycle: 5000 }],
                },
              },
            ],
          };
        },
        reportDeviceStatus: (request) => {
          statuses.push(request);
        },
        reportDeviceStates: async (request) => {
          states.push(request);
        },
      },
    });
    await manager.start();
    mapper = createDeviceManagerClient({ endpoint: manager.endpoint });
  });

  afterAll(async () => {
    mapper?.close();
    await manager?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('registers with its MapperInfo and gets its devices and models back', async () => {
    const response = await mapper.mapperRegister({
      withData: true,
      mapper: {
        name: 'modbus-mapper',
        version: 'v1.1.0',
        apiVersion: 'v1beta1',
        protocol: 'modbus',
        address: '/etc/kubeedge/modbus.sock',
        state: 'Ready',
      },
    });

    const registered = registrations.at(-1);
    expect(registered?.withData).toBe(true);
    expect(registered?.mapper).toMatchObject({
      name: 'modbus-mapper',
      version: 'v1.1.0',
      apiVersion: 'v1beta1',
      protocol: 'modbus',
      state: 'Ready',
    });
    expect(registered?.mapper?.address.toString()).toBe('/etc/kubeedge/modbus.sock');

    expect(response.modelList.map((m) => m.name)).toEqual(['thermometer-model']);
    expect(response.modelList[0]?.spec?.properties[0]).toMatchObject({
      name: 'temperature',
      type: 'float',
      accessMode: 'ReadOnly',
      unit: '',
    });
    const [device] = response.deviceList;
    expect(device?.name).toBe('thermometer');
    expect(device?.namespace).toBe('default');
    expect(device?.status).toBeNull();
    expect(device?.spec?.protocol?.protocolName).toBe('modbus');
    expect(unpackConfigData(device?.spec?.protocol?.configData)).toEqual({
      port: '/dev/ttyS0',
      slaveID: 1,
    });
    // int64 cycles come back as decimal strings, however they were sent.
    expect(device?.spec?.properties[0]).toMatchObject({
      reportCycle: '10000',
      collectCycle: '5000',
    });
  });

  it('registers without data and gets empty lists', async () => {
    const response = await mapper.mapperRegister({
      withData: false,
      mapper: { name: 'opcua-mapper', protocol: 'opcua', address: Buffer.from('/tmp/opcua.sock') },
    });
    expect(response).toEqual({ modelList: [], deviceList: [] });
    expect(registrations.at(-1)?.mapper?.address.toString()).toBe('/tmp/opcua.sock');
  });

  it('reports device twins', async () => {
    await mapper.reportDeviceStatus({
      deviceName: 'thermometer',
      deviceNamespace: 'default',
      reportedDevice: {
        reportToCloud: true,
        reportCycle: 10000,
        twins: [
          {
            propertyName: 'temperature',
            observedDesired: { value: '20', metadata: { type: 'float' } },
            reported: { value: '23.5', metadata: { type: 'float', timestamp: '1700000000000' } },
          },
        ],
      },
    });
    expect(statuses).toEqual([
      {
        deviceName: 'thermometer',
        deviceNamespace: 'default',
        reportedDevice: {
          reportToCloud: true,
          reportCycle: '10000',
          twins: [
            {
              propertyName: 'temperature',
              observedDesired: { value: '20', metadata: { type: 'float' } },
              reported: { value: '23.5', metadata: { type: 'float', timestamp: '1700000000000' } },
            },
          ],
        },
      },
    ]);
  });

  it('reports device states', async () => {
    await mapper.reportDeviceStates({
      deviceName: 'thermometer',
      deviceNamespace: 'default',
      state: 'online',
    });
    await mapper.reportDeviceStates({
      deviceName: 'thermometer',
      deviceNamespace: 'default',
      state: 'offline',
    });
    expect(states.map((s) => s.state)).toEqual(['online', 'offline']);
    expect(states[0]).toEqual({
      deviceName: 'thermometer',
      deviceNamespace: 'default',
      state: 'online',
    });
  });
});
