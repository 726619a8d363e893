import type { Message } from '@ke/beehive';
import {
  createDeviceController,
  type DeviceController,
  DeviceControllerErrorCode,
} from '@ke/devicecontroller';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiObject,
  DEVICES,
  device,
  MODELS,
  model,
  Recorder,
  startApi,
  type TestApi,
} from './helpers/api';

function upstream(resource: string, content: unknown): Message {
  return {
    header: { msg_id: crypto.randomUUID(), parent_msg_id: '', timestamp: Date.now(), sync: false },
    route: { source: 'twin', group: 'twin', operation: 'update', resource },
    content,
  };
}

const edgeUpdated = (node: string, name: string, twin: unknown) =>
  upstream(`node/${node}/device/default/${name}/twin/edge_updated`, {
    event_id: crypto.randomUUID(),
    timestamp: 1732872000999,
    twin,
  });

const stateUpdate = (node: string, name: string, deviceState: unknown) =>
  upstream(`node/${node}/device/default/${name}/state/update`, {
    event_id: crypto.randomUUID(),
    timestamp: Date.now(),
    device: deviceState,
  });

/** Logged refusals, by the code of their error. */
class Refusals {
  readonly warnings: { fields: { err?: { code?: string } }; message: string }[] = [];
  readonly logger = {
    warn: (fields: object, message: string) => {
      this.warnings.push({ fields: fields as { err?: { code?: string } }, message });
    },
  };
  codes(): (string | undefined)[] {
    return this.warnings.map((w) => w.fields.err?.code);
  }
}

