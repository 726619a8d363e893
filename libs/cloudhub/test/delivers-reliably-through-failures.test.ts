import { once } from 'node:events';
import { createMessage, DEFAULT_MAX_MESSAGE_BYTES, Operation } from '@ke/beehive';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudHub,
  type CloudHubOptions,
  createCloudHub,
  createMemoryObjectSyncStore,
  type ObjectSyncStore,
} from '../src/index';
import { objectKey, startEdge, type TestEdge } from './helpers/edge-node';
import { configMapChange } from './helpers/messages';
import { metricValue, recordingLogger } from './helpers/metrics';
import { connectRawNode } from './helpers/raw-node';
import { startSeverableProxy } from './helpers/tcp-proxy';

// Reliable delivery between a real cloudhub and real edgehubs (or a hand-driven node) on
// loopback: what is resent, when, what is never sent again, and what is refused.

let ca: CertifiedKey;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'reliable-delivery-ca' });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startHub(options: Partial<CloudHubOptions> = {}): Promise<CloudHub> {
  const hub = createCloudHub({ ca, port: 0, ackTimeoutMs: 200, ...options });
  await hub.start();
  cleanups.push(() => hub.stop());
  return hub;
}

async function edgeOf(
  name: string,
  server: string,
  fault?: Parameters<typeof startEdge>[0]['fault'],
): Promise<TestEdge> {
  const edge = await startEdge({ ca, name, server, ...(fault ? { fault } : {}) });
  cleanups.push(() => edge.stop());
  return edge;
}

function portOf(hub: CloudHub): number {
  return Number(new URL(hub.url).port);
}

async function connected(hub: CloudHub, node: string): Promise<void> {
  await waitFor(`${node} to connect`, () => hub.isConnected(node));
}

async function stored(edge: TestEdge, uid: string, resourceVersion: string): Promise<void> {
  await waitFor(
    `${edge.name} to store ${uid} at ${resourceVersion}`,
    () => edge.store.objects.get(uid)?.resourceVersion === resourceVersion,
  );
}

function errorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('an edge whose handler fails', () => {
  it('gets the message again until the handler succeeds, then it is acknowledged', async () => {
    const objectSyncs = createMemoryObjectSyncStore();
    const hub = await startHub({ objectSyncs });
    let failures = 0;
    const edge = await edgeOf('edge-flaky', hub.url, () =>
      failures++ < 2 ? { throw: 'disk full' } : undefined,
    );
    await connected(hub, 'edge-flaky');

    const change = configMapChange({
      node: 'edge-flaky',
      name: 'app',
      uid: 'u-app',
      resourceVersion: '7',
    });
    expect(hub.dispatch(change)).toBe('queued');
    await stored(edge, 'u-app', '7');
    await waitFor('the ACK to empty the queue', () => hub.queueDepth('edge-flaky') === 0);

    const sends = edge.calls.filter((call) => call.header.msg_id === change.header.msg_id);
    expect(sends.length).toBeGreaterThanOrEqual(3);
    expect(
      await metricValue(hub.registry, 'cloudhub_messages_retried_total'),
    ).toBeGreaterThanOrEqual(2);
    await waitFor('the ObjectSync of version 7', () =>
      objectSyncs.records().some((r) => r.uid === 'u-app' && r.resourceVersion === '7'),
    );
    expect(objectSyncs.records()).toEqual([
      expect.objectContaining({ node: 'edge-flaky', uid: 'u-app', kind: 'ConfigMap' }),
    ]);
  });
});

