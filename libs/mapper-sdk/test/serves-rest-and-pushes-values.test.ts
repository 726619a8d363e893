import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { freePort, waitFor } from '@ke/testing';
import { Aedes } from 'aedes';
import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createMapper, type PushedValue } from '../src/index';
import { device, FakeDevice, FakeEdge, tempDir } from './fixtures';

describe('a mapper serves its REST API and pushes values', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(properties: Parameters<typeof device>[0]) {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const fake = new FakeDevice();
    const edge = new FakeEdge(join(dir, 'dmi.sock'), [device(properties)]);
    await edge.server.start();
    cleanups.push(() => edge.server.stop());
    const mapper = createMapper({
      name: 'fake-mapper',
      protocol: 'fake',
      createDriver: fake.driver,
      dmi: { edgeEndpoint: edge.server.endpoint, socketPath: join(dir, 'fake.sock') },
      http: { port: 0 },
      pushTimeoutMs: 2000,
    });
    cleanups.push(() => mapper.stop());
    await mapper.start();
    return { fake, edge, mapper };
  }

  it('answers ping and device property reads, 404 for what it does not have', async () => {
    const { mapper } = await setup([{ name: 'temperature', collectCycle: 50 }]);
    const base = `http://127.0.0.1:${mapper.httpPort}`;
    const ping = await fetch(`${base}/api/v1/ping`);
    expect(ping.status).toBe(200);
    expect(await ping.json()).toMatchObject({
      message: 'This is v1 API, the server is running normally.',
    });

    const read = await waitFor('a value', async () => {
      const response = await fetch(`${base}/api/v1/device/default/thermometer/temperature`);
      return response.status === 200 && ((await response.json()) as Record<string, unknown>);
    });
    expect(read).toMatchObject({
      deviceName: 'thermometer',
      propertyName: 'temperature',
      value: '21.5',
      type: 'float',
    });
    expect(typeof read.timestamp).toBe('number');

    const noDevice = await fetch(`${base}/api/v1/device/default/nope/temperature`);
    expect(noDevice.status).toBe(404);
    expect(await noDevice.json()).toMatchObject({ code: 'KE_MAPPER_DEVICE_NOT_FOUND' });
    const noProperty = await fetch(`${base}/api/v1/device/default/thermometer/humidity`);
    expect(noProperty.status).toBe(404);
    expect(await noProperty.json()).toMatchObject({ code: 'KE_MAPPER_PROPERTY_NOT_FOUND' });
  });

  it('POSTs values to an HTTP push endpoint', async () => {
    const received: { path: string; body: PushedValue }[] = [];
    const sink: Server = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push({ path: request.url ?? '', body: JSON.parse(body) as PushedValue });
        response.end('ok');
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          sink.close(() => r());
          sink.closeAllConnections();
        }),
    );
    const port = (sink.address() as AddressInfo).port;
    const { edge } = await setup([
      {
        name: 'temperature',
        collectCycle: 50,
        reportCycle: 50,
        reportToCloud: false,
        pushMethod: {
          http: { hostname: '127.0.0.1', port, requestpath: '/values', timeout: 1000 },
        },
      },
    ]);
    await waitFor('a pushed value', () => received.length > 0);
    expect(received[0]?.path).toBe('/values');
    expect(received[0]?.body).toMatchObject({
      deviceName: 'thermometer',
      deviceNamespace: 'default',
      propertyName: 'temperature',
      value: '21.5',
      type: 'float',
    });
    expect(edge.statuses).toEqual([]);
  });

  it('counts a failed push and keeps running', async () => {
    const deadPort = await freePort();
    const { mapper, fake } = await setup([
      {
        name: 'temperature',
        collectCycle: 50,
        reportCycle: 50,
        pushMethod: {
          http: { hostname: '127.0.0.1', port: deadPort, requestpath: '/', timeout: 500 },
        },
      },
    ]);
    await waitFor('two failed pushes', () => mapper.stats().pushFailures >= 2);
    const reads = fake.reads.length;
    await waitFor('reading on', () => fake.reads.length > reads);
  });

  it('publishes values to an MQTT broker', async () => {
    const broker = await Aedes.createBroker();
    const tcp = createTcpServer(broker.handle);
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as AddressInfo).port;
    cleanups.push(async () => {
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    });
    const subscriber = connect(`mqtt://127.0.0.1:${port}`);
    cleanups.push(() => subscriber.endAsync(true));
    const messages: { topic: string; body: PushedValue; retain: boolean }[] = [];
    subscriber.on('message', (topic, payload, packet) => {
      messages.push({
        topic,
        body: JSON.parse(payload.toString()) as PushedValue,
        retain: packet.retain,
      });
    });
    await waitFor('subscriber connected', () => subscriber.connected);
    await subscriber.subscribeAsync('devices/#');

    await setup([
      {
        name: 'temperature',
        collectCycle: 50,
        reportCycle: 50,
        pushMethod: {
          mqtt: {
            address: `mqtt://127.0.0.1:${port}`,
            topic: 'devices/thermometer/temperature',
            qos: 1,
            retained: false,
          },
        },
      },
    ]);
    await waitFor('a published value', () => messages.length > 0);
    expect(messages[0]?.topic).toBe('devices/thermometer/temperature');
    expect(messages[0]?.body).toMatchObject({
      deviceName: 'thermometer',
      propertyName: 'temperature',
      value: '21.5',
      type: 'float',
    });
  });
});
