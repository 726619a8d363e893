import { createMessage, type Message, Operation } from '@ke/beehive';
import type { CloudHub } from '@ke/cloudhub';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { waitFor } from '@ke/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeHub, EdgeHubOptions } from '../src/index';
import {
  configMapChange,
  edgeHubs,
  metricValue,
  nextEvent,
  nodeIdentity,
  startCloudHub,
  upstream,
} from './cloud';

const edges = edgeHubs();
const hubs: CloudHub[] = [];
let ca: CertifiedKey;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-ordering-ca' });
});

afterEach(() => edges.stopAll());

afterAll(async () => {
  await Promise.all(hubs.map((hub) => hub.stop()));
});

/** A hub that answers every query at once: a reply that overtakes no earlier frame. */
async function answeringHub(ackTimeoutMs?: number): Promise<CloudHub> {
  const hub = await startCloudHub(ca, ackTimeoutMs === undefined ? {} : { ackTimeoutMs });
  hubs.push(hub);
  hub.on('message', ({ message }) => {
    if (message.route.operation !== Operation.Query) return;
    hub.dispatch(
      createMessage({
        source: 'cloudhub',
        group: 'resource',
        operation: Operation.Response,
        resource: message.route.resource,
        content: 'pong',
        parentId: message.header.msg_id,
      }),
    );
  });
  return hub;
}

async function connectedEdge(
  hub: CloudHub,
  node: string,
  handler: EdgeHubOptions['handler'],
): Promise<EdgeHub> {
  const edge = edges.create({
    server: hub.url,
    nodeName: node,
    identity: await nodeIdentity(ca, node),
    handler,
  });
  const connected = nextEvent(edge, 'connected');
  await edge.start();
  await connected;
  return edge;
}

/**
 * Resolves once every frame the cloud sent before now has reached the edge: the reply to a
 * request travels the same ordered connection, and replies skip the handler queue.
 */
async function everythingSentHasArrived(edge: EdgeHub): Promise<void> {
  await edge.request(upstream('default/configmap/barrier', null, Operation.Query));
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const nameOf = (message: Message) => message.route.resource.split('/').at(-1) ?? '';

describe('downstream messages', () => {
  it('are handled one at a time in arrival order, each ACKed only once handled', async () => {
    const node = 'edge-ordered';
    const hub = await answeringHub();
    const log: string[] = [];
    const gates = { first: gate(), second: gate() };
    const edge = await connectedEdge(hub, node, async (message) => {
      const name = nameOf(message);
      log.push(`start ${name}`);
      if (name === 'first' || name === 'second') await gates[name].opened;
      log.push(`end ${name}`);
    });
    const ackedBefore = await metricValue(hub, 'cloudhub_messages_acked_total');

    for (const name of ['first', 'second', 'third']) {
      expect(hub.dispatch(configMapChange(node, name))).toBe('queued');
    }
    await everythingSentHasArrived(edge);
    // All three are at the edge; the handler holds the first, and nothing is acknowledged.
    expect(log).toEqual(['start first']);
    expect(hub.queueDepth(node)).toBe(3);
    expect(await metricValue(hub, 'cloudhub_messages_acked_total')).toBe(ackedBefore);

    gates.first.open();
    await waitFor('the first ACK', () => hub.queueDepth(node) === 2, { timeoutMs: 5_000 });
    await everythingSentHasArrived(edge);
    expect(log).toEqual(['start first', 'end first', 'start second']);
    expect(hub.queueDepth(node)).toBe(2);

    gates.second.open();
    await waitFor('every ACK', () => hub.queueDepth(node) === 0, { timeoutMs: 5_000 });
    expect(log).toEqual([
      'start first',
      'end first',
      'start second',
      'end second',
      'start third',
      'end third',
    ]);
    expect(await metricValue(hub, 'cloudhub_messages_acked_total')).toBe(ackedBefore + 3);
  });

  it('are not ACKed when the handler throws, and are handled again when resent', async () => {
    const node = 'edge-failing';
    const hub = await answeringHub(300);
    const attempts: string[] = [];
    await connectedEdge(hub, node, (message) => {
      attempts.push(nameOf(message));
      if (attempts.length === 1) throw new Error('disk full');
    });
    const retriedBefore = await metricValue(hub, 'cloudhub_messages_retried_total');
    hub.dispatch(configMapChange(node, 'flaky'));
    await waitFor('the resend to be ACKed', () => hub.queueDepth(node) === 0, {
      timeoutMs: 5_000,
    });
    expect(attempts).toEqual(['flaky', 'flaky']);
    expect(await metricValue(hub, 'cloudhub_messages_retried_total')).toBeGreaterThan(
      retriedBefore,
    );
  });

  it('answer the cloud with an error when the handler refuses one for good; it is not resent', async () => {
    const node = 'edge-refusing';
    const hub = await answeringHub(200);
    const attempts: string[] = [];
    const edge = await connectedEdge(hub, node, (message) => {
      attempts.push(nameOf(message));
      if (nameOf(message) === 'broken') {
        throw Object.assign(new Error('content is not a ConfigMap'), {
          code: 'KE_META_INVALID',
          retryable: false,
        });
      }
    });
    const droppedBefore = await metricValue(hub, 'cloudhub_messages_dropped_total');
    const refused = nextEvent<[{ node: string; msgId: string; code?: string; detail: string }]>(
      hub,
      'refused',
    );
    const broken = configMapChange(node, 'broken');
    hub.dispatch(broken);
    hub.dispatch(configMapChange(node, 'fine'));
    const [event] = await refused;
    expect(event).toMatchObject({
      node,
      msgId: broken.header.msg_id,
      code: 'KE_META_INVALID',
      detail: 'content is not a ConfigMap',
    });
    await waitFor('the queue to drain', () => hub.queueDepth(node) === 0, { timeoutMs: 5_000 });
    // Several ACK timeouts later, the refused message has not come back.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await everythingSentHasArrived(edge);
    expect(attempts).toEqual(['broken', 'fine']);
    expect(await metricValue(hub, 'cloudhub_messages_dropped_total')).toBe(droppedBefore + 1);
  });
});
