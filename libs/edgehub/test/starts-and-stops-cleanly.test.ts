import { createServer, type Socket } from 'node:net';
import tls from 'node:tls';
import type { CloudHub } from '@ke/cloudhub';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EdgeHubError, TlsIdentity } from '../src/index';
import {
  activeTimers,
  edgeHubs,
  networkHandles,
  nextEvent,
  nodeIdentity,
  record,
  startCloudHub,
} from './cloud';

const edges = edgeHubs();
let ca: CertifiedKey;
let hub: CloudHub;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-lifetime-ca' });
  hub = await startCloudHub(ca);
});

afterEach(() => edges.stopAll());

afterAll(async () => {
  await hub?.stop();
});

describe('the edgehub lifetime', () => {
  it('starts and stops 20 times, connecting or connected, and leaves no handles', async () => {
    const node = 'edge-lifetime';
    const identity = await nodeIdentity(ca, node);
    const handlesBefore = networkHandles();
    const timersBefore = activeTimers();
    const edge = edges.create({ server: hub.url, nodeName: node, identity });
    const errors = record<EdgeHubError>(edge, 'connect-error');
    let connections = 0;
    for (let round = 0; round < 20; round++) {
      // Even rounds stop while the connection is being made, odd ones once it is up.
      const connected = round % 2 === 1 ? nextEvent(edge, 'connected') : undefined;
      await edge.start();
      if (connected) {
        await connected;
        connections += 1;
        expect(edge.connected).toBe(true);
      }
      await edge.stop();
      expect(edge.connected).toBe(false);
    }
    expect(connections).toBe(10);
    await waitFor('the cloud to see the edge leave', () => !hub.isConnected(node), {
      timeoutMs: 5_000,
    });
    await waitFor('network handles to close', () => networkHandles() <= handlesBefore, {
      timeoutMs: 5_000,
    });
    await waitFor('timers to be cleared', () => activeTimers() <= timersBefore, {
      timeoutMs: 5_000,
    });
    // Stopping is not a failure to connect.
    expect(errors.map((error) => error.message)).toEqual([]);
  });

  it('opens one connection when restarted while fetching its identity', async () => {
    const node = 'edge-restarted-early';
    const identity = await nodeIdentity(ca, node);
    const pending: ((identity: TlsIdentity) => void)[] = [];
    const edge = edges.create({
      server: hub.url,
      nodeName: node,
      identity: () => new Promise<TlsIdentity>((resolve) => pending.push(resolve)),
    });
    // ws opens every connection through tls.connect: count the attempts.
    const tlsConnects = vi.spyOn(tls, 'connect');
    try {
      await edge.start();
      await edge.stop();
      await edge.start();
      expect(pending).toHaveLength(2);
      const connected = nextEvent(edge, 'connected');
      // Both identity fetches finish now; only the one of the current start may connect.
      for (const resolve of pending) resolve(identity);
      await connected;
      expect(tlsConnects).toHaveBeenCalledTimes(1);
    } finally {
      tlsConnects.mockRestore();
    }
    expect(edge.connected).toBe(true);
    await edge.stop();
    await waitFor('the cloud to see the edge leave', () => !hub.isConnected(node), {
      timeoutMs: 5_000,
    });
  });

  it('stop() ends a connection attempt stuck in the handshake at once', async () => {
    // A server that accepts TCP and never speaks: the TLS handshake hangs.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const handlesBefore = networkHandles();
    try {
      const edge = edges.create({
        server: `127.0.0.1:${port}`,
        nodeName: 'edge-stuck',
        identity: await nodeIdentity(ca, 'edge-stuck'),
        handshakeTimeoutMs: 30_000,
      });
      const errors = record<EdgeHubError>(edge, 'connect-error');
      await edge.start();
      await waitFor('the server to accept', () => held.length === 1, { timeoutMs: 5_000 });
      const since = Date.now();
      await edge.stop();
      expect(Date.now() - since).toBeLessThan(1_000);
      expect(errors).toEqual([]);
      for (const socket of held) socket.destroy();
      await waitFor('the client socket to close', () => networkHandles() <= handlesBefore, {
        timeoutMs: 5_000,
      });
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
