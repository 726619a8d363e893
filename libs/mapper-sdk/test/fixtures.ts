import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDeviceManagerServer,
  type Device,
  type DeviceModel,
  type DeviceProperty,
  type DmiInput,
  type DmiServer,
  type MapperRegisterRequest,
  packConfigData,
  type ReportDeviceStatesRequest,
  type ReportDeviceStatusRequest,
} from '@ke/dmi';
import type { DeviceDriver, DeviceState } from '../src/index';

/** An in-memory device: values, state and failures the test controls; a log of writes. */
export class FakeDevice {
  values = new Map<string, string>([['temperature', '21.5']]);
  state: DeviceState = 'ok';
  failInit = false;
  failWrite = false;
  inits: Record<string, unknown>[] = [];
  writes: { property: string; value: string; visitor: Record<string, unknown> }[] = [];
  reads: { property: string; visitor: Record<string, unknown> }[] = [];
  stops = 0;

  driver = (): DeviceDriver => ({
    init: async (protocol) => {
      this.inits.push(protocol);
      if (this.failInit) throw Object.assign(new Error('device unreachable'), { code: 'E_FAKE' });
    },
    readProperty: async (visitor, property) => {
      this.reads.push({ property: property.name, visitor });
      const value = this.values.get(property.name);
      if (value === undefined) throw new Error(`no property ${property.name}`);
      return value;
    },
    writeProperty: async (visitor, property, value) => {
      if (this.failWrite) throw new Error('write refused');
      this.writes.push({ property: property.name, value, visitor });
      this.values.set(property.name, value);
    },
    deviceState: async () => this.state,
    stop: async () => {
      this.stops++;
    },
  });
}

export const model: DmiInput<DeviceModel> = {
  name: 'thermometer-model',
  namespace: 'default',
  spec: {
    properties: [
      { name: 'temperature', type: 'float', accessMode: 'ReadOnly' },
      { name: 'setpoint', type: 'int', accessMode: 'ReadWrite' },
    ],
  },
};

export function device(
  properties: DmiInput<DeviceProperty>[],
  name = 'thermometer',
): DmiInput<Device> {
  return {
    name,
    namespace: 'default',
    spec: {
      deviceModelReference: 'thermometer-model',
      protocol: {
        protocolName: 'fake',
        configData: packConfigData({ address: '10.0.0.7', slaveID: 1 }),
      },
      properties,
    },
  };
}

/** edgecore's device manager: answers MapperRegister with `devices` and records every call. */
export class FakeEdge {
  registrations: MapperRegisterRequest[] = [];
  statuses: ReportDeviceStatusRequest[] = [];
  states: ReportDeviceStatesRequest[] = [];
  server: DmiServer;

  constructor(
    readonly socketPath: string,
    public devices: DmiInput<Device>[],
    public models: DmiInput<DeviceModel>[] = [model],
  ) {
    this.server = createDeviceManagerServer({
      socketPath,
      handlers: {
        mapperRegister: async (request) => {
          this.registrations.push(request);
          return { modelList: this.models, deviceList: this.devices };
        },
        reportDeviceStatus: async (request) => {
          this.statuses.push(request);
        },
        reportDeviceStates: async (request) => {
          this.states.push(request);
        },
      },
    });
  }

  /** The reported values of a property, in order. */
  reported(property: string): string[] {
    return this.statuses.flatMap((s) =>
      (s.reportedDevice?.twins ?? [])
        .filter((t) => t.propertyName === property)
        .map((t) => t.reported?.value ?? ''),
    );
  }
}

export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mapper-sdk-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
