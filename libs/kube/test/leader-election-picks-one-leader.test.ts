import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLeaderElector,
  KubeErrorCode,
  type LeaderElector,
  type LeaseSpec,
  microTime,
} from '../src/index';
import { silentLogger, startServer, type TestServer } from './helpers/api-server';

const LEASE_MS = 1000;
const RENEW_MS = 600;
const RETRY_MS = 100;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

let api: TestServer;

beforeAll(async () => {
  api = await startServer();
});

afterAll(async () => {
  await api?.stop();
});

interface Candidate {
  identity: string;
  elector: LeaderElector;
  stop: AbortController;
  running: Promise<void>;
  started: number[];
  stopped: number[];
  leaderSignals: AbortSignal[];
  newLeaders: string[];
}

/** Candidates of one lease; `leading` holds who leads now, to catch two at once. */
function election(name: string, releaseOnCancel = false) {
  const leading = new Set<string>();
  let overlaps = 0;
  const candidates: Candidate[] = [];
  const add = (identity: string): Candidate => {
    const candidate: Candidate = {
      identity,
      stop: new AbortController(),
      started: [],
      stopped: [],
      leaderSignals: [],
      newLeaders: [],
    } as unknown as Candidate;
    candidate.elector = createLeaderElector({
      kubeConfig: api.kubeConfig,
      namespace: 'kube-system',
      name,
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_MS,
      retryPeriodMs: RETRY_MS,
      releaseOnCancel,
      logger: silentLogger,
      onStartedLeading: async (signal) => {
        leading.add(identity);
        if (leading.size > 1) overlaps += 1;
        candidate.started.push(performance.now());
        candidate.leaderSignals.push(signal);
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        leading.delete(identity);
      },
      onStoppedLeading: () => {
        candidate.stopped.push(performance.now());
      },
      onNewLeader: (leader) => candidate.newLeaders.push(leader),
    });
    candidate.running = candidate.elector.run(candidate.stop.signal);
    candidates.push(candidate);
    return candidate;
  };
  return {
    add,
    candidates,
    leaders: () => candidates.filter((candidate) => candidate.elector.isLeader()),
    get overlaps() {
      return overlaps;
    },
    async stopAll() {
      for (const candidate of candidates) candidate.stop.abort();
      await Promise.all(candidates.map((candidate) => candidate.running));
    },
  };
}

async function readLease(
  name: string,
): Promise<{ spec: LeaseSpec; metadata: { resourceVersion: string } }> {
  return api.request('GET', `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`);
}

