import { createMessage, type Message, Operation } from '@ke/beehive';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CloudHub,
  type CloudHubEvents,
  createCloudHub,
  createMemoryObjectSyncStore,
} from '../src/index';
import { startEdge, type TestEdge } from './helpers/edge-node';
import { configMapChange } from './helpers/messages';
import { metricValue, recordingLogger } from './helpers/metrics';
import { connectRawNode, type RawNode } from './helpers/raw-node';

// A node that sends garbage, frames over the limit or messages about another node: each frame
// is refused, logged and counted, and every other node is served as if nothing happened.

const MAX_FRAME_BYTES = 2048;

let ca: CertifiedKey;
let hub: CloudHub;
let good: TestEdge;
const objectSyncs = createMemoryObjectSyncStore();
const logger = recordingLogger();
const rejected: CloudHubEvents['rejected'][0][] = [];
const upstream: CloudHubEvents['message'][0][] = [];
const rawNodes: RawNode[] = [];

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'bad-frames-ca' });
  hub = createCloudHub({ ca, port: 0, maxFrameBytes: MAX_FRAME_BYTES, objectSyncs, logger });
  hub.on('rejected', (event) => rejected.push(event));
  hub.on('message', (event) => upstream.push(event));
  await hub.start();
  good = await startEdge({ ca, name: 'edge-good', server: hub.url });
  await waitFor('edge-good to connect', () => hub.isConnected('edge-good'));
});

afterAll(async () => {
  for (const node of rawNodes) await node.close();
  await good?.stop();
  await hub?.stop();
});

async function rawNode(name: string): Promise<RawNode> {
  const node = await connectRawNode(hub.url, ca, name);
  rawNodes.push(node);
  await waitFor(`${name} to connect`, () => hub.isConnected(name));
  return node;
}

function statusUpdate(resource: string): Message {
  return createMessage({
    source: 'edged',
    group: 'resource',
    operation: Operation.Update,
    resource,
    content: { status: { conditions: [{ type: 'Ready', status: 'True' }] } },
  });
}

async function rejections(reason: string, count: number) {
  return waitFor(`${count} rejections for ${reason}`, () => {
    const found = rejected.filter((event) => event.reason === reason);
    return found.length >= count && found;
  });
}

describe('a frame that is not a KubeEdge message', () => {
  it('is rejected, logged and counted, and the connection stays up', async () => {
    const node = await rawNode('edge-garbage');
    node.send('this is not JSON');
    node.send(JSON.stringify({ header: { msg_id: 'x' } }));
    node.send(JSON.stringify([1, 2, 3]));
    const found = await rejections('malformed', 3);
    expect(found.every((event) => event.node === 'edge-garbage')).toBe(true);
    expect(
      await metricValue(hub.registry, 'cloudhub_messages_rejected_total', { reason: 'malformed' }),
    ).toBe(3);
    expect(
      logger.lines.filter((line) => line.level === 'warn' && line.fields.reason === 'malformed'),
    ).toHaveLength(3);

    // Still connected: a good message on the same link goes through.
    node.send(statusUpdate('null/nodestatus/edge-garbage'));
    await waitFor('the good message', () =>
      upstream.some((event) => event.node === 'edge-garbage'),
    );
    expect(hub.isConnected('edge-garbage')).toBe(true);
  });
});

describe("a message about another node's resources", () => {
  it.each([
    ['a status for another node', 'null/nodestatus/edge-good'],
    ['a lease of another node', 'kube-node-lease/lease/edge-good'],
    ['a resource in the cloud form of another node', 'node/edge-good/default/configmap/app'],
  ])(
    '(%s) is rejected with an error reply and never reaches the cloud',
    async (_what, resource) => {
      const node = await rawNode('edge-nosy');
      const before = rejected.filter((event) => event.reason === 'other_node').length;
      const metricBefore = await metricValue(hub.registry, 'cloudhub_messages_rejected_total', {
        reason: 'other_node',
      });
      const request = statusUpdate(resource);
      node.send(request);

      const reply = await node.next(
        (message) => message.header.parent_msg_id === request.header.msg_id,
      );
      expect(reply.route.operation).toBe(Operation.Error);
      expect(String(reply.content)).toMatch(/another node|bad resource/);
      const found = await rejections('other_node', before + 1);
      expect(found.at(-1)).toMatchObject({ node: 'edge-nosy', reason: 'other_node' });
      expect(found.at(-1)?.detail).toContain(resource);
      expect(
        await metricValue(hub.registry, 'cloudhub_messages_rejected_total', {
          reason: 'other_node',
        }),
      ).toBe(metricBefore + 1);
      expect(upstream.filter((event) => event.node === 'edge-nosy')).toEqual([]);
      expect(hub.isConnected('edge-nosy')).toBe(true);
      await node.close();
    },
  );

  it('is not confused with its own resources, which go through in cloud form', async () => {
    const node = await rawNode('edge-own');
    node.send(statusUpdate('null/nodestatus/edge-own'));
    node.send(statusUpdate('default/configmap/edge-good'));
    await waitFor(
      'both messages',
      () => upstream.filter((e) => e.node === 'edge-own').length === 2,
    );
    expect(
      upstream.filter((e) => e.node === 'edge-own').map((e) => e.message.route.resource),
    ).toEqual([
      'node/edge-own/null/nodestatus/edge-own',
      'node/edge-own/default/configmap/edge-good',
    ]);
  });
});

describe('a frame over maxFrameBytes', () => {
  it('closes that connection with 1009 and is rejected as oversize', async () => {
    const node = await rawNode('edge-big');
    const big = statusUpdate('null/nodestatus/edge-big');
    big.content = { padding: 'x'.repeat(MAX_FRAME_BYTES) };
    node.send(big);
    expect(await node.closed()).toBe(1009);
    const found = await rejections('oversize', 1);
    expect(found[0]).toMatchObject({ node: 'edge-big', reason: 'oversize' });
    expect(
      await metricValue(hub.registry, 'cloudhub_messages_rejected_total', { reason: 'oversize' }),
    ).toBe(1);
    await waitFor('edge-big to be dropped', () => !hub.isConnected('edge-big'));
  });
});

describe('the other nodes, after all of that', () => {
  it('are still served: a change is delivered, acknowledged and recorded', async () => {
    const change = configMapChange({
      node: 'edge-good',
      name: 'after',
      uid: 'u-after',
      resourceVersion: '11',
    });
    expect(hub.dispatch(change)).toBe('queued');
    await waitFor(
      'edge-good to store it',
      () => good.store.objects.get('u-after')?.resourceVersion === '11',
    );
    await waitFor('the ObjectSync', () =>
      objectSyncs.records().some((r) => r.uid === 'u-after' && r.resourceVersion === '11'),
    );
    expect(good.connects).toBe(1);
    expect(hub.isConnected('edge-good')).toBe(true);
    expect(rejected.filter((event) => event.node === 'edge-good')).toEqual([]);
  });
});
