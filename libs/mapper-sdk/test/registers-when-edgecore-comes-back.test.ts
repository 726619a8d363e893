import { join } from 'node:path';
import { waitFor } from '@ke/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createMapper } from '../src/index';
import { device, FakeDevice, FakeEdge, tempDir } from './fixtures';

describe('a mapper registers when edgecore comes (back)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('keeps retrying while edgecore is not there, then runs the devices it returns', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const fake = new FakeDevice();
    const mapper = createMapper({
      name: 'fake-mapper',
      protocol: 'fake',
      createDriver: fake.driver,
      dmi: { edgeEndpoint: `unix://${join(dir, 'dmi.sock')}`, socketPath: join(dir, 'fake.sock') },
      registerRetry: { initialMs: 20, maxMs: 100 },
    });
    cleanups.push(() => mapper.stop());
    await mapper.start();
    expect(mapper.registered).toBe(false);
    expect(mapper.devices()).toEqual([]);

    const edge = new FakeEdge(join(dir, 'dmi.sock'), [
      device([{ name: 'temperature', collectCycle: 50, reportToCloud: true }]),
    ]);
    await edge.server.start();
    cleanups.push(() => edge.server.stop());
    await waitFor('registered', () => mapper.registered, { timeoutMs: 15_000 });
    expect(edge.registrations).toHaveLength(1);
    await waitFor('21.5 reported', () => edge.reported('temperature').includes('21.5'));
  }, 20_000);

  it('registers again after edgecore restarts, taking its device list', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const fake = new FakeDevice();
    const socketPath = join(dir, 'dmi.sock');
    const first = new FakeEdge(socketPath, [
      device([{ name: 'temperature', collectCycle: 30, reportCycle: 30, reportToCloud: true }]),
    ]);
    await first.server.start();
    const mapper = createMapper({
      name: 'fake-mapper',
      protocol: 'fake',
      createDriver: fake.driver,
      dmi: {
        edgeEndpoint: `unix://${socketPath}`,
        socketPath: join(dir, 'fake.sock'),
        timeoutMs: 1000,
      },
      registerRetry: { initialMs: 20, maxMs: 100 },
    });
    cleanups.push(() => mapper.stop());
    await mapper.start();
    await waitFor('a report', () => first.statuses.length > 0);
    await first.server.stop();
    await waitFor('the mapper to notice', () => !mapper.registered, { timeoutMs: 5000 });

    const second = new FakeEdge(socketPath, [
      device(
        [{ name: 'temperature', collectCycle: 30, reportCycle: 30, reportToCloud: true }],
        'other',
      ),
    ]);
    await second.server.start();
    cleanups.push(() => second.server.stop());
    await waitFor('registered again', () => mapper.registered, { timeoutMs: 15_000 });
    expect(second.registrations).toHaveLength(1);
    await waitFor(
      'the new device list',
      () =>
        mapper
          .devices()
          .map((d) => d.name)
          .join() === 'other',
    );
    await waitFor('reports to the new edgecore', () =>
      second.statuses.some((s) => s.deviceName === 'other'),
    );
    expect(mapper.stats().registrations).toBe(2);
  }, 30_000);
});
