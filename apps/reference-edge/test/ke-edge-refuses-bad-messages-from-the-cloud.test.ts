import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMessage, type Message, Operation } from '@ke/beehive';
import {
  type CertificateServer,
  type CloudHub,
  createCertificateServer,
  createCloudHub,
} from '@ke/cloudhub';
import { createBootstrapToken, createCertificateAuthority } from '@ke/pki';
import { startSource, type TestProcess, waitFor } from '@ke/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const edgeMain = new URL('../src/main.ts', import.meta.url);
const NODE = 'edge-bad-input';

let dir: string;
let hub: CloudHub;
let certificates: CertificateServer;
let edge: TestProcess;
let metaServer: string;
const refused: { msgId: string; code?: string; detail: string }[] = [];

function change(resource: string, content: unknown, operation: string = Operation.Insert): Message {
  return createMessage({
    source: 'edgecontroller',
    group: 'resource',
    operation,
    resource: `node/${NODE}/${resource}`,
    resourceVersion: '7',
    content,
  });
}

const pod = (name: string, extra: object = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '7' },
  spec: { nodeName: NODE, containers: [{ name: 'c', image: 'busybox' }] },
  ...extra,
});

async function podsAtTheEdge(): Promise<string[]> {
  const response = await fetch(`${metaServer}/api/v1/namespaces/default/pods`);
  const list = (await response.json()) as { items: { metadata: { name: string } }[] };
  return list.items.map((item) => item.metadata.name).sort();
}

// The real ke-edge against an in-process cloud that can send what no controller would.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-edge-bad-input-'));
  const ca = await createCertificateAuthority({ commonName: 'bad-input-ca' });
  const tokenSecret = randomBytes(32);
  certificates = createCertificateServer({ ca, tokenSecret, host: '127.0.0.1', port: 0 });
  await certificates.start();
  hub = createCloudHub({ ca, host: '127.0.0.1', port: 0, ackTimeoutMs: 500 });
  hub.on('refused', (event) => refused.push(event));
  await hub.start();
  const token = await createBootstrapToken({
    caCertificatePem: ca.certificatePem,
    secret: tokenSecret,
  });
  edge = startSource(
    edgeMain,
    [
      '--data-dir',
      join(dir, 'edge'),
      '--node-name',
      NODE,
      '--token',
      token,
      '--modules.edgeHub.websocket.server',
      hub.url.replace(/^wss:\/\//, ''),
      '--modules.edgeHub.httpServer',
      certificates.url,
      '--modules.eventBus.mqttServerInternal',
      'tcp://127.0.0.1:0',
      '--modules.metaManager.metaServer.server',
      '127.0.0.1:0',
    ],
    { env: { KE_LOG_FORMAT: 'json' } },
  );
  metaServer = JSON.parse(await edge.waitForLine(/metadata store ready/, 60_000)).metaServer;
  await edge.waitForLine(/"msg":"connected to the cloud"/, 60_000);
}, 120_000);

afterAll(async () => {
  await edge?.stop('SIGTERM', 20_000).catch(() => undefined);
  await hub?.stop();
  await certificates?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ke-edge given bad messages by the cloud', () => {
  it('answers each with an error, stores none, and keeps storing good ones', async () => {
    const bad = [
      // A type the edge does not keep.
      change('default/widget/w1', { ...pod('w1'), kind: 'Widget' }),
      // A pod said to be cluster-scoped.
      change('null/pod/p-cluster', pod('p-cluster')),
      // Content of the wrong kind for the resource.
      change('default/pod/p-kind', { ...pod('p-kind'), kind: 'ConfigMap' }),
      // An object whose name is not the one in the resource.
      change(
        'default/pod/p-name',
        pod('p-other-name', {
          metadata: { ...pod('x').metadata, name: 'p-other-name', uid: 'uid-p-name' },
        }),
      ),
      // An object whose namespace is not the one in the resource.
      change('default/pod/p-ns', {
        ...pod('p-ns'),
        metadata: { ...pod('p-ns').metadata, namespace: 'kube-system' },
      }),
    ];
    for (const message of bad) expect(hub.dispatch(message)).not.toBe('stale');
    hub.dispatch(change('default/pod/good', pod('good')));

    await waitFor('a refusal for each bad message', () => refused.length === bad.length, {
      timeoutMs: 30_000,
    });
    expect(refused.map((r) => r.msgId).sort()).toEqual(bad.map((m) => m.header.msg_id).sort());
    for (const refusal of refused) expect(refusal.code).toBe('KE_META_INVALID');
    await waitFor(
      'the good pod at the edge',
      async () => (await podsAtTheEdge()).includes('good'),
      {
        timeoutMs: 30_000,
      },
    );
    expect(await podsAtTheEdge()).toEqual(['good']);
    await waitFor('every queue empty', () => hub.queueDepth(NODE) === 0, { timeoutMs: 10_000 });
    // Several ACK timeouts later, nothing refused has been sent again.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(refused).toHaveLength(bad.length);
    expect(edge.child.exitCode).toBeNull();
  }, 90_000);
});
