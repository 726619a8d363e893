import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiServer, createSqliteStore } from '@ke/apiserver';
import { freePort, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInformer, type KubeError } from '../src/index';
import {
  configMap,
  createNamespace,
  type KubeObjectJson,
  recordEvents,
  silentLogger,
  startServer,
  type TestServer,
  TOKEN,
  waitForCacheToMatch,
} from './helpers/api-server';

const PATH = '/api/v1/namespaces/restart/configmaps';
let dir = '';
let dbPath = '';
let port = 0;
let api: TestServer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ke-kube-restart-'));
  dbPath = join(dir, 'api.db');
  port = await freePort();
  api = await startServer({ store: createSqliteStore({ path: dbPath }), port });
  await createNamespace(api, 'restart');
  for (let index = 0; index < 20; index += 1) {
    await api.request('POST', PATH, configMap('restart', `cm-${index}`, { v: '0' }));
  }
});

afterAll(async () => {
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('recovers after the API server restarts, with no missed update', async () => {
  const first = api!;
  const informer = createInformer<KubeObjectJson>({
    kubeConfig: first.kubeConfig,
    path: '/api/v1/configmaps',
    namespace: 'restart',
    logger: silentLogger,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  const recorded = recordEvents(informer);
  const errors: KubeError[] = [];
  informer.on('error', (error) => errors.push(error));
  informer.start();
  await informer.waitForSync(AbortSignal.timeout(5000));
  await first.request('PATCH', `${PATH}/cm-0`, { data: { v: 'before' } });
  await waitForCacheToMatch(first, informer, PATH);

  // Down: the watch ends and reconnecting fails.
  await first.stop();
  api = undefined;
  await waitFor('the informer to notice the server is gone', () => errors.length > 0, {
    timeoutMs: 5000,
  });
  expect(errors[0]?.code).toBe('KE_KUBE_UNAVAILABLE');

  // Writes to the same file while nothing listens on the port.
  const store = createSqliteStore({ path: dbPath });
  const server = createApiServer({ store, port, auth: { tokens: { [TOKEN]: 'tester' } } });
  const configmaps = server.registry.find('', 'v1', 'configmaps')!;
  const whileDown = [
    server.core.patch(configmaps, 'restart', 'cm-1', 'merge', { data: { v: 'down' } }),
    server.core.create(configmaps, 'restart', configMap('restart', 'made-while-down')),
    server.core.delete(configmaps, 'restart', 'cm-2'),
  ];

  // Up again on the same port; then more writes over HTTP, racing the informer's reconnect.
  await server.start();
  api = {
    ...first,
    server,
    store,
    async stop() {
      await server.stop();
      store.close();
    },
  };
  const second = api;
  const afterRestart: KubeObjectJson[] = [];
  for (let index = 3; index < 8; index += 1) {
    afterRestart.push(
      await second.request('PATCH', `${PATH}/cm-${index}`, { data: { v: `after-${index}` } }),
    );
  }
  for (let index = 0; index < 3; index += 1) {
    afterRestart.push(await second.request('POST', PATH, configMap('restart', `new-${index}`)));
  }
  afterRestart.push(await second.request('DELETE', `${PATH}/cm-8`));
  afterRestart.push(await second.request('PATCH', `${PATH}/new-0`, { data: { v: 'again' } }));

  const expected = await waitForCacheToMatch(second, informer, PATH);
  expect(expected.has('restart/made-while-down')).toBe(true);
  expect(expected.has('restart/cm-2')).toBe(false);
  expect(informer.get('restart/cm-1')?.data).toEqual({ v: 'down' });

  // Every write after the stop reached the handlers as it happened: same type, same version.
  const seen = (key: string, type: string, resourceVersion: string | undefined) =>
    recorded
      .of(key)
      .some((event) => event.type === type && event.resourceVersion === resourceVersion);
  type Written = { metadata: { name: string; resourceVersion?: string } };
  const key = (object: Written) => `restart/${object.metadata.name}`;
  const writes: [string, string, Written][] = [
    ['restart/cm-1', 'update', whileDown[0]!],
    ['restart/made-while-down', 'add', whileDown[1]!],
    ['restart/cm-2', 'delete', whileDown[2]!],
    ...afterRestart
      .slice(0, 5)
      .map((object): [string, string, Written] => [key(object), 'update', object]),
    ...afterRestart
      .slice(5, 8)
      .map((object): [string, string, Written] => [key(object), 'add', object]),
    ['restart/cm-8', 'delete', afterRestart[8]!],
    ['restart/new-0', 'update', afterRestart[9]!],
  ];
  for (const [key, type, object] of writes) {
    expect(seen(key, type, object.metadata.resourceVersion), `${type} ${key}`).toBe(true);
  }
  // Resumed from the last resourceVersion: nothing was delivered twice, nothing re-listed.
  const resourceVersions = recorded.events.map((event) => `${event.key}@${event.resourceVersion}`);
  expect(new Set(resourceVersions).size).toBe(resourceVersions.length);
  expect(recorded.events.some((event) => event.finalStateUnknown)).toBe(false);
  await informer.stop();
}, 30_000);