describe('a message that is never acknowledged', () => {
  it('is resent every ackTimeoutMs, then at doubling intervals up to the maximum', async () => {
    const ackTimeoutMs = 100;
    const hub = await startHub({ ackTimeoutMs, maxRetryIntervalMs: 300 });
    const node = await connectRawNode(hub.url, ca, 'edge-silent');
    cleanups.push(() => node.close());
    await connected(hub, 'edge-silent');

    const change = configMapChange({
      node: 'edge-silent',
      name: 'a',
      uid: 'u-a',
      resourceVersion: '3',
    });
    hub.dispatch(change);
    const copies = () =>
      node.received.filter((r) => r.message.header.msg_id === change.header.msg_id);
    await waitFor('eight copies of the message', () => copies().length >= 8, { timeoutMs: 10_000 });
    node.ack(copies()[0]?.message ?? change);
    await waitFor('the ACK to empty the queue', () => hub.queueDepth('edge-silent') === 0);

    const retried = await metricValue(hub.registry, 'cloudhub_messages_retried_total');
    await waitFor('every resent copy to arrive', () => copies().length === retried + 1);
    const times = copies().map((r) => r.at);
    const gaps = times.slice(1).map((at, index) => at - (times[index] ?? at));
    // Five plain retries, then 200 ms, then capped at 300 ms. A copy can arrive a little late
    // and the next on time, so each gap may fall short of its interval by some latency.
    const intervals = [100, 100, 100, 100, 100, 200, 300];
    intervals.forEach((interval, index) => {
      expect(gaps[index], `gap ${index + 1} of ${gaps.join(', ')}`).toBeGreaterThanOrEqual(
        interval - 30,
      );
    });
    // A repeated ACK (of a copy already acknowledged) changes nothing. The hub handles a
    // link's frames in order: once the message sent after it is in, so is the ACK.
    node.ack(change);
    const marker = createMessage({
      source: 'edged',
      group: 'resource',
      operation: Operation.Update,
      resource: 'null/nodestatus/edge-silent',
      content: {},
    });
    const markerIn = once(hub, 'message');
    node.send(marker);
    await markerIn;
    expect(await metricValue(hub.registry, 'cloudhub_messages_acked_total')).toBe(1);
    expect(await metricValue(hub.registry, 'cloudhub_messages_received_total')).toBe(3);
  });
});

describe('a restarted cloudhub with the same ObjectSync store', () => {
  it('does not send a version the node acknowledged before, and sends a newer one', async () => {
    const objectSyncs = createMemoryObjectSyncStore();
    const first = await startHub({ objectSyncs });
    const proxy = await startSeverableProxy(portOf(first));
    cleanups.push(() => proxy.close());
    const edge = await edgeOf('edge-r', proxy.url);
    await connected(first, 'edge-r');

    const v5 = { node: 'edge-r', name: 'cfg', uid: 'u-cfg' };
    expect(first.dispatch(configMapChange({ ...v5, resourceVersion: '5' }))).toBe('queued');
    await stored(edge, 'u-cfg', '5');
    await waitFor('the ACK', () => first.queueDepth('edge-r') === 0);
    await first.stop();
    expect(objectSyncs.records()).toEqual([
      expect.objectContaining({ node: 'edge-r', uid: 'u-cfg', resourceVersion: '5' }),
    ]);

    const second = await startHub({ objectSyncs });
    proxy.retarget(portOf(second));
    await connected(second, 'edge-r');
    expect(second.dispatch(configMapChange({ ...v5, resourceVersion: '5' }))).toBe('stale');
    expect(second.dispatch(configMapChange({ ...v5, resourceVersion: '4' }))).toBe('stale');
    expect(second.queueDepth('edge-r')).toBe(0);
    expect(second.dispatch(configMapChange({ ...v5, resourceVersion: '6' }))).toBe('queued');
    await stored(edge, 'u-cfg', '6');
    await waitFor('the ObjectSync of version 6', () =>
      objectSyncs.records().some((r) => r.uid === 'u-cfg' && r.resourceVersion === '6'),
    );
    expect(edge.store.received.get('u-cfg')).toEqual(['update:5', 'update:6']);
  });
});

