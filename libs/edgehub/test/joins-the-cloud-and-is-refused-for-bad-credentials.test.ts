import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@ke/beehive';
import {
  type CertificateServer,
  type CloudHub,
  type CloudHubEvents,
  createCertificateServer,
} from '@ke/cloudhub';
import { type CertifiedKey, createBootstrapToken, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapNodeCertificate,
  type EdgeHub,
  type EdgeHubError,
  type NodeIdentity,
} from '../src/index';
import {
  configMapChange,
  edgeHubs,
  metricValue,
  nextEvent,
  nodeIdentity,
  record,
  startCloudHub,
} from './cloud';

const tokenSecret = 'edgehub-join-test-secret-0123456789abcdef';
const edges = edgeHubs();
const dirs: string[] = [];
const certificateServerRefusals: { status: number; reason: string }[] = [];
let ca: CertifiedKey;
let certificateServer: CertificateServer;
let hub: CloudHub;
let rejected: CloudHubEvents['rejected'][0][];
let token: string;

async function certDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ke-edgehub-join-'));
  dirs.push(dir);
  return dir;
}

/** The first connect-error of an edge, after which the edge is stopped. */
async function firstConnectError(edge: EdgeHub): Promise<EdgeHubError> {
  const failed = nextEvent<[EdgeHubError]>(edge, 'connect-error');
  await edge.start();
  const [error] = await failed;
  await edge.stop();
  return error;
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-join-ca' });
  certificateServer = createCertificateServer({
    ca,
    tokenSecret,
    port: 0,
    logger: {
      debug(fields) {
        const { status, reason } = fields as { status?: number; reason?: string };
        if (status !== undefined) certificateServerRefusals.push({ status, reason: reason ?? '' });
      },
    },
  });
  await certificateServer.start();
  hub = await startCloudHub(ca);
  rejected = record(hub, 'rejected');
  token = await certificateServer.createToken(600);
});

afterEach(() => edges.stopAll());

