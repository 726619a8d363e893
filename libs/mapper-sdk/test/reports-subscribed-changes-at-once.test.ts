import { join } from 'node:path';
import { createDeviceMapperClient } from '@ke/dmi';
import { waitFor } from '@ke/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createMapper, type DeviceDriver, type Mapper } from '../src/index';
import { device, FakeDevice, FakeEdge, tempDir } from './fixtures';

/** A FakeDevice whose driver can also subscribe: `change()` pushes a value to subscribers. */
class SubscribingDevice {
  readonly fake = new FakeDevice();
  readonly subscribers = new Map<number, { property: string; onValue: (value: string) => void }>();
  readonly subscribeCalls: { property: string; samplingIntervalMs: number | undefined }[] = [];
  unsubscribed = 0;
  failSubscribe = false;
  /** Push the current value as soon as a subscription is made, as OPC UA servers do. */
  pushCurrentOnSubscribe = false;
  private nextId = 0;

  change(property: string, value: string): void {
    this.fake.values.set(property, value);
    for (const subscriber of this.subscribers.values()) {
      if (subscriber.property === property) subscriber.onValue(value);
    }
  }

  driver = (): DeviceDriver => ({
    ...this.fake.driver(),
    subscribe: async (_visitor, property, onValue, options) => {
      this.subscribeCalls.push({
        property: property.name,
        samplingIntervalMs: options?.samplingIntervalMs,
      });
      if (this.failSubscribe) throw new Error('subscriptions refused right now');
      const id = this.nextId++;
      this.subscribers.set(id, { property: property.name, onValue });
      const current = this.fake.values.get(property.name);
      if (this.pushCurrentOnSubscribe && current !== undefined) onValue(current);
      return async () => {
        if (this.subscribers.delete(id)) this.unsubscribed++;
      };
    },
  });
}

