import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createModbusTestServer, type ModbusTestServer } from '@ke/mapper-modbus';
import {
  command,
  describeWithSystem,
  startProcess,
  startSource,
  type TestProcess,
  waitFor,
} from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Edge, TestCluster } from './helpers/cluster';

// Issue #7, Modbus end to end: kubectl → ke-cloud (devicecontroller) → ke-edge (devicetwin) →
// ke-mapper-modbus (its own process, over DMI) → a Modbus TCP device; and back up to the
// Device's status. mbpoll (libmodbus) checks the device independently.

const run = promisify(execFile);
const mapperMain = new URL('../apps/reference-mappers/src/modbus.ts', import.meta.url);
const NODE = 'edge-1';
const REGISTER = 2; // holding register offset the device's `temp` property reads
const REPORT_CYCLE_MS = 2000;

let cluster: TestCluster;
let edge: Edge;
let device: ModbusTestServer;
let mapper: TestProcess;
let mapperConfig: string;
let brokerPort: string;

const model = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'thermo-model', namespace: 'default' },
  spec: {
    protocol: 'modbus',
    properties: [{ name: 'temp', type: 'INT', accessMode: 'ReadWrite', unit: 'Celsius' }],
  },
};

const thermo = (port: number, broker: string) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'thermo', namespace: 'default' },
  spec: {
    deviceModelRef: { name: 'thermo-model' },
    nodeName: NODE,
    protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port, slaveID: 1 } },
    properties: [
      {
        name: 'temp',
        collectCycle: 300,
        reportCycle: REPORT_CYCLE_MS,
        reportToCloud: true,
        // Readings to the edge's MQTT broker too, as KubeEdge's mappers push them.
        pushMethod: { mqtt: { address: broker, topic: 'thermo/temp', qos: 0, retained: false } },
        visitors: {
          protocolName: 'modbus',
          configData: { register: 'HoldingRegister', offset: REGISTER, limit: 1, scale: 1 },
        },
      },
    ],
  },
});

interface DeviceStatus {
  state?: string;
  lastOnlineTime?: string;
  twins?: {
    propertyName: string;
    reported?: { value: string; metadata?: Record<string, string> };
    observedDesired?: { value: string };
  }[];
}

async function status(): Promise<DeviceStatus> {
  const { stdout } = await cluster.kubectl(
    'get',
    'device',
    'thermo',
    '-n',
    'default',
    '-o',
    'json',
  );
  return (JSON.parse(stdout) as { status?: DeviceStatus }).status ?? {};
}

const reported = async () => (await status()).twins?.find((t) => t.propertyName === 'temp');

/** The holding register as mbpoll reads it (1-based references: offset 2 is `-r 3`). */
async function mbpoll(): Promise<string | undefined> {
  const { stdout } = await run(
    'mbpoll',
    [
      ...[
        '-m',
        'tcp',
        '-a',
        '1',
        '-t',
        '4',
        '-r',
        String(REGISTER + 1),
        '-c',
        '1',
        '-1',
        '-o',
        '2',
      ],
      ...['-p', String(device.port), '127.0.0.1'],
    ],
    { timeout: 10_000 },
  ).catch(() => ({ stdout: '' }));
  return /^\[\d+\]:\s+(\S+)/m.exec(stdout)?.[1];
}

const startMapper = () =>
  startSource(mapperMain, ['--config', mapperConfig], { env: { KE_LOG_FORMAT: 'json' } });

