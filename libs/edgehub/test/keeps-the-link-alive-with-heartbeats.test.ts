import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { decodeMessage, Operation } from '@ke/beehive';
import type { CloudHub, NodeConnection } from '@ke/cloudhub';
import { type CertifiedKey, createCertificateAuthority, issueCertificate } from '@ke/pki';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_PROJECT_ID } from '../src/index';
import { edgeHubs, metricValue, nextEvent, nodeIdentity, startCloudHub } from './cloud';

const KEEPALIVE_TIMEOUT_MS = 1_000;
const HEARTBEAT_MS = 200;
const edges = edgeHubs();
let ca: CertifiedKey;
let hub: CloudHub;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-heartbeat-ca' });
  hub = await startCloudHub(ca, { keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS });
});

afterEach(() => edges.stopAll());

afterAll(async () => {
  await hub?.stop();
});

const forNode = (node: string) => ({
  accept: (connection: NodeConnection) => connection.node === node,
});

describe('the heartbeat', () => {
  it('keeps an idle edge connected well past the cloud keepalive timeout', async () => {
    const node = 'idle-edge';
    const edge = edges.create({
      server: hub.url,
      nodeName: node,
      identity: await nodeIdentity(ca, node),
      heartbeatIntervalMs: HEARTBEAT_MS,
    });
    const connected = nextEvent(edge, 'connected');
    await edge.start();
    await connected;
    const receivedBefore = await metricValue(hub, 'cloudhub_messages_received_total');

    // Nothing but heartbeats for 2.5 keepalive timeouts: neither side may drop the link.
    const window = 2.5 * KEEPALIVE_TIMEOUT_MS;
    const cloudDropped = nextEvent(hub, 'disconnected', { ...forNode(node), timeoutMs: window });
    const edgeDropped = nextEvent(edge, 'disconnected', { timeoutMs: window });
    await expect(cloudDropped).rejects.toThrow(/timed out/);
    await expect(edgeDropped).rejects.toThrow(/timed out/);

    expect(hub.isConnected(node)).toBe(true);
    expect(edge.connected).toBe(true);
    const keepalives =
      (await metricValue(hub, 'cloudhub_messages_received_total')) - receivedBefore;
    // About one every 200 ms; a loaded machine may run the timer late, never early.
    expect(keepalives).toBeGreaterThanOrEqual(5);
  });

  it('drops a node that sends nothing once keepaliveTimeoutMs has passed', async () => {
    const node = 'silent-node';
    const identity = await nodeIdentity(ca, node);
    const cloudConnected = nextEvent<[NodeConnection]>(hub, 'connected', forNode(node));
    const cloudDropped = nextEvent<[NodeConnection & { reason: string }]>(hub, 'disconnected', {
      ...forNode(node),
      timeoutMs: 5 * KEEPALIVE_TIMEOUT_MS,
    });
    // A bare client with the node's certificate that never sends a frame.
    const silent = new WebSocket(`${hub.url}/${DEFAULT_PROJECT_ID}/${node}/events`, {
      ca: identity.caPem,
      cert: identity.certificatePem,
      key: identity.privateKeyPem,
      headers: { node_id: node, project_id: DEFAULT_PROJECT_ID },
    });
    const closed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    try {
      await cloudConnected;
      const since = Date.now();
      const [dropped] = await cloudDropped;
      expect(dropped.reason).toBe('keepalive timeout');
      expect(Date.now() - since).toBeGreaterThanOrEqual(KEEPALIVE_TIMEOUT_MS - 50);
      expect(hub.isConnected(node)).toBe(false);
      // The cloud ended the TCP connection; the client sees an abnormal close.
      expect(await closed).toBe(1006);
    } finally {
      silent.terminate();
    }
  });
});

describe('an edge whose cloud stops answering', () => {
  it('drops the link after three silent heartbeats and connects again', async () => {
    const node = 'edge-of-a-mute-cloud';
    // A server that accepts the WebSocket and then never answers: no pong, no frame.
    const serving = await issueCertificate(ca, {
      commonName: 'mute-cloud',
      altNames: ['127.0.0.1'],
      usage: 'server',
    });
    const server = createServer({ key: serving.privateKeyPem, cert: serving.certificatePem });
    const mute = new WebSocketServer({ server, autoPong: false });
    const keepalives: number[] = [];
    let pings = 0;
    mute.on('connection', (socket) => {
      socket.on('ping', () => {
        pings += 1;
      });
      socket.on('message', (data) => {
        if (decodeMessage(data.toString()).route.operation === Operation.Keepalive) {
          keepalives.push(Date.now());
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const edge = edges.create({
        server: `wss://127.0.0.1:${port}`,
        nodeName: node,
        identity: await nodeIdentity(ca, node),
        heartbeatIntervalMs: HEARTBEAT_MS,
      });
      const connected = nextEvent(edge, 'connected');
      await edge.start();
      await connected;
      const since = Date.now();
      const [dropped] = await nextEvent<[{ reason: string }]>(edge, 'disconnected');
      // Three heartbeat periods without a word from the cloud (timers run late, never early).
      expect(Date.now() - since).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS - 20);
      expect(dropped.reason).toMatch(/closed \(1006/);
      expect(keepalives.length).toBeGreaterThanOrEqual(2);
      expect(pings).toBeGreaterThanOrEqual(2);
      // Back-off, then a fresh connection.
      await nextEvent(edge, 'connected');
      await edge.stop();
    } finally {
      for (const client of mute.clients) client.terminate();
      mute.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