describe('a driver that subscribes', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(
    properties: Parameters<typeof device>[0],
    options: { failSubscribe?: boolean; pushCurrentOnSubscribe?: boolean } = {},
  ) {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const subscribing = new SubscribingDevice();
    subscribing.failSubscribe = options.failSubscribe ?? false;
    subscribing.pushCurrentOnSubscribe = options.pushCurrentOnSubscribe ?? false;
    const edge = new FakeEdge(join(dir, 'dmi.sock'), [device(properties)]);
    await edge.server.start();
    cleanups.push(() => edge.server.stop());
    const mapper: Mapper = createMapper({
      name: 'fake-mapper',
      protocol: 'fake',
      createDriver: subscribing.driver,
      dmi: { edgeEndpoint: edge.server.endpoint, socketPath: join(dir, 'fake.sock') },
      stateIntervalMs: 50,
      registerRetry: { initialMs: 50, maxMs: 200 },
      driverRetry: { initialMs: 50, maxMs: 200 },
    });
    cleanups.push(() => mapper.stop());
    await mapper.start();
    return { subscribing, edge, mapper, dir };
  }

  // Collect and report cycles of a minute: within a test only a subscription can report.
  const slow = { collectCycle: 60_000, reportCycle: 60_000, reportToCloud: true };

  it('reports a pushed change at once, without waiting for the collect or report cycle', async () => {
    const { subscribing, edge, mapper } = await setup([{ name: 'temperature', ...slow }]);
    await waitFor('the subscription', () => subscribing.subscribers.size === 1);
    expect(subscribing.subscribeCalls[0]).toEqual({
      property: 'temperature',
      samplingIntervalMs: 60_000,
    });
    subscribing.change('temperature', '24.5');
    await waitFor('24.5 reported', () => edge.reported('temperature').includes('24.5'), {
      timeoutMs: 2000,
    });
    subscribing.change('temperature', '25');
    await waitFor('25 reported', () => edge.reported('temperature').includes('25'), {
      timeoutMs: 2000,
    });
    expect(mapper.devices()[0]?.properties[0]?.latest?.value).toBe('25');
    // Read once at start; after that the subscription carries the values.
    expect(subscribing.fake.reads).toHaveLength(1);
  });

  it('reports the first pushed value at once, even when the first read saw it too', async () => {
    const { edge } = await setup([{ name: 'temperature', ...slow }], {
      pushCurrentOnSubscribe: true,
    });
    await waitFor('21.5 reported', () => edge.reported('temperature').includes('21.5'), {
      timeoutMs: 2000,
    });
    expect(edge.reported('temperature')).toEqual(['21.5']);
  });

  it('reports a pushed value only when it changes', async () => {
    const { subscribing, edge } = await setup([{ name: 'temperature', ...slow }]);
    await waitFor('the subscription', () => subscribing.subscribers.size === 1);
    subscribing.change('temperature', '30');
    subscribing.change('temperature', '30');
    subscribing.change('temperature', '31');
    await waitFor('31 reported', () => edge.reported('temperature').includes('31'));
    expect(edge.reported('temperature').filter((v) => v === '30')).toHaveLength(1);
  });

  it('keeps a subscribed value without reporting it when reportToCloud is false', async () => {
    const { subscribing, edge, mapper } = await setup([
      { name: 'temperature', collectCycle: 60_000, reportToCloud: false },
    ]);
    await waitFor('the subscription', () => subscribing.subscribers.size === 1);
    subscribing.change('temperature', '19');
    await waitFor(
      'the pushed value in the cache',
      () => mapper.devices()[0]?.properties[0]?.latest?.value === '19',
    );
    expect(edge.statuses).toEqual([]);
  });

  it('collects on the timer when subscribing fails', async () => {
    const { subscribing, edge } = await setup(
      [{ name: 'temperature', collectCycle: 50, reportCycle: 50, reportToCloud: true }],
      { failSubscribe: true },
    );
    await waitFor('a refused subscribe', () => subscribing.subscribeCalls.length >= 1);
    subscribing.fake.values.set('temperature', '22');
    await waitFor('22 collected and reported', () => edge.reported('temperature').includes('22'));
    expect(subscribing.fake.reads.length).toBeGreaterThan(1);
    // It tries again at a later state check, and once subscribed stops polling.
    subscribing.failSubscribe = false;
    await waitFor('a later subscription', () => subscribing.subscribers.size === 1);
    const reads = subscribing.fake.reads.length;
    subscribing.change('temperature', '23');
    await waitFor('23 reported', () => edge.reported('temperature').includes('23'));
    expect(subscribing.fake.reads.length).toBeLessThanOrEqual(reads + 1);
  });

  it('subscribes again when the device comes back after an outage', async () => {
    const { subscribing, edge } = await setup([{ name: 'temperature', ...slow }]);
    await waitFor('the subscription', () => subscribing.subscribers.size === 1);
    subscribing.fake.state = 'disconnected';
    await waitFor('the outage reported', () => edge.states.some((s) => s.state === 'disconnected'));
    subscribing.fake.state = 'ok';
    await waitFor('a new subscription', () => subscribing.subscribeCalls.length === 2);
    await waitFor('the old one ended', () => subscribing.unsubscribed === 1);
    expect(subscribing.subscribers.size).toBe(1);
    subscribing.change('temperature', '40');
    await waitFor('40 reported', () => edge.reported('temperature').includes('40'));
  });

  it('unsubscribes when the device is updated or removed and when the mapper stops', async () => {
    const { subscribing, mapper } = await setup([{ name: 'temperature', ...slow }]);
    await waitFor('the subscription', () => subscribing.subscribers.size === 1);
    const client = createDeviceMapperClient({ endpoint: `unix://${mapper.socketPath}` });
    cleanups.push(() => client.close());

    await client.updateDevice(device([{ name: 'temperature', ...slow, collectCycle: 30_000 }]));
    await waitFor('the restarted device subscribed', () => subscribing.subscribeCalls.length === 2);
    expect(subscribing.unsubscribed).toBe(1);
    expect(subscribing.subscribeCalls[1]?.samplingIntervalMs).toBe(30_000);
    await waitFor('one live subscription', () => subscribing.subscribers.size === 1);

    await client.removeDevice('thermometer', 'default');
    await waitFor('no subscription left', () => subscribing.subscribers.size === 0);
    expect(subscribing.unsubscribed).toBe(2);

    await client.registerDevice(device([{ name: 'temperature', ...slow }]));
    await waitFor('subscribed again', () => subscribing.subscribers.size === 1);
    await mapper.stop();
    expect(subscribing.subscribers.size).toBe(0);
    expect(subscribing.fake.stops).toBeGreaterThanOrEqual(3);
  });
});
