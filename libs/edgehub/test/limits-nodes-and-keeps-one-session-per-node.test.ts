import type { Message } from '@ke/beehive';
import type { CloudHub, CloudHubEvents, NodeConnection } from '@ke/cloudhub';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeHub, EdgeHubError } from '../src/index';
import {
  configMapChange,
  edgeHubs,
  metricValue,
  nextEvent,
  nodeIdentity,
  record,
  startCloudHub,
} from './cloud';

const edges = edgeHubs();
let ca: CertifiedKey;
let hub: CloudHub;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-limit-ca' });
  hub = await startCloudHub(ca, { nodeLimit: 2 });
});

afterEach(async () => {
  await edges.stopAll();
  // The cloud frees a slot when it sees the close, a moment after the edge has stopped.
  await waitFor('the cloud to see every node leave', () => hub.connectedNodes().length === 0, {
    timeoutMs: 5_000,
  });
});

afterAll(async () => {
  await hub?.stop();
});

async function connectedEdge(
  node: string,
  options: { handler?: (message: Message) => void; initialDelayMs?: number } = {},
): Promise<EdgeHub> {
  const edge = edges.create({
    server: hub.url,
    nodeName: node,
    identity: await nodeIdentity(ca, node),
    ...(options.handler ? { handler: options.handler } : {}),
    ...(options.initialDelayMs
      ? { reconnect: { initialDelayMs: options.initialDelayMs, maxDelayMs: 30_000 } }
      : {}),
  });
  const connected = nextEvent(edge, 'connected');
  await edge.start();
  await connected;
  return edge;
}

describe('a cloud with nodeLimit 2', () => {
  it('refuses a third node with KE_EDGEHUB_NODE_LIMIT while the two stay connected', async () => {
    const first = await connectedEdge('limit-a');
    const second = await connectedEdge('limit-b');
    const drops = [record(first, 'disconnected'), record(second, 'disconnected')];
    const refusedBefore = await metricValue(hub, 'cloudhub_connections_refused_total', {
      reason: 'node_limit',
    });
    const cloudRefused = nextEvent<[CloudHubEvents['rejected'][0]]>(hub, 'rejected', {
      accept: (event: CloudHubEvents['rejected'][0]) => event.reason === 'node_limit',
    });

    const third = edges.create({
      server: hub.url,
      nodeName: 'limit-c',
      identity: await nodeIdentity(ca, 'limit-c'),
    });
    const failed = nextEvent<[EdgeHubError]>(third, 'connect-error');
    await third.start();
    const [error] = await failed;
    await third.stop();

    expect(error.code).toBe('KE_EDGEHUB_NODE_LIMIT');
    expect(error.message).toMatch(/node limit reached: 2 nodes/);
    const [refusal] = await cloudRefused;
    expect(refusal.node).toBe('limit-c');
    expect(
      await metricValue(hub, 'cloudhub_connections_refused_total', { reason: 'node_limit' }),
    ).toBe(refusedBefore + 1);
    expect(hub.connectedNodes().sort()).toEqual(['limit-a', 'limit-b']);
    expect(first.connected && second.connected).toBe(true);
    expect(drops).toEqual([[], []]);
  });

  it('lets a node in again once another has left', async () => {
    const first = await connectedEdge('limit-d');
    await connectedEdge('limit-e');
    const left = nextEvent(hub, 'disconnected', {
      accept: (connection: NodeConnection) => connection.node === 'limit-d',
    });
    await first.stop();
    await left;
    await connectedEdge('limit-f');
    expect(hub.connectedNodes().sort()).toEqual(['limit-e', 'limit-f']);
  });
});

describe('a second connection of the same node', () => {
  it('replaces the first: the hub keeps one session and delivers to the newest', async () => {
    const node = 'twice';
    const toOld: Message[] = [];
    const toNew: Message[] = [];
    // The first edge would come back only after 10 s: long after this test.
    const older = await connectedEdge(node, {
      handler: (message) => {
        toOld.push(message);
      },
      initialDelayMs: 10_000,
    });
    const olderDropped = nextEvent<[{ reason: string }]>(older, 'disconnected');
    const cloudDropped = nextEvent<[NodeConnection & { reason: string }]>(hub, 'disconnected', {
      accept: (connection: NodeConnection) => connection.node === node,
    });
    const newer = await connectedEdge(node, {
      handler: (message) => {
        toNew.push(message);
      },
    });

    const [why] = await olderDropped;
    expect(why.reason).toMatch(/4000 replaced by a newer connection/);
    const [cloudWhy] = await cloudDropped;
    expect(cloudWhy.reason).toMatch(/replaced/);
    expect(hub.connectedNodes().filter((name) => name === node)).toEqual([node]);
    expect(newer.connected).toBe(true);
    expect(older.connected).toBe(false);

    const change = configMapChange(node, 'only-for-the-newest');
    hub.dispatch(change);
    await waitFor('the newest connection to acknowledge', () => hub.queueDepth(node) === 0, {
      timeoutMs: 5_000,
    });
    expect(toNew.map((message) => message.header.msg_id)).toEqual([change.header.msg_id]);
    expect(toOld).toEqual([]);
  });
});
