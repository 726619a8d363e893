import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createModbusTestServer, type ModbusTestServer } from '@ke/mapper-modbus';
import { command, describeWithSystem, startProcess, type TestProcess, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestCluster } from './helpers/cluster';
import {
  type DeviceStatus,
  deviceStatus,
  mapperProcess,
  startDeviceCluster,
  stateCycle,
  untilStatus,
} from './helpers/devices';

// Issue #7, Modbus end to end: kubectl → ke-cloud (devicecontroller) → ke-edge (devicetwin) →
// ke-mapper-modbus (its own process, over DMI) → a Modbus TCP device; and back up to the
// Device's status. mbpoll (libmodbus) checks the device independently.

const run = promisify(execFile);
const NODE = 'edge-1';
const REGISTER = 2; // holding register offset the device's `temp` property reads
const REPORT_CYCLE_MS = 2000;

let cluster: TestCluster;
let device: ModbusTestServer;
let mapper: TestProcess;
let mappers: Awaited<ReturnType<typeof mapperProcess>>;
let brokerPort: string;
let status: () => Promise<DeviceStatus>;

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

const temp = (s: DeviceStatus) => s.twins?.find((t) => t.propertyName === 'temp');
const reportedIs = (value: string) =>
  untilStatus(status, `temp ${value} in the cloud`, (s) => temp(s)?.reported?.value === value && s);

/** The holding register as mbpoll reads it (1-based references: offset 2 is `-r 3`). */
async function mbpoll(): Promise<string | undefined> {
  const { stdout } = await run(
    'mbpoll',
    [
      ...['-m', 'tcp', '-a', '1', '-t', '4', '-r', String(REGISTER + 1), '-c', '1'],
      ...['-1', '-o', '2', '-p', String(device.port), '127.0.0.1'],
    ],
    { timeout: 10_000 },
  ).catch(() => ({ stdout: '' }));
  return /^\[\d+\]:\s+(\S+)/m.exec(stdout)?.[1];
}

const mbpollReads = (value: string) =>
  waitFor(`mbpoll reads ${value}`, async () => (await mbpoll()) === value, {
    timeoutMs: 30_000,
    intervalMs: 250,
  });

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
      status = deviceStatus(cluster, 'thermo');
      device = createModbusTestServer({ host: '127.0.0.1' });
      device.holding[REGISTER] = 215;
      await device.start();
      const { dmi, mqtt } = await startDeviceCluster(cluster, NODE);
      brokerPort = new URL(mqtt).port;
      mappers = await mapperProcess({ dir: cluster.dir, protocol: 'modbus', edgecoreSock: dmi });
      mapper = await mappers.start();
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
      const twin = temp(await reportedIs('215'));
      expect(twin?.reported?.metadata?.type).toBe('int');
      expect(Number(twin?.reported?.metadata?.timestamp)).toBeGreaterThan(Date.now() - 60_000);
      await untilStatus(status, 'state ok', (s) => s.state === 'ok');

      device.holding[REGISTER] = 230;
      const changed = Date.now();
      expect(await mbpoll()).toBe('230');
      await reportedIs('230');
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
        ...['patch', 'device', 'thermo', '-n', 'default', '--type', 'json', '-p'],
        JSON.stringify([{ op: 'add', path: '/spec/properties/0/desired', value: { value: '77' } }]),
      );
      await mbpollReads('77');
      await untilStatus(
        status,
        'observed desired 77 and reported 77',
        (s) => temp(s)?.reported?.value === '77' && temp(s)?.observedDesired?.value === '77',
      );
    });

    it('a mapper killed and restarted registers again and resumes', {
      timeout: 120_000,
    }, async () => {
      await mapper.stop('SIGKILL');
      device.holding[REGISTER] = 150;
      mapper = await mappers.start();
      // The new process gets the device from the edge again and enforces its desired value.
      await mbpollReads('77');
      device.holding[REGISTER] = 151;
      await reportedIs('151');
    });

    it('shows the device unhealthy while it is off, and ok again once it is back', async () => {
      const off = await stateCycle(
        status,
        () => device.stop(),
        () => device.start(),
      );
      expect(['unhealthy', 'disconnected', 'offline']).toContain(off);
      device.holding[REGISTER] = 99;
      await reportedIs('99');
    });
  },
);
