import { join } from 'node:path';
import { createDeviceMapperClient, type DeviceMapperClient } from '@ke/dmi';
import { waitFor } from '@ke/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createMapper, type Mapper } from '../src/index';
import { device, FakeDevice, FakeEdge, model, tempDir } from './fixtures';

describe('a mapper registers with edgecore and reports its devices', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(
    properties: Parameters<typeof device>[0],
    options: { stateIntervalMs?: number } = {},
  ) {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const fake = new FakeDevice();
    const edge = new FakeEdge(join(dir, 'dmi.sock'), [device(properties)]);
    await edge.server.start();
    cleanups.push(() => edge.server.stop());
    const mapper: Mapper = createMapper({
      name: 'fake-mapper',
      protocol: 'fake',
      createDriver: fake.driver,
      dmi: { edgeEndpoint: edge.server.endpoint, socketPath: join(dir, 'fake.sock') },
      stateIntervalMs: options.stateIntervalMs ?? 50,
      registerRetry: { initialMs: 50, maxMs: 200 },
      driverRetry: { initialMs: 50, maxMs: 200 },
    });
    cleanups.push(() => mapper.stop());
    await mapper.start();
    return { fake, edge, mapper, dir };
  }

  it('registers with its name, protocol and socket, and runs the devices edgecore returns', async () => {
    const { edge, mapper, fake } = await setup([
      { name: 'temperature', collectCycle: 50, reportCycle: 50, reportToCloud: true },
    ]);
    expect(edge.registrations).toHaveLength(1);
    const [registration] = edge.registrations;
    expect(registration?.withData).toBe(true);
    expect(registration?.mapper?.name).toBe('fake-mapper');
    expect(registration?.mapper?.protocol).toBe('fake');
    expect(registration?.mapper?.apiVersion).toBe('v1.0.0');
    expect(registration?.mapper?.state).toBe('ok');
    expect(registration?.mapper?.address.toString()).toBe(mapper.socketPath);
    expect(mapper.registered).toBe(true);
    expect(mapper.devices().map((d) => `${d.namespace}/${d.name}`)).toEqual([
      'default/thermometer',
    ]);
    await waitFor('the driver to be initialised', () => fake.inits.length === 1);
    expect(fake.inits[0]).toEqual({ address: '10.0.0.7', slaveID: 1 });
  });

  it('collects and reports a value within two report cycles, typed by the model', async () => {
    const { edge, fake } = await setup([
      { name: 'temperature', collectCycle: 50, reportCycle: 100, reportToCloud: true },
    ]);
    await waitFor('21.5 reported', () => edge.reported('temperature').includes('21.5'), {
      timeoutMs: 2000,
    });
    const twin = edge.statuses[0]?.reportedDevice?.twins[0];
    expect(edge.statuses[0]?.deviceName).toBe('thermometer');
    expect(edge.statuses[0]?.deviceNamespace).toBe('default');
    expect(twin?.reported?.metadata.type).toBe('float');
    expect(Number(twin?.reported?.metadata.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    fake.values.set('temperature', '22');
    await waitFor('22 reported', () => edge.reported('temperature').includes('22'), {
      timeoutMs: 2000,
    });
  });

  it('does not report a property whose reportToCloud is false', async () => {
    const { edge, fake, mapper } = await setup([
      { name: 'temperature', collectCycle: 50, reportCycle: 50, reportToCloud: false },
    ]);
    await waitFor('several reads', () => fake.reads.length >= 4);
    await waitFor(
      'the value in the cache',
      () => mapper.devices()[0]?.properties[0]?.latest?.value === '21.5',
    );
    expect(edge.statuses).toEqual([]);
  });

  it('writes a desired value to the driver once, and again only when it changes', async () => {
    const { edge, fake, mapper } = await setup([
      {
        name: 'setpoint',
        collectCycle: 50,
        reportToCloud: true,
        desired: { value: '30', metadata: {} },
      },
    ]);
    await waitFor('the desired value written', () => fake.writes.length === 1);
    expect(fake.writes[0]).toMatchObject({ property: 'setpoint', value: '30' });
    await waitFor('30 reported', () => edge.reported('setpoint').includes('30'));
    const client = createDeviceMapperClient({ endpoint: `unix://${mapper.socketPath}` });
    cleanups.push(() => client.close());
    // The same desired value again (an update of something else): not written twice.
    const sameDesired = device([
      {
        name: 'setpoint',
        collectCycle: 60,
        reportToCloud: true,
        desired: { value: '30', metadata: {} },
      },
    ]);
    await client.updateDevice(sameDesired);
    await waitFor('the device restarted', () => fake.inits.length === 2);
    await waitFor('reads after the restart', () => fake.reads.length >= 4);
    expect(fake.writes).toHaveLength(1);
    const newDesired = device([
      {
        name: 'setpoint',
        collectCycle: 60,
        reportToCloud: true,
        desired: { value: '35', metadata: {} },
      },
    ]);
    await client.updateDevice(newDesired);
    await waitFor('the new desired value written', () => fake.writes.length === 2);
    expect(fake.writes[1]?.value).toBe('35');
  });

  it('retries a failed write on the next update', async () => {
    const { fake, mapper } = await setup([
      { name: 'setpoint', collectCycle: 50, desired: { value: '30', metadata: {} } },
    ]);
    fake.failWrite = true;
    await waitFor('the driver initialised', () => fake.inits.length === 1);
    await waitFor('reads', () => fake.reads.length >= 2);
    expect(fake.writes).toEqual([]);
    fake.failWrite = false;
    const client = createDeviceMapperClient({ endpoint: `unix://${mapper.socketPath}` });
    cleanups.push(() => client.close());
    await client.updateDevice(
      device([{ name: 'setpoint', collectCycle: 50, desired: { value: '30', metadata: {} } }]),
    );
    await waitFor('the desired value written', () => fake.writes.length === 1);
  });

  it('reports the device state, and each change of it', async () => {
    const { edge, fake } = await setup([{ name: 'temperature', collectCycle: 50 }]);
    await waitFor('state ok', () => edge.states.some((s) => s.state === 'ok'));
    expect(edge.states[0]).toMatchObject({ deviceName: 'thermometer', deviceNamespace: 'default' });
    fake.state = 'offline';
    await waitFor('state offline', () => edge.states.some((s) => s.state === 'offline'));
    fake.state = 'ok';
    await waitFor('state ok again', () => edge.states.filter((s) => s.state === 'ok').length === 2);
    // Unchanged states are not reported again.
    expect(edge.states.map((s) => s.state)).toEqual(['ok', 'offline', 'ok']);
  });

  it('reports a driver that cannot connect as disconnected and retries it', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const fake = new FakeDevice();
    fake.failInit = true;
    const edge = new FakeEdge(join(dir, 'dmi.sock'), [
      device([{ name: 'temperature', collectCycle: 50 }]),
    ]);
    await edge.server.start();
    cleanups.push(() => edge.server.stop());
    const mapper = createMapper({
      name: 'fake-mapper',
      protocol: 'fake',
      createDriver: fake.driver,
      dmi: { edgeEndpoint: edge.server.endpoint, socketPath: join(dir, 'fake.sock') },
      stateIntervalMs: 50,
      driverRetry: { initialMs: 20, maxMs: 40 },
    });
    cleanups.push(() => mapper.stop());
    await mapper.start();
    await waitFor('disconnected reported', () =>
      edge.states.some((s) => s.state === 'disconnected'),
    );
    await waitFor('several attempts', () => fake.inits.length >= 3);
    expect(mapper.devices()[0]?.state).toBe('disconnected');
    fake.failInit = false;
    await waitFor('ok reported', () => edge.states.some((s) => s.state === 'ok'));
    await waitFor('reads', () => fake.reads.length > 0);
  });

  it('follows RegisterDevice, UpdateDevice and RemoveDevice from edgecore', async () => {
    const { fake, mapper, edge } = await setup([{ name: 'temperature', collectCycle: 50 }]);
    const client: DeviceMapperClient = createDeviceMapperClient({
      endpoint: `unix://${mapper.socketPath}`,
    });
    cleanups.push(() => client.close());
    await client.createDeviceModel({ ...model, name: 'other-model' });
    const registered = await client.registerDevice({
      ...device([{ name: 'temperature', collectCycle: 50, reportToCloud: true }], 'second'),
    });
    expect(registered).toEqual({ deviceName: 'second', deviceNamespace: 'default' });
    await waitFor('two devices', () => mapper.devices().length === 2);
    await waitFor('second reported', () => edge.statuses.some((s) => s.deviceName === 'second'));

    const fetched = await client.getDevice('second', 'default');
    expect(fetched.status?.twins[0]?.reported?.value).toBe('21.5');

    const initsBefore = fake.inits.length;
    const stopsBefore = fake.stops;
    await client.updateDevice({
      ...device([{ name: 'temperature', collectCycle: 70 }], 'second'),
    });
    await waitFor('restarted with the new config', () => fake.inits.length === initsBefore + 1);
    expect(fake.stops).toBe(stopsBefore + 1);
    expect(mapper.devices().find((d) => d.name === 'second')?.properties[0]?.collectCycleMs).toBe(
      70,
    );

    await client.removeDevice('second', 'default');
    expect(mapper.devices().map((d) => d.name)).toEqual(['thermometer']);
    expect(fake.stops).toBe(stopsBefore + 2);
    await expect(client.getDevice('second', 'default')).rejects.toMatchObject({
      code: 'KE_DMI_NOT_FOUND',
    });
  });

  it('stops every device and server, and stop() can be called twice', async () => {
    const { fake, mapper } = await setup([{ name: 'temperature', collectCycle: 50 }]);
    await waitFor('reads', () => fake.reads.length > 0);
    await mapper.stop();
    await mapper.stop();
    expect(fake.stops).toBe(1);
    const reads = fake.reads.length;
    const client = createDeviceMapperClient({
      endpoint: `unix://${mapper.socketPath}`,
      timeoutMs: 500,
    });
    cleanups.push(() => client.close());
    await expect(client.getDevice('thermometer', 'default')).rejects.toMatchObject({
      code: 'KE_DMI_UNAVAILABLE',
    });
    expect(fake.reads.length).toBe(reads);
  });
});
