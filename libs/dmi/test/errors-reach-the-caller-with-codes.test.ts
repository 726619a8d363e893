import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDeviceManagerClient,
  createDeviceManagerServer,
  createDeviceMapperClient,
  createDeviceMapperServer,
  type DeviceMapperClient,
  DmiError,
  type DmiServer,
} from '../src/index';

describe('errors reach the caller as DmiErrors with codes', () => {
  let dir = '';
  let server: DmiServer;
  let client: DeviceMapperClient;
  // getDevice hangs until cancelled, handing its call's signal to the test.
  let getDeviceCalled: (signal: AbortSignal) => void = () => {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dmi-'));
    server = createDeviceMapperServer({
      socketPath: join(dir, 'mapper.sock'),
      shutdownTimeoutMs: 200,
      handlers: {
        registerDevice: async ({ device }) => {
          switch (device?.name) {
            case 'exists':
              throw Object.assign(new Error('device exists already'), {
                grpcCode: status.ALREADY_EXISTS,
              });
            case 'bad':
              throw new DmiError('KE_DMI_INVALID_ARGUMENT', 'the device has no protocol');
            case 'boom':
              throw new TypeError('cannot read properties of undefined');
            case 'slow':
              // Answers only when the caller gives up.
              return new Promise((_, reject) => {
                setTimeout(() => reject(new Error('too late')), 5_000).unref();
              });
            default:
              return { deviceName: device?.name ?? '' };
          }
        },
        getDevice: (_request, { signal }) =>
          new Promise((_, reject) => {
            getDeviceCalled(signal);
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
      },
    });
    await server.start();
    client = createDeviceMapperClient({ endpoint: server.endpoint, timeoutMs: 2_000 });
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('maps a handler error with a grpcCode to that status', async () => {
    const error = await client.registerDevice({ name: 'exists' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DmiError);
    expect(error).toMatchObject({
      code: 'KE_DMI_FAILED',
      grpcCode: status.ALREADY_EXISTS,
      details: 'device exists already',
      method: 'DeviceMapperService/RegisterDevice',
    });
  });

  it('maps a DmiError thrown by a handler to the status of its code, and back', async () => {
    await expect(client.registerDevice({ name: 'bad' })).rejects.toMatchObject({
      code: 'KE_DMI_INVALID_ARGUMENT',
      grpcCode: status.INVALID_ARGUMENT,
      details: 'the device has no protocol',
    });
  });

  it('maps any other handler error to INTERNAL with its message', async () => {
    await expect(client.registerDevice({ name: 'boom' })).rejects.toMatchObject({
      code: 'KE_DMI_FAILED',
      grpcCode: status.INTERNAL,
      details: 'cannot read properties of undefined',
    });
  });

  it('answers UNIMPLEMENTED for a method without a handler', async () => {
    await expect(client.removeDeviceModel('m')).rejects.toMatchObject({
      code: 'KE_DMI_FAILED',
      grpcCode: status.UNIMPLEMENTED,
      method: 'DeviceMapperService/RemoveDeviceModel',
    });
  });

  it('times out with KE_DMI_TIMEOUT', async () => {
    await expect(client.registerDevice({ name: 'slow' }, { timeoutMs: 100 })).rejects.toMatchObject(
      {
        code: 'KE_DMI_TIMEOUT',
        grpcCode: status.DEADLINE_EXCEEDED,
      },
    );
  });

  it('rejects with the reason of an aborted signal, and the handler sees the cancellation', async () => {
    const called = new Promise<AbortSignal>((resolve) => {
      getDeviceCalled = resolve;
    });
    const controller = new AbortController();
    const pending = client.getDevice('thermometer', 'default', { signal: controller.signal });
    const handlerSignal = await called;
    const reason = new Error('the edge shuts down');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await new Promise((resolve) => {
      if (handlerSignal.aborted) resolve(undefined);
      else handlerSignal.addEventListener('abort', resolve, { once: true });
    });
    expect(handlerSignal.aborted).toBe(true);
  });

  it('fails with KE_DMI_UNAVAILABLE when no server listens', async () => {
    const nobody = createDeviceManagerClient({ endpoint: `unix://${join(dir, 'nobody.sock')}` });
    try {
      const error = await nobody
        .reportDeviceStates({ deviceName: 'thermometer', state: 'online' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DmiError);
      expect(error).toMatchObject({
        code: 'KE_DMI_UNAVAILABLE',
        grpcCode: status.UNAVAILABLE,
        method: 'DeviceManagerService/ReportDeviceStates',
      });
    } finally {
      nobody.close();
    }
  });

  it('fails with KE_DMI_UNAVAILABLE once the server stopped, and works again after it restarts', async () => {
    const manager = createDeviceManagerServer({
      socketPath: join(dir, 'dmi.sock'),
      handlers: { reportDeviceStates: () => {} },
    });
    const mapper = createDeviceManagerClient({
      endpoint: manager.endpoint,
      maxReconnectBackoffMs: 100,
    });
    try {
      await manager.start();
      await mapper.reportDeviceStates({ deviceName: 'd', state: 'online' });
      await manager.stop();
      await expect(
        mapper.reportDeviceStates({ deviceName: 'd', state: 'online' }),
      ).rejects.toMatchObject({
        code: 'KE_DMI_UNAVAILABLE',
      });
      await manager.start();
      // The channel reconnects with back-off: it answers again within a few attempts.
      await waitFor('the restarted server to answer', () =>
        mapper.reportDeviceStates({ deviceName: 'd', state: 'online' }).then(() => true),
      );
    } finally {
      mapper.close();
      await manager.stop();
    }
  });

  it('fails with KE_DMI_UNAVAILABLE after close()', async () => {
    const closed = createDeviceMapperClient({ endpoint: server.endpoint });
    closed.close();
    await expect(closed.getDevice('thermometer')).rejects.toMatchObject({
      code: 'KE_DMI_UNAVAILABLE',
    });
  });

  it('refuses an empty endpoint or socket path', () => {
    expect(() => createDeviceMapperClient({ endpoint: '' })).toThrow(
      expect.objectContaining({ code: 'KE_DMI_INVALID_ARGUMENT' }),
    );
    expect(() => createDeviceMapperServer({ socketPath: '', handlers: {} })).toThrow(
      expect.objectContaining({ code: 'KE_DMI_INVALID_ARGUMENT' }),
    );
    expect(() =>
      createDeviceMapperServer({ socketPath: `/tmp/${'x'.repeat(120)}.sock`, handlers: {} }),
    ).toThrow(expect.objectContaining({ code: 'KE_DMI_INVALID_ARGUMENT' }));
  });
});