describe('leader election on a Lease', () => {
  it('writes MicroTime timestamps', () => {
    expect(microTime(new Date('2026-11-29T10:00:00.123Z'))).toBe('2026-11-29T10:00:00.123000Z');
    expect(microTime()).toMatch(MICRO_TIME);
  });

  it('lets exactly one of two candidates lead, and fills the Lease as client-go does', async () => {
    const vote = election('one-leader');
    const a = vote.add('candidate-a');
    const b = vote.add('candidate-b');
    await waitFor('a leader', () => vote.leaders().length === 1, { timeoutMs: 5000 });
    const [leader] = vote.leaders();
    const follower = leader === a ? b : a;

    // Several renewals later, still the one leader, and the other never led.
    const first = await readLease('one-leader');
    await waitFor(
      'renewals',
      async () => (await readLease('one-leader')).spec.renewTime !== first.spec.renewTime,
      { timeoutMs: 3000 },
    );
    await waitFor('three more renewals', async () => {
      const lease = await readLease('one-leader');
      return (
        Date.parse(lease.spec.renewTime ?? '') >=
        Date.parse(first.spec.renewTime ?? '') + 3 * RETRY_MS
      );
    });
    expect(vote.leaders()).toEqual([leader]);
    expect(follower.started).toEqual([]);
    // The follower learns who leads at its next attempt (a create that lost gives no holder).
    await waitFor(
      'the follower to see the leader',
      () => follower.elector.leader() === leader!.identity,
    );
    expect(leader!.elector.leader()).toBe(leader!.identity);
    expect(vote.overlaps).toBe(0);

    const lease = await readLease('one-leader');
    expect(lease.spec).toEqual({
      holderIdentity: leader!.identity,
      leaseDurationSeconds: 1,
      acquireTime: first.spec.acquireTime,
      renewTime: expect.stringMatching(MICRO_TIME),
      leaseTransitions: 0,
    });
    expect(lease.spec.acquireTime).toMatch(MICRO_TIME);
    expect(Date.parse(lease.spec.renewTime!)).toBeGreaterThan(Date.parse(lease.spec.acquireTime!));
    expect(follower.newLeaders).toEqual([leader!.identity]);
    expect(leader!.newLeaders).toEqual([leader!.identity]);

    await vote.stopAll();
    expect(leader!.stopped).toHaveLength(1);
    expect(leader!.leaderSignals[0]?.aborted).toBe(true);
    expect(follower.stopped).toEqual([]);
    expect(vote.leaders()).toEqual([]);
  });

  it('hands over at once when the leader stops with releaseOnCancel', async () => {
    const vote = election('released', true);
    const a = vote.add('candidate-a');
    await waitFor('a to lead', () => a.elector.isLeader(), { timeoutMs: 5000 });
    const b = vote.add('candidate-b');
    await waitFor('b to see a lead', () => b.elector.leader() === 'candidate-a');
    const before = await readLease('released');

    const stoppedAt = performance.now();
    a.stop.abort();
    await a.running;
    expect(a.stopped).toHaveLength(1);
    expect(a.elector.isLeader()).toBe(false);
    await waitFor('b to lead', () => b.started.length === 1, { timeoutMs: 5000 });
    // Well before the lease would have expired.
    expect(b.started[0]! - stoppedAt).toBeLessThan(LEASE_MS);
    expect(vote.overlaps).toBe(0);

    const lease = await readLease('released');
    expect(lease.spec.holderIdentity).toBe('candidate-b');
    expect(lease.spec.leaseTransitions).toBe(1);
    expect(lease.spec.leaseDurationSeconds).toBe(1);
    expect(Date.parse(lease.spec.acquireTime!)).toBeGreaterThan(
      Date.parse(before.spec.acquireTime!),
    );
    expect(b.newLeaders).toEqual(['candidate-a', 'candidate-b']);
    await vote.stopAll();
  });

  it('without releaseOnCancel, the next leader waits for the lease to expire', async () => {
    const vote = election('expires');
    const a = vote.add('candidate-a');
    await waitFor('a to lead', () => a.elector.isLeader(), { timeoutMs: 5000 });
    const b = vote.add('candidate-b');
    await waitFor('b to see a lead', () => b.elector.leader() === 'candidate-a');

    const stoppedAt = performance.now();
    a.stop.abort();
    await a.running;
    expect((await readLease('expires')).spec.holderIdentity).toBe('candidate-a');
    await waitFor('b to lead', () => b.started.length === 1, { timeoutMs: 5000 });
    // a renewed about a retry period before it stopped, and b honours the lease for its
    // duration from when it saw that renewal (half of it here, to allow for a loaded machine).
    expect(b.started[0]! - stoppedAt).toBeGreaterThanOrEqual(LEASE_MS / 2);
    const lease = await readLease('expires');
    expect(lease.spec.holderIdentity).toBe('candidate-b');
    expect(lease.spec.leaseTransitions).toBe(1);
    await vote.stopAll();
  });

  it('a leader that finds another holder in the Lease steps down', async () => {
    const vote = election('taken');
    const a = vote.add('candidate-a');
    await waitFor('a to lead', () => a.elector.isLeader(), { timeoutMs: 5000 });
    // Another writer takes the Lease (retried: a's renewals may win the race for a while).
    await waitFor('the intruder to take the lease', async () => {
      const lease = await readLease('taken');
      await api.request('PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/taken', {
        ...lease,
        spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: microTime() },
      });
      return true;
    });
    await waitFor('a to step down', () => a.stopped.length === 1, { timeoutMs: 5000 });
    expect(a.newLeaders.slice(0, 2)).toEqual(['candidate-a', 'intruder']);
    await vote.stopAll();
  });

  it('refuses durations client-go refuses', () => {
    const base = {
      kubeConfig: api.kubeConfig,
      namespace: 'kube-system',
      name: 'bad',
      identity: 'x',
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
    };
    expect(() =>
      createLeaderElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 1000 }),
    ).toThrow(expect.objectContaining({ code: KubeErrorCode.InvalidArgument }));
    expect(() =>
      createLeaderElector({
        ...base,
        leaseDurationMs: 1000,
        renewDeadlineMs: 600,
        retryPeriodMs: 500,
      }),
    ).toThrow(/1.2/);
    expect(() => createLeaderElector({ ...base, identity: '' })).toThrow(/identity/);
  });
});
