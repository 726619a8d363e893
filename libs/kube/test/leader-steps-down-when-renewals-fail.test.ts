import { freePort, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLeaderElector, type LeaseSpec } from '../src/index';
import { silentLogger, startServer, type TestServer } from './helpers/api-server';

const LEASE_MS = 1000;
const RENEW_MS = 600;
const RETRY_MS = 100;

let api: TestServer;

beforeAll(async () => {
  api = await startServer({ port: await freePort() });
});

afterAll(async () => {
  await api?.stop();
});

it('a leader that cannot renew steps down within renewDeadline, and campaigns again', async () => {
  const started: number[] = [];
  const stopped: number[] = [];
  const signals: AbortSignal[] = [];
  const stop = new AbortController();
  const elector = createLeaderElector({
    kubeConfig: api.kubeConfig,
    namespace: 'kube-system',
    name: 'unreachable',
    identity: 'lonely',
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_MS,
    retryPeriodMs: RETRY_MS,
    logger: silentLogger,
    onStartedLeading: (signal) => {
      started.push(performance.now());
      signals.push(signal);
    },
    onStoppedLeading: () => {
      stopped.push(performance.now());
    },
  });
  const running = elector.run(stop.signal);
  await waitFor('the lease', () => elector.isLeader(), { timeoutMs: 5000 });
  const lease = () =>
    api.request<{ spec: LeaseSpec }>(
      'GET',
      '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/unreachable',
    );
  const acquired = await lease();

  // The API server goes away (the store stays): every renewal fails from now on.
  const serverStoppedAt = performance.now();
  await api.server.stop();
  await waitFor('the leader to step down', () => stopped.length === 1, { timeoutMs: 5000 });
  // The deadline runs from the last successful renewal, which was before the server stopped
  // (plus timer slack for a loaded machine).
  expect(stopped[0]! - serverStoppedAt).toBeLessThanOrEqual(RENEW_MS + 200);
  expect(elector.isLeader()).toBe(false);
  expect(signals[0]?.aborted).toBe(true);

  // Back: the same candidate takes the lease again (it still names it, so no transition).
  await api.server.start();
  await waitFor('the lease again', () => started.length === 2, { timeoutMs: 5000 });
  expect(elector.isLeader()).toBe(true);
  const again = await lease();
  expect(again.spec.holderIdentity).toBe('lonely');
  expect(again.spec.leaseTransitions).toBe(acquired.spec.leaseTransitions);

  stop.abort();
  await running;
  expect(stopped).toHaveLength(2);
  expect(signals[1]?.aborted).toBe(true);
});
