import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createOpcuaTestServer, type OpcuaTestServer } from '@ke/mapper-opcua';
import { command, describeWithSystem, startSource, type TestProcess, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Edge, TestCluster } from './helpers/cluster';

// Issue #7, OPC UA end to end: kubectl → ke-cloud → ke-edge → ke-mapper-opcua (its own
// process) → a node-opcua server, and back to the Device's status. Collect cycles are a
// minute long, so a change seen within seconds can only have come through the subscription.

const mapperMain = new URL('../apps/reference-mappers/src/opcua.ts', import.meta.url);
const NODE = 'edge-1';
const MINUTE = 60_000;

let cluster: TestCluster;
let edge: Edge;
let server: OpcuaTestServer;
let mapper: TestProcess;

const model = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'boiler-model', namespace: 'default' },
  spec: {
    protocol: 'opcua',
    properties: [
      { name: 'temperature', type: 'DOUBLE', accessMode: 'ReadOnly', unit: 'Celsius' },
      { name: 'counter', type: 'INT', accessMode: 'ReadWrite' },
    ],
  },
};

const boiler = (url: string) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'boiler', namespace: 'default' },
  spec: {
    deviceModelRef: { name: 'boiler-model' },
    nodeName: NODE,
    protocol: {
      protocolName: 'opcua',
      configData: { url, securityMode: 'None', securityPolicy: 'None', timeout: 5000 },
    },
    properties: [
      {
        name: 'temperature',
        collectCycle: MINUTE,
        reportCycle: 500,
        reportToCloud: true,
        visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=1;s=Temperature' } },
      },
      {
        name: 'counter',
        collectCycle: MINUTE,
        reportCycle: 500,
        reportToCloud: true,
        visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=1;s=Counter' } },
      },
    ],
  },
});

interface DeviceStatus {
  state?: string;
  twins?: {
    propertyName: string;
    reported?: { value: string };
    observedDesired?: { value: string };
  }[];
}

async function status(): Promise<DeviceStatus> {
  const { stdout } = await cluster.kubectl(
    'get',
    'device',
    'boiler',
    '-n',
    'default',
    '-o',
    'json',
  );
  return (JSON.parse(stdout) as { status?: DeviceStatus }).status ?? {};
}

const reported = async (property: string) =>
  (await status()).twins?.find((t) => t.propertyName === property)?.reported?.value;

const poll = { timeoutMs: 30_000, intervalMs: 250 };

describeWithSystem(
  'an OPC UA device on an edge node reaches the cloud, and the cloud reaches it',
  [command('kubectl')],
  () => {
    beforeAll(async () => {
      cluster = await TestCluster.create('ke-e2e-opcua');
      server = createOpcuaTestServer();
      await server.start();
      await cluster.startCloud();
      edge = await cluster.startEdge(NODE, { token: await cluster.token() });
      const ready = JSON.parse(await edge.process.waitForLine(/device twin ready/, 60_000)) as {
        dmi: string;
      };
      await edge.process.waitForLine(/connected to the cloud/, 60_000);

      const config = join(cluster.dir, 'opcua-mapper.yaml');
      await writeFile(
        config,
        [
          'grpc_server:',
          `  socket_path: ${join(cluster.dir, 'opcua.sock')}`,
          'common:',
          '  name: opcua-mapper',
          '  version: v1.0.0',
          '  api_version: v1.0.0',
          '  protocol: opcua',
          '  address: 127.0.0.1',
          `  edgecore_sock: ${ready.dmi}`,
          '',
        ].join('\n'),
      );
      mapper = startSource(mapperMain, ['--config', config], {
        env: { KE_LOG_FORMAT: 'json', KE_OPCUA_PKI_DIR: join(cluster.dir, 'opcua-pki') },
      });
      await mapper.waitForLine(/registered with edgecore/, 60_000);

      await cluster.apply(model);
      await cluster.apply(boiler(server.url));
    }, 180_000);

    afterAll(async () => {
      await mapper?.stop('SIGTERM').catch(() => undefined);
      await cluster?.stopAll();
      await server?.stop();
    });

    it('shows the server values in the Device status, and a change within seconds (subscription)', async () => {
      await waitFor(
        'temperature 23.5 in the cloud',
        async () => (await reported('temperature')) === '23.5',
        poll,
      );
      await waitFor('state ok', async () => (await status()).state === 'ok', poll);
      const changed = Date.now();
      server.set('Temperature', 31.25);
      await waitFor(
        'temperature 31.25 in the cloud',
        async () => (await reported('temperature')) === '31.25',
        poll,
      );
      // Polling once a minute cannot explain this; the monitored item can.
      expect(Date.now() - changed).toBeLessThan(MINUTE / 2);
    });

    it('writes a desired value patched with kubectl to the server', async () => {
      await cluster.kubectl(
        'patch',
        'device',
        'boiler',
        '-n',
        'default',
        '--type',
        'json',
        '-p',
        JSON.stringify([{ op: 'add', path: '/spec/properties/1/desired', value: { value: '7' } }]),
      );
      await waitFor('the server holds 7', () => server.get('Counter') === 7, poll);
      await waitFor(
        'counter 7 in the cloud',
        async () => (await reported('counter')) === '7',
        poll,
      );
    });

    it('shows the device disconnected while the server is down, and ok once it is back', async () => {
      await server.stop();
      const off = await waitFor(
        'state not ok',
        async () => {
          const state = (await status()).state;
          return state && state !== 'ok' && state;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(['disconnected', 'unhealthy', 'offline']).toContain(off);
      await server.start();
      await waitFor('state ok', async () => (await status()).state === 'ok', {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      server.set('Temperature', 40.5);
      await waitFor(
        'temperature 40.5 in the cloud',
        async () => (await reported('temperature')) === '40.5',
        poll,
      );
    });
  },
);