afterAll(async () => {
  await hub?.stop();
  await certificateServer?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('an edge node joining the cloud is refused, each time with its own error', () => {
  const codes = new Set<string>();
  afterAll(() => {
    // Five refusals, five codes: the operator can tell what to fix from the code alone.
    expect([...codes].sort()).toEqual([
      'KE_EDGEHUB_CA_MISMATCH',
      'KE_EDGEHUB_IDENTITY_REJECTED',
      'KE_EDGEHUB_TLS_REJECTED',
      'KE_EDGEHUB_TOKEN_EXPIRED',
      'KE_EDGEHUB_TOKEN_REJECTED',
    ]);
  });

  it('for a forged token: KE_EDGEHUB_TOKEN_REJECTED, and the cloud logs a 401', async () => {
    const forged = await createBootstrapToken({
      caCertificatePem: ca.certificatePem,
      secret: 'not-the-cloud-secret-0123456789abcdef',
    });
    const dir = await certDir();
    const error = await firstConnectError(
      edges.create({
        server: hub.url,
        nodeName: 'forged-token',
        identity: () =>
          bootstrapNodeCertificate({
            httpServer: certificateServer.url,
            nodeName: 'forged-token',
            token: forged,
            certDir: dir,
          }),
      }),
    );
    codes.add(error.code);
    expect(error.code).toBe('KE_EDGEHUB_TOKEN_REJECTED');
    expect(error.message).toMatch(/invalid token/);
    expect(certificateServerRefusals).toContainEqual({
      status: 401,
      reason: expect.stringMatching(/invalid token/),
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('for a token naming another CA: KE_EDGEHUB_CA_MISMATCH, and nothing is kept', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'another-cluster' });
    const forOtherCluster = await createBootstrapToken({
      caCertificatePem: otherCa.certificatePem,
      secret: tokenSecret,
    });
    const dir = await certDir();
    const error = await firstConnectError(
      edges.create({
        server: hub.url,
        nodeName: 'other-cluster-token',
        identity: () =>
          bootstrapNodeCertificate({
            httpServer: certificateServer.url,
            nodeName: 'other-cluster-token',
            token: forOtherCluster,
            certDir: dir,
          }),
      }),
    );
    codes.add(error.code);
    expect(error.code).toBe('KE_EDGEHUB_CA_MISMATCH');
    expect(await readdir(dir)).toEqual([]);
  });

  it('for an expired token: KE_EDGEHUB_TOKEN_EXPIRED naming the expiry', async () => {
    const expired = await createBootstrapToken({
      caCertificatePem: ca.certificatePem,
      secret: tokenSecret,
      ttlSeconds: 60,
      now: new Date(Date.now() - 3_600_000),
    });
    const dir = await certDir();
    const error = await firstConnectError(
      edges.create({
        server: hub.url,
        nodeName: 'expired-token',
        identity: () =>
          bootstrapNodeCertificate({
            httpServer: certificateServer.url,
            nodeName: 'expired-token',
            token: expired,
            certDir: dir,
          }),
      }),
    );
    codes.add(error.code);
    expect(error.code).toBe('KE_EDGEHUB_TOKEN_EXPIRED');
    expect(error.message).toMatch(/expired at/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('for a certificate of node a sent as node b: KE_EDGEHUB_IDENTITY_REJECTED', async () => {
    const identityOfA = await bootstrapNodeCertificate({
      httpServer: certificateServer.url,
      nodeName: 'node-a',
      token,
      certDir: await certDir(),
    });
    const refusedBefore = await metricValue(hub, 'cloudhub_connections_refused_total', {
      reason: 'identity',
    });
    const cloudRefused = nextEvent(hub, 'rejected', {
      accept: (event: CloudHubEvents['rejected'][0]) => event.reason === 'identity',
    });
    const error = await firstConnectError(
      edges.create({ server: hub.url, nodeName: 'node-b', identity: identityOfA }),
    );
    codes.add(error.code);
    expect(error.code).toBe('KE_EDGEHUB_IDENTITY_REJECTED');
    // The cloud's reason reaches the edge: it says which certificate it expected.
    expect(error.message).toMatch(/system:node:node-a does not match node_id node-b/);
    await cloudRefused;
    expect(rejected).toContainEqual(
      expect.objectContaining({ node: 'node-b', reason: 'identity' }),
    );
    expect(
      await metricValue(hub, 'cloudhub_connections_refused_total', { reason: 'identity' }),
    ).toBe(refusedBefore + 1);
    expect(hub.isConnected('node-b')).toBe(false);
    expect(hub.isConnected('node-a')).toBe(false);
  });

  it('for a certificate from another CA: KE_EDGEHUB_TLS_REJECTED, seen by the cloud', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'another-cluster' });
    // A well-formed certificate for the right name, trusting the right cloud: only the issuer
    // is wrong, and the cloud ends the TLS handshake.
    const foreign = await nodeIdentity(otherCa, 'foreign', ca);
    const refusedBefore = await metricValue(hub, 'cloudhub_connections_refused_total', {
      reason: 'tls',
    });
    const cloudRefused = nextEvent(hub, 'rejected', {
      accept: (event: CloudHubEvents['rejected'][0]) => event.reason === 'tls',
    });
    const error = await firstConnectError(
      edges.create({ server: hub.url, nodeName: 'foreign', identity: foreign }),
    );
    codes.add(error.code);
    expect(error.code).toBe('KE_EDGEHUB_TLS_REJECTED');
    await cloudRefused;
    expect(
      await metricValue(hub, 'cloudhub_connections_refused_total', { reason: 'tls' }),
    ).toBeGreaterThan(refusedBefore);
    expect(hub.isConnected('foreign')).toBe(false);
  });
});

describe('an edge node joining with the right token', () => {
  it('connects, receives, and after a restart reconnects without a token', async () => {
    const dir = await certDir();
    const node = 'edge-joined';
    const sources: NodeIdentity['source'][] = [];
    const received: Message[] = [];

    const first = edges.create({
      server: hub.url,
      nodeName: node,
      identity: async () => {
        const identity = await bootstrapNodeCertificate({
          httpServer: certificateServer.url,
          nodeName: node,
          token,
          certDir: dir,
        });
        sources.push(identity.source);
        return identity;
      },
      handler: (message) => {
        received.push(message);
      },
    });
    const cloudSawFirst = nextEvent(hub, 'connected', {
      accept: (connection: { node: string }) => connection.node === node,
    });
    const firstConnected = nextEvent(first, 'connected');
    await first.start();
    await Promise.all([firstConnected, cloudSawFirst]);
    expect(sources).toEqual(['issued']);

    const firstChange = configMapChange(node, 'settings', '1');
    expect(hub.dispatch(firstChange)).toBe('queued');
    await waitForAck(node);
    expect(received.map((m) => m.header.msg_id)).toEqual([firstChange.header.msg_id]);
    expect(received[0]?.route.resource).toBe('default/configmap/settings');

    const cloudSawLeave = nextEvent(hub, 'disconnected', {
      accept: (connection: { node: string }) => connection.node === node,
    });
    await first.stop();
    await cloudSawLeave;

    // The restarted edge has no token: the certificate on disk is all it has.
    const second = edges.create({
      server: hub.url,
      nodeName: node,
      identity: async () => {
        const identity = await bootstrapNodeCertificate({
          httpServer: certificateServer.url,
          nodeName: node,
          certDir: dir,
        });
        sources.push(identity.source);
        return identity;
      },
      handler: (message) => {
        received.push(message);
      },
    });
    const secondConnected = nextEvent(second, 'connected');
    await second.start();
    await secondConnected;
    expect(sources).toEqual(['issued', 'disk']);

    const secondChange = configMapChange(node, 'settings', '2', 'update');
    expect(hub.dispatch(secondChange)).toBe('queued');
    await waitForAck(node);
    expect(received.map((m) => m.header.msg_id)).toEqual([
      firstChange.header.msg_id,
      secondChange.header.msg_id,
    ]);
    expect(received[1]?.route.operation).toBe('update');
  });
});

/** Until the cloud has nothing queued or in flight for `node` (the edge ACKed everything). */
function waitForAck(node: string): Promise<true> {
  return waitFor(`node ${node} to acknowledge everything`, () => hub.queueDepth(node) === 0, {
    timeoutMs: 5_000,
  });
}
