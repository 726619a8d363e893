import type { Message } from '@ke/beehive';
import type { CloudHub } from '@ke/cloudhub';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeHubError } from '../src/index';
import { configMapChange, edgeHubs, nextEvent, nodeIdentity, startCloudHub } from './cloud';

const INITIAL_DELAY_MS = 50;
const MAX_DELAY_MS = 400;
const edges = edgeHubs();
const hubs: CloudHub[] = [];
let ca: CertifiedKey;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-restart-ca' });
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

describe('when the cloud restarts', () => {
  it('the edge retries with growing, capped back-off and reconnects to the new cloud', async () => {
    const node = 'edge-restart';
    const received: Message[] = [];
    const first = await hubOn();
    const port = Number(new URL(first.url).port);
    const edge = edges.create({
      server: first.url,
      nodeName: node,
      identity: await nodeIdentity(ca, node),
      reconnect: { initialDelayMs: INITIAL_DELAY_MS, maxDelayMs: MAX_DELAY_MS },
      handler: (message) => {
        received.push(message);
      },
    });
    const connected = nextEvent(edge, 'connected');
    await edge.start();
    await connected;

    const failures: { at: number; error: EdgeHubError }[] = [];
    edge.on('connect-error', (error) => failures.push({ at: Date.now(), error }));
    const reconnected: number[] = [];
    edge.on('connected', () => reconnected.push(Date.now()));
    const disconnected = nextEvent<[{ reason: string }]>(edge, 'disconnected');
    await first.stop();
    const [why] = await disconnected;
    expect(why.reason).toMatch(/1001 cloudhub stopping/);

    // Six failed attempts: ceilings 50, 100, 200, 400, 400, 400 ms, each delay in
    // [ceiling / 2, ceiling]. That is at most ~1.6 s.
    await waitFor('six failed connection attempts', () => failures.length >= 6, {
      timeoutMs: 8_000,
    });
    expect(reconnected).toEqual([]);
    expect(new Set(failures.map((failure) => failure.error.code))).toEqual(
      new Set(['KE_EDGEHUB_CLOUD_UNREACHABLE']),
    );
    const gaps = failures.slice(1, 6).map((failure, i) => failure.at - failures[i]!.at);
    // The gap after attempt k is at least half its ceiling: 50, 100, 200, 200, 200 ms.
    // Timers may run late on a loaded machine, never early (a few ms of clock rounding aside).
    const lowerBounds = [50, 100, 200, 200, 200];
    gaps.forEach((gap, i) => {
      expect(gap, `gap ${i + 1} of ${JSON.stringify(gaps)}`).toBeGreaterThanOrEqual(
        lowerBounds[i]! - 5,
      );
    });
    // Without the cap the fifth gap would be at least 800 ms.
    expect(gaps[4], `gaps ${JSON.stringify(gaps)}`).toBeLessThan(800);

    // The cloud comes back on the same address; the edge finds it within one back-off.
    const back = nextEvent(edge, 'connected', { timeoutMs: 3 * MAX_DELAY_MS + 2_000 });
    const second = await hubOn(port);
    await back;
    // The hub takes the session before it answers the upgrade.
    expect(second.isConnected(node)).toBe(true);

    const change = configMapChange(node, 'after-restart');
    second.dispatch(change);
    await waitFor('the edge to acknowledge', () => second.queueDepth(node) === 0, {
      timeoutMs: 5_000,
    });
    expect(received.map((message) => message.header.msg_id)).toEqual([change.header.msg_id]);
  });
});