describe('devicecontroller writes what the edge reports to the Device status', () => {
  let api: TestApi;
  let controller: DeviceController;
  const recorder = new Recorder();
  const refusals = new Refusals();

  beforeAll(async () => {
    api = await startApi();
    controller = createDeviceController({
      kubeConfig: api.kubeConfig,
      dispatch: recorder.dispatch,
      logger: refusals.logger,
    });
    await controller.start();
    await api.request('POST', MODELS, model('thermostat-model', ['temperature', 'setpoint']));
    await api.request(
      'POST',
      DEVICES,
      device('thermostat', 'edge-1', 'thermostat-model', [
        { name: 'temperature' },
        { name: 'setpoint', desired: '21' },
        { name: 'humidity' },
      ]),
    );
    await recorder.waitForMembership(0, 'edge-1', 'added_devices', 'default/thermostat');
  });

  afterAll(async () => {
    await controller?.stop();
    await api?.stop();
  });

  const read = () => api.request<ApiObject>('GET', `${DEVICES}/thermostat`);
  const twinOf = (object: ApiObject, property: string) =>
    object.status?.twins?.find((t) => t.propertyName === property);

  it('writes reported and observedDesired twins, keeping the other twins', async () => {
    await controller.handleUpstream(
      'edge-1',
      edgeUpdated('edge-1', 'thermostat', {
        humidity: { actual: { value: '40', metadata: { timestamp: 1732872000001 } } },
      }),
    );
    await controller.handleUpstream(
      'edge-1',
      edgeUpdated('edge-1', 'thermostat', {
        temperature: {
          actual: { value: '23.5', metadata: { timestamp: 1732872000123 } },
          metadata: { type: 'float' },
        },
        setpoint: {
          actual: { value: '20', metadata: { timestamp: 1732872000200 } },
          expected: { value: '21', metadata: { timestamp: 1732871999000 } },
          metadata: { type: 'int' },
        },
        pressure: { actual: { value: '1013' } }, // not declared by the device: ignored
      }),
    );
    const stored = await read();
    expect(twinOf(stored, 'temperature')).toEqual({
      propertyName: 'temperature',
      reported: { value: '23.5', metadata: { timestamp: '1732872000123', type: 'float' } },
    });
    expect(twinOf(stored, 'setpoint')).toEqual({
      propertyName: 'setpoint',
      reported: { value: '20', metadata: { timestamp: '1732872000200', type: 'int' } },
      observedDesired: { value: '21', metadata: { timestamp: '1732871999000', type: 'int' } },
    });
    expect(twinOf(stored, 'humidity')?.reported).toEqual({
      value: '40',
      metadata: { timestamp: '1732872000001' },
    });
    expect(twinOf(stored, 'pressure')).toBeUndefined();

    // A later report of one side keeps the other.
    await controller.handleUpstream(
      'edge-1',
      edgeUpdated('edge-1', 'thermostat', {
        setpoint: { actual: { value: '21' }, metadata: { type: 'int' } },
      }),
    );
    const after = await read();
    expect(twinOf(after, 'setpoint')).toEqual({
      propertyName: 'setpoint',
      reported: { value: '21', metadata: { timestamp: '1732872000999', type: 'int' } },
      observedDesired: { value: '21', metadata: { timestamp: '1732871999000', type: 'int' } },
    });
    expect(after.status?.twins).toHaveLength(3);
  });

  it('writes the device state and last online time', async () => {
    await controller.handleUpstream(
      'edge-1',
      stateUpdate('edge-1', 'thermostat', {
        state: 'online',
        lastOnlineTime: '2026-11-30T02:00:00Z',
      }),
    );
    const stored = await read();
    expect(stored.status?.state).toBe('online');
    expect(stored.status?.lastOnlineTime).toBe('2026-11-30T02:00:00Z');
    expect(twinOf(stored, 'temperature')?.reported?.value).toBe('23.5');
  });

  it('writes concurrent reports of one device without losing any', async () => {
    await Promise.all(
      ['10', '11', '12'].map((value, i) =>
        controller.handleUpstream(
          'edge-1',
          edgeUpdated('edge-1', 'thermostat', {
            [['temperature', 'setpoint', 'humidity'][i]!]: { actual: { value } },
          }),
        ),
      ),
    );
    const stored = await read();
    expect(twinOf(stored, 'temperature')?.reported?.value).toBe('10');
    expect(twinOf(stored, 'setpoint')?.reported?.value).toBe('11');
    expect(twinOf(stored, 'humidity')?.reported?.value).toBe('12');
  });

  it('refuses messages from another node, malformed ones and unknown ones, writing nothing', async () => {
    const before = await read();
    const refused: [string, Message, string][] = [
      [
        'edge-2',
        edgeUpdated('edge-2', 'thermostat', { temperature: { actual: { value: '99' } } }),
        DeviceControllerErrorCode.WrongNode,
      ],
      [
        'edge-2',
        stateUpdate('edge-1', 'thermostat', { state: 'offline' }),
        DeviceControllerErrorCode.WrongNode,
      ],
      [
        'edge-1',
        edgeUpdated('edge-1', 'thermostat', 'not an object'),
        DeviceControllerErrorCode.MalformedContent,
      ],
      [
        'edge-1',
        edgeUpdated('edge-1', 'thermostat', { temperature: { actual: { value: { nested: 1 } } } }),
        DeviceControllerErrorCode.MalformedContent,
      ],
      [
        'edge-1',
        stateUpdate('edge-1', 'thermostat', { state: 42 }),
        DeviceControllerErrorCode.MalformedContent,
      ],
      [
        'edge-1',
        upstream('node/edge-1/device/default/thermostat/twin/cloud_updated', {}),
        DeviceControllerErrorCode.UnknownResource,
      ],
      [
        'edge-1',
        edgeUpdated('edge-1', 'no-such-device', { temperature: { actual: { value: '1' } } }),
        DeviceControllerErrorCode.UnknownDevice,
      ],
    ];
    for (const [node, message, code] of refused) {
      const count = refusals.warnings.length;
      await controller.handleUpstream(node, message);
      expect(refusals.codes().slice(count), message.route.resource).toEqual([code]);
    }
    // Not about a device: ignored without a warning.
    const count = refusals.warnings.length;
    await controller.handleUpstream('edge-1', upstream('node/edge-1/default/pod/web', {}));
    expect(refusals.warnings.length).toBe(count);

    const after = await read();
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.status).toEqual(before.status);
  });

  it('does not send the device back down for its status writes', async () => {
    const mark = recorder.mark();
    await controller.handleUpstream(
      'edge-1',
      stateUpdate('edge-1', 'thermostat', { state: 'offline' }),
    );
    expect((await read()).status?.state).toBe('offline');
    // A later change on the same node: once it is sent, the status write was seen too.
    await api.request('POST', DEVICES, device('hygrometer', 'edge-1', 'thermostat-model'));
    await recorder.waitForMembership(mark, 'edge-1', 'added_devices', 'default/hygrometer');
    expect(recorder.find(mark, 'update', 'node/edge-1/default/device/thermostat')).toBeUndefined();
  });
});

describe('devicecontroller with a Device CRD that has a status subresource', () => {
  let api: TestApi;
  let controller: DeviceController;
  const recorder = new Recorder();

  beforeAll(async () => {
    api = await startApi({ deviceStatusSubresource: true });
    controller = createDeviceController({
      kubeConfig: api.kubeConfig,
      dispatch: recorder.dispatch,
    });
    await controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
    await api?.stop();
  });

  it('writes through devices/status', async () => {
    await api.request('POST', DEVICES, device('sensor', 'edge-1', 'sensor-model'));
    await controller.handleUpstream(
      'edge-1',
      edgeUpdated('edge-1', 'sensor', { temperature: { actual: { value: '5' } } }),
    );
    await controller.handleUpstream('edge-1', stateUpdate('edge-1', 'sensor', { state: 'online' }));
    const stored = await waitFor('the status to be written', async () => {
      const object = await api.request<ApiObject>('GET', `${DEVICES}/sensor`);
      return object.status?.state === 'online' && object;
    });
    expect(stored.status?.twins?.[0]?.reported?.value).toBe('5');
  });
});