describe('an older version dispatched after a newer one', () => {
  it('is dropped while the newer one waits for an offline node', async () => {
    const hub = await startHub();
    const base = { node: 'edge-late', name: 'late', uid: 'u-late' };
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '3' }))).toBe('queued');
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '2' }))).toBe('stale');
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '4' }))).toBe('replaced');
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '3' }))).toBe('stale');
    expect(hub.queueDepth('edge-late')).toBe(1);

    const edge = await edgeOf('edge-late', hub.url);
    await stored(edge, 'u-late', '4');
    await waitFor('the ACK', () => hub.queueDepth('edge-late') === 0);
    expect(edge.store.received.get('u-late')).toEqual(['update:4']);
  });

  it('is dropped while the newer one is in flight; a dropped link resends the newer', async () => {
    const objectSyncs = createMemoryObjectSyncStore();
    const hub = await startHub({ objectSyncs });
    const proxy = await startSeverableProxy(portOf(hub));
    cleanups.push(() => proxy.close());
    let release = () => {};
    const disk = new Promise<void>((resolve) => {
      release = resolve;
    });
    const edge = await edgeOf('edge-busy', proxy.url, (message) =>
      objectKey(message).resourceVersion === '3' ? { until: disk } : undefined,
    );
    // Runs before the edge stops (cleanups run last first): a stopping edge waits for its handler.
    cleanups.push(async () => release());
    await connected(hub, 'edge-busy');

    const base = { node: 'edge-busy', name: 'busy', uid: 'u-busy' };
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '3' }))).toBe('queued');
    await waitFor('the edge to start on version 3', () => edge.calls.length > 0);
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '2' }))).toBe('stale');

    // The link drops while version 3 is being persisted: its ACK never comes on this link.
    expect(proxy.sever()).toBe(1);
    await waitFor(
      'the edge to reconnect',
      () => edge.connects >= 2 && hub.isConnected('edge-busy'),
    );
    release();
    await stored(edge, 'u-busy', '3');
    await waitFor('the ACK', () => hub.queueDepth('edge-busy') === 0, { timeoutMs: 10_000 });
    await waitFor('the ObjectSync of version 3', () =>
      objectSyncs.records().some((r) => r.uid === 'u-busy' && r.resourceVersion === '3'),
    );
    expect(edge.store.staleApplied, edge.store.staleLog.join('\n')).toBe(0);
    expect(edge.store.received.get('u-busy')?.every((seen) => seen === 'update:3')).toBe(true);
  });
});

describe('a node whose queue is full', () => {
  it('refuses more with KE_CLOUDHUB_QUEUE_FULL while other nodes still receive', async () => {
    const hub = await startHub({ nodeQueueLimit: 3 });
    const other = await edgeOf('edge-ok', hub.url);
    await connected(hub, 'edge-ok');

    const offline = (uid: string, resourceVersion: string) =>
      configMapChange({ node: 'edge-away', name: uid, uid, resourceVersion });
    for (const uid of ['u-1', 'u-2', 'u-3']) expect(hub.dispatch(offline(uid, '1'))).toBe('queued');
    expect(errorCode(() => hub.dispatch(offline('u-4', '1')))).toBe('KE_CLOUDHUB_QUEUE_FULL');
    // A newer version of a queued object takes its place: the queue does not grow.
    expect(hub.dispatch(offline('u-1', '2'))).toBe('replaced');
    expect(hub.queueDepth('edge-away')).toBe(3);
    expect(
      await metricValue(hub.registry, 'cloudhub_messages_dropped_total', { reason: 'queue_full' }),
    ).toBe(1);

    for (const uid of ['o-1', 'o-2', 'o-3']) {
      hub.dispatch(configMapChange({ node: 'edge-ok', name: uid, uid, resourceVersion: '1' }));
      await stored(other, uid, '1');
    }
    await waitFor('the ACKs', () => hub.queueDepth('edge-ok') === 0);

    const away = await edgeOf('edge-away', hub.url);
    await waitFor('the queued messages to arrive', () => away.store.objects.size === 3);
    expect(away.store.versions()).toEqual(
      new Map([
        ['u-1', '2'],
        ['u-2', '1'],
        ['u-3', '1'],
      ]),
    );
  });
});

