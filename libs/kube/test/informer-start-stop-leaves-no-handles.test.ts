import { freePort, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInformer, type KubeError } from '../src/index';
import {
  configMap,
  createNamespace,
  kubeConfigFor,
  silentLogger,
  startServer,
  type TestServer,
} from './helpers/api-server';

let api: TestServer;

beforeAll(async () => {
  api = await startServer();
  await createNamespace(api, 'cycle');
  for (const name of ['a', 'b', 'c']) {
    await api.request('POST', '/api/v1/namespaces/cycle/configmaps', configMap('cycle', name));
  }
});

afterAll(async () => {
  await api?.stop();
});

/** Active handles and timers by type, e.g. `{ TCPSocketWrap: 2, Timeout: 1 }`. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Types whose count is above the baseline (timers of the test runner may come and go below it). */
function growth(baseline: Record<string, number>): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [type, count] of Object.entries(activeResources())) {
    if (count > (baseline[type] ?? 0)) grown[type] = count - (baseline[type] ?? 0);
  }
  return grown;
}

async function expectNoGrowth(baseline: Record<string, number>) {
  // Closed sockets are released on a later turn of the event loop.
  await waitFor(
    'the handles to return to what they were before',
    () => {
      return Object.keys(growth(baseline)).length === 0;
    },
    { timeoutMs: 5000 },
  ).catch(() => {
    expect(growth(baseline)).toEqual({});
  });
}

it('start, sync and stop 50 times leaves no active handle', async () => {
  const baseline = activeResources();
  const informer = createInformer({
    kubeConfig: api.kubeConfig,
    path: '/api/v1/configmaps',
    namespace: 'cycle',
    resyncPeriodMs: 50,
    logger: silentLogger,
  });
  for (let round = 0; round < 50; round += 1) {
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(5000));
    expect(informer.list()).toHaveLength(3);
    await informer.stop();
  }
  await expectNoGrowth(baseline);
}, 60_000);

it('stopping in every phase (listing, watching, backing off, via the signal) leaves none', async () => {
  const baseline = activeResources();
  const unreachable = kubeConfigFor(`http://127.0.0.1:${await freePort()}`);
  for (let round = 0; round < 50; round += 1) {
    const phase = round % 4;
    const failing = phase === 2;
    const errors: KubeError[] = [];
    const informer = createInformer({
      kubeConfig: failing ? unreachable : api.kubeConfig,
      path: '/api/v1/configmaps',
      namespace: 'cycle',
      logger: silentLogger,
      backoff: { initialMs: 10_000, maxMs: 10_000 },
    });
    informer.on('error', (error) => errors.push(error));
    const controller = new AbortController();
    informer.start(controller.signal);
    if (phase === 1 || phase === 3) await informer.waitForSync(AbortSignal.timeout(5000));
    if (failing) await waitFor('a failed list', () => errors.length > 0);
    // Phase 0 stops while the list is in flight; phase 3 stops through the start signal.
    if (phase === 3) {
      controller.abort();
      await waitFor('the signal to stop the informer', () => {
        const counts = activeResources();
        return (counts.TCPSocketWrap ?? 0) <= (baseline.TCPSocketWrap ?? 0);
      });
    } else {
      await informer.stop();
    }
  }
  await expectNoGrowth(baseline);
}, 60_000);
