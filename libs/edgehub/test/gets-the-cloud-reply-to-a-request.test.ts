import { createMessage, type Message, Operation } from '@ke/beehive';
import type { CloudHub } from '@ke/cloudhub';
import { type CertifiedKey, createCertificateAuthority } from '@ke/pki';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeHub, EdgeHubError } from '../src/index';
import { edgeHubs, nextEvent, nodeIdentity, startCloudHub, upstream } from './cloud';

const node = 'edge-asking';
const edges = edgeHubs();
const handled: Message[] = [];
const requestsSeen: Message[] = [];
let ca: CertifiedKey;
let hub: CloudHub;
let edge: EdgeHub;

/** What the cloud does with a query: answers ConfigMaps, ignores secrets. */
function answer(cloud: CloudHub, request: Message): void {
  if (request.route.operation !== Operation.Query) return;
  if (request.route.resource.includes('/secret/')) return;
  cloud.dispatch(
    createMessage({
      source: 'metamanager',
      group: 'resource',
      operation: Operation.Response,
      resource: request.route.resource,
      content: { data: { answer: request.route.resource.split('/').at(-1) } },
      parentId: request.header.msg_id,
    }),
  );
}

async function failure(promise: Promise<unknown>): Promise<EdgeHubError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: EdgeHubError) => error,
  );
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'edgehub-request-ca' });
  hub = await startCloudHub(ca);
  hub.on('message', ({ message }) => {
    requestsSeen.push(message);
    answer(hub, message);
  });
  edge = edges.create({
    server: hub.url,
    nodeName: node,
    identity: await nodeIdentity(ca, node),
    handler: (message) => {
      handled.push(message);
    },
  });
  const connected = nextEvent(edge, 'connected');
  await edge.start();
  await connected;
});

afterAll(async () => {
  await edges.stopAll();
  await hub?.stop();
});

describe('request()', () => {
  it("resolves with the cloud's reply, matched by parent_msg_id", async () => {
    const query = upstream('default/configmap/settings', null, Operation.Query);
    const reply = await edge.request(query, { timeoutMs: 5_000 });
    expect(reply.header.parent_msg_id).toBe(query.header.msg_id);
    expect(reply.route.operation).toBe(Operation.Response);
    expect(reply.route.resource).toBe('default/configmap/settings');
    expect(reply.content).toEqual({ data: { answer: 'settings' } });
    const seen = requestsSeen.find((message) => message.header.msg_id === query.header.msg_id);
    expect(seen?.header.sync).toBe(true);
    expect(seen?.route.resource).toBe(`node/${node}/default/configmap/settings`);
    // A reply settles its request; it is not a downstream message for the handler.
    expect(handled).toEqual([]);
  });

  it('matches concurrent replies to their own requests', async () => {
    const names = ['one', 'two', 'three', 'four'];
    const replies = await Promise.all(
      names.map((name) =>
        edge.request(upstream(`default/configmap/${name}`, null, Operation.Query)),
      ),
    );
    expect(
      replies.map((reply) => (reply.content as { data: { answer: string } }).data.answer),
    ).toEqual(names);
  });

  it('rejects with KE_EDGEHUB_TIMEOUT when no reply comes in time', async () => {
    const since = Date.now();
    const error = await failure(
      edge.request(upstream('default/secret/unanswered', null, Operation.Query), {
        timeoutMs: 200,
      }),
    );
    expect(error.code).toBe('KE_EDGEHUB_TIMEOUT');
    expect(Date.now() - since).toBeGreaterThanOrEqual(190);
    expect(edge.connected).toBe(true);
  });

  it('rejects with the abort reason when its signal aborts, before or during', async () => {
    const during = new AbortController();
    const pending = edge.request(upstream('default/secret/abort-me', null, Operation.Query), {
      signal: during.signal,
      timeoutMs: 5_000,
    });
    during.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');

    const since = Date.now();
    await expect(
      edge.request(upstream('default/secret/too-late', null, Operation.Query), {
        signal: AbortSignal.abort(new Error('aborted already')),
        timeoutMs: 2_000,
      }),
    ).rejects.toThrow('aborted already');
    expect(Date.now() - since).toBeLessThan(1_000);
  });

  it('rejects with KE_EDGEHUB_OFFLINE at once when the edge is not connected', async () => {
    const offline = edges.create({
      server: hub.url,
      nodeName: 'never-started',
      identity: await nodeIdentity(ca, 'never-started'),
    });
    const error = await failure(
      offline.request(upstream('default/configmap/settings', null, Operation.Query)),
    );
    expect(error.code).toBe('KE_EDGEHUB_OFFLINE');
    expect(offline.buffered).toBe(0);
  });

  it('rejects with KE_EDGEHUB_OFFLINE when the link drops before the reply', async () => {
    // A cloud of its own, stopped as the request arrives.
    const doomed = await startCloudHub(ca);
    const other = 'edge-dropped';
    const asker = edges.create({
      server: doomed.url,
      nodeName: other,
      identity: await nodeIdentity(ca, other),
    });
    const connected = nextEvent(asker, 'connected');
    await asker.start();
    await connected;
    const arrived = nextEvent(doomed, 'message');
    const pending = failure(
      asker.request(upstream('default/configmap/settings', null, Operation.Query), {
        timeoutMs: 5_000,
      }),
    );
    await arrived;
    const since = Date.now();
    await doomed.stop();
    const error = await pending;
    expect(error.code).toBe('KE_EDGEHUB_OFFLINE');
    expect(Date.now() - since).toBeLessThan(4_000);
    await asker.stop();
  });
});

afterEach(() => {
  handled.length = 0;
});
