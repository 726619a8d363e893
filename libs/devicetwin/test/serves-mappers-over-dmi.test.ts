import { join } from 'node:path';
import type { Message } from '@ke/beehive';
import { createMapper, type DeviceDriver, type DeviceState, type Mapper } from '@ke/mapper-sdk';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, model, startTwin } from './fixtures';

type Twin = Awaited<ReturnType<typeof startTwin>>;

/** A device the test controls, behind the SDK's driver interface. */
class FakeDevice {
  values = new Map([
    ['temp', '23'],
    ['label', 'boiler room'],
  ]);
  state: DeviceState = 'ok';
  writes: { property: string; value: string }[] = [];
  protocols: Record<string, unknown>[] = [];

  driver = (): DeviceDriver => ({
    init: async (protocol) => {
      this.protocols.push(protocol);
    },
    readProperty: async (_visitor, property) => this.values.get(property.name) ?? '',
    writeProperty: async (_visitor, property, value) => {
      this.writes.push({ property: property.name, value });
      this.values.set(property.name, value);
    },
    deviceState: async () => this.state,
    stop: async () => {},
  });
}

const latestReported = (upstream: Message[], property: string) => {
  const updates = upstream.filter(
    (m) => m.route.resource === 'device/default/thermo/twin/edge_updated',
  );
  for (const message of updates.reverse()) {
    const twin = (message.content as { twin: Record<string, { actual?: { value: string } }> }).twin;
    if (twin[property]?.actual) return twin[property].actual.value;
  }
  return undefined;
};

describe('devicetwin serves mappers over DMI', () => {
  let edge: Twin;
  let mapper: Mapper;
  const fake = new FakeDevice();

  beforeAll(async () => {
    edge = await startTwin();
    await edge.fromCloud('resource', 'insert', 'default/devicemodel/thermo-model', model());
    await edge.fromCloud(
      'resource',
      'insert',
      'default/device/thermo',
      device({ desired: '30' }),
      '11',
    );
    mapper = createMapper({
      name: 'modbus-mapper',
      protocol: 'modbus',
      createDriver: fake.driver,
      dmi: { edgeEndpoint: edge.twin.dmiEndpoint!, socketPath: join(edge.dir, 'modbus.sock') },
      stateIntervalMs: 100,
    });
    await mapper.start();
  });

  afterAll(async () => {
    await mapper?.stop();
    await edge?.stop();
    await edge?.remove();
  });

  it('gives a registering mapper the devices of its protocol, with their protocol settings', async () => {
    await waitFor('mapper registered', () => edge.twin.mappers().length === 1);
    expect(edge.twin.mappers()[0]).toMatchObject({ name: 'modbus-mapper', protocol: 'modbus' });
    await waitFor('device running in the mapper', () => mapper.devices().length === 1);
    expect(fake.protocols[0]).toEqual({ ip: '127.0.0.1', port: 5020, slaveID: 1 });
  });

  it('writes the desired value to the device, and turns reported values into twins sent upstream', async () => {
    await waitFor('desired value written', () =>
      fake.writes.some((w) => w.property === 'temp' && w.value === '30'),
    );
    await waitFor('reported 30 upstream', () => latestReported(edge.upstream, 'temp') === '30');
    const [view] = edge.twin.devices();
    expect(view?.twin.temp?.actual?.value).toBe('30');
    expect(view?.twin.temp?.expected?.value).toBe('30');
    await waitFor('label upstream', () => latestReported(edge.upstream, 'label') === 'boiler room');
  });

  it('passes a desired value changed in the cloud on to the mapper', async () => {
    await edge.fromCloud(
      'resource',
      'update',
      'default/device/thermo',
      device({ desired: '42', rv: '12' }),
      '12',
    );
    await waitFor('42 written', () => fake.writes.some((w) => w.value === '42'));
    await waitFor('42 reported upstream', () => latestReported(edge.upstream, 'temp') === '42');
  });

  it('reports device state changes to the cloud', async () => {
    fake.state = 'unhealthy';
    const message = await waitFor('unhealthy upstream', () =>
      edge.upstream.find(
        (m) =>
          m.route.resource === 'device/default/thermo/state/update' &&
          (m.content as { device: { state: string } }).device.state === 'unhealthy',
      ),
    );
    expect(message.route.group).toBe('twin');
    fake.state = 'ok';
    await waitFor('ok again', () => edge.twin.devices()[0]?.state === 'ok');
  });

  it('registers a device added later with the mapper, and removes a deleted one', async () => {
    const second = device({ name: 'thermo-2', rv: '13' });
    await edge.fromCloud('resource', 'insert', 'default/device/thermo-2', second, '13');
    await waitFor('second device in the mapper', () => mapper.devices().length === 2);
    await edge.fromCloud('resource', 'delete', 'default/device/thermo-2', null, '14');
    await waitFor('second device gone from the mapper', () => mapper.devices().length === 1);
  });

  it('refuses reports about devices it does not have', async () => {
    const { createDeviceManagerClient } = await import('@ke/dmi');
    const client = createDeviceManagerClient({ endpoint: edge.twin.dmiEndpoint! });
    try {
      await expect(
        client.reportDeviceStates({ deviceName: 'ghost', deviceNamespace: 'default', state: 'ok' }),
      ).rejects.toMatchObject({ code: 'KE_DMI_NOT_FOUND' });
      await expect(
        client.reportDeviceStates({
          deviceName: 'thermo',
          deviceNamespace: 'default',
          state: 'melting',
        }),
      ).rejects.toMatchObject({ code: 'KE_DMI_INVALID_ARGUMENT' });
    } finally {
      client.close();
    }
  });
});
