import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInformer, type KubernetesObject, metaNamespaceKey } from '../src/index';
import {
  configMap,
  createNamespace,
  silentLogger,
  startServer,
  type TestServer,
} from './helpers/api-server';

const PERIOD_MS = 200;
let api: TestServer;

beforeAll(async () => {
  api = await startServer();
  await createNamespace(api, 'resync');
  for (const name of ['a', 'b', 'c']) {
    await api.request('POST', '/api/v1/namespaces/resync/configmaps', configMap('resync', name));
  }
});

afterAll(async () => {
  await api?.stop();
});

function informer(resyncPeriodMs: number) {
  return createInformer({
    kubeConfig: api.kubeConfig,
    path: '/api/v1/configmaps',
    namespace: 'resync',
    resyncPeriodMs,
    logger: silentLogger,
  });
}

it('re-delivers every cached object as an update (old === new) every period', async () => {
  const resyncing = informer(PERIOD_MS);
  const quiet = informer(0);
  const rounds: { at: number; keys: string[] }[] = [];
  let quietUpdates = 0;
  let distinctUpdates = 0;
  resyncing.on('update', (old: KubernetesObject, object: KubernetesObject) => {
    // Asserted after: the informer catches what a handler throws.
    if (old !== object) distinctUpdates += 1;
    const now = performance.now();
    const last = rounds.at(-1);
    // One round is delivered in one go; a new round starts after a gap.
    if (last && now - last.at < PERIOD_MS / 2) last.keys.push(metaNamespaceKey(object));
    else rounds.push({ at: now, keys: [metaNamespaceKey(object)] });
  });
  quiet.on('update', () => {
    quietUpdates += 1;
  });
  quiet.start();
  resyncing.start();
  await Promise.all([resyncing.waitForSync(), quiet.waitForSync()]);

  await waitFor('four resync rounds', () => rounds.length >= 4, { timeoutMs: 5000 });
  for (const round of rounds) {
    expect(round.keys.sort()).toEqual(['resync/a', 'resync/b', 'resync/c']);
  }
  const gaps = rounds.slice(1).map((round, index) => round.at - rounds[index]!.at);
  for (const gap of gaps) {
    expect(gap).toBeGreaterThanOrEqual(PERIOD_MS * 0.75);
    expect(gap).toBeLessThan(PERIOD_MS * 5);
  }
  expect(quietUpdates).toBe(0);
  expect(distinctUpdates).toBe(0);

  // Stopped: no more rounds. (A negative can only be checked by waiting: two periods.)
  await resyncing.stop();
  const count = rounds.length;
  await new Promise((resolve) => setTimeout(resolve, PERIOD_MS * 2));
  expect(rounds.length).toBe(count);
  await quiet.stop();
});
