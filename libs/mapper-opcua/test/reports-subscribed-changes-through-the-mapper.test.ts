import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDeviceManagerServer,
  type DmiServer,
  packConfigData,
  type ReportDeviceStatesRequest,
  type ReportDeviceStatusRequest,
} from '@ke/dmi';
import { createMapper, type Mapper } from '@ke/mapper-sdk';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpcuaDriver, createOpcuaTestServer, type OpcuaTestServer } from '../src/index';
import { tempPki } from './fixtures';

const server: OpcuaTestServer = createOpcuaTestServer();
const statuses: ReportDeviceStatusRequest[] = [];
const states: ReportDeviceStatesRequest[] = [];
let dir = '';
let pki: Awaited<ReturnType<typeof tempPki>>;
let edge: DmiServer;
let mapper: Mapper;

function reported(property: string): string[] {
  return statuses.flatMap((s) =>
    (s.reportedDevice?.twins ?? [])
      .filter((t) => t.propertyName === property)
      .map((t) => t.reported?.value ?? ''),
  );
}

// Collect and report cycles of a minute: within the test only the subscription can report.
const MINUTE = 60_000;

beforeAll(async () => {
  await server.start();
  pki = await tempPki();
  dir = await mkdtemp(join(tmpdir(), 'mapper-opcua-dmi-'));
  // edgecore's device manager: it hands the mapper one OPC UA device and records reports.
  edge = createDeviceManagerServer({
    socketPath: join(dir, 'dmi.sock'),
    handlers: {
      mapperRegister: async () => ({
        modelList: [
          {
            name: 'boiler-model',
            namespace: 'default',
            spec: {
              properties: [
                { name: 'temperature', type: 'double', accessMode: 'ReadOnly' },
                { name: 'counter', type: 'int', accessMode: 'ReadWrite' },
              ],
            },
          },
        ],
        deviceList: [
          {
            name: 'boiler',
            namespace: 'default',
            spec: {
              deviceModelReference: 'boiler-model',
              protocol: {
                protocolName: 'opcua',
                configData: packConfigData({ url: server.url, timeout: 2000 }),
              },
              properties: [
                {
                  name: 'temperature',
                  collectCycle: MINUTE,
                  reportCycle: MINUTE,
                  reportToCloud: true,
                  visitors: {
                    protocolName: 'opcua',
                    configData: packConfigData({ nodeID: 'ns=1;s=Temperature' }),
                  },
                },
                {
                  name: 'counter',
                  collectCycle: MINUTE,
                  reportCycle: MINUTE,
                  reportToCloud: true,
                  desired: { value: '100', metadata: {} },
                  visitors: {
                    protocolName: 'opcua',
                    configData: packConfigData({ nodeID: 'ns=1;s=Counter' }),
                  },
                },
              ],
            },
          },
        ],
      }),
      reportDeviceStatus: async (request) => {
        statuses.push(request);
      },
      reportDeviceStates: async (request) => {
        states.push(request);
      },
    },
  });
  await edge.start();
  mapper = createMapper({
    name: 'opcua-mapper',
    protocol: 'opcua',
    dmi: { edgeEndpoint: edge.endpoint, socketPath: join(dir, 'opcua.sock') },
    // Every change as the server sees it, not sampled once per collectCycle.
    createDriver: () => createOpcuaDriver({ pkiDir: pki.dir }),
    stateIntervalMs: 200,
    registerRetry: { initialMs: 50, maxMs: 200 },
    driverRetry: { initialMs: 50, maxMs: 200 },
  });
  await mapper.start();
}, 30_000);

afterAll(async () => {
  await mapper?.stop();
  await edge?.stop();
  await server.stop();
  await pki?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('an OPC UA device run by the mapper SDK', () => {
  it('writes the desired value and reports the initial values', async () => {
    await waitFor('the device ok', () => states.some((s) => s.state === 'ok'), {
      timeoutMs: 15_000,
    });
    await waitFor('the desired counter written', () => server.get('Counter') === 100);
    await waitFor('the first temperature reported', () => reported('temperature').includes('23.5'));
  }, 20_000);

  it('reports a server-side change at once, long before the next collect cycle', async () => {
    const before = statuses.length;
    const changedAt = Date.now();
    server.set('Temperature', 31.75);
    await waitFor('31.75 reported', () => reported('temperature').includes('31.75'), {
      timeoutMs: 5_000,
    });
    expect(Date.now() - changedAt).toBeLessThan(5_000);
    const twin = statuses
      .slice(before)
      .flatMap((s) => s.reportedDevice?.twins ?? [])
      .find((t) => t.reported?.value === '31.75');
    expect(twin?.propertyName).toBe('temperature');
    expect(twin?.reported?.metadata.type).toBe('double');
    expect(
      mapper.devices()[0]?.properties.find((p) => p.name === 'temperature')?.latest?.value,
    ).toBe('31.75');

    server.set('Counter', 5);
    await waitFor('5 reported', () => reported('counter').includes('5'), { timeoutMs: 5_000 });
  }, 20_000);

  it('reports the device disconnected while the server is down, then ok, and subscribes again', async () => {
    await server.stop();
    await waitFor('disconnected reported', () => states.at(-1)?.state === 'disconnected', {
      timeoutMs: 10_000,
    });
    server.set('Temperature', 12.5);
    await server.start();
    await waitFor('ok reported again', () => states.at(-1)?.state === 'ok', {
      timeoutMs: 20_000,
    });
    // The value changed while the server was down arrives through the new subscription.
    await waitFor('12.5 reported', () => reported('temperature').includes('12.5'), {
      timeoutMs: 10_000,
    });
    server.set('Temperature', 13.5);
    await waitFor('13.5 reported', () => reported('temperature').includes('13.5'), {
      timeoutMs: 5_000,
    });
  }, 40_000);
});
