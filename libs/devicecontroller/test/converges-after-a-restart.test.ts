import { createDeviceController, type DeviceController } from '@ke/devicecontroller';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiObject,
  DEVICES,
  device,
  MODELS,
  model,
  OBJECTSYNCS,
  Recorder,
  startApi,
  type TestApi,
} from './helpers/api';

describe('devicecontroller converges after a restart', () => {
  let api: TestApi;
  let controller: DeviceController | undefined;

  beforeAll(async () => {
    api = await startApi();
  });

  afterAll(async () => {
    await controller?.stop();
    await api?.stop();
  });

  /** What cloudhub records once edge-r acknowledged an object (ObjectSync `<node>.<uid>`). */
  async function recordDelivery(object: ApiObject) {
    await api.request('POST', OBJECTSYNCS, {
      apiVersion: 'reliablesyncs.kubeedge.io/v1alpha1',
      kind: 'ObjectSync',
      metadata: { name: `edge-r.${object.metadata.uid}` },
      spec: {
        objectAPIVersion: object.apiVersion,
        objectKind: object.kind,
        objectName: object.metadata.name,
      },
    });
  }

  it('deletes at the node what was deleted while it was down, and sends what is there', async () => {
    const first = new Recorder();
    controller = createDeviceController({ kubeConfig: api.kubeConfig, dispatch: first.dispatch });
    await controller.start();
    const gaugeModel = await api.request<ApiObject>('POST', MODELS, model('gauge-model'));
    const kept = await api.request<ApiObject>(
      'POST',
      DEVICES,
      device('gauge-1', 'edge-r', 'gauge-model'),
    );
    const gone = await api.request<ApiObject>(
      'POST',
      DEVICES,
      device('gauge-2', 'edge-r', 'gauge-model'),
    );
    await first.waitForMembership(0, 'edge-r', 'added_devices', 'default/gauge-2');
    await first.waitForMembership(0, 'edge-r', 'added_devices', 'default/gauge-1');
    await controller.stop();
    for (const object of [gaugeModel, kept, gone]) await recordDelivery(object);

    // While no controller runs: gauge-2 is deleted, gauge-3 created.
    await api.request('DELETE', `${DEVICES}/gauge-2`);
    await api.request('POST', DEVICES, device('gauge-3', 'edge-r', 'gauge-model'));

    const second = new Recorder();
    controller = createDeviceController({ kubeConfig: api.kubeConfig, dispatch: second.dispatch });
    await controller.start();
    const deleted = await second.waitFor(0, 'delete', 'node/edge-r/default/device/gauge-2');
    expect(deleted.content).toMatchObject({
      kind: 'Device',
      metadata: { name: 'gauge-2', uid: gone.metadata.uid },
    });
    const membership = await second.waitForMembership(
      0,
      'edge-r',
      'removed_devices',
      'default/gauge-2',
    );
    // gauge-1 is known to be there (its ObjectSync); gauge-3 is new.
    expect(membership.content.added_devices).toEqual([{ id: 'default/gauge-3', name: 'gauge-3' }]);
    expect(second.find(0, 'update', 'node/edge-r/default/device/gauge-1')).toBeDefined();
    expect(second.find(0, 'insert', 'node/edge-r/default/device/gauge-3')).toBeDefined();
    expect(second.find(0, 'update', 'node/edge-r/default/devicemodel/gauge-model')).toBeDefined();
    expect(second.find(0, 'delete', 'node/edge-r/default/devicemodel/gauge-model')).toBeUndefined();
  });

  it('starts and stops repeatedly, re-sending current state each time', async () => {
    await controller?.stop();
    for (let round = 0; round < 3; round++) {
      const recorder = new Recorder();
      controller = createDeviceController({
        kubeConfig: api.kubeConfig,
        dispatch: recorder.dispatch,
        readObjectSyncs: false,
      });
      await controller.start();
      await recorder.waitFor(0, 'insert', 'node/edge-r/default/device/gauge-1');
      await controller.stop();
    }
    controller = undefined;
  });
});
