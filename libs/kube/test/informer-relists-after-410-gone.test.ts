import { freePort, waitFor } from '@ke/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInformer, type KubeError } from '../src/index';
import {
  configMap,
  createNamespace,
  type KubeObjectJson,
  recordEvents,
  recordingLogger,
  startServer,
  type TestServer,
  waitForCacheToMatch,
} from './helpers/api-server';

const PATH = '/api/v1/namespaces/gone/configmaps';
let api: TestServer;

beforeAll(async () => {
  api = await startServer({ port: await freePort() });
  await createNamespace(api, 'gone');
  for (let index = 0; index < 10; index += 1) {
    await api.request('POST', PATH, configMap('gone', `cm-${index}`, { v: '0' }));
  }
});

afterAll(async () => {
  await api?.stop();
});

it('re-lists after 410 Gone and delivers what changed meanwhile, deletions included', async () => {
  const logger = recordingLogger();
  const informer = createInformer<KubeObjectJson>({
    kubeConfig: api.kubeConfig,
    path: '/api/v1/configmaps',
    namespace: 'gone',
    logger,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  const recorded = recordEvents(informer);
  const errors: KubeError[] = [];
  informer.on('error', (error) => errors.push(error));
  informer.start();
  await informer.waitForSync(AbortSignal.timeout(5000));
  const before = new Map(informer.list().map((object) => [object.metadata.name, object]));
  recorded.events.length = 0;

  // Disconnect the informer; the store stays open.
  await api.server.stop();
  await waitFor('the informer to notice the server is gone', () => errors.length > 0, {
    timeoutMs: 5000,
  });

  // Change things behind its back, then compact the history it would resume from.
  const { core, registry } = api.server;
  const configmaps = registry.find('', 'v1', 'configmaps')!;
  const deleted = ['cm-1', 'cm-2', 'cm-3'];
  for (const name of deleted) core.delete(configmaps, 'gone', name);
  const updated = core.patch(configmaps, 'gone', 'cm-4', 'merge', { data: { v: 'gap' } });
  const added = core.create(configmaps, 'gone', configMap('gone', 'made-in-gap'));
  // Created and deleted in the gap: never existed as far as the informer can tell.
  core.create(configmaps, 'gone', configMap('gone', 'ephemeral'));
  core.delete(configmaps, 'gone', 'ephemeral');
  core.store.compact(core.store.currentRevision);

  await api.server.start();
  await waitFor(
    'the re-list',
    () => logger.lines.some((line) => line.message === 'watch expired; listing again'),
    { timeoutMs: 10_000 },
  );
  await waitForCacheToMatch(api, informer, PATH);

  // Deletions seen only by the re-list come with the last state the informer knew.
  const deletes = recorded.events.filter((event) => event.type === 'delete');
  expect(deletes.map((event) => event.key).sort()).toEqual(deleted.map((name) => `gone/${name}`));
  for (const event of deletes) {
    expect(event.finalStateUnknown).toBe(true);
    expect(event.object).toBe(before.get(event.object.metadata?.name ?? ''));
  }
  expect(recorded.of('gone/cm-4').map((event) => [event.type, event.resourceVersion])).toEqual([
    ['update', updated.metadata.resourceVersion],
  ]);
  expect(recorded.of('gone/made-in-gap').map((event) => event.type)).toEqual(['add']);
  expect(informer.get('gone/made-in-gap')?.metadata.uid).toBe(added.metadata.uid);
  expect(recorded.of('gone/ephemeral')).toEqual([]);
  // Unchanged objects are not re-delivered.
  expect(recorded.events).toHaveLength(deleted.length + 2);

  // And it watches again after the re-list.
  const later = await api.request('PATCH', `${PATH}/cm-5`, { data: { v: 'later' } });
  await waitFor('the update after the re-list', () =>
    recorded
      .of('gone/cm-5')
      .some((event) => event.resourceVersion === later.metadata.resourceVersion),
  );
  await informer.stop();
}, 30_000);
