import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ApiServer, createSqliteStore, type Store } from '@ke/apiserver';
import { createMessage, createRouter, type Message, type Router } from '@ke/beehive';
import { command, describeWithSystem, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMetaManager, createMetaServer, type MetaManager } from '../src/index';

const run = promisify(execFile);
let dir: string;
let store: Store;
let router: Router;
let meta: MetaManager;
let server: ApiServer;
const upstream: Message[] = [];

const kubectl = (...args: string[]) =>
  run('kubectl', ['--server', server.url, '--cache-dir', join(dir, 'cache'), ...args], {
    timeout: 30_000,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-metaserver-'));
  store = createSqliteStore({ path: join(dir, 'edgecore.db') });
  router = createRouter();
  router.register({ name: 'edgehub', handler: (message) => void upstream.push(message) });
  meta = createMetaManager({ store, router });
  await meta.start();
  server = createMetaServer({ store, router, port: 0 });
  await server.start();
  for (const name of ['web', 'api']) {
    meta.apply(
      createMessage({
        source: 'edgecontroller',
        group: 'resource',
        operation: 'insert',
        resource: `default/pod/${name}`,
        resourceVersion: '7',
        content: {
          kind: 'Pod',
          metadata: { name, namespace: 'default', labels: { app: name } },
          spec: { nodeName: 'edge-1', containers: [{ name, image: 'busybox' }] },
        },
      }),
    );
  }
});

afterAll(async () => {
  await server?.stop();
  await meta?.stop();
  await router?.stop();
  store?.close();
  await rm(dir, { recursive: true, force: true });
});

describeWithSystem('the MetaServer', [command('kubectl')], () => {
  it('serves the pods the cloud sent to kubectl, with label selectors', async () => {
    const { stdout } = await kubectl('get', 'pods', '-o', 'name');
    expect(stdout.trim().split('\n').sort()).toEqual(['pod/api', 'pod/web']);
    const selected = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'name');
    expect(selected.stdout.trim()).toBe('pod/web');
  });

  it('keeps a local write and sends it on to the cloud', async () => {
    const response = await fetch(`${server.url}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'local-cm' }, data: { a: '1' } }),
    });
    expect(response.status).toBe(201);
    await waitFor('the write upstream', () => upstream.length > 0, { timeoutMs: 5_000 });
    expect(upstream[0]?.route).toMatchObject({
      source: 'metaserver',
      operation: 'insert',
      resource: 'default/configmap/local-cm',
    });
    const { stdout } = await kubectl('get', 'configmap', 'local-cm', '-o', 'jsonpath={.data.a}');
    expect(stdout).toBe('1');
  });
});