describe('an ObjectSync store that fails', () => {
  it('is written again with back-off until the acknowledged version is recorded', async () => {
    const memory = createMemoryObjectSyncStore();
    let saves = 0;
    const flaky: ObjectSyncStore = {
      list: () => memory.list(),
      async save(record) {
        saves += 1;
        if (saves <= 3) throw new Error('the API server is unavailable');
        await memory.save(record);
      },
      remove: (record) => memory.remove(record),
    };
    const logger = recordingLogger();
    const hub = await startHub({ objectSyncs: flaky, logger });
    const edge = await edgeOf('edge-s', hub.url);
    await connected(hub, 'edge-s');

    const base = { node: 'edge-s', name: 's', uid: 'u-s' };
    hub.dispatch(configMapChange({ ...base, resourceVersion: '1' }));
    await stored(edge, 'u-s', '1');
    // Delivery does not wait for the store.
    hub.dispatch(configMapChange({ ...base, resourceVersion: '2' }));
    await stored(edge, 'u-s', '2');
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '2' }))).toBe('stale');

    await waitFor('version 2 in the store', () =>
      memory.records().some((r) => r.uid === 'u-s' && r.resourceVersion === '2'),
    );
    expect(saves).toBeGreaterThanOrEqual(4);
    expect(logger.lines.some((line) => line.level === 'warn' && /retry/i.test(line.message))).toBe(
      true,
    );
  });
});

describe('a delete', () => {
  it('removes the ObjectSync even without a resourceVersion; nothing brings it back', async () => {
    const objectSyncs = createMemoryObjectSyncStore();
    const hub = await startHub({ objectSyncs });
    const edge = await edgeOf('edge-d', hub.url);
    await connected(hub, 'edge-d');

    const base = { node: 'edge-d', name: 'd', uid: 'u-d' };
    hub.dispatch(configMapChange({ ...base, resourceVersion: '8' }));
    await stored(edge, 'u-d', '8');
    await waitFor('the ObjectSync', () => objectSyncs.records().length === 1);

    hub.dispatch(configMapChange({ ...base, operation: Operation.Delete }));
    await waitFor('the edge to delete it', () => edge.store.deleted.has('u-d'));
    await waitFor('the ObjectSync to go', () => objectSyncs.records().length === 0);
    expect(hub.dispatch(configMapChange({ ...base, resourceVersion: '9' }))).toBe('stale');
  });
});

describe('an object deleted at a node', () => {
  it('is not brought back by a late update, but an insert sends it again', async () => {
    const hub = await startHub();
    const edge = await edgeOf('edge-revive', hub.url);
    await connected(hub, 'edge-revive');
    const change = (operation: string, resourceVersion: string) =>
      configMapChange({
        node: 'edge-revive',
        name: 'shared',
        uid: 'u-shared',
        operation,
        resourceVersion,
      });

    // Sent because a pod uses it, then removed because no pod does any more.
    hub.dispatch(change(Operation.Insert, '5'));
    await stored(edge, 'u-shared', '5');
    hub.dispatch(change(Operation.Delete, '5'));
    await waitFor(
      'the delete',
      () => !edge.store.objects.has('u-shared') && hub.queueDepth() === 0,
    );

    // A late update of the deleted object is stale; a new pod using it sends it again.
    expect(hub.dispatch(change(Operation.Update, '5'))).toBe('stale');
    expect(hub.dispatch(change(Operation.Insert, '5'))).toBe('queued');
    await waitFor(
      'the object back',
      () => edge.store.objects.get('u-shared')?.resourceVersion === '5',
    );
    expect(edge.store.received.get('u-shared')).toEqual(['insert:5', 'delete:5', 'insert:5']);
  });
});

