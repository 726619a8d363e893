import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMessage, createRouter, type Message, ModuleName, type Router } from '@ke/beehive';
import { waitFor } from '@ke/testing';
import { connect, type MqttClient } from 'mqtt';
import { createDeviceTwin, type DeviceTwin, type DeviceTwinOptions } from '../src/index';

export const NODE = 'edge-1';

export function model(overrides: { name?: string; rv?: string; type?: string } = {}) {
  return {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'DeviceModel',
    metadata: {
      name: overrides.name ?? 'thermo-model',
      namespace: 'default',
      resourceVersion: overrides.rv ?? '10',
    },
    spec: {
      protocol: 'modbus',
      properties: [
        { name: 'temp', type: overrides.type ?? 'INT', accessMode: 'ReadWrite' },
        { name: 'label', type: 'STRING', accessMode: 'ReadOnly' },
      ],
    },
  };
}

export function device(
  overrides: { name?: string; rv?: string; desired?: string; reportCycle?: number } = {},
) {
  return {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: {
      name: overrides.name ?? 'thermo',
      namespace: 'default',
      resourceVersion: overrides.rv ?? '11',
    },
    spec: {
      deviceModelRef: { name: 'thermo-model' },
      nodeName: NODE,
      protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port: 5020, slaveID: 1 } },
      properties: [
        {
          name: 'temp',
          collectCycle: 200,
          reportCycle: overrides.reportCycle ?? 300,
          reportToCloud: true,
          ...(overrides.desired !== undefined ? { desired: { value: overrides.desired } } : {}),
          visitors: {
            protocolName: 'modbus',
            configData: { register: 'HoldingRegister', offset: 2, limit: 1 },
          },
        },
        {
          name: 'label',
          reportToCloud: true,
          visitors: { protocolName: 'modbus', configData: {} },
        },
      ],
    },
  };
}

/** A device twin on a router, with a stand-in for edgehub that records what goes upstream. */
export async function startTwin(options: Partial<DeviceTwinOptions> & { dir?: string } = {}) {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'devicetwin-')));
  const router: Router = createRouter();
  const upstream: Message[] = [];
  router.register({
    name: ModuleName.EdgeHub,
    group: 'hub',
    handler: async (message) => {
      upstream.push(message);
    },
  });
  const twin: DeviceTwin = createDeviceTwin({
    nodeName: NODE,
    databasePath: join(dir, 'edgecore.db'),
    router,
    mqtt: { embedded: { port: 0 } },
    dmi: { socketPath: join(dir, 'dmi.sock') },
    ...options,
  });
  await twin.start();
  return {
    dir,
    router,
    twin,
    upstream,
    /** What edgehub does with a cloud message: hand it to the twin and wait for its reply. */
    async fromCloud(
      group: string,
      operation: string,
      resource: string,
      content: unknown,
      rv?: string,
    ) {
      const message = createMessage({
        source: 'devicecontroller',
        group,
        operation,
        resource,
        content,
        ...(rv ? { resourceVersion: rv } : {}),
      });
      return router.sendSync(ModuleName.DeviceTwin, message, { timeoutMs: 5000 });
    },
    async stop() {
      await twin.stop();
      await router.stop();
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An MQTT app: publishes requests and collects what arrives on the topics it subscribed. */
export async function startApp(url: string) {
  const client: MqttClient = connect(url, { reconnectPeriod: 200 });
  const received: { topic: string; body: Record<string, unknown> }[] = [];
  client.on('message', (topic, payload) => {
    received.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
  });
  await waitFor('MQTT app connected', () => client.connected);
  return {
    client,
    received,
    async subscribe(topic: string) {
      await client.subscribeAsync(topic, { qos: 1 });
    },
    async publish(topic: string, body: unknown) {
      await client.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), {
        qos: 1,
      });
    },
    /** The first message on `topic` after `from` that matches. */
    async next(
      topic: string,
      match: (body: Record<string, unknown>) => boolean = () => true,
      from = 0,
    ) {
      return waitFor(
        `a message on ${topic}`,
        () =>
          received.slice(from).find((entry) => entry.topic === topic && match(entry.body))?.body,
      );
    },
    async stop() {
      await client.endAsync(true);
    },
  };
}
