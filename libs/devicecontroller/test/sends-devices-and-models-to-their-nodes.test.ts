import { createDeviceController, type DeviceController } from '@ke/devicecontroller';
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('devicecontroller sends devices and models to their nodes', () => {
  let api: TestApi;
  let controller: DeviceController;
  const recorder = new Recorder();

  beforeAll(async () => {
    api = await startApi();
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

  /** Creates the model and a device on `node`, and waits until the node has both. */
  async function bind(deviceName: string, node: string, modelName: string) {
    const mark = recorder.mark();
    await api.request('POST', MODELS, model(modelName)).catch((error: Error) => {
      if (!/409/.test(error.message)) throw error; // shared by several devices
    });
    await api.request('POST', DEVICES, device(deviceName, node, modelName));
    await recorder.waitForMembership(mark, node, 'added_devices', `default/${deviceName}`);
    return mark;
  }

  it('sends a new device its model, itself and a membership addition, to its node only', async () => {
    const mark = recorder.mark();
    await api.request('POST', MODELS, model('thermometer-model'));
    const created = await api.request<ApiObject>(
      'POST',
      DEVICES,
      device('thermometer', 'edge-a', 'thermometer-model', [
        { name: 'temperature', desired: '20' },
      ]),
    );
    const membership = await recorder.waitForMembership(
      mark,
      'edge-a',
      'added_devices',
      'default/thermometer',
    );
    const modelMessage = await recorder.waitFor(
      mark,
      'insert',
      'node/edge-a/default/devicemodel/thermometer-model',
    );
    const deviceMessage = recorder.find(mark, 'insert', 'node/edge-a/default/device/thermometer');

    expect(deviceMessage).toBeDefined();
    expect(deviceMessage?.route).toMatchObject({ source: 'devicecontroller', group: 'resource' });
    expect(deviceMessage?.header.resourceversion).toBe(created.metadata.resourceVersion);
    expect(deviceMessage?.content).toMatchObject({
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'thermometer', namespace: 'default', uid: created.metadata.uid },
      spec: { nodeName: 'edge-a', properties: [{ name: 'temperature', desired: { value: '20' } }] },
    });
    expect(modelMessage.route.group).toBe('resource');
    expect(modelMessage.content).toMatchObject({
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'DeviceModel',
      metadata: { name: 'thermometer-model' },
    });
    expect(modelMessage.header.resourceversion).toMatch(/\S/);
    expect(membership.route).toMatchObject({
      source: 'devicecontroller',
      group: 'twin',
      operation: 'update',
    });
    expect(membership.content.event_id).toMatch(UUID);
    expect(Math.abs(membership.content.timestamp - Date.now())).toBeLessThan(60_000);
    expect(membership.content.added_devices).toEqual([
      { id: 'default/thermometer', name: 'thermometer' },
    ]);
    expect(membership.content.removed_devices).toEqual([]);
    // Exactly these three, all for edge-a.
    const sent = recorder.since(mark).map((m) => `${m.route.operation} ${m.route.resource}`);
    expect(sent.sort()).toEqual([
      'insert node/edge-a/default/device/thermometer',
      'insert node/edge-a/default/devicemodel/thermometer-model',
      'update node/edge-a/membership',
    ]);
  });

  it('sends the device again when a desired value changes', async () => {
    await bind('valve', 'edge-b', 'valve-model');
    const mark = recorder.mark();
    await api.request('PATCH', `${DEVICES}/valve`, {
      spec: { properties: [{ name: 'temperature', desired: { value: '55' } }] },
    });
    const update = await recorder.waitFor(mark, 'update', 'node/edge-b/default/device/valve');
    const now = await api.request<ApiObject>('GET', `${DEVICES}/valve`);
    expect(update.header.resourceversion).toBe(now.metadata.resourceVersion);
    expect(update.content).toMatchObject({
      spec: { properties: [{ name: 'temperature', desired: { value: '55' } }] },
    });
    // The same devices: no membership change, no model.
    expect(recorder.since(mark).map((m) => m.route.resource)).toEqual([
      'node/edge-b/default/device/valve',
    ]);
  });

  it('sends a changed model to every node with a device using it', async () => {
    await bind('pump-1', 'edge-c', 'pump-model');
    await bind('pump-2', 'edge-d', 'pump-model');
    const mark = recorder.mark();
    await api.request('PATCH', `${MODELS}/pump-model`, {
      spec: {
        properties: [
          { name: 'temperature', type: 'INT' },
          { name: 'rpm', type: 'INT' },
        ],
      },
    });
    for (const node of ['edge-c', 'edge-d']) {
      const update = await recorder.waitFor(
        mark,
        'update',
        `node/${node}/default/devicemodel/pump-model`,
      );
      expect(update.content).toMatchObject({
        kind: 'DeviceModel',
        spec: { properties: [{ name: 'temperature' }, { name: 'rpm' }] },
      });
    }
  });

  it('moves a device: delete and removal on the old node, insert and addition on the new', async () => {
    await bind('fan', 'edge-e', 'fan-model');
    const mark = recorder.mark();
    await api.request('PATCH', `${DEVICES}/fan`, { spec: { nodeName: 'edge-f' } });

    await recorder.waitFor(mark, 'delete', 'node/edge-e/default/device/fan');
    await recorder.waitForMembership(mark, 'edge-e', 'removed_devices', 'default/fan');
    await recorder.waitFor(mark, 'delete', 'node/edge-e/default/devicemodel/fan-model');
    const insert = await recorder.waitFor(mark, 'insert', 'node/edge-f/default/device/fan');
    expect(insert.content).toMatchObject({ spec: { nodeName: 'edge-f' } });
    await recorder.waitFor(mark, 'insert', 'node/edge-f/default/devicemodel/fan-model');
    const added = await recorder.waitForMembership(mark, 'edge-f', 'added_devices', 'default/fan');
    expect(added.content.removed_devices).toEqual([]);
  });

  it('deletes a deleted device at its node, and the model with the last device using it', async () => {
    await bind('lamp-1', 'edge-g', 'lamp-model');
    await bind('lamp-2', 'edge-g', 'lamp-model');

    let mark = recorder.mark();
    await api.request('DELETE', `${DEVICES}/lamp-1`);
    const deleted = await recorder.waitFor(mark, 'delete', 'node/edge-g/default/device/lamp-1');
    expect(deleted.content).toMatchObject({ kind: 'Device', metadata: { name: 'lamp-1' } });
    const removal = await recorder.waitForMembership(
      mark,
      'edge-g',
      'removed_devices',
      'default/lamp-1',
    );
    expect(removal.content.added_devices).toEqual([]);
    // One reconcile sends all of a node's messages at once: the model stays, lamp-2 uses it.
    expect(recorder.find(mark, 'delete', 'node/edge-g/default/devicemodel/lamp-model')).toBe(
      undefined,
    );

    mark = recorder.mark();
    await api.request('DELETE', `${DEVICES}/lamp-2`);
    await recorder.waitFor(mark, 'delete', 'node/edge-g/default/device/lamp-2');
    await recorder.waitForMembership(mark, 'edge-g', 'removed_devices', 'default/lamp-2');
    const modelDelete = await recorder.waitFor(
      mark,
      'delete',
      'node/edge-g/default/devicemodel/lamp-model',
    );
    expect(modelDelete.content).toMatchObject({ kind: 'DeviceModel' });
  });

  it('sends nothing when only the status of a device changes', async () => {
    await bind('meter', 'edge-h', 'meter-model');
    const mark = recorder.mark();
    await api.request('PATCH', `${DEVICES}/meter`, {
      status: {
        state: 'online',
        twins: [{ propertyName: 'temperature', reported: { value: '7' } }],
      },
    });
    const patched = await api.request<ApiObject>('GET', `${DEVICES}/meter`);
    expect(patched.status?.state).toBe('online');
    // A later change on the same node: once it is sent, the status change was seen too.
    await api.request('POST', DEVICES, device('meter-2', 'edge-h', 'meter-model'));
    await recorder.waitForMembership(mark, 'edge-h', 'added_devices', 'default/meter-2');
    expect(recorder.since(mark).map((m) => `${m.route.operation} ${m.route.resource}`)).toEqual([
      'insert node/edge-h/default/device/meter-2',
      'update node/edge-h/membership',
    ]);
  });
});