describe('a node-level message (KubeEdge device membership)', () => {
  it('goes to the node with its node/<node>/ prefix stripped, as a message needing no ACK', async () => {
    const hub = await startHub();
    const node = await connectRawNode(hub.url, ca, 'edge-members');
    cleanups.push(() => node.close());
    await connected(hub, 'edge-members');
    const membership = createMessage({
      source: 'devicecontroller',
      group: 'twin',
      operation: Operation.Update,
      resource: 'node/edge-members/membership',
      content: { event_id: 'e1', timestamp: 1, added_devices: [{ id: 'default/d1', name: 'd1' }] },
    });
    expect(hub.dispatch(membership)).toBe('queued');
    const received = await node.next((message) => message.route.group === 'twin');
    expect(received.route).toMatchObject({ group: 'twin', resource: 'membership' });
    expect(received.content).toEqual(membership.content);
    expect(
      errorCode(() =>
        hub.dispatch({ ...membership, route: { ...membership.route, resource: 'membership' } }),
      ),
    ).toBe('KE_CLOUDHUB_BAD_MESSAGE');
  });
});

describe('one object fanned out to many nodes (one content object, as a controller sends it)', () => {
  it('reaches each node whole, with its own msg_id and resource, its JSON made once per turn', async () => {
    const hub = await startHub();
    const names = ['edge-fan-a', 'edge-fan-b', 'edge-fan-c'];
    const nodes = [];
    for (const name of names) {
      const node = await connectRawNode(hub.url, ca, name);
      cleanups.push(() => node.close());
      nodes.push(node);
      await connected(hub, name);
    }
    // Multi-byte UTF-8 in the shared content: the frame is assembled from bytes.
    const content = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'shared', namespace: 'default', uid: 'uid-fan', resourceVersion: '7' },
      data: { note: 'température ✓ 温度 🌡', quote: 'a "quoted" \\ value' },
    };
    const dispatched = names.map((name) =>
      createMessage({
        source: 'edgecontroller',
        group: 'resource',
        operation: Operation.Update,
        resource: `node/${name}/default/configmap/shared`,
        resourceVersion: '7',
        content,
      }),
    );
    for (const message of dispatched) expect(hub.dispatch(message)).toBe('queued');
    for (const [index, node] of nodes.entries()) {
      const received = await node.next((message) => message.route.resource.endsWith('/shared'));
      expect(received.header.msg_id).toBe(dispatched[index]!.header.msg_id);
      expect(received.header.resourceversion).toBe('7');
      expect(received.route).toEqual({
        ...dispatched[index]!.route,
        resource: 'default/configmap/shared',
      });
      expect(received.content).toEqual(content);
      node.ack(received);
    }
    // The same object changed in a later turn is encoded afresh, not from the earlier JSON.
    await new Promise((resolve) => setImmediate(resolve));
    content.metadata.resourceVersion = '8';
    content.data.note = 'changed';
    for (const name of names) {
      hub.dispatch(
        createMessage({
          source: 'edgecontroller',
          group: 'resource',
          operation: Operation.Update,
          resource: `node/${name}/default/configmap/shared`,
          resourceVersion: '8',
          content,
        }),
      );
    }
    for (const node of nodes) {
      const received = await node.next((message) => message.header.resourceversion === '8');
      expect(received.content).toEqual(content);
    }
  });

  it('refuses shared content over the frame limit with KE_CLOUDHUB_BAD_MESSAGE', async () => {
    const hub = await startHub();
    const content = {
      kind: 'ConfigMap',
      metadata: { name: 'huge', namespace: 'default', uid: 'uid-huge', resourceVersion: '1' },
      data: { blob: 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES) },
    };
    const to = (node: string) =>
      createMessage({
        source: 'edgecontroller',
        group: 'resource',
        operation: Operation.Update,
        resource: `node/${node}/default/configmap/huge`,
        resourceVersion: '1',
        content,
      });
    expect(errorCode(() => hub.dispatch(to('edge-huge-a')))).toBe('KE_CLOUDHUB_BAD_MESSAGE');
    // The second node's message takes the shared-content path: refused the same way.
    expect(errorCode(() => hub.dispatch(to('edge-huge-b')))).toBe('KE_CLOUDHUB_BAD_MESSAGE');
    expect(hub.queueDepth()).toBe(0);
  });
});
