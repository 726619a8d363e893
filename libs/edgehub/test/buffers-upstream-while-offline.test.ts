import type { Message } from '@ke/beehive';
import type { CloudHub } from '@ke/cloudhub';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeHub } from '../src/index';
import { edgeHubs, nextEvent, nodeIdentity, startCloudHub, upstream } from './cloud';

const edges = edgeHubs();
const hubs: CloudHub[] = [];
let ca: CertifiedKey;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-offline-ca' });
});

afterEach(() => edges.stopAll());

afterAll(async () => {
  await Promise.all(hubs.map((hub) => hub.stop()));
});

async function hubOn(port = 0): Promise<CloudHub> {
  const hub = await startCloudHub(ca, { port });
  hubs.push(hub);
  return hub;
}

/** Upstream messages as the cloud hub reports them, for `node`. */
function arrivals(hub: CloudHub, node: string): Message[] {
  const seen: Message[] = [];
  hub.on('message', (event) => {
    if (event.node === node) seen.push(event.message);
  });
  return seen;
}

/** An edge connected to a fresh hub, the hub then stopped: the edge is offline. */
async function offlineEdge(node: string, upstreamQueueLimit: number) {
  const first = await hubOn();
  const port = Number(new URL(first.url).port);
  const edge = edges.create({
    server: first.url,
    nodeName: node,
    identity: await nodeIdentity(ca, node),
    upstreamQueueLimit,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  const connected = nextEvent(edge, 'connected');
  await edge.start();
  await connected;
  const online = arrivals(first, node);
  const live = upstream(`default/pod/web`, { phase: 'Running' });
  expect(edge.send(live)).toBe('sent');
  await waitFor('the live message to arrive', () => online.length === 1, { timeoutMs: 5_000 });
  expect(online[0]?.route.resource).toBe(`node/${node}/default/pod/web`);

  const disconnected = nextEvent(edge, 'disconnected');
  await first.stop();
  await disconnected;
  expect(edge.connected).toBe(false);
  return { edge, port };
}

async function backOnline(edge: EdgeHub, port: number, node: string) {
  const connected = nextEvent(edge, 'connected', { timeoutMs: 5_000 });
  const hub = await hubOn(port);
  const received = arrivals(hub, node);
  await connected;
  return { hub, received };
}

describe('upstream messages sent while the cloud is away', () => {
  it('are kept, bounded, newest status only, and arrive in order after reconnect', async () => {
    const node = 'edge-offline';
    const { edge, port } = await offlineEdge(node, 3);

    const podA = upstream('default/podstatus/a', { phase: 'Pending' });
    const oldStatus = upstream(`null/nodestatus/${node}`, { ready: false });
    const podB = upstream('default/podstatus/b', { phase: 'Running' });
    const newStatus = upstream(`null/nodestatus/${node}`, { ready: true });
    const event = upstream('default/event/e1', { reason: 'Started' }, 'insert');
    const sent = [podA, oldStatus, podB, newStatus, event].map((message) => edge.send(message));
    expect(sent).toEqual(['buffered', 'buffered', 'buffered', 'buffered', 'buffered']);
    // The newer node status took the older one's place; the limit of 3 dropped podA.
    expect(edge.buffered).toBe(3);

    const { received } = await backOnline(edge, port, node);
    await waitFor('the kept messages to arrive', () => received.length >= 3, {
      timeoutMs: 5_000,
    });
    expect(received.map((message) => message.header.msg_id)).toEqual([
      podB.header.msg_id,
      newStatus.header.msg_id,
      event.header.msg_id,
    ]);
    expect(received.map((message) => message.route.resource)).toEqual([
      `node/${node}/default/podstatus/b`,
      `node/${node}/null/nodestatus/${node}`,
      `node/${node}/default/event/e1`,
    ]);
    expect(received[1]?.content).toEqual({ ready: true });
    expect(edge.buffered).toBe(0);
  });

  it('arrive before what the edge sends as soon as it is back', async () => {
    const node = 'edge-eager';
    const { edge, port } = await offlineEdge(node, 10);
    const kept = upstream(`null/nodestatus/${node}`, { ready: false });
    expect(edge.send(kept)).toBe('buffered');
    // An agent that reports fresh status the moment the link is up: the stale report kept
    // while offline must not land after it and overwrite it in the cloud.
    const fresh = upstream(`null/nodestatus/${node}`, { ready: true });
    edge.once('connected', () => {
      expect(edge.send(fresh)).toBe('sent');
    });
    const { received } = await backOnline(edge, port, node);
    await waitFor('both reports to arrive', () => received.length >= 2, { timeoutMs: 5_000 });
    expect(received.map((message) => message.content)).toEqual([{ ready: false }, { ready: true }]);
  });

  it('keepalives are never kept', async () => {
    const node = 'edge-keepalive';
    const { edge } = await offlineEdge(node, 10);
    const keepalive = upstream('node', 'ping', 'keepalive');
    edge.send(keepalive);
    expect(edge.buffered).toBe(0);
  });
});