describeWithSystem(
  'a Modbus device on an edge node reaches the cloud, and the cloud reaches it',
  [
    command('kubectl'),
    command('mbpoll', { debianPackage: 'mbpoll' }),
    command('mosquitto_sub', { debianPackage: 'mosquitto-clients' }),
    command('stdbuf'),
  ],
  () => {
    beforeAll(async () => {
      cluster = await TestCluster.create('ke-e2e-modbus');
      device = createModbusTestServer({ host: '127.0.0.1' });
      device.holding[REGISTER] = 215;
      await device.start();
      await cluster.startCloud();
      edge = await cluster.startEdge(NODE, { token: await cluster.token() });
      const ready = JSON.parse(await edge.process.waitForLine(/device twin ready/, 60_000)) as {
        dmi: string;
        mqtt: string;
      };
      brokerPort = new URL(ready.mqtt).port;
      await edge.process.waitForLine(/connected to the cloud/, 60_000);

      mapperConfig = join(cluster.dir, 'mapper.yaml');
      await writeFile(
        mapperConfig,
        [
          'grpc_server:',
          `  socket_path: ${join(cluster.dir, 'modbus.sock')}`,
          'common:',
          '  name: modbus-mapper',
          '  version: v1.0.0',
          '  api_version: v1.0.0',
          '  protocol: modbus',
          '  address: 127.0.0.1',
          `  edgecore_sock: ${ready.dmi}`,
          '',
        ].join('\n'),
      );
      mapper = startMapper();
      await mapper.waitForLine(/registered with edgecore/, 60_000);

      await cluster.apply(model);
      await cluster.apply(thermo(device.port, `tcp://127.0.0.1:${brokerPort}`));
    }, 180_000);

    afterAll(async () => {
      await mapper?.stop('SIGTERM').catch(() => undefined);
      await cluster?.stopAll();
      await device?.stop();
    });

    it('shows the register value mbpoll reads in the Device status', async () => {
      expect(await mbpoll()).toBe('215');
      const twin = await waitFor(
        'reported 215 in the cloud',
        async () => {
          const twin = await reported();
          return twin?.reported?.value === '215' && twin;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(twin.reported?.metadata?.type).toBe('int');
      expect(Number(twin.reported?.metadata?.timestamp)).toBeGreaterThan(Date.now() - 60_000);
      await waitFor('state ok', async () => (await status()).state === 'ok', { timeoutMs: 30_000 });

      device.holding[REGISTER] = 230;
      const changed = Date.now();
      expect(await mbpoll()).toBe('230');
      await waitFor(
        'reported 230 in the cloud',
        async () => (await reported())?.reported?.value === '230',
        {
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );
      // Issue #7: within two report cycles (plus a collect cycle and kubectl's own time).
      expect(Date.now() - changed).toBeLessThanOrEqual(2 * REPORT_CYCLE_MS + 1500);
    });

    it("pushes readings to the property's MQTT topic on the edge's broker", async () => {
      // Line-buffered: mosquitto_sub's stdio holds a pipe's output until it exits otherwise.
      const sub = startProcess('stdbuf', [
        ...['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', brokerPort],
        ...['-t', 'thermo/temp', '-C', '1', '-W', '30'],
      ]);
      try {
        const line = await sub.waitForLine(/"propertyName"/, 30_000);
        const reading = JSON.parse(line) as Record<string, unknown>;
        expect(reading).toMatchObject({
          deviceName: 'thermo',
          deviceNamespace: 'default',
          propertyName: 'temp',
        });
        expect(reading.value).toBe(String(device.holding[REGISTER]));
      } finally {
        await sub.stop('SIGKILL').catch(() => undefined);
      }
    });

    it('writes a desired value patched with kubectl to the device', async () => {
      await cluster.kubectl(
        'patch',
        'device',
        'thermo',
        '-n',
        'default',
        '--type',
        'json',
        '-p',
        JSON.stringify([{ op: 'add', path: '/spec/properties/0/desired', value: { value: '77' } }]),
      );
      await waitFor('mbpoll reads 77', async () => (await mbpoll()) === '77', {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      const twin = await waitFor(
        'observed desired 77 and reported 77',
        async () => {
          const twin = await reported();
          return twin?.reported?.value === '77' && twin?.observedDesired?.value === '77' && twin;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(twin.observedDesired?.value).toBe('77');
    });

    it('a mapper killed and restarted registers again and resumes', {
      timeout: 120_000,
    }, async () => {
      await mapper.stop('SIGKILL');
      device.holding[REGISTER] = 150;
      mapper = startMapper();
      await mapper.waitForLine(/registered with edgecore/, 60_000);
      // The new process gets the device from the edge again and enforces its desired value.
      await waitFor('mbpoll reads 77 again', async () => (await mbpoll()) === '77', {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      device.holding[REGISTER] = 151;
      await waitFor(
        'reported 151 after the restart',
        async () => (await reported())?.reported?.value === '151',
        {
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );
    });

    it('shows the device unhealthy while it is off, and ok again once it is back', async () => {
      await device.stop();
      const off = await waitFor(
        'state not ok',
        async () => {
          const state = (await status()).state;
          return state && state !== 'ok' && state;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(['unhealthy', 'disconnected', 'offline']).toContain(off);

      await device.start();
      await waitFor('state ok', async () => (await status()).state === 'ok', {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      device.holding[REGISTER] = 99;
      await waitFor('reported 99', async () => (await reported())?.reported?.value === '99', {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
    });
  },
);
